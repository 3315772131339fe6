"""Human-readable order numbers: prefix + local date + daily sequence (``KM20261126000042``).

The sequence comes from one counter row per local day, incremented with a single
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` in the order's own transaction: PostgreSQL holds
the row lock and SQLite the write lock until commit, so two concurrent orders can never get the
same number, and a rolled-back order gives its number back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from callcenter.workorders.models import WorkOrderCounter


def _upsert(session: Session):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"order numbering does not support {dialect}")
    return insert


def next_sequence(session: Session, day: str) -> int:
    """The next sequence number of local day ``day`` (YYYYMMDD), starting at 1."""
    insert = _upsert(session)
    table = WorkOrderCounter.__table__
    stmt = insert(table).values(day=day, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.day], set_={"last": table.c.last + 1})
    return int(session.execute(stmt.returning(table.c.last)).scalar_one())


def format_number(prefix: str, day: str, sequence: int, digits: int = 6) -> str:
    return f"{prefix}{day}{sequence:0{digits}d}"


def next_number(session: Session, prefix: str, local_now: datetime, digits: int = 6) -> str:
    """A new, unique order number for the local date of ``local_now``."""
    day = local_now.strftime("%Y%m%d")
    return format_number(prefix, day, next_sequence(session, day), digits)
