"""End-to-end fixtures: one real call centre (Asterisk sandbox + daemon) per test session.

``CALLCENTER_ASTERISK`` (16 or 22, default 22) picks the Asterisk; ``CALLCENTER_TEST_DATABASE``
(sqlite or postgresql, default sqlite) the database. Each test starts from a clean slate: agents
logged out, app_queue counters reset, its own time window for KPIs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fresh_pg_database
from tests.harness.stack import Stack, stack_settings

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    flavour, database = stack_settings()
    workdir: Path = tmp_path_factory.mktemp(f"e2e-{flavour}-{database}")
    pg = None
    if database == "postgresql":
        pg = fresh_pg_database()
        url = next(pg)
    else:
        url = f"sqlite:///{workdir / 'callcenter.sqlite'}"
    # Redis is optional for the daemon: leg 1 (SQLite) runs with it, leg 2 (PostgreSQL) without.
    overrides = {"redis_url": REDIS_URL} if database == "sqlite" else {}
    s = Stack(workdir, flavour, url, overrides=overrides)
    try:
        s.start()
    except Exception:
        print(s.sandbox.console_tail(), s.daemon_log_tail(), sep="\n")
        s.stop()
        raise
    yield s
    s.stop()
    if pg is not None:
        next(pg, None)


@pytest.fixture
def clean(stack: Stack) -> Iterator[Stack]:
    """A stack with no agent logged in, counters reset, and ``stack.t0`` marking the test's start."""
    for phone in list(stack.agents.values()):
        phone.stop()
    stack.agents.clear()
    stack.hangup_all()
    stack.logout_everyone()
    stack.reset_queues()
    time.sleep(1.1)  # whole-second windows: nothing of the previous test in this one
    stack.t0 = time.time()  # type: ignore[attr-defined]
    yield stack
    if stack.daemon is None or stack.daemon.poll() is not None:
        stack.start_daemon()
