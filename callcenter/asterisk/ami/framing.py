"""Split an AMI byte stream into messages *before* decoding them.

panoramisk decodes every TCP read on its own (``data.decode(encoding, 'ignore')``), so a
multi-byte UTF-8 character that straddles two reads is silently dropped: a caller named
"张三" arrives as "张" or worse. Here bytes are buffered, cut at the blank line that ends
every AMI message, and only whole messages are decoded; parsing itself stays panoramisk's
(:meth:`panoramisk.message.Message.from_line`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from panoramisk.message import Message

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/"
SEPARATOR = b"\r\n\r\n"


def decode_message(raw: bytes) -> str:
    """Decode one message: UTF-8, else GB18030 (legacy Chinese gateways), else UTF-8 with U+FFFD."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
        log.warning("AMI message was not UTF-8; decoded as GB18030")
        return text
    except UnicodeDecodeError:
        log.warning("AMI message is neither UTF-8 nor GB18030; undecodable bytes replaced")
        return raw.decode("utf-8", "replace")


class MessageSplitter:
    """Accumulates bytes and yields complete messages as panoramisk :class:`Message` objects.

    Frames that are not AMI messages (no ``Event``/``Response`` header, garbage) are logged
    and skipped; the stream carries on with the next message.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.version: str | None = None
        self.skipped = 0

    def feed(self, data: bytes) -> Iterator[Message]:
        self._buffer += data
        if self.version is None and self._buffer.startswith(BANNER):
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return
            self.version = self._buffer[len(BANNER):end].decode("ascii", "replace").strip()
            del self._buffer[: end + 2]
        while True:
            end = self._buffer.find(SEPARATOR)
            if end < 0:
                return
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + len(SEPARATOR)]
            message = self._parse(raw)
            if message is not None:
                yield message

    def _parse(self, raw: bytes) -> Message | None:
        text = decode_message(raw).strip()
        if not text:
            return None
        if text.count("\n") != text.count("\r\n"):
            # Some lines end with a bare '\n' (panoramisk notes the same); normalise them.
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        message = Message.from_line(text)
        if message is None:
            self.skipped += 1
            log.warning("skipped a malformed AMI frame: %r", text[:200])
        return message

    @property
    def pending(self) -> int:
        """Bytes buffered but not yet part of a complete message."""
        return len(self._buffer)


def iter_messages(chunks: Iterable[bytes]) -> Iterator[Message]:
    """All messages in a byte stream given as chunks (a capture file read in blocks)."""
    splitter = MessageSplitter()
    for chunk in chunks:
        yield from splitter.feed(chunk)
    if splitter.pending:
        # A capture cut mid-message (e.g. copied while being written): the tail is incomplete.
        log.warning("AMI stream ends with an incomplete message (%d bytes), ignored", splitter.pending)


def read_capture(path: str, block: int = 1 << 16) -> Iterator[Message]:
    """Messages of a raw AMI capture file (the bytes exactly as Asterisk sent them)."""
    with open(path, "rb") as f:
        yield from iter_messages(iter(lambda: f.read(block), b""))
