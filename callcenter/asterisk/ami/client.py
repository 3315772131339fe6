"""AMI connection: login, reconnect with backoff, bounded action waits, isolated handlers.

Built on panoramisk's protocol, :class:`~panoramisk.actions.Action` and
:class:`~panoramisk.message.Message`; replaces panoramisk's ``Manager`` because its reconnect
loop has a fixed delay, its dispatch lets one handler's exception close the connection and its
action futures can wait forever (see :mod:`callcenter.asterisk.ami.protocol`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

from panoramisk import actions
from panoramisk.message import Message

from callcenter.asterisk.ami.protocol import CallcenterAMIProtocol

log = logging.getLogger(__name__)


class _Action(actions.Action):
    """An action that can run a hook synchronously the moment its last message arrives.

    Awaiting the future resumes the caller a loop iteration later, after events that followed
    the response were already dispatched; a snapshot (QueueStatus) must be applied before them.
    """

    on_complete: Callable[[Any], None] | None = None

    def add_message(self, message: Message) -> bool | None:
        # panoramisk waits for a list's "EventList: Complete" even when Asterisk refused the action
        # (Response: Error, e.g. "Permission denied"), so the caller only saw a timeout: end it here.
        if (self.as_list and not self.responses and not self.future.done()
                and str(message.get("Response", "")).lower() == "error"):
            self.responses.append(message)
            self.future.set_result(self.responses)
            done: bool | None = True
        else:
            done = super().add_message(message)
        if done and self.on_complete is not None and not self.future.cancelled():
            try:
                self.on_complete(self.future.result())
            except Exception:
                log.exception("on_complete hook of %s failed", self.get("Action"))
        return done


class AmiError(Exception):
    """Asterisk answered an action with an error, or the connection is not usable."""


class AmiTimeout(AmiError):
    """No (complete) response to an action within the timeout."""


class AmiInjection(AmiError):
    """An action key or value holds CR, LF or another control character: refused, never sent.

    AMI is line-framed and panoramisk writes values verbatim, so ``Reason: x\r\n\r\nAction:
    Hangup`` would be a second action. Refusing here (the one place that sends actions) covers
    every field, present and future.
    """


# Tab is harmless inside a value; every other C0 control (CR and LF above all), DEL and the
# Unicode line separators are refused.
_FORBIDDEN = frozenset(chr(c) for c in range(32) if c != 9) | {"\x7f", "\u2028", "\u2029", "\x85"}


def check_action(action: dict[str, Any]) -> None:
    """Raise :class:`AmiInjection` if any key or value of ``action`` could break AMI framing."""
    for key, value in action.items():
        values = value if isinstance(value, (list, tuple)) else (value,)
        for text in (str(key), *(str(v) for v in values)):
            if not _FORBIDDEN.isdisjoint(text):
                bad = next(ch for ch in text if ch in _FORBIDDEN)
                log.warning("refused AMI action %r: %s holds control character U+%04X",
                            str(action.get("Action", "?"))[:40], str(key)[:40], ord(bad))
                raise AmiInjection(f"AMI action field {str(key)[:40]!r} holds a control character")


class AmiClient:
    """One logged-in AMI session that keeps itself connected.

    ``on_event(message)`` receives every event (a panoramisk :class:`Message`), in order.
    ``on_connected()`` runs after each successful login (resync live state there);
    ``on_disconnected(reason)`` after each loss.
    """

    # Attributes panoramisk's protocol expects on its factory.
    forgetable_actions = ("ping", "login", "logoff")

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        on_event: Callable[[Message], None],
        on_connected: Callable[[], Awaitable[None] | None] | None = None,
        on_disconnected: Callable[[str], None] | None = None,
        capture: BinaryIO | None = None,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        action_timeout_s: float = 10.0,
        ping_interval_s: float = 10.0,
        wanted_events: frozenset[str] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.on_event = on_event
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.capture = capture
        self.save_stream = None
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self.action_timeout_s = action_timeout_s
        self.ping_interval_s = ping_interval_s
        # Events (lower-case names) worth parsing; others are dropped unparsed (None: all).
        self.wanted_events = wanted_events
        self.awaiting_actions: deque[Any] = deque()
        self.protocol: CallcenterAMIProtocol | None = None
        self.version: str | None = None
        self.connections = 0
        self.handler_errors = 0
        self._lost: asyncio.Event | None = None
        self._ready: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        self._stopping = False
        self._ready = asyncio.Event()
        self._task = asyncio.ensure_future(self._run())
        return self._task

    async def stop(self) -> None:
        """Log off and stop reconnecting."""
        await self.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def open(self) -> None:
        """Connect and log in once, without reconnecting (one-shot use: CLI commands)."""
        self._ready = asyncio.Event()
        self._lost = asyncio.Event()
        await self._connect_once(asyncio.get_running_loop())

    async def close(self) -> None:
        """Log off and close a connection made with :meth:`open`."""
        self._stopping = True
        if self.protocol is not None and not self.protocol.closed:
            try:
                await asyncio.wait_for(self._send({"Action": "Logoff"}, as_list=False), 1.0)
            except Exception:
                pass
            self.protocol.close()

    @property
    def connected(self) -> bool:
        return self._ready is not None and self._ready.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        assert self._ready is not None, "start() first"
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def _run(self) -> None:
        delay = self.reconnect_min_s
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._lost = asyncio.Event()
            try:
                await self._connect_once(loop)
                delay = self.reconnect_min_s
            except (TimeoutError, OSError, AmiError) as exc:
                log.warning("AMI %s:%s unavailable (%s); retrying in %.1f s", self.host, self.port, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max_s)
                continue
            except Exception:
                # Anything else (a bug, an odd answer) must not end the reconnect loop for good.
                log.exception("AMI %s:%s: unexpected error while connecting; retrying in %.1f s",
                              self.host, self.port, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max_s)
                continue
            pinger = asyncio.ensure_future(self._ping_loop())
            try:
                await self._lost.wait()
            finally:
                pinger.cancel()
            if self._ready is not None:
                self._ready.clear()
            if not self._stopping:
                await asyncio.sleep(delay)

    async def _connect_once(self, loop: asyncio.AbstractEventLoop) -> None:
        _transport, protocol = await asyncio.wait_for(
            loop.create_connection(lambda: CallcenterAMIProtocol(self), self.host, self.port), self.action_timeout_s
        )
        protocol.factory = self
        protocol.config = {}
        protocol.encoding = "utf-8"
        self.protocol = protocol
        try:
            resp = await self.action(
                {"Action": "Login", "Username": self.username, "Secret": self.secret, "Events": "on"}
            )
        except AmiError:
            protocol.close()
            raise
        self.version = protocol.version
        self.connections += 1
        log.info("AMI logged in to %s:%s (protocol %s)", self.host, self.port, self.version)
        assert self._ready is not None
        self._ready.set()
        if self.on_connected is not None:
            try:
                result = self.on_connected()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("on_connected handler failed")
        del resp

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval_s)
            try:
                await self.action({"Action": "Ping"})
            except AmiError as exc:
                log.warning("AMI ping failed (%s): reconnecting", exc)
                if self.protocol is not None:
                    self.protocol.connection_lost(exc)
                return

    # ---- called by the protocol -------------------------------------------------------------
    def dispatch(self, message: Message) -> None:
        """Hand one event to ``on_event``; an exception there is logged, never fatal."""
        try:
            self.on_event(message)
        except Exception:
            self.handler_errors += 1
            log.exception("event handler failed on %s", message.get("Event"))

    def connection_lost(self, exc: Any) -> None:
        reason = str(exc) if exc else "closed"
        log.warning("AMI connection lost: %s", reason)
        # Fail every pending action now instead of letting callers wait for their timeout.
        # (panoramisk's close() has already moved them from `responses` to `awaiting_actions`,
        # to resend after a reconnect; we do not resend: the caller decides.)
        pending = list(self.awaiting_actions)
        if self.protocol is not None:
            pending += list(self.protocol.responses.values())
            self.protocol.responses.clear()
        self.awaiting_actions.clear()
        for action in pending:
            if not action.future.done():
                action.future.set_exception(AmiError(f"connection lost: {reason}"))
        if self._ready is not None:
            self._ready.clear()
        if self.on_disconnected is not None:
            try:
                self.on_disconnected(reason)
            except Exception:
                log.exception("on_disconnected handler failed")
        if self._lost is not None:
            self._lost.set()

    # ---- actions -----------------------------------------------------------------------------
    def _send(
        self, action: dict[str, Any], as_list: bool, on_complete: Callable[[Any], None] | None = None
    ) -> asyncio.Future[Any]:
        check_action(action)
        if self.protocol is None or self.protocol.closed:
            raise AmiError("not connected to AMI")
        act = _Action(dict(action), as_list=as_list)
        act.on_complete = on_complete
        return self.protocol.send(act, as_list=as_list)

    async def action(
        self,
        action: dict[str, Any],
        as_list: bool = False,
        timeout: float | None = None,
        on_complete: Callable[[Any], None] | None = None,
    ) -> Any:
        """Send an action; return its response (or all messages of a list action).

        ``on_complete(result)`` runs synchronously when the last message arrives, before any
        later event is dispatched. Raises :class:`AmiError` when Asterisk answers
        ``Response: Error`` and :class:`AmiTimeout` when nothing complete arrives in time.
        """
        future = self._send(action, as_list, on_complete)
        try:
            result = await asyncio.wait_for(future, timeout or self.action_timeout_s)
        except TimeoutError as exc:
            raise AmiTimeout(f"no response to {action.get('Action')} within the timeout") from exc
        first = result[0] if isinstance(result, list) else result
        if first.get("Response", "").lower() in ("error", "fail", "failure"):
            raise AmiError(f"{action.get('Action')}: {first.get('Message', 'error')}")
        return result
