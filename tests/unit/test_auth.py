"""Users, password hashing (argon2id), sign-in throttling, sessions, API tokens, the address limiter."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callcenter.auth import lockout, passwords
from callcenter.auth import services as auth
from callcenter.auth.lockout import Policy
from callcenter.auth.models import LoginThrottle
from callcenter.auth.roles import Perm, Role, has
from callcenter.auth.throttle import RateLimiter
from callcenter.store import migrate
from callcenter.store.db import Database

PW = "Correct-Horse-9"


@pytest.fixture
def db(db_url):  # type: ignore[no-untyped-def]
    url = db_url  # SQLite and PostgreSQL
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


P = Policy(max_failed=5, lock_seconds=60, name_failures_per_hour=12, familiar_address_days=30)
HOME, ELSEWHERE = "10.0.0.5", "203.0.113.9"


def _fail(db, name: str, address: str, now: datetime, password: str = "nope") -> str:  # type: ignore[no-untyped-def]
    with db.session() as s:
        user, problem = auth.sign_in(s, name, password, P, address, now)
        assert user is None and problem is not None
        return problem.msg_id


def _ok(db, name: str, address: str, now: datetime) -> bool:  # type: ignore[no-untyped-def]
    with db.session() as s:
        user, _problem = auth.sign_in(s, name, PW, P, address, now)
        return user is not None


def test_one_answer_for_unknown_wrong_and_locked(db) -> None:  # type: ignore[no-untyped-def]
    """Username enumeration: an existing name and an unknown one answer alike, before and after a lock."""
    with db.session() as s:
        auth.create_user(s, "zhang", "agent", PW, agent_id="1001")
        auth.create_user(s, "api", "api_client")
    t0 = datetime(2026, 1, 1, 8, 0)
    answers = {_fail(db, name, ELSEWHERE, t0) for name in ("zhang", "nobody", "api") for _ in range(7)}
    assert answers == {"sign_in_failed"}
    with db.session() as s:
        _u, problem = auth.sign_in(s, "zhang", PW, P, ELSEWHERE, t0)  # locked from there: the same answer
        assert problem is not None and problem.msg_id == "sign_in_failed" and problem.code == 401
        assert problem.text("en") == problem.text("en")  # one text
        assert "用户名或密码错误" in problem.text("zh")


def test_lock_is_per_address_and_doubles(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        auth.create_user(s, "li", "agent", PW)
    t0 = datetime(2026, 1, 1, 8, 0)
    for i in range(5):
        _fail(db, "li", ELSEWHERE, t0 + timedelta(seconds=i))
    _fail(db, "li", ELSEWHERE, t0 + timedelta(seconds=30))  # while locked: not counted, no longer lock
    with db.session() as s:
        assert s.get(LoginThrottle, ("li", ELSEWHERE)).locked_until == t0 + timedelta(seconds=4 + 60)
    _fail(db, "li", ELSEWHERE, t0 + timedelta(seconds=70))  # after the lock: the next one doubles
    with db.session() as s:
        assert s.get(LoginThrottle, ("li", ELSEWHERE)).locked_until == t0 + timedelta(seconds=70 + 120)
    assert not _ok(db, "li", ELSEWHERE, t0 + timedelta(seconds=100))  # locked from there
    assert _ok(db, "li", HOME, t0 + timedelta(seconds=100))  # but not from another address
    assert _ok(db, "li", ELSEWHERE, t0 + timedelta(seconds=200))  # and the lock ends


def test_familiar_address_passes_the_name_wide_limit(db) -> None:  # type: ignore[no-untyped-def]
    """An attacker spreading guesses over many addresses locks the name, except where its owner usually is."""
    with db.session() as s:
        auth.create_user(s, "wu", "agent", PW)
    t0 = datetime(2026, 1, 1, 8, 0)
    assert _ok(db, "wu", HOME, t0)
    for i in range(12):  # 12 addresses, 1 failure each: none locked alone, the name-wide limit is reached
        _fail(db, "wu", f"198.51.100.{i}", t0 + timedelta(hours=1, seconds=i))
    later = t0 + timedelta(hours=1, minutes=5)
    assert not _ok(db, "wu", "192.0.2.77", later)  # a new address: refused
    assert _ok(db, "wu", HOME, later)  # the usual desk: in
    assert _ok(db, "wu", "192.0.2.77", later + timedelta(hours=1))  # the window passes


def test_unlock_and_new_password_lift_locks(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        auth.create_user(s, "zhou", "agent", PW)
    t0 = datetime.now()
    for _ in range(5):
        _fail(db, "zhou", ELSEWHERE, t0)
    assert not _ok(db, "zhou", ELSEWHERE, t0)
    with db.session() as s:
        assert lockout.unlock(s, "zhou") == 1
    assert _ok(db, "zhou", ELSEWHERE, t0)
    for _ in range(5):
        _fail(db, "zhou", ELSEWHERE, t0)
    with db.session() as s:
        auth.set_password(s, "zhou", "Another-Pass-7")
    with db.session() as s:
        assert auth.sign_in(s, "zhou", "Another-Pass-7", P, ELSEWHERE, t0)[0] is not None


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
