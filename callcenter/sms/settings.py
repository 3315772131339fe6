"""SMS settings (``sms:`` in callcenter.yaml). Secrets (gateway password, callback token) come from the
secrets file or the environment, never from defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KannelSettings(_Model):
    """Where Kannel's boxes listen; the sandbox runs them with these ports (the tests use base+13…+16)."""

    host: str = "127.0.0.1"
    admin_port: int = 13000
    smsbox_port: int = 13001  # bearerbox ↔ smsbox
    fake_smsc_port: int = 13015  # bearerbox listens here; fakesmsc connects (sandbox only)
    sendsms_port: int = 13013
    username: str = "callcenter"
    password: str = ""  # sendsms-user password (secret)
    admin_password: str = ""  # bearerbox admin password (secret)
    # Parts Kannel may send for one message; more are refused before sending (Kannel truncates silently).
    max_messages: int = 10
    # The sandbox starts Kannel with its fake SMSC as the carrier.
    sandbox: bool = True
    timeout_s: float = 5.0


class SmsSettings(_Model):
    enabled: bool = True
    # "kannel" or "module:Class" of a :class:`callcenter.sms.gateway.Gateway` (an SMPP/HTTP provider).
    gateway: str = "kannel"
    kannel: KannelSettings = KannelSettings()
    sender: str = "12345"
    # Shared secret in the callback URLs (DLR, MO); empty = callbacks refused.
    callback_token: str = ""
    # How the gateway reaches our callback routes; empty: http://<web.host>:<web.port>/sms
    callback_base_url: str = ""
    # Limits: per citizen number in a sliding hour, and the whole outbox per second.
    per_number_per_hour: int = 5
    overall_per_second: float = 100.0
    max_segments: int = 10
    # Retry backoff while the gateway is down: min doubling to max; messages older than max_age_h expire.
    retry_min_s: float = 1.0
    retry_max_s: float = 60.0
    max_age_h: float = 72.0
    # A row left 'sending' this long (daemon killed mid-send) is sent again (at least once).
    send_lease_s: float = 30.0
    batch: int = 200
    concurrency: int = 8
    poll_s: float = 0.25
    # Send the order receipt when an order is registered.
    receipt_on_register: bool = True
    # Replies that put the number on the do-not-SMS list (compared upper-cased, stripped).
    optout_keywords: tuple[str, ...] = ("TD", "T", "N", "STOP", "退订", "退定", "取消")
