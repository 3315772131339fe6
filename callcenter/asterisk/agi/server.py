"""The FastAGI server: panoramisk's ``Application`` with its defects fixed.

Fixed here (each pinned by a test in ``tests/unit/test_agi_server.py``):

1. ``Application.add_route`` wraps plain functions with ``asyncio.coroutine``, which Python 3.11
   removed: adding any non-``async`` route raises ``AttributeError``. We accept only coroutine
   functions and say so.
2. ``Application.handler`` reads the ``agi_*`` header block with ``while b'\\n\\n' not in buffer``:
   a peer that closes early makes ``read()`` return ``b''`` for ever (a busy loop that never
   ends), and a peer that sends nothing holds the coroutine for ever. We read with a deadline
   and give up on EOF.
3. The handler closes the writer without waiting and leaves sessions running when the server
   stops. We track each session task, cancel them on :meth:`FastAgiServer.stop` and always
   close the socket.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import parse_qs

from panoramisk.fast_agi import Application

from callcenter import bounds
from callcenter.asterisk.agi.session import AgiConnectionLost, AgiError, AgiHangup, AgiSession, AgiTimeout

log = logging.getLogger(__name__)

Route = Callable[[AgiSession], Awaitable[None]]
HEADER_LIMIT = 64 * 1024
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_peers(peers: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``127.0.0.1``, ``10.1.2.0/24``, ``::1``) as networks; ValueError if bad."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in peers)


def _peer_allowed(peer: object, networks: tuple[Network, ...]) -> bool:
    try:
        host = peer[0] if isinstance(peer, tuple) else str(peer)  # type: ignore[index]
        addr = ipaddress.ip_address(str(host).split("%", 1)[0])
    except (ValueError, IndexError, TypeError):
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks)


# The AGI environment is outside input: caller ids to what the columns hold, the rest to 512.
_LIMITS = {"agi_callerid": bounds.NUMBER_MAX, "agi_dnid": bounds.NUMBER_MAX, "agi_extension": bounds.NUMBER_MAX,
           "agi_rdnis": bounds.NUMBER_MAX, "agi_calleridname": bounds.NAME_MAX, "agi_uniqueid": bounds.ID_MAX}


def _bounded(key: str, value: str) -> tuple[str, str]:
    return bounds.fit(key, 64), bounds.fit(value, _LIMITS.get(key, bounds.TEXT_MAX))


class FastAgiServer(Application):
    """Serves ``agi://host:port/<route>`` requests; one :class:`AgiSession` per connection."""

    def __init__(self, header_timeout_s: float = 5.0, read_timeout_s: float = 30.0,
                 on_round_trip: Callable[[str, float], None] | None = None,
                 allowed_peers: Iterable[str] = ("127.0.0.1", "::1"), secret: str = "") -> None:
        # panoramisk wants a loop; it only stores it.
        super().__init__(default_encoding="utf-8", loop=asyncio.get_event_loop())
        self.header_timeout_s = header_timeout_s
        self.read_timeout_s = read_timeout_s
        self.on_round_trip = on_round_trip
        self.sessions: set[asyncio.Task] = set()
        self._server: asyncio.AbstractServer | None = None
        # Only Asterisk may open sessions: a forged client could otherwise create voicemail rows
        # and steer flows. Peers outside these networks are closed before a byte is read; with a
        # secret, the AGI URL must carry ``?secret=`` (compared in constant time).
        self.allowed_peers = parse_peers(allowed_peers)
        self.secret = secret
        self.refused = 0

    def add_route(self, path: str, endpoint: Route) -> None:  # type: ignore[override]
        """Serve ``path`` with ``endpoint(session)`` (a coroutine function)."""
        if not asyncio.iscoroutinefunction(endpoint):
            raise TypeError(f"FastAGI route {path!r} must be an async function")
        if path in self._route:
            raise ValueError(f"FastAGI route {path!r} already exists")
        self._route[path] = endpoint

    async def _read_headers(self, reader: asyncio.StreamReader) -> OrderedDict[str, str] | None:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), self.header_timeout_s)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return None
        except TimeoutError:
            log.warning("FastAGI peer sent no complete header block within %.1f s", self.header_timeout_s)
            return None
        lines = raw.decode(self.default_encoding, errors="replace").splitlines()
        return OrderedDict(_bounded(*line.split(": ", 1)) for line in lines if ": " in line)

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:  # type: ignore[override]
        task = asyncio.current_task()
        if task is not None:
            self.sessions.add(task)
        try:
            peer = writer.get_extra_info("peername")
            if not _peer_allowed(peer, self.allowed_peers):
                self.refused += 1
                log.warning("FastAGI connection from %s refused: not in agi.allowed_peers", peer)
                return
            headers = await self._read_headers(reader)
            if headers is None:
                return
            script = headers.get("agi_network_script", "")
            path, _, query = script.partition("?")
            if self.secret:
                given = (parse_qs(query).get("secret") or [""])[0]
                if not hmac.compare_digest(given.encode(), self.secret.encode()):
                    self.refused += 1
                    log.warning("FastAGI session from %s refused: wrong or missing secret (route %r)", peer,
                                path[:60])
                    return
            script = path
            route = self._route.get(path)
            if route is None:
                log.error("FastAGI request for unknown route %r", script)
                return
            session = AgiSession(self, headers, reader, writer, self.default_encoding, self.read_timeout_s,
                                 self.on_round_trip)
            try:
                await route(session)
            except AgiConnectionLost:
                log.info("FastAGI %s: Asterisk closed the connection", script)
            except AgiHangup:
                log.info("FastAGI %s: caller hung up", script)
            except AgiTimeout as exc:
                log.warning("FastAGI %s: %s", script, exc)
            except AgiError as exc:
                log.warning("FastAGI %s: %s", script, exc)
            except asyncio.CancelledError:
                log.info("FastAGI %s: session cancelled", script)
                raise
            except Exception:
                log.exception("FastAGI route %s failed", script)
        finally:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 2.0)
            except (TimeoutError, ConnectionError, OSError, asyncio.CancelledError):
                pass
            if task is not None:
                self.sessions.discard(task)

    def listen(self, host: str, port: int) -> None:
        """Bind now (so a taken port fails at start-up, loudly) and serve in the background."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.setblocking(False)

        async def serve() -> None:
            self._server = await asyncio.start_server(self.handler, sock=sock, limit=HEADER_LIMIT)

        self._starting = asyncio.ensure_future(serve())

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return self._server.sockets[0].getsockname()[1]

    async def started(self) -> None:
        await self._starting

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop listening, give running sessions ``grace_s``, then cancel them."""
        await self._starting
        if self._server is not None:
            self._server.close()
        if self.sessions:
            _done, pending = await asyncio.wait(set(self.sessions), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()
