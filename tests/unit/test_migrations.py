"""Every Alembic revision applies and reverts, and the migrated schema equals the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import callcenter.store.all_models  # noqa: F401 - every table on the metadata
from callcenter.store import migrate
from callcenter.store.db import make_engine
from callcenter.store.models import Base


def test_upgrade_and_downgrade_through_every_revision(db_url: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(db_url))
    revisions = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert revisions[0] == "0001"
    for rev in revisions:
        migrate.upgrade(db_url, rev)
        assert migrate.current_revision(db_url) == rev
    for rev in reversed(revisions[:-1]):
        migrate.downgrade(db_url, rev)
        assert migrate.current_revision(db_url) == rev
    migrate.downgrade(db_url, "base")
    engine = make_engine(db_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    assert migrate.is_current(db_url)
