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
from typing import Any

from panoramisk.message import Message

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/"
SEPARATOR = b"\r\n\r\n"
# Headers that legitimately repeat with different values (channel variables).
REPEATABLE = frozenset({"chanvariable", "variable", "destchanvariable"})


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
    and skipped; the stream carries on with the next message. With ``wanted`` (lower-case event
    names), events of other names that answer no action are dropped unparsed: on a busy hotline most
    of the stream (Newstate, Bridge*, MusicOnHold*, ...) is of no use to the daemon, and parsing is
    what costs.
    """

    def __init__(self, wanted: Iterable[str] | None = None) -> None:
        self._buffer = bytearray()
        self.version: str | None = None
        self.skipped = 0
        self.filtered = 0
        # events dropped because a header repeated with another value (forged or smuggled fields)
        self.forged = 0
        self._wanted = None if wanted is None else frozenset(n.lower().encode() for n in wanted)

    def feed(self, data: bytes) -> list[Message]:
        """The messages completed by ``data`` (bytes of an unfinished one stay buffered)."""
        self._buffer += data
        if self.version is None and self._buffer.startswith(BANNER):
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return []
            self.version = self._buffer[len(BANNER):end].decode("ascii", "replace").strip()
            del self._buffer[: end + 2]
        buffer, start, out = self._buffer, 0, []
        while True:
            end = buffer.find(SEPARATOR, start)
            if end < 0:
                break
            raw = bytes(buffer[start:end])
            start = end + len(SEPARATOR)
            if self._wanted is not None and not self._is_wanted(raw):
                self.filtered += 1
                continue
            message = self._parse(raw)
            if message is not None:
                out.append(message)
        del buffer[:start]  # one shift of the buffer per read, not one per message
        return out

    def _is_wanted(self, raw: bytes) -> bool:
        if not raw.startswith(b"Event: "):
            return True
        eol = raw.find(b"\r\n")
        name = raw[7:eol if eol >= 0 else len(raw)].strip().lower()
        return name in self._wanted or b"\r\nActionID:" in raw  # type: ignore[operator]

    def _parse(self, raw: bytes) -> Message | None:
        text = decode_message(raw).strip()
        if not text:
            return None
        if text.count("\n") != text.count("\r\n"):
            # Some lines end with a bare '\n' (panoramisk notes the same); normalise them.
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        if text.startswith("Event: "):
            return self._parse_event(text)
        message = Message.from_line(text)
        if message is None:
            self.skipped += 1
            log.warning("skipped a malformed AMI frame: %r", text[:200])
        return message

    def _parse_event(self, text: str) -> Message | None:
        """An event as a panoramisk Message, or None when a header repeats with another value.

        Asterisk never repeats a header with a different value (channel variables aside); a
        separator smuggled into a UserEvent body or a forged event does (``Linkedid`` twice: the
        channel's and the attacker's, in any letter case; panoramisk would keep the last). Built
        straight into the Message's case-insensitive store: faster than ``Message.from_line``,
        which pays for the check.
        """
        store: dict[str, tuple[str, Any]] = {}
        for line in text.split("\r\n"):
            key, sep, value = line.partition(": ")
            if not sep:
                continue
            lower = key.lower()
            previous = store.get(lower)
            if previous is not None:
                old = previous[1]
                if lower in REPEATABLE:
                    store[lower] = (key, [*(old if isinstance(old, list) else [old]), value])
                    continue
                if old == value:
                    continue  # ours: a UserEvent repeating the channel's Linkedid
                self.forged += 1
                log.warning("dropped AMI event %s: header %s repeated with another value (forged?)",
                            text[7:text.find("\r\n") if "\r\n" in text else 47][:40], key[:40])
                return None
            store[lower] = (key, value)
        store["content"] = ("content", "")
        message = Message.__new__(Message)
        message._store = store
        message.manager = None
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
