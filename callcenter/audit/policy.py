"""Password policy (length, character classes, expiry), session listing/revocation, and the security event
log (sign-ins, failures, locks, role and password changes) read back from the audit chain."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.audit.models import AuditEntry
from callcenter.audit.settings import PasswordPolicy
from callcenter.auth import passwords
from callcenter.auth.models import User, UserSession
from callcenter.store.models import now_utc


def apply(policy: PasswordPolicy) -> None:
    """Make ``passwords.check_strength`` enforce the configured policy (daemon start, CLI)."""
    passwords.POLICY.update(min_length=max(policy.min_length, 1), min_classes=min(max(policy.min_classes, 1), 4))


def expired(user: User, policy: PasswordPolicy, now: datetime | None = None) -> bool:
    """A person's password older than ``max_age_days`` (or never set by them) has expired."""
    if policy.max_age_days <= 0 or not user.password_hash:
        return False
    changed = user.password_changed_at or user.created_at
    return changed + timedelta(days=policy.max_age_days) <= (now or now_utc())


def sessions(session: Session, username: str | None = None) -> list[dict[str, Any]]:
    """Open browser sessions (newest first); ``id`` is a prefix of the token's digest, enough to revoke."""
    q = select(UserSession, User.username, User.role).join(User, User.id == UserSession.user_id)
    if username:
        q = q.where(User.username == username)
    out = []
    for row, name, role in session.execute(q.order_by(UserSession.created_at.desc())):
        out.append({"id": row.id[:12], "username": name, "role": role, "address": row.address,
                    "created_at": row.created_at.isoformat(), "last_seen_at": row.last_seen_at.isoformat(),
                    "expires_at": row.expires_at.isoformat()})
    return out


def revoke(session: Session, actor: str, prefix: str | None = None, username: str | None = None) -> int:
    """End sessions by id prefix (at least 8 characters) or every session of a user; audited as deletions."""
    session.info.setdefault("audit_actor", actor)
    q = select(UserSession)
    if prefix:
        if len(prefix) < 8:
            raise ValueError("a session id prefix needs at least 8 characters")
        q = q.where(UserSession.id.startswith(prefix))
    elif username:
        q = q.join(User, User.id == UserSession.user_id).where(User.username == username)
    else:
        raise ValueError("name a session or a user")
    rows = list(session.scalars(q))
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


def security_events(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Sign-ins, sign-outs/revocations, failed sign-ins, locks, role/password/activation changes,
    from the users stream of the audit log (so the export is as tamper-evident as the chain)."""
    q = select(AuditEntry).where(AuditEntry.stream == "users").order_by(AuditEntry.seq)
    if since is not None:
        q = q.where(AuditEntry.at >= since)
    names = dict(session.execute(select(User.id, User.username)).all())
    sessions_owner: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    for e in session.scalars(q):
        data = json.loads(e.data)
        base = {"at": e.at.isoformat(), "seq": e.seq, "actor": e.actor}
        if e.entity == "user_sessions":
            if e.action == "insert":
                sessions_owner[e.entity_id] = data.get("user_id")
                out.append({**base, "event": "sign_in", "user": names.get(data.get("user_id")),
                            "address": data.get("address", "")})
            elif e.action == "delete":
                out.append({**base, "event": "session_end",
                            "user": names.get(sessions_owner.get(e.entity_id))})
        elif e.entity == "login_throttle":
            user = data.get("username") or e.entity_id.split("|", 1)[0]
            if data.get("failures"):
                out.append({**base, "event": "sign_in_failed", "user": user, "address": data.get("address", ""),
                            "failures": data["failures"]})
            if data.get("locked_until"):
                out.append({**base, "event": "locked", "user": user, "until": data["locked_until"]})
        elif e.entity == "users":
            user = data.get("username") or names.get(int(e.entity_id)) if e.entity_id.isdigit() else None
            if e.action == "insert":
                out.append({**base, "event": "user_created", "user": user, "role": data.get("role")})
                continue
            if "role" in data:
                out.append({**base, "event": "role_change", "user": user, "role": data["role"]})
            if data.get("failed_logins"):
                out.append({**base, "event": "sign_in_failed", "user": user, "failures": data["failed_logins"]})
            if data.get("locked_until"):
                out.append({**base, "event": "locked", "user": user, "until": data["locked_until"]})
            if "password_hash" in data and "password_changed_at" in data:
                out.append({**base, "event": "password_changed", "user": user})
            if "active" in data:
                out.append({**base, "event": "activated" if data["active"] else "deactivated", "user": user})
    return out
