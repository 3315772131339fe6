"""Database errors of CLI commands as one line (missing data directory, no schema, server away).

Kept light (click only; SQLAlchemy is imported when an error is seen) so the CLI's entry point can
use it without importing what the sub-commands need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def database_problem(ctx: click.Context, exc: BaseException) -> str | None:
    """One line saying why a database command failed (missing data directory, no schema, server away).

    None when ``exc`` is not a database error (then it is a bug and keeps its traceback).
    """
    if "sqlalchemy" not in type(exc).__module__:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

    if not isinstance(exc, OperationalError | InterfaceError | ProgrammingError):
        return None
    config = ctx.ensure_object(dict).get("config")
    url = make_url(config.effective_database_url) if config is not None else None
    reason = str(getattr(exc, "orig", exc) or exc.__class__.__name__).strip().splitlines()[0]
    lowered = reason.lower()
    if url is not None and url.get_backend_name() == "sqlite" and url.database:
        folder = Path(url.database).parent
        if not folder.is_dir():
            return (f"the data directory {folder} does not exist (data_dir in the config or CALLCENTER_DATA_DIR); "
                    "run 'callcenter db upgrade' to create it and the database")
    if "no such table" in lowered or ("does not exist" in lowered and "relation" in lowered):
        return f"the database has no schema yet ({reason}): run 'callcenter db upgrade'"
    where = url.render_as_string(hide_password=True) if url is not None else "the database"
    return f"cannot use the database at {where}: {reason}"


class DatabaseErrorsAsMessages(click.Group):
    """A click group whose commands answer a database they cannot use with one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = database_problem(ctx, exc)
            if message is None:
                raise
            raise click.ClickException(message) from None
