"""Import every module that declares tables, so the metadata (and Alembic) sees them all."""

from callcenter.store import models  # noqa: F401
