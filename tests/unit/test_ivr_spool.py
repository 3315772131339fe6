"""The voicemail spool sweep: every message in Asterisk's mailboxes gets exactly one ``voicemails`` row."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select

from callcenter import events as ev
from callcenter.bus import EventBus
from callcenter.calls.recorder import CallRecorder
from callcenter.config import Config
from callcenter.ivr import spool
from callcenter.ivr.plugin import IvrPlugin
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.store.journal import Journal
from callcenter.store.models import Voicemail, epoch
from callcenter.store.writer import RecordWriter

REPO = Path(__file__).resolve().parents[2]
T0 = 1_795_647_410
WAV_BYTES = b"RIFF" + b"\0" * 4000


def leave(spool_dir: Path, mailbox: str, n: int, origtime: int = T0, category: str = "",
          callerid: str = '"留言人" <13500005555>', channel: str = "PJSIP/carrier-00000002", audio: bool = True,
          context: str = "hotline") -> tuple[Path, Path]:
    """Write msgNNNN.txt (+ .wav) the way app_voicemail does."""
    inbox = spool_dir / context / mailbox / "INBOX"
    inbox.mkdir(parents=True, exist_ok=True)
    (spool_dir / context / mailbox / "tmp").mkdir(exist_ok=True)
    txt = inbox / f"msg{n:04d}.txt"
    wav = inbox / f"msg{n:04d}.wav"
    txt.write_text(
        ";\n; Message Information file\n;\n[message]\n"
        f"origmailbox={mailbox}\ncontext=cc-fallback\nmacrocontext=\nexten=closed\nrdnis=unknown\npriority=4\n"
        f"callerchan={channel}\ncallerid={callerid}\norigdate=Wed Nov 25 10:56:50 PM UTC 2026\n"
        f"origtime={origtime}\ncategory={category}\nmsg_id={origtime}-{n:08d}\nflag=\nduration=5\n",
        encoding="utf-8")
    if audio:
        wav.write_bytes(WAV_BYTES)
    return txt, wav


# ---- reading the spool ------------------------------------------------------------------------------

def test_metadata_becomes_a_message(tmp_path: Path) -> None:
    leave(tmp_path, "12345", 0, category="linkedid=1795647400.7&hotline=12345&reason=fallback")
    leave(tmp_path, "12319", 3, callerid="<unknown>", channel="PJSIP/carrier-0000000a")
    [a, b] = sorted(spool.SpoolScanner(tmp_path).scan(), key=lambda m: m.mailbox, reverse=True)
    assert a.audio == str(tmp_path / "hotline/12345/INBOX/msg0000.wav") and a.origtime == T0
    assert (a.caller_number, a.caller_name, a.duration_s, a.context) == ("13500005555", "留言人", 5, "hotline")
    event = a.event(hotline="ignored: the category names it")
    assert (event.linkedid, event.reason, event.hotline, event.ts) == ("1795647400.7", "fallback", "12345", T0)
    assert event.path == a.audio and event.mailbox == "12345" and event.duration_s == 5
    # no category (another dialplan, an older spool): a stable id from the mailbox and msg_id
    assert b.linkedid == f"vm-12319-{T0}-00000003" and b.reason == "recovered" and b.caller_number == ""
    assert b.event(hotline="12319").hotline == "12319"


def test_caller_ids() -> None:
    assert spool.parse_callerid('"张三" <13800000000>') == ("13800000000", "张三")
    assert spool.parse_callerid("<13800000000>") == ("13800000000", "")
    assert spool.parse_callerid('"unknown" <unknown>') == ("", "")
    assert spool.parse_callerid("13800000000") == ("13800000000", "")
    assert spool.parse_callerid("") == ("", "")


def test_a_message_without_its_audio_yet_waits(tmp_path: Path) -> None:
    txt, wav = leave(tmp_path, "12345", 0, audio=False)
    scanner = spool.SpoolScanner(tmp_path)
    assert scanner.scan() == []
    wav.write_bytes(b"")  # empty: still being written
    assert scanner.scan() == []
    wav.write_bytes(WAV_BYTES)
    [m] = scanner.scan()
    assert m.txt == str(txt)


def test_settled_messages_are_not_read_again_and_quiet_mailboxes_not_listed(tmp_path: Path) -> None:
    leave(tmp_path, "12345", 0)
    leave(tmp_path, "12345", 1)
    scanner = spool.SpoolScanner(tmp_path)
    found = scanner.scan(now=T0)
    assert len(found) == 2 and scanner.files_read == 2
    scanner.settle(found[0])
    # one left unsettled: it comes back, the settled one is not read again
    assert [m.txt for m in scanner.scan(now=T0)] == [found[1].txt] and scanner.files_read == 3
    scanner.settle(found[1])
    inbox = tmp_path / "hotline/12345/INBOX"
    old = os.stat(inbox).st_mtime_ns - 10_000_000_000
    os.utime(inbox, ns=(old, old))  # a quiet mailbox: not even listed
    listed = []
    real_listdir = os.listdir
    os.listdir = lambda p: listed.append(p) or real_listdir(p)  # type: ignore[assignment,func-returns-value]
    try:
        scanner.scan()
        assert scanner.scan() == [] and listed == [inbox]  # listed once: its mtime changed since
    finally:
        os.listdir = real_listdir  # type: ignore[assignment]
    # a new message changes the directory: found
    leave(tmp_path, "12345", 2)
    assert [Path(m.txt).name for m in scanner.scan()] == ["msg0002.txt"]


def test_a_reused_message_number_is_a_new_message(tmp_path: Path) -> None:
    txt, _wav = leave(tmp_path, "12345", 0, origtime=T0)
    scanner = spool.SpoolScanner(tmp_path)
    [first] = scanner.scan()
    scanner.settle(first)
    txt.unlink()
    leave(tmp_path, "12345", 0, origtime=T0 + 3600)
    [second] = scanner.scan()
    assert second.origtime == T0 + 3600
    # the old row (created when the first message was left) does not cover the new message
    assert spool.covered(first, [T0 + 20]) and not spool.covered(second, [T0 + 20])
    assert spool.covered(second, [T0 + 3600])


# ---- the sweep in the daemon -----------------------------------------------------------------------------

class Daemon:
    """Bus → recorder → record writer → journal → database, as in the daemon (writer flushed by hand)."""

    def __init__(self, url: str, tmp_path: Path, start: bool = True) -> None:
        self.db = Database(url)
        self.writer = RecordWriter(self.db, Journal(tmp_path / "journal"), retry_min_s=0.05, retry_max_s=0.2)
        if start:
            self.start_writer()
        self.bus = EventBus()
        self.events: list[Any] = []
        self.recorder = CallRecorder(sink=self.writer.put)
        self.bus.subscribe("recorder", self.recorder.apply)
        self.bus.subscribe("test", self.events.append)

    def start_writer(self) -> None:
        self.writer._thread = threading.Thread(target=self.writer._run, daemon=True)
        self.writer._thread.start()

    def mount(self, prefix: str, resource: Any) -> None:
        pass

    def written(self) -> list[Voicemail]:
        self.writer.flush()
        assert self.writer.wait_idle(10)
        with self.db.session() as s:
            return list(s.scalars(select(Voicemail).order_by(Voicemail.path)))

    def close(self) -> None:
        self.writer.stop()
        self.db.dispose()


def plugin_for(tmp_path: Path, spool_dir: Path) -> IvrPlugin:
    base = Config()
    return IvrPlugin(base.model_copy(update={
        "agi": base.agi.model_copy(update={"port": 0}),
        "ivr": base.ivr.model_copy(update={"voicemail_dir": str(spool_dir), "voicemail_sweep_s": 0,
                                           "watch_interval_s": 0, "flows_dir": str(REPO / "ivr_flows"),
                                           "prompts_dir": str(REPO / "prompts")}),
    }))


def sweep(plugin: IvrPlugin, daemon: Daemon) -> int:
    async def main() -> int:
        plugin.start(daemon)
        try:
            return await plugin.reconcile_voicemails()
        finally:
            await plugin.stop()

    return asyncio.run(main())


def test_every_message_gets_one_row_and_sessions_rows_are_matched_by_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.sqlite'}"
    migrate.upgrade(url)
    vm = tmp_path / "voicemail"
    _txt, ivr_wav = leave(vm, "12346", 0, origtime=T0, category="linkedid=L-ivr&hotline=e2e")
    _txt, fallback_wav = leave(vm, "12345", 0, origtime=T0 + 60,
                               category="linkedid=L-down&hotline=12345&reason=fallback")
    leave(vm, "12319", 0, origtime=T0 + 120)  # no category
    daemon = Daemon(url, tmp_path)
    try:
        # the IVR session's own row for its message (written at the end of the message)
        daemon.bus.publish(ev.VoicemailLeft(ts=T0 + 8.5, linkedid="L-ivr", mailbox="12346", path=str(ivr_wav),
                                            duration_s=5, caller_number="13500005555", caller_name="留言人",
                                            hotline="e2e", reason="caller-choice"))
        daemon.written()
        plugin = plugin_for(tmp_path, vm)
        assert sweep(plugin, daemon) == 2
        rows = {r.mailbox: r for r in daemon.written()}
        assert len(rows) == 3
        assert rows["12346"].reason == "caller-choice"  # untouched
        down = rows["12345"]
        assert (down.linkedid, down.reason, down.hotline, down.path) == ("L-down", "fallback", "12345",
                                                                        str(fallback_wav))
        assert (down.caller_number, down.caller_name, down.duration_s, down.status) == ("13500005555", "留言人", 5,
                                                                                         "new")
        assert epoch(down.created_at) == T0 + 60 and down.id == f"L-down@{T0 + 60:.6f}"
        assert rows["12319"].hotline == "12319" and rows["12319"].reason == "recovered"
        # again in the same run, and in a new run (restart): nothing more
        assert sweep(plugin, daemon) == 0
        assert sweep(plugin_for(tmp_path, vm), daemon) == 0
        assert len(daemon.written()) == 3
        published = [e for e in daemon.events if isinstance(e, ev.VoicemailLeft)]
        assert len(published) == 3
    finally:
        daemon.close()


def test_a_message_whose_session_is_still_running_is_left_to_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.sqlite'}"
    migrate.upgrade(url)
    vm = tmp_path / "voicemail"
    leave(vm, "12346", 0, channel="PJSIP/carrier-00000007", category="linkedid=L1&hotline=e2e")
    daemon = Daemon(url, tmp_path)
    try:
        plugin = plugin_for(tmp_path, vm)
        plugin._in_session["PJSIP/carrier-00000007"] += 1
        assert sweep(plugin, daemon) == 0
        # the session published it before it ended: still no second row
        daemon.bus.publish(ev.VoicemailLeft(ts=T0 + 9, linkedid="L1", mailbox="12346",
                                            path=str(vm / "hotline/12346/INBOX/msg0000.wav"), duration_s=5,
                                            caller_number="", caller_name="", reason="caller-choice"))
        del plugin._in_session["PJSIP/carrier-00000007"]
        assert sweep(plugin, daemon) == 0
        assert [r.reason for r in daemon.written()] == ["caller-choice"]
        # a session that ended without publishing (it could not find the file): the sweep records it
        leave(vm, "12346", 1, channel="PJSIP/carrier-00000008", category="linkedid=L2&hotline=e2e")
        assert sweep(plugin, daemon) == 1
        assert sorted(r.reason for r in daemon.written()) == ["caller-choice", "recovered"]
    finally:
        daemon.close()


def test_rows_still_in_the_journal_of_a_previous_run_are_waited_for(tmp_path: Path) -> None:
    """A run recorded the message, journaled its row, and died before the database had it."""
    url = f"sqlite:///{tmp_path / 'cc.sqlite'}"
    migrate.upgrade(url)
    vm = tmp_path / "voicemail"
    _txt, wav = leave(vm, "12346", 0, category="linkedid=L1&hotline=e2e")
    journal = Journal(tmp_path / "journal")
    from callcenter.calls.records import VoicemailRecord
    from callcenter.store.rows import to_row

    journal.append([to_row(VoicemailRecord(id="L1@x", linkedid="L1", mailbox="12346", path=str(wav),
                                           created_at=T0 + 8, reason="caller-choice"))])
    journal.close()
    daemon = Daemon(url, tmp_path, start=False)  # its writer holds that backlog, not yet written
    try:
        plugin = plugin_for(tmp_path, vm)

        async def main() -> None:
            plugin.start(daemon)
            await asyncio.sleep(0.5)
            assert plugin.spool.scans == 0  # the start-up sweep waits for the backlog ...
            daemon.start_writer()
            assert plugin._sweeper is not None
            await asyncio.wait_for(plugin._sweeper, 10)  # ... then finds the row
            await plugin.stop()

        asyncio.run(main())
        assert plugin.spool.scans == 1 and plugin.voicemails_recovered == 0
        assert [(r.id, r.reason) for r in daemon.written()] == [("L1@x", "caller-choice")]
    finally:
        daemon.close()


def test_a_sweep_that_cannot_reach_the_database_is_tried_again(tmp_path: Path, caplog: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cc.sqlite'}"  # no tables yet: every query fails
    vm = tmp_path / "voicemail"
    leave(vm, "12345", 0, category="linkedid=L1&hotline=12345&reason=fallback")
    daemon = Daemon(url, tmp_path)
    try:
        plugin = plugin_for(tmp_path, vm)
        plugin.config = plugin.config.model_copy(update={
            "ivr": plugin.config.ivr.model_copy(update={"voicemail_sweep_s": 0.2})})

        async def main() -> None:
            plugin.start(daemon)
            for _ in range(50):
                await asyncio.sleep(0.1)
                if "voicemail sweep failed (OperationalError" in caplog.text:
                    break
            assert plugin.voicemails_recovered == 0
            await asyncio.get_running_loop().run_in_executor(None, migrate.upgrade, url)  # the database is back
            for _ in range(50):
                await asyncio.sleep(0.1)
                if plugin.voicemails_recovered:
                    break
            await plugin.stop()

        asyncio.run(main())
        assert "voicemail sweep failed (OperationalError" in caplog.text
        assert plugin.voicemails_recovered == 1
        assert [r.linkedid for r in daemon.written()] == ["L1"]
    finally:
        daemon.close()
