"""Sign-in lockout per (name, address), with one answer for every failure.

Why per address: a lock on the name alone lets anyone keep a person locked out for ever by typing
their name with a wrong password. Here each address has its own count: ``max_failed`` failures
from one address lock that name *from that address* for ``lock_seconds`` (doubling with each further
failure, at most a day). Guessing spread over many addresses is caught by a name-wide limit
(``name_failures_per_hour`` failures in an hour across addresses), which locks the name for every
address *except* those the person signed in from in the last ``familiar_address_days``: the real
user at their usual desk still gets in.

Every refusal is the same ``sign_in_failed`` (HTTP 401): unknown name, wrong password, inactive user
and locked all read alike, and unknown names are counted like known ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from callcenter.auth.models import LoginThrottle
from callcenter.store.models import now_utc

MAX_LOCK = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Policy:
    """The lockout settings (``desk.max_failed_logins`` etc.)."""

    max_failed: int = 5
    lock_seconds: int = 60
    name_failures_per_hour: int = 30
    familiar_address_days: int = 30


def _row(session: Session, username: str, address: str) -> LoginThrottle | None:
    return session.get(LoginThrottle, (username[:64], address[:64]))


def is_locked(session: Session, username: str, address: str, policy: Policy, now: datetime | None = None) -> bool:
    """True when sign-ins of ``username`` from ``address`` are refused right now."""
    now = now or now_utc()
    row = _row(session, username, address)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return True
    familiar = row is not None and row.last_success_at is not None and \
        row.last_success_at > now - timedelta(days=policy.familiar_address_days)
    if familiar:
        return False
    recent = session.scalar(select(func.coalesce(func.sum(LoginThrottle.hour_failures), 0)).where(
        LoginThrottle.username == username[:64], LoginThrottle.hour_start > now - HOUR))
    return int(recent or 0) >= policy.name_failures_per_hour


def record_failure(session: Session, username: str, address: str, policy: Policy,
                   now: datetime | None = None) -> None:
    """Count a failed sign-in; lock (name, address) after ``max_failed`` of them (doubling)."""
    now = now or now_utc()
    row = _row(session, username, address)
    if row is None:
        row = LoginThrottle(username=username[:64], address=address[:64], failures=0, hour_failures=0)
        session.add(row)
    row.failures = (row.failures or 0) + 1
    if row.hour_start is None or row.hour_start <= now - HOUR:
        row.hour_start, row.hour_failures = now, 0
    row.hour_failures = (row.hour_failures or 0) + 1
    row.last_failure_at = now
    if row.failures >= policy.max_failed:
        over = row.failures - policy.max_failed
        row.locked_until = now + min(timedelta(seconds=policy.lock_seconds * (2 ** min(over, 20))), MAX_LOCK)
    # Forget stale rows of strangers (no success ever, nothing for two days): the table stays small.
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_success_at.is_(None),
                                                LoginThrottle.last_failure_at < now - timedelta(days=2)))


def record_success(session: Session, username: str, address: str, now: datetime | None = None) -> None:
    """A good sign-in: this address is now familiar for the name, its count starts again."""
    now = now or now_utc()
    row = _row(session, username, address)
    if row is None:
        row = LoginThrottle(username=username[:64], address=address[:64], hour_failures=0)
        session.add(row)
    row.failures = 0
    row.locked_until = None
    row.last_success_at = now


def unlock(session: Session, username: str) -> int:
    """Lift every lock and count of ``username`` (``callcenter user unlock``); returns rows changed.

    Familiar addresses are kept (their ``last_success_at``)."""
    rows = list(session.scalars(select(LoginThrottle).where(LoginThrottle.username == username[:64])))
    for row in rows:
        row.failures, row.hour_failures, row.locked_until, row.hour_start = 0, 0, None, None
    return len(rows)
