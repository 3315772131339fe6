"""The IVR plugin in-process: FastAGI calls on the current flows, atomic reloads, the file watcher."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from callcenter import events as ev
from callcenter.bus import EventBus
from callcenter.config import Config
from callcenter.ivr.plugin import IvrPlugin

REPO = Path(__file__).resolve().parents[2]
FLOW = """flow: f
start: menu
nodes:
  menu:
    type: menu
    prompt: zh/short
    timeout: 1
    retries: 0
    choices: {"1": mark}
    on_invalid: bye
    on_timeout: bye
  mark:
    type: tag
    tags: {version: VERSION}
    next: bye
  bye: {type: hangup}
"""


class FakeDaemon:
    def __init__(self) -> None:
        self.bus = EventBus()
        self.events: list[Any] = []
        self.bus.subscribe("test", self.events.append)
        self.mounts: dict[str, Any] = {}

    def mount(self, prefix: str, resource: Any) -> None:
        self.mounts[prefix] = resource


def make_plugin(tmp_path: Path, watch_s: float = 0.0) -> IvrPlugin:
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    (flows / "f.yaml").write_text(FLOW.replace("VERSION", "old"))
    shutil.copy(REPO / "ivr_flows" / "calendars.yaml", flows)
    base = Config()
    config = base.model_copy(update={
        "agi": base.agi.model_copy(update={"port": 0}),
        "ivr": base.ivr.model_copy(update={"flows_dir": str(flows), "prompts_dir": str(REPO / "prompts"),
                                           "watch_interval_s": watch_s}),
        "hotlines": (base.hotlines[0].model_copy(update={"did": "1", "flow": "f"}),),
    })
    return IvrPlugin(config)


async def call(port: int, did: str, answers: list[bytes], gate: asyncio.Event | None = None) -> list[str]:
    """A fake Asterisk placing one call: answers each command; waits on ``gate`` before the 2nd answer."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"agi_network_script: ivr\nagi_uniqueid: U{did}\nagi_arg_1: {did}\nagi_arg_2: L{did}\n\n".encode())
    sent = []
    for i, answer in enumerate(answers):
        line = await r.readline()
        if not line:
            break
        sent.append(line.decode().strip())
        if i == 1 and gate is not None:
            await gate.wait()
        w.write(answer)
    rest = await r.read()
    w.close()
    return [*sent, rest.decode()]


def test_a_reload_mid_call_leaves_the_call_on_its_version_and_broken_edits_change_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        daemon = FakeDaemon()
        plugin = make_plugin(tmp_path)
        plugin.start(daemon)
        await plugin.server.started()
        assert "ivr" in daemon.mounts
        old_version = plugin.registry.current.version
        gate = asyncio.Event()
        # menu prompt → no key; digit wait → '1' (held until after the reload); tag; hang-up hand-off
        ok = b"200 result=0 endpos=0\n"
        first = asyncio.ensure_future(call(plugin.server.port, "1", [ok, b"200 result=49\n", b"200 result=1\n"], gate))
        await asyncio.sleep(0.2)
        # counted while it runs (the server is a panoramisk Application, a dict: empty, it is falsy)
        assert plugin.stats()["sessions_active"] == 1
        flow_file = Path(plugin.config.ivr.flows_dir) / "f.yaml"
        flow_file.write_text(FLOW.replace("VERSION", "new").replace("next: bye\n  bye", "next: nope\n  bye"))
        refused = await plugin.reload()
        assert refused["ok"] is False and refused["version"] == old_version
        assert any(": mark: next: no node named 'nope'" in p for p in refused["problems"])
        flow_file.write_text(FLOW.replace("VERSION", "new"))
        applied = await plugin.reload()
        assert applied["ok"] is True and applied["changed"] is True and applied["version"] != old_version
        gate.set()
        sent = await asyncio.wait_for(first, 5)
        assert sent[-2] == 'SET VARIABLE CC_IVR_NEXT "hangup"'
        tags = [dict(e.tags) for e in daemon.events if isinstance(e, ev.CallTagged)]
        assert tags == [{"version": "old"}]
        second = await asyncio.wait_for(call(plugin.server.port, "1", [ok, b"200 result=49\n", b"200 result=1\n"]), 5)
        assert second[-2] == 'SET VARIABLE CC_IVR_NEXT "hangup"'
        tags = [dict(e.tags) for e in daemon.events if isinstance(e, ev.CallTagged)]
        assert tags == [{"version": "old"}, {"version": "new"}]
        versions = [e.version for e in daemon.events if isinstance(e, ev.FlowEntered)]
        assert versions == [old_version, applied["version"]]
        assert plugin.registry.get(old_version) is not None  # kept for callers resuming on it
        stats = plugin.stats()
        assert stats["agi_commands"] == 2 and stats["agi_p50_ms"] is not None and stats["refused_reloads"] == 1
        assert stats["sessions_active"] == 0 and stats["sessions_total"] == 2
        await plugin.stop()

    asyncio.run(main())


def test_a_number_without_a_flow_goes_straight_to_its_queue(tmp_path: Path) -> None:
    async def main() -> None:
        plugin = make_plugin(tmp_path)
        plugin.hotlines["2"] = plugin.config.hotlines[0].model_copy(update={"did": "2", "flow": None,
                                                                            "queue": "complaints"})
        plugin.start(FakeDaemon())
        await plugin.server.started()
        sent = await asyncio.wait_for(call(plugin.server.port, "2", [b"200 result=1\n"] * 4), 5)
        assert 'SET VARIABLE CC_IVR_QUEUE "complaints"' in sent
        assert sent[3] == 'SET VARIABLE CC_IVR_NEXT "queue"'  # last: the dialplan acts on complete hand-offs
        await plugin.stop()

    asyncio.run(main())


def test_the_watcher_reloads_on_file_change(tmp_path: Path) -> None:
    async def main() -> None:
        plugin = make_plugin(tmp_path, watch_s=0.05)
        plugin.start(FakeDaemon())
        before = plugin.registry.current.version
        (Path(plugin.config.ivr.flows_dir) / "f.yaml").write_text(FLOW.replace("VERSION", "watched"))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if plugin.registry.current.version != before:
                break
        assert plugin.registry.current.version != before
        (Path(plugin.config.ivr.flows_dir) / "f.yaml").write_text("flow: f\nstart: [")
        await asyncio.sleep(0.5)
        assert plugin.registry.refusals >= 1 and plugin.registry.last_problems
        assert "f" in plugin.registry.current.flows  # the broken edit changed nothing
        await plugin.stop()

    asyncio.run(main())


def test_broken_flows_at_start_up_send_calls_to_the_fallback_until_fixed(tmp_path: Path) -> None:
    async def main() -> None:
        plugin = make_plugin(tmp_path)
        flow_file = Path(plugin.config.ivr.flows_dir) / "f.yaml"
        flow_file.write_text(FLOW.replace("next: bye\n  bye", "next: nope\n  bye"))
        daemon = FakeDaemon()
        plugin.start(daemon)  # does not raise: the daemon keeps recording calls
        await plugin.server.started()
        assert plugin.registry.current.flows == {} and plugin.registry.last_problems
        sent = await asyncio.wait_for(call(plugin.server.port, "1", [b"200 result=1\n"]), 5)
        assert sent[0] == 'SET VARIABLE CC_IVR_NEXT "fallback"'
        assert [e.result for e in daemon.events if isinstance(e, ev.IvrStep)] == ["fallback"]
        flow_file.write_text(FLOW.replace("VERSION", "fixed"))
        assert (await plugin.reload())["ok"] is True and "f" in plugin.registry.current.flows
        await plugin.stop()

    asyncio.run(main())
