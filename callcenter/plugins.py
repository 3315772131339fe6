"""The features wired into the daemon besides the call path itself, in start order.

A plugin is an object with ``name``, ``start(daemon)`` (synchronous; may subscribe to
``daemon.bus``, listen to ``daemon.live``, call ``daemon.mount(prefix, resource)``) and
``stop()`` (may return an awaitable). Add a feature by adding its factory here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callcenter.config import Config

PluginFactory = Callable[[Config], Any]

# Each entry: "module:factory". Imported lazily so a feature's dependencies load only when used.
PLUGINS: list[str] = [
    "callcenter.ivr.plugin:IvrPlugin",
    "callcenter.desk.plugin:make_plugin",
    "callcenter.callctl.plugin:make_plugin",
    "callcenter.staffing.plugin:StaffingPlugin",
    "callcenter.sms.plugin:make_plugin",
    "callcenter.audit.plugin:make_plugin",
]


def load_plugins(config: Config) -> list[Any]:
    import importlib

    plugins = []
    for spec in PLUGINS:
        module_name, _, attr = spec.partition(":")
        factory: PluginFactory = getattr(importlib.import_module(module_name), attr)
        plugins.append(factory(config))
    return plugins
