"""Run the daemon on Twisted's asyncio reactor (panoramisk and Twisted share one loop)."""

from __future__ import annotations

import asyncio
import logging

from callcenter.config import Config

log = logging.getLogger(__name__)


def run_daemon(config: Config, migrate_on_start: bool = False) -> int:
    """Install the asyncio reactor, start the daemon, run until SIGINT/SIGTERM; return an exit code."""
    from callcenter.files import secure_umask

    secure_umask()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)
    from twisted.internet import defer, reactor

    from callcenter.daemon import Daemon, DaemonError

    exit_code = 0
    daemon = Daemon(config, migrate_on_start=migrate_on_start)
    try:
        daemon.prepare()
    except DaemonError as exc:
        log.error("%s", exc)
        return 2
    started = False

    def start() -> None:
        nonlocal exit_code, started
        try:
            daemon.start()
            started = True
        except DaemonError as exc:
            log.error("%s", exc)
            exit_code = 2
            reactor.stop()
        except Exception:
            log.exception("daemon failed to start")
            exit_code = 1
            reactor.stop()

    def stop() -> defer.Deferred | None:
        if not started:
            return None
        return defer.Deferred.fromFuture(asyncio.ensure_future(daemon.stop()))

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", stop)
    reactor.run()
    return exit_code
