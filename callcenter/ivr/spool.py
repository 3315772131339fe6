"""Asterisk's voicemail spool against the ``voicemails`` table: no message goes without a row.

A message left inside an IVR session gets its row from that session. One left through the dialplan
fallback (daemon down, AGI failed, flow broken), or whose session died before it could publish, exists
only in the mailbox: ``<voicemail_dir>/<context>/<mailbox>/INBOX/msgNNNN.txt`` (metadata) next to
``msgNNNN.wav``. :class:`SpoolScanner` finds such files cheaply (a mailbox directory whose mtime has not
changed since a scan that left nothing pending is not listed again); :func:`rows_for` asks the database
which of them already have a row; the IVR plugin publishes a ``VoicemailLeft`` for the rest.

A row *covers* a message when its ``path`` is the message's audio file and it is not older than the
message (``created_at >= origtime - SLACK_S``): app_voicemail reuses message numbers once files are
removed, and an old row must not hide a new message with the same name. Rows made here get
``created_at = origtime`` and the id ``<linkedid>@<origtime>``, so running twice makes one row.

The dialplan puts ``linkedid=…&hotline=…[&reason=…]`` in ``VM_CATEGORY``, which app_voicemail writes as
``category=`` in the metadata; a message without it (another dialplan, an older spool) gets a linkedid
derived from its mailbox and ``msg_id``.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from callcenter import bounds
from callcenter import events as ev
from callcenter.asterisk.callerid import clean_name, clean_number

log = logging.getLogger(__name__)

SLACK_S = 2.0
# A directory changed this recently is listed again even if its mtime looks the same (coarse clocks).
FRESH_DIR_S = 2.0
MSG_TXT = re.compile(r"^msg\d{4,}\.txt$")
_CALLERID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^>]*)>\s*$')


@dataclass(frozen=True)
class SpoolMessage:
    """One message in a mailbox's INBOX, as its metadata file describes it."""

    txt: str
    audio: str
    context: str
    mailbox: str
    origtime: float
    duration_s: int
    caller_number: str
    caller_name: str
    callerchan: str
    msg_id: str
    category: dict[str, str] = field(default_factory=dict)
    # (mtime_ns, size) of the metadata file when it was read
    stamp: tuple[int, int] = (0, 0)

    @property
    def linkedid(self) -> str:
        """The call's linkedid from the dialplan's category, else a stable one from the message itself."""
        given = self.category.get("linkedid", "")
        if given:
            return given[:64]
        stem = Path(self.txt).stem
        own = self.msg_id or f"{stem}-{int(self.origtime)}"
        return f"vm-{self.mailbox}-{own}"[:64]

    @property
    def reason(self) -> str:
        # no reason in the category: the message came from an IVR session that never recorded it
        return self.category.get("reason", "recovered")[:32]

    def event(self, hotline: str | None) -> ev.VoicemailLeft:
        return ev.VoicemailLeft(
            ts=self.origtime, linkedid=self.linkedid, mailbox=self.mailbox, path=self.audio,
            duration_s=self.duration_s, caller_number=self.caller_number, caller_name=self.caller_name,
            hotline=self.category.get("hotline") or hotline, reason=self.reason,
        )


def parse_callerid(text: str) -> tuple[str, str]:
    """'"张三" <13800000000>' → ('13800000000', '张三'); 'unknown' parts become ''."""
    m = _CALLERID.match(text or "")
    number, name = (m.group("number"), m.group("name")) if m else (text.strip(), "")
    return clean_number(number), clean_name(name)


def read_message(txt: Path, context: str, mailbox: str) -> SpoolMessage | None:
    """The message described by ``txt``, or None while it is incomplete (no audio yet) or unreadable."""
    try:
        st = txt.stat()
    except OSError:
        return None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(txt.read_text(encoding="utf-8", errors="replace"))
    except (OSError, configparser.Error) as exc:
        log.debug("voicemail metadata %s is unreadable: %s", txt, exc)
        return None
    if not parser.has_section("message"):
        return None
    meta = parser["message"]
    audio = _audio_of(txt)
    if audio is None:
        return None  # app_voicemail moves the metadata before the audio: next time
    try:
        origtime = float(meta.get("origtime", "") or 0)
    except ValueError:
        origtime = 0.0
    if origtime <= 0:
        origtime = st.st_mtime
    try:
        duration = int(meta.get("duration", "0") or 0)
    except ValueError:
        duration = 0
    number, name = parse_callerid(bounds.text(meta.get("callerid", "")))
    number, name = bounds.number(number), bounds.name(name)
    category = {bounds.ident(k): bounds.text(v, 128)
                for k, v in parse_qsl(meta.get("category", "") or "", keep_blank_values=False)}
    return SpoolMessage(
        txt=str(txt), audio=audio, context=context, mailbox=bounds.ident(meta.get("origmailbox") or mailbox),
        origtime=origtime, duration_s=duration, caller_number=number, caller_name=name,
        callerchan=bounds.text(meta.get("callerchan", ""), 128),
        msg_id=bounds.ident(meta.get("msg_id", "")), category=category, stamp=(st.st_mtime_ns, st.st_size),
    )


def _audio_of(txt: Path) -> str | None:
    """The non-empty audio file next to ``txt`` (``msg0000.wav`` …), preferring WAV."""
    found = []
    try:
        with os.scandir(txt.parent) as entries:
            for e in entries:
                if e.name.startswith(txt.stem + ".") and not e.name.endswith(".txt") and e.is_file():
                    if e.stat().st_size > 0:
                        found.append(e.name)
    except OSError:
        return None
    if not found:
        return None
    found.sort(key=lambda n: (not n.endswith(".wav"), n))
    return str(txt.parent / found[0])


@dataclass
class _Inbox:
    mtime_ns: int
    # metadata files found here and not settled yet; the inbox is listed again while any is left
    pending: set[str]
    fresh: bool


class SpoolScanner:
    """Finds messages in ``voicemail_dir`` that are not yet known to have a row.

    Call :meth:`scan` (in a thread): it returns the messages not yet *settled*. Call :meth:`settle` for
    each one that has a row (found or made); the others come back at the next scan.
    """

    def __init__(self, voicemail_dir: str | os.PathLike[str]) -> None:
        self.root = Path(voicemail_dir)
        # metadata file → (mtime_ns, size) when settled: a rewritten file (number reused) is read again
        self._settled: dict[str, tuple[int, int]] = {}
        self._inboxes: dict[str, _Inbox] = {}
        self._warned: set[str] = set()
        self.scans = 0
        self.files_read = 0

    def inboxes(self) -> Iterable[tuple[str, str, Path]]:
        """(context, mailbox, INBOX path) of every mailbox in the spool."""
        for ctx in _subdirs(self.root):
            for box in _subdirs(ctx):
                inbox = box / "INBOX"
                if inbox.is_dir():
                    yield ctx.name, box.name, inbox

    def scan(self, now: float | None = None) -> list[SpoolMessage]:
        self.scans += 1
        now = time.time() if now is None else now
        out: list[SpoolMessage] = []
        for context, mailbox, inbox in self.inboxes():
            key = str(inbox)
            try:
                st = inbox.stat()
            except OSError:
                continue
            seen = self._inboxes.get(key)
            if seen is not None and seen.mtime_ns == st.st_mtime_ns and not seen.pending and not seen.fresh:
                continue
            found, complete = self._scan_inbox(inbox, context, mailbox)
            out.extend(found)
            self._inboxes[key] = _Inbox(st.st_mtime_ns, {m.txt for m in found},
                                        fresh=not complete or now - st.st_mtime < FRESH_DIR_S)
        return out

    def _scan_inbox(self, inbox: Path, context: str, mailbox: str) -> tuple[list[SpoolMessage], bool]:
        """Unsettled messages of one INBOX, and whether every metadata file could be read."""
        found = []
        complete = True
        try:
            names = sorted(n for n in os.listdir(inbox) if MSG_TXT.match(n))
        except OSError:
            return [], False
        for name in names:
            txt = inbox / name
            try:
                st = txt.stat()
            except OSError:
                continue
            if self._settled.get(str(txt)) == (st.st_mtime_ns, st.st_size):
                continue
            self.files_read += 1
            if st.st_mode & 0o077:
                # app_voicemail (22) writes msgNNNN.txt 0666 whatever Asterisk's umask: the caller's
                # number and name are personal data (the spool's directories are 0700 as well)
                try:
                    txt.chmod(0o600)
                except OSError:
                    pass
            msg = read_message(txt, context, mailbox)
            if msg is not None:
                found.append(msg)
            else:
                complete = False  # being written, or broken: read again next time
                if str(txt) not in self._warned and time.time() - st.st_mtime > 60:
                    self._warned.add(str(txt))
                    log.warning("voicemail %s has no usable metadata or audio; it gets no row", txt)
        return found, complete

    def settle(self, message: SpoolMessage) -> None:
        """``message`` has its row: do not read its file again (unless it is rewritten). No file access."""
        self._settled[message.txt] = message.stamp
        inbox = self._inboxes.get(str(Path(message.txt).parent))
        if inbox is not None:
            inbox.pending.discard(message.txt)


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as entries:
            return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def rows_for(db: object, paths: list[str]) -> dict[str, list[float]]:
    """created_at (epoch) of the ``voicemails`` rows whose file is one of ``paths`` (blocking)."""
    from sqlalchemy import select

    from callcenter.store.models import Voicemail, epoch

    out: dict[str, list[float]] = {}
    with db.session() as session:  # type: ignore[attr-defined]
        for i in range(0, len(paths), 500):
            chunk = paths[i:i + 500]
            for path, created in session.execute(select(Voicemail.path, Voicemail.created_at)
                                                 .where(Voicemail.path.in_(chunk))):
                out.setdefault(path, []).append(epoch(created))
    return out


def covered(message: SpoolMessage, row_times: Iterable[float]) -> bool:
    """A row for this file exists and is not older than the message (an older one is a reused name)."""
    return any(t >= message.origtime - SLACK_S for t in row_times)
