"""panoramisk's AMIProtocol with the defects that matter to us fixed.

Each fix has a regression test in ``tests/unit/test_ami_protocol.py``:

1. *Split UTF-8*: panoramisk decodes each TCP read separately and drops a character cut in
   two. We frame bytes first (:class:`~callcenter.asterisk.ami.framing.MessageSplitter`).
2. *A raising handler kills the connection*: panoramisk calls handlers inside
   ``data_received``; an exception there closes the transport. Our client isolates handlers
   (see :meth:`AmiClient.dispatch`), and this protocol also guards each message.
3. *Lost responses*: panoramisk guesses from the response text whether more messages follow;
   ``QueueAdd``'s "Added interface to queue" makes it wait forever for a list that never
   comes. The client always states ``as_list`` explicitly and bounds every wait with a
   timeout (see :meth:`AmiClient.action`).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from panoramisk.ami_protocol import AMIProtocol

from callcenter.asterisk.ami.framing import MessageSplitter

if TYPE_CHECKING:
    from panoramisk.message import Message

log = logging.getLogger(__name__)


class CallcenterAMIProtocol(AMIProtocol):
    """Frames bytes before decoding, feeds a raw capture, never lets one message kill the link."""

    def __init__(self, factory: Any = None) -> None:
        super().__init__()
        self._owner = factory

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # Known from the start: the banner may arrive before create_connection() returns, and the
        # capture must hold it.
        self.factory = self._owner
        self.splitter = MessageSplitter(getattr(self._owner, "wanted_events", None))
        self.log = log

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        capture = getattr(self.factory, "capture", None)
        if capture is not None:
            capture.write(data)
        for message in self.splitter.feed(data):
            if self.version is None and self.splitter.version:
                self.version = self.splitter.version
            try:
                self.handle_message(message)
            except Exception:
                log.exception("error while handling AMI message %r; continuing", message)

    def handle_message(self, message: Message) -> None:
        if "event" not in message and "response" in message and message.id is None:
            log.debug("unsolicited AMI response without ActionID: %r", message)
            return
        super().handle_message(message)

    def reset_buffers(self) -> None:
        self.queue = deque()
        self.splitter = MessageSplitter(getattr(self._owner, "wanted_events", None))
