"""The gateway adapter: how an outbox message leaves the product.

:class:`Gateway` is the interface (``send`` is called from worker threads, never on the reactor);
:class:`KannelGateway` speaks Kannel's smsbox HTTP interface (``/cgi-bin/sendsms``). An SMPP or HTTP
provider in production is another class named in ``sms.gateway`` (``module:Class``, built with the
settings and the callback base URL).
"""

from __future__ import annotations

import http.client
import importlib
import threading
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlencode

from callcenter.sms.settings import SmsSettings

ACCEPTED, RETRY, REJECTED = "accepted", "retry", "rejected"


@dataclass(frozen=True)
class OutgoingSms:
    id: int
    number: str
    body: str
    coding: int  # 0 GSM-7, 2 UCS-2
    segments: int


@dataclass(frozen=True)
class SendResult:
    """``accepted``: the gateway has it; ``retry``: unknown or temporary (send again later);
    ``rejected``: the gateway refuses this message for good."""

    outcome: str
    reply: str = ""


class Gateway(Protocol):
    def send(self, msg: OutgoingSms) -> SendResult: ...

    def close(self) -> None: ...


class KannelGateway:
    """Kannel smsbox over HTTP with one keep-alive connection per worker thread.

    Kannel answers 202 with ``0: Accepted for delivery`` or ``3: Queued for later delivery`` (no
    SMSC online; kept in its store): both mean it has the message. A connection error or a reply cut
    off is ambiguous: retried (at least once; the idempotency key keeps the record single).
    """

    def __init__(self, settings: SmsSettings, callback_base: str) -> None:
        self.settings = settings
        self.k = settings.kannel
        self.callback_base = callback_base.rstrip("/")
        self._local = threading.local()
        self._conns: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def dlr_url(self, message_id: int) -> str:
        # Our own id in the URL: Kannel's %I differs between the reports of one message.
        return f"{self.callback_base}/dlr/{self.settings.callback_token}?id={message_id}&type=%d&fid=%F"

    def query(self, msg: OutgoingSms) -> str:
        params = {
            "username": self.k.username, "password": self.k.password, "from": self.settings.sender,
            "to": msg.number, "text": msg.body, "charset": "UTF-8", "coding": str(msg.coding),
            "dlr-mask": "31", "dlr-url": self.dlr_url(msg.id),
        }
        return "/cgi-bin/sendsms?" + urlencode(params, quote_via=quote)

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.k.host, self.k.sendsms_port, timeout=self.k.timeout_s)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def send(self, msg: OutgoingSms) -> SendResult:
        if msg.segments > self.k.max_messages:
            # Kannel would cut the text silently at max-messages parts.
            return SendResult(REJECTED, f"needs {msg.segments} parts, gateway sends {self.k.max_messages}")
        conn = self._conn()
        try:
            conn.request("GET", self.query(msg))
            resp = conn.getresponse()
            body = resp.read(400).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return SendResult(RETRY, f"{type(exc).__name__}: {exc}"[:200])
        if resp.status in (200, 202) and body[:2] in ("0:", "3:"):
            return SendResult(ACCEPTED, body[:200])
        if resp.status == 400:
            return SendResult(REJECTED, f"{resp.status} {body}"[:200])
        # 403 (our credentials) and 5xx: a gateway problem, not the message's: keep it and retry.
        return SendResult(RETRY, f"{resp.status} {body}"[:200])

    def close(self) -> None:
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


def make_gateway(settings: SmsSettings, callback_base: str) -> Gateway:
    """The configured gateway: ``kannel`` or ``module:Class`` (called with the same arguments)."""
    if settings.gateway == "kannel":
        return KannelGateway(settings, callback_base)
    module, _, attr = settings.gateway.partition(":")
    return getattr(importlib.import_module(module), attr)(settings, callback_base)
