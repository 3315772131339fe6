"""Logging through structlog: key-value console lines for people, JSON lines for collectors.

Standard-library loggers (ours, Twisted's, panoramisk's) go through the same processors.
Caller numbers are personal data: log them only through :func:`mask_number`.
"""

from __future__ import annotations

import logging
import sys

import structlog


def mask_number(number: str | None) -> str:
    """``13800138000`` → ``138****8000``: enough to correlate, not enough to call back."""
    if not number:
        return ""
    if len(number) <= 4:
        return "*" * len(number)
    return number[:3] + "*" * max(1, len(number) - 7) + number[-4:]


def setup_logging(level: str = "info", fmt: str = "console") -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=shared,
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("panoramisk", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def route_twisted_logs() -> None:
    """Send Twisted's own log events to the standard logging module."""
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False)
