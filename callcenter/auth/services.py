"""Users, sessions and tokens: plain functions over a SQLAlchemy session (run them off the reactor).

Nothing here knows HTTP. The web layer turns the exceptions into status codes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callcenter.auth import lockout, passwords
from callcenter.auth.lockout import Policy
from callcenter.auth.models import ApiToken, User, UserSession
from callcenter.auth.roles import PEOPLE, Role
from callcenter.errors import Refusal, Term, Terms
from callcenter.store.models import now_utc


class AuthError(Refusal):
    """Wrong credentials, locked account, unknown user: the message is safe to show."""

    code = 400


class SignInFailed(AuthError):
    """The one answer to every failed sign-in (401)."""

    code = 401


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a signed-in person or a platform with a token (plain data, safe across threads)."""

    user_id: int
    username: str
    role: str
    display_name: str = ""
    agent_id: str | None = None
    department: str | None = None
    session_id: str | None = None
    csrf_token: str | None = None


def actor_of(user: User, session: UserSession | None = None) -> Actor:
    return Actor(user.id, user.username, user.role, user.display_name or user.username, user.agent_id,
                 user.department, session.id if session else None, session.csrf_token if session else None)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---- users ---------------------------------------------------------------------------------------
def _validate_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AuthError("unknown_role", role=role, roles=Terms("role", Role)) from None


def create_user(session: Session, username: str, role: str, password: str | None = None, display_name: str = "",
                agent_id: str | None = None, department: str | None = None) -> User:
    """Add a user; people need a password (checked for strength), platforms get tokens instead."""
    r = _validate_role(role)
    username = username.strip()
    if not username or len(username) > 64 or any(ch.isspace() for ch in username):
        raise AuthError("bad_username")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AuthError("user_exists", username=username)
    if r == Role.DEPARTMENT and not department:
        raise AuthError("department_user_needs_department")
    if r in PEOPLE:
        if not password:
            raise AuthError("person_needs_password")
        passwords.check_strength(password)
    user = User(username=username, role=r.value, display_name=display_name or username,
                password_hash=passwords.hash_password(password) if password else "", agent_id=agent_id or None,
                department=department or None, password_changed_at=now_utc() if password else None)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> None:
    user = get_user(session, username)
    passwords.check_strength(password)
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = now_utc()
    lockout.unlock(session, username)
    # A new password ends every existing session of that user.
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def set_active(session: Session, username: str, active: bool) -> None:
    user = get_user(session, username)
    user.active = active
    if not active:
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                            ApiToken.revoked_at.is_(None))):
            token.revoked_at = now_utc()


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AuthError("user_not_found", username=username)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


# ---- signing in -----------------------------------------------------------------------------------
def authenticate(session: Session, username: str, password: str, policy: Policy | None = None,
                 address: str = "", now: datetime | None = None) -> User:
    """The user if the password is right and (name, address) is not locked (:mod:`callcenter.auth.lockout`).

    Every failure raises the same :class:`SignInFailed`: unknown name, inactive, platform, wrong
    password and locked read alike, and take about as long (a hash is verified in every case).
    """
    policy = policy or Policy()
    now = now or now_utc()
    username = username[:64]
    user = session.scalar(select(User).where(User.username == username))
    if lockout.is_locked(session, username, address, policy, now):
        passwords.verify_password(passwords.DUMMY_HASH, password)
        raise SignInFailed("sign_in_failed")
    if user is None or not user.active or user.role not in PEOPLE:
        passwords.verify_password(passwords.DUMMY_HASH, password)
        lockout.record_failure(session, username, address, policy, now)
        raise SignInFailed("sign_in_failed")
    if not passwords.verify_password(user.password_hash, password):
        lockout.record_failure(session, username, address, policy, now)
        raise SignInFailed("sign_in_failed")
    lockout.record_success(session, username, address, now)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def sign_in(session: Session, username: str, password: str, policy: Policy | None = None, address: str = "",
            now: datetime | None = None) -> tuple[User | None, AuthError | None]:
    """:func:`authenticate` without raising, so the caller's transaction commits the failure count."""
    try:
        return authenticate(session, username, password, policy, address, now), None
    except AuthError as exc:
        return None, exc


def open_session(session: Session, user: User, hours: float, address: str = "") -> tuple[str, UserSession]:
    """A new browser session; returns (cookie token, row). The table keeps only the token's digest."""
    token = secrets.token_urlsafe(32)
    now = now_utc()
    row = UserSession(id=token_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(24),
                      created_at=now, last_seen_at=now, expires_at=now + timedelta(hours=hours),
                      address=address[:64])
    session.add(row)
    return token, row


def session_actor(session: Session, token: str, idle_minutes: float, now: datetime | None = None) -> Actor | None:
    """The actor of a live session cookie (touching it), or None when unknown, expired or idle."""
    now = now or now_utc()
    row = session.get(UserSession, token_digest(token))
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at + timedelta(minutes=idle_minutes) <= now:
        session.delete(row)
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    # Touch at most once a minute: fewer writes, same idle timeout.
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return actor_of(user, row)


def close_session(session: Session, session_id: str) -> None:
    session.execute(delete(UserSession).where(UserSession.id == session_id))


# ---- platforms ------------------------------------------------------------------------------------
def create_token(session: Session, username: str) -> str:
    """A new bearer token for an api_client user; shown once, stored as a digest."""
    user = get_user(session, username)
    if user.role != Role.API_CLIENT:
        raise AuthError("tokens_for_platforms_only", username=username, role=Term("role", user.role))
    token = "cc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token)))
    return token


def token_actor(session: Session, token: str) -> Actor | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token),
                                                ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or user.role != Role.API_CLIENT:
        return None
    now = now_utc()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
    return actor_of(user)


def ensure_users(session: Session, specs: list[dict[str, str | None]]) -> list[str]:
    """Create the configured bootstrap users that do not exist yet (never changes existing ones)."""
    created = []
    for spec in specs:
        name = str(spec["username"])
        if session.scalar(select(User).where(User.username == name)) is not None:
            continue
        create_user(session, name, str(spec["role"]), spec.get("password") or None,
                    str(spec.get("display_name") or ""), spec.get("agent_id"), spec.get("department"))
        created.append(name)
    return created
