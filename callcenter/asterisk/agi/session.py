"""One FastAGI conversation: commands with bounded waits, hang-ups as exceptions.

Built on panoramisk's :class:`~panoramisk.fast_agi.Request` and its result parser. Fixed here
(each pinned by a test in ``tests/unit/test_agi_session.py``):

1. *No timeout*: ``Request.send_command`` awaits ``readline()`` for ever; a silent Asterisk
   (or a half-open TCP link) hangs the coroutine. Every read here has a deadline.
2. *EOF read as a result*: on a closed socket ``readline()`` returns ``b''``, which panoramisk
   parses as a bogus ``code 0`` result; we raise :class:`AgiConnectionLost` instead.
3. *Asynchronous ``HANGUP``*: after the caller hangs up Asterisk writes a lone ``HANGUP`` line
   before the result of the running command; panoramisk returns it as the result and the real
   result line is then read as the answer to the *next* command. We note the hang-up and keep
   reading for the real result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from panoramisk.fast_agi import Request
from panoramisk.utils import parse_agi_result

# Commands refused on a dead channel answer 511; a command whose application failed because
# the channel went away answers result=-1.
DEAD_CHANNEL = 511


class AgiError(Exception):
    """Asterisk answered a command with an error."""


class AgiHangup(AgiError):
    """The caller hung up (or Asterisk refused a command on the dead channel)."""


class AgiConnectionLost(AgiHangup):
    """Asterisk closed the FastAGI socket."""


class AgiAppFailed(AgiError):
    """``result=-1``: the application failed, or the caller hung up while it ran."""


class AgiTimeout(AgiError):
    """No answer to a command within its deadline."""


class AgiSession(Request):
    """A FastAGI request whose commands have deadlines and whose hang-ups raise."""

    def __init__(self, app: object, headers: dict[str, str], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, encoding: str = "utf-8", read_timeout_s: float = 30.0,
                 on_round_trip: Callable[[str, float], None] | None = None) -> None:
        super().__init__(app, headers, reader, writer, encoding)
        self.read_timeout_s = read_timeout_s
        self.hung_up = False
        self.on_round_trip = on_round_trip

    @property
    def args(self) -> list[str]:
        """``agi_arg_1`` … in order (the arguments after the URL in ``AGI()``)."""
        out = []
        n = 1
        while f"agi_arg_{n}" in self.headers:
            out.append(self.headers[f"agi_arg_{n}"])
            n += 1
        return out

    async def _readline(self, deadline: float) -> str:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AgiTimeout("no answer from Asterisk in time")
        try:
            raw = await asyncio.wait_for(self.reader.readline(), remaining)
        except TimeoutError as exc:
            raise AgiTimeout("no answer from Asterisk in time") from exc
        except (ConnectionError, OSError) as exc:
            raise AgiConnectionLost(str(exc)) from exc
        if not raw:
            raise AgiConnectionLost("Asterisk closed the FastAGI connection")
        return raw.decode(self.encoding, errors="replace").rstrip("\r\n")

    async def send_command(self, command: str, timeout: float | None = None) -> dict:  # type: ignore[override]
        """Send one AGI command and return panoramisk's parsed result; raise on hang-up/timeout/error."""
        if self.writer.is_closing():
            raise AgiConnectionLost("the FastAGI connection is closed")
        if "\n" in command or "\r" in command or "\x00" in command:
            # AGI is line-framed: a value with a line break would be a second command
            raise AgiError(f"refused AGI command with a line break or NUL: {command.split(' ', 1)[0][:20]}")
        started = time.monotonic()
        deadline = started + (self.read_timeout_s if timeout is None else timeout)
        self.writer.write((command + "\n").encode(self.encoding))
        try:
            await asyncio.wait_for(self.writer.drain(), max(0.01, deadline - time.monotonic()))
        except TimeoutError as exc:
            raise AgiTimeout(f"{command!r}: could not send in time") from exc
        except (ConnectionError, OSError) as exc:
            raise AgiConnectionLost(str(exc)) from exc
        while True:
            line = await self._readline(deadline)
            if line == "HANGUP":
                self.hung_up = True
                continue
            result = parse_agi_result(line) if line[:3].isdigit() else {"error": "AGIUnknownError", "msg": line}
            if result.get("status_code") == 100:  # "100 Trying...": the real result follows
                continue
            break
        if result.get("error") == "AGIUsageError":
            # the usage text follows until a line "520 End of proper usage."
            while not (await self._readline(deadline)).startswith("520"):
                pass
        if self.on_round_trip is not None:
            self.on_round_trip(command, time.monotonic() - started)
        if result.get("status_code") == DEAD_CHANNEL or result.get("error") == "AGIResultHangup":
            self.hung_up = True
            raise AgiHangup(f"{command!r}: the caller hung up")
        if result.get("error") == "AGIAppError":
            if self.hung_up:
                raise AgiHangup(f"{command!r}: the caller hung up")
            raise AgiAppFailed(f"{command!r} failed: {result.get('msg')}")
        if "error" in result:
            raise AgiError(f"{command!r}: {result.get('error')} {result.get('msg', '')}".strip())
        return result

    # ---- typed commands ------------------------------------------------------------------------
    @staticmethod
    def _quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    async def stream_file(self, path: str, escape_digits: str = "", timeout: float | None = None) -> str:
        """Play a sound file; return the escape digit pressed, or ``""``."""
        res = await self.send_command(f"STREAM FILE {path} {self._quote(escape_digits)}", timeout)
        return _digit(res)

    async def wait_for_digit(self, timeout_s: float) -> str:
        """Wait up to ``timeout_s`` for one DTMF digit; ``""`` on timeout."""
        res = await self.send_command(f"WAIT FOR DIGIT {int(timeout_s * 1000)}", timeout_s + 10)
        return _digit(res)

    async def set_variable(self, name: str, value: str) -> None:
        await self.send_command(f"SET VARIABLE {name} {self._quote(value)}")

    async def get_variable(self, name: str) -> str | None:
        res = await self.send_command(f"GET VARIABLE {name}")
        value, data = res.get("result", ("0", ""))
        return data if value == "1" else None

    async def exec(self, application: str, args: str = "", timeout: float | None = None) -> int:
        """Run a dialplan application; return its result code (``-2`` = unknown application)."""
        res = await self.send_command(f"EXEC {application} {self._quote(args)}", timeout)
        value, _data = res.get("result", ("0", ""))
        return int(value)

    async def hangup(self) -> None:
        await self.send_command("HANGUP")


def _digit(result: dict) -> str:
    value, _data = result.get("result", ("0", ""))
    code = int(value or 0)
    return chr(code) if code > 0 else ""
