"""The database handle: engine, sessions, and a thread pool so the reactor never waits on SQL."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (psycopg 3)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    # SQL parameters hold caller numbers and names: never in logs or error messages.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=5, max_overflow=5)
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """Owns the engine and a session factory; ``run()`` executes a function off the reactor."""

    def __init__(self, url: str, max_threads: int = 4) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # every change to an audited table is chained into audit_log in the same transaction
        from callcenter.audit.chain import install

        install(self.sessionmaker)
        self.max_threads = max_threads
        self._pool: Any = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error (synchronous callers)."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    # ---- Twisted integration -------------------------------------------------------------------
    def start_pool(self) -> None:
        from twisted.python.threadpool import ThreadPool

        if self._pool is None:
            self._pool = ThreadPool(minthreads=1, maxthreads=self.max_threads, name="db")
            self._pool.start()

    def stop_pool(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool = None

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args)`` in the database thread pool; returns a Deferred."""
        from twisted.internet import reactor
        from twisted.internet.threads import deferToThreadPool

        self.start_pool()
        # the caller's context (e.g. the web request's actor, for the audit log) goes with the work
        return deferToThreadPool(reactor, self._pool, contextvars.copy_context().run, fn, *args, **kwargs)

    def run_session(self, fn: Callable[[Session], T]) -> Any:
        """Run ``fn(session)`` in a committed session in the thread pool; returns a Deferred."""

        def work() -> T:
            with self.session() as session:
                return fn(session)

        return self.run(work)

    def dispose(self) -> None:
        self.stop_pool()
        self.engine.dispose()
