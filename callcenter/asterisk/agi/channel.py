"""The IVR engine's :class:`~callcenter.ivr.engine.Channel` over a FastAGI session.

Prompts are sound names relative to the directory Asterisk reads our prompts from; voicemail
runs app_voicemail and finds the message it saved (``VM_MESSAGEFILE``, or by our channel name
in the mailbox's ``msgNNNN.txt`` files when the caller hung up before Asterisk could tell us).
"""

from __future__ import annotations

import asyncio
import configparser
import logging
from collections.abc import Sequence
from pathlib import Path

from callcenter.asterisk.agi.session import AgiAppFailed, AgiError, AgiHangup, AgiSession
from callcenter.ivr.engine import CallerGone, FlowError, VoicemailMessage

log = logging.getLogger(__name__)

# Characters a value handed to the dialplan may hold: the dialplan puts these variables into
# application arguments (Gosub(cc-enqueue,s,1(${CC_IVR_QUEUE},...)), Dial(PJSIP/${CC_IVR_DEST}@...),
# VoiceMail(mailbox@...)), where ',', '|', ';', '(', ')', quotes, '$', braces or '&' would add or
# change arguments. Letters (any script) and digits pass.
_DIALPLAN_PUNCT = frozenset("_.-+*#@/|:")


def dialplan_safe(value: str) -> bool:
    """True when ``value`` cannot add or change a dialplan application argument."""
    return all(c.isalnum() or c in _DIALPLAN_PUNCT for c in value)


def check_dialplan_value(name: str, value: str) -> None:
    """Raise :class:`FlowError` (the call takes the fallback) for a value unsafe in the dialplan."""
    if not dialplan_safe(value):
        log.warning("refused %s for the dialplan: it holds a separator or special character", name)
        raise FlowError(f"{name} holds characters the dialplan would treat as separators")


class AgiChannel:
    """One caller's channel, seen through FastAGI."""

    def __init__(self, session: AgiSession, sounds_dir: str, voicemail_dir: str, voicemail_context: str = "hotline",
                 prompt_timeout_s: float = 120.0, voicemail_timeout_s: float = 400.0) -> None:
        self.session = session
        self.sounds_dir = sounds_dir.rstrip("/")
        self.voicemail_dir = Path(voicemail_dir)
        self.voicemail_context = voicemail_context
        self.prompt_timeout_s = prompt_timeout_s
        self.voicemail_timeout_s = voicemail_timeout_s

    @property
    def name(self) -> str:
        return self.session.headers.get("agi_channel", "")

    async def play(self, prompts: Sequence[str], escape_digits: str = "") -> str:
        try:
            for prompt in prompts:
                key = await self.session.stream_file(f"{self.sounds_dir}/{prompt}", escape_digits,
                                                     self.prompt_timeout_s)
                if key:
                    return key
            return ""
        except (AgiHangup, AgiAppFailed) as exc:
            raise CallerGone(str(exc)) from exc

    async def wait_digit(self, timeout_s: float) -> str:
        try:
            return await self.session.wait_for_digit(timeout_s)
        except (AgiHangup, AgiAppFailed) as exc:
            raise CallerGone(str(exc)) from exc

    async def hand_off(self, variables: dict[str, str]) -> None:
        # CC_IVR_NEXT last: the dialplan acts only on a complete hand-off (a daemon killed
        # half-way leaves it empty, and the fallback takes the call)
        ordered = sorted(variables.items(), key=lambda kv: kv[0] == "CC_IVR_NEXT")
        for name, value in ordered:
            check_dialplan_value(name, value)
        try:
            for name, value in ordered:
                await self.session.set_variable(name, value)
        except (AgiHangup, AgiAppFailed) as exc:
            raise CallerGone(str(exc)) from exc

    async def voicemail(self, mailbox: str) -> tuple[VoicemailMessage | None, bool]:
        """Record a message in ``mailbox``; return it (or None) and whether the caller hung up."""
        hung_up = False
        check_dialplan_value("mailbox", mailbox)
        try:
            # 's': our own (Mandarin) prompt was played; app_voicemail only beeps
            await self.session.exec("VoiceMail", f"{mailbox}@{self.voicemail_context},s", self.voicemail_timeout_s)
        except (AgiHangup, AgiAppFailed):
            # callers end a message by hanging up: VoiceMail returns -1, the message is saved
            hung_up = True
        path = None
        try:
            path = await self.session.get_variable("VM_MESSAGEFILE")
        except (AgiHangup, AgiAppFailed):
            hung_up = True
        except AgiError as exc:
            log.warning("cannot read VM_MESSAGEFILE: %s", exc)
        loop = asyncio.get_running_loop()
        inbox = self.voicemail_dir / self.voicemail_context / mailbox / "INBOX"
        message = await loop.run_in_executor(None, find_message, inbox, path, self.name)
        return message, hung_up


def find_message(inbox: Path, path: str | None, channel: str) -> VoicemailMessage | None:
    """The message at ``path`` (no extension), else the newest one in ``inbox`` left by ``channel``."""
    candidates = [Path(path + ".txt")] if path else []
    if not candidates and inbox.is_dir():
        candidates = sorted(inbox.glob("msg*.txt"), reverse=True)
    for txt in candidates:
        meta = _read_meta(txt)
        if meta is None or (not path and meta.get("callerchan") != channel):
            continue
        audio = next((str(p) for p in sorted(txt.parent.glob(txt.stem + ".*")) if p.suffix != ".txt"), None)
        if audio is None:
            continue
        try:
            duration = int(meta.get("duration", "0") or 0)
        except ValueError:
            duration = 0
        return VoicemailMessage(audio, duration)
    return None


def _read_meta(txt: Path) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(txt.read_text(errors="replace"))
    except (OSError, configparser.Error):
        return None
    return dict(parser["message"]) if parser.has_section("message") else None
