"""The SMS plugin: the order-receipt hook, the callback routes, the template admin page and the
outbox dispatcher (when a gateway is configured), wired into the daemon."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from callcenter.config import Config
from callcenter.sms import outbox

if TYPE_CHECKING:
    from callcenter.daemon import Daemon

log = logging.getLogger(__name__)


def callback_base(config: Config) -> str:
    """Where the gateway reaches our /sms routes."""
    if config.sms.callback_base_url:
        return config.sms.callback_base_url.rstrip("/")
    host = config.web.host if config.web.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{config.web.port}/sms"


def gateway_configured(config: Config) -> bool:
    return config.sms.gateway != "kannel" or bool(config.sms.kannel.password)


class SmsPlugin:
    name = "sms"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings = config.sms
        self.dispatcher: Any = None
        self._hook: Any = None

    def receipt(self, session: Any, order: Any) -> None:
        """AFTER_REGISTER hook: the receipt joins the order's own transaction (recorded with it or not at all)."""
        outbox.order_receipt(session, self.settings, order)
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def start(self, daemon: Daemon) -> None:
        from callcenter.sms.web import CallbackWeb, admin_web
        from callcenter.workorders import services

        if not self.settings.enabled:
            return
        if self.settings.receipt_on_register:
            self._hook = self.receipt
            services.AFTER_REGISTER.append(self._hook)
        daemon.mount("sms", CallbackWeb(daemon.db, self.settings).app.resource())
        try:
            desk = daemon.plugin("desk")
        except KeyError:
            desk = None
        if desk is not None:
            daemon.mount("smsadmin", admin_web(desk, self.settings).app.resource())
        if gateway_configured(self.config):
            self.dispatcher = start_dispatcher(self.config, daemon.db)
        else:
            log.warning("sms: no gateway configured (sms.kannel.password); messages stay in the outbox")

    def stop(self) -> None:
        from callcenter.workorders import services

        if self._hook in services.AFTER_REGISTER:
            services.AFTER_REGISTER.remove(self._hook)
        if self.dispatcher is not None:
            self.dispatcher.stop()


def start_dispatcher(config: Config, db: Any) -> Any:
    from callcenter.sms.dispatcher import Dispatcher
    from callcenter.sms.gateway import make_gateway

    d = Dispatcher(db, config.sms, make_gateway(config.sms, callback_base(config)))
    d.start()
    log.info("sms: outbox dispatcher started (gateway %s)", config.sms.gateway)
    return d


def make_plugin(config: Config) -> SmsPlugin:
    """Plugin factory (``callcenter.plugins.PLUGINS``)."""
    return SmsPlugin(config)
