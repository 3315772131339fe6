"""mask_personal: caller numbers never reach a log line, whoever logs them."""

from __future__ import annotations

import io
import logging

import pytest

from callcenter.logs import mask_text, setup_logging


@pytest.mark.parametrize("text, hidden", [
    ('"GET /app/duplicates.json?caller_number=13800138000&address=x HTTP/1.1" 200', "13800138000"),
    ("voicemail a.wav (12345, caller 02161234567, 12 s) had no record", "02161234567"),
    ("[parameters: ('+8613800138000', 'Zhang')]", "8613800138000"),
    ("caller_number=%2B8613800138000", "8613800138000"),
    ("callerid: '5551234'", "5551234"),
])
def test_numbers_masked(text: str, hidden: str) -> None:
    masked = mask_text(text)
    assert hidden not in masked and "*" in masked


@pytest.mark.parametrize("text", [
    "caller 1764547200.42 left the IVR",  # a linkedid stays whole
    "2026-12-01T02:55:00Z queue complaints 3 waiting",
    "writer backlog 120 rows",
])
def test_ids_and_times_untouched(text: str) -> None:
    assert mask_text(text) == text


def test_every_handler_masks_args_and_tracebacks(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    setup_logging("info", "json")
    handler = logging.getLogger().handlers[0]
    assert any(getattr(f, "name", "") == "mask_personal" for f in handler.filters)
    log = logging.getLogger("callcenter.test")
    log.info("call from %s", "13912345678")
    try:
        raise ValueError("INSERT failed [parameters: ('13700001111', 'x')]")
    except ValueError:
        log.exception("write failed")
    logging.getLogger("twisted").info('"GET /app/x?caller_number=13655556666 HTTP/1.1" 200')
    out = stream.getvalue()
    for number in ("13912345678", "13700001111", "13655556666"):
        assert number not in out
    assert "139****5678" in out and "write failed" in out and "ValueError" in out
