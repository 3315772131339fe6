"""Logging through structlog: key-value console lines for people, JSON lines for collectors.

Standard-library loggers (ours, Twisted's, panoramisk's) go through the same processors.
Caller numbers are personal data: log them only through :func:`mask_number`.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from typing import Any

import structlog


def mask_number(number: str | None) -> str:
    """``13800138000`` → ``138****8000``: enough to correlate, not enough to call back."""
    if not number:
        return ""
    if len(number) <= 4:
        return "*" * len(number)
    return number[:3] + "*" * max(1, len(number) - 7) + number[-4:]


# Phone-number-like runs of digits: 7 to 20 digits, optionally with a leading +, not part of a longer
# word or of a dotted number (Asterisk's uniqueid/linkedid "1764547200.42" and versions stay readable).
_DIGITS = re.compile(r"(?<![\w.+])(\+?\d{7,20})(?![\w]|\.\d)")
# Values of keys that name a caller's number, whatever they look like (caller_number=010-1234, callerid: "x").
_KEYED = re.compile(r"(?i)\b(caller_?number|caller_?id(?:num)?|calleridnum|connectedlinenum|from_number|phone)"
                    r"(\s*[=:]\s*['\"]?)([^&\s,;'\")\]}]+)")


# Cheap first look: most lines hold neither 7 digits in a row nor a key naming a number.
_HINT = re.compile(r"\d{7}|(?i:caller|phone|connectedlinenum|from_number)")


def mask_text(text: str) -> str:
    """Every phone number in ``text`` masked with :func:`mask_number` (for log lines of any origin)."""
    if not text or not _HINT.search(text):
        return text
    text = _KEYED.sub(lambda m: m.group(1) + m.group(2) + mask_number(m.group(3)), text)
    return _DIGITS.sub(lambda m: mask_number(m.group(1)), text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_mask_value(v) for v in value)
    return value


class MaskPersonal(logging.Filter):
    """``mask_personal``: masks caller numbers in every record a handler emits.

    Covers messages and their arguments, structlog event dicts, and tracebacks (a refused database
    write prints its SQL parameters), whichever logger sent them: ours, Twisted's access log
    (``?caller_number=``), SQLAlchemy, panoramisk.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, dict):  # structlog's event dict
            record.msg = _mask_value(msg)
        else:
            try:
                text = record.getMessage()
            except Exception:  # a malformed %-format: leave it to the formatter's own error
                return True
            masked = mask_text(text)
            if masked != text or record.args:
                record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[0] is not None:
            # Render the traceback now, masked, and keep it in the message: formatters would print
            # the exception's text (SQL parameters included) unmasked.
            tb = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            if isinstance(record.msg, dict):
                record.msg = {**record.msg, "exception": mask_text(tb)}
            else:
                record.msg = f"{record.msg}\n{mask_text(tb)}"
            record.exc_info, record.exc_text = None, None
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def mask_personal() -> MaskPersonal:
    """The filter every handler gets (``handler.addFilter(mask_personal())``)."""
    return MaskPersonal("mask_personal")


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
    handler.addFilter(mask_personal())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("panoramisk", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def route_twisted_logs() -> None:
    """Send Twisted's own log events to the standard logging module."""
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False)
