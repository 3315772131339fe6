"""Users, password hashing (argon2id), sign-in throttling, sessions, API tokens, the address limiter."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callcenter.auth import passwords
from callcenter.auth import services as auth
from callcenter.auth.roles import Perm, Role, has
from callcenter.auth.throttle import RateLimiter
from callcenter.store import migrate
from callcenter.store.db import Database

PW = "Correct-Horse-9"


@pytest.fixture
def db(tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'auth.sqlite'}"
    migrate.upgrade(url)
    d = Database(url)
    yield d
    d.dispose()


def test_argon2_hashes() -> None:
    h = passwords.hash_password(PW)
    assert h.startswith("$argon2id$") and PW not in h
    assert passwords.verify_password(h, PW)
    assert not passwords.verify_password(h, PW + "x")
    assert not passwords.verify_password("garbage", PW)
    with pytest.raises(passwords.WeakPassword):
        passwords.check_strength("short1")
    with pytest.raises(passwords.WeakPassword):
        passwords.check_strength("onlyletters")


def test_login_locks_after_failures_then_unlocks(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        auth.create_user(s, "zhang", "agent", PW, agent_id="1001")
    t0 = datetime(2026, 1, 1, 8, 0)
    for _ in range(5):
        with db.session() as s, pytest.raises(auth.AuthError, match="wrong username or password"):
            auth.authenticate(s, "zhang", "nope", 5, 60, now=t0)
    # locked: even the right password is refused, with a message that says to wait
    with db.session() as s, pytest.raises(auth.AuthError, match="try again later"):
        auth.authenticate(s, "zhang", PW, 5, 60, now=t0 + timedelta(seconds=30))
    with db.session() as s:
        assert auth.authenticate(s, "zhang", PW, 5, 60, now=t0 + timedelta(seconds=61)).username == "zhang"
    # unknown users and platforms fail like a wrong password
    with db.session() as s, pytest.raises(auth.AuthError, match="wrong username or password"):
        auth.authenticate(s, "nobody", PW)


def test_failures_count_in_a_committed_transaction(db) -> None:  # type: ignore[no-untyped-def]
    """What the sign-in page does: the failure must survive the transaction (no exception escapes it)."""
    with db.session() as s:
        auth.create_user(s, "zhou", "agent", PW)
    for _ in range(5):
        with db.session() as s:
            user, problem = auth.sign_in(s, "zhou", "nope", 5, 60)
            assert user is None and problem is not None and problem.msg_id == "wrong_password"
            assert str(problem) == "wrong username or password" and problem.text("zh") == "用户名或密码错误"
    with db.session() as s:
        user, problem = auth.sign_in(s, "zhou", PW, 5, 60)
        assert user is None and problem is not None and "try again later" in str(problem)


def test_lock_doubles(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        auth.create_user(s, "li", "agent", PW)
    t0 = datetime(2026, 1, 1, 8, 0)
    for i in range(6):
        with db.session() as s, pytest.raises(auth.AuthError):
            auth.authenticate(s, "li", "nope", 5, 60, now=t0 + timedelta(seconds=200 * i))
    with db.session() as s:
        user = auth.get_user(s, "li")
        assert user.locked_until == t0 + timedelta(seconds=1000 + 120)


def test_sessions_expire_idle_and_end_with_a_new_password(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        user = auth.create_user(s, "wang", "department", PW, department="fund")
        token, row = auth.open_session(s, user, hours=12)
        assert row.id != token and len(token) > 30
    now = datetime.now()
    with db.session() as s:
        actor = auth.session_actor(s, token, idle_minutes=120)
        assert actor is not None and actor.role == "department" and actor.department == "fund"
        assert actor.csrf_token
        assert auth.session_actor(s, "forged", 120) is None
    with db.session() as s:
        assert auth.session_actor(s, token, 120, now=now + timedelta(hours=3)) is None  # idle too long
    with db.session() as s:
        user = auth.get_user(s, "wang")
        token2, _ = auth.open_session(s, user, hours=12)
    with db.session() as s:
        auth.set_password(s, "wang", "Another-Pass-7")
    with db.session() as s:
        assert auth.session_actor(s, token2, 120) is None


def test_tokens_for_platforms_only(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        auth.create_user(s, "prov12345", "api_client", department="fund")
        auth.create_user(s, "zhao", "agent", PW)
        token = auth.create_token(s, "prov12345")
        with pytest.raises(auth.AuthError):
            auth.create_token(s, "zhao")
        with pytest.raises(auth.AuthError):
            auth.authenticate(s, "prov12345", "")
    with db.session() as s:
        actor = auth.token_actor(s, token)
        assert actor is not None and actor.role == "api_client"
        assert auth.token_actor(s, token + "x") is None
        auth.set_active(s, "prov12345", False)
    with db.session() as s:
        assert auth.token_actor(s, token) is None


def test_user_validation(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        with pytest.raises(auth.AuthError, match="unknown role"):
            auth.create_user(s, "x", "boss", PW)
        with pytest.raises(auth.AuthError, match="department"):
            auth.create_user(s, "x", "department", PW)
        auth.create_user(s, "x", "agent", PW)
        with pytest.raises(auth.AuthError, match="exists"):
            auth.create_user(s, "x", "agent", PW)


def test_role_permissions() -> None:
    assert has("agent", Perm.DESK) and not has("agent", Perm.USERS)
    assert not has("quality_inspector", Perm.ORDER_ACT) and has("quality_inspector", Perm.RECORDINGS)
    assert not has("department", Perm.ORDER_READ_ALL) and has("department", Perm.ORDER_READ_DEPT)
    assert not has("api_client", Perm.DESK) and has("api_client", Perm.SUBMIT)
    assert has("admin", Perm.USERS) and not has("admin", Perm.DESK)
    assert not has("nobody", Perm.KB_READ)
    assert {r.value for r in Role} == {"agent", "team_leader", "quality_inspector", "department", "admin",
                                       "api_client"}


def test_rate_limiter() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")
    now[0] = 60.0
    assert limiter.allow("a")
