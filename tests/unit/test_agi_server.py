"""FastAGI server and session: panoramisk's defects pinned, and our fixes over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from panoramisk import fast_agi

from callcenter.asterisk.agi.server import FastAgiServer
from callcenter.asterisk.agi.session import AgiAppFailed, AgiConnectionLost, AgiHangup, AgiSession, AgiTimeout

HEADERS = b"".join(f"{k}: {v}\n".encode() for k, v in {
    "agi_network": "yes", "agi_network_script": "test", "agi_channel": "PJSIP/carrier-00000001",
    "agi_uniqueid": "1700000000.1", "agi_callerid": "13800000000", "agi_arg_1": "12345",
    "agi_arg_2": "1700000000.1"}.items()) + b"\n"


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


async def serve(route: Callable[[AgiSession], Awaitable[None]], **kwargs: Any) -> FastAgiServer:
    server = FastAgiServer(**kwargs)
    server.add_route("test", route)
    server.listen("127.0.0.1", 0)
    await server.started()
    return server


# ---- panoramisk's defects, pinned: if one of these starts failing, the workaround may go ----------
def test_panoramisk_add_route_fails_on_plain_functions_in_python_311() -> None:
    async def main() -> None:
        app = fast_agi.Application()
        with pytest.raises(AttributeError, match="coroutine"):
            app.add_route("x", lambda request: None)

    run(main())


def test_panoramisk_header_reader_keeps_reading_after_eof() -> None:
    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_eof()
        calls = 0
        real_read = reader.read

        async def counting_read(n: int = -1) -> bytes:
            nonlocal calls
            calls += 1
            if calls > 100:
                raise RuntimeError("still reading after EOF")
            return await real_read(n)

        reader.read = counting_read  # type: ignore[method-assign]
        with pytest.raises(RuntimeError, match="still reading after EOF"):
            await fast_agi.Application().handler(reader, None)

    run(main())


def test_panoramisk_request_reads_eof_as_a_crash_and_hangup_as_the_result() -> None:
    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(b"HANGUP\n200 result=-1\n")
        writer = _NullWriter()
        req = fast_agi.Request(None, {}, reader, writer)
        first = await req.send_command("WAIT FOR DIGIT 1000")
        assert first["error"] == "AGIResultHangup"
        stale = await req.send_command("GET VARIABLE X")  # gets the previous command's result
        assert stale["error"] == "AGIAppError"
        reader.feed_eof()
        with pytest.raises(ValueError):
            await req.send_command("GET VARIABLE Y")

    run(main())


class _NullWriter:
    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


# ---- our server and session ---------------------------------------------------------------------------
def test_add_route_accepts_async_and_refuses_plain_functions() -> None:
    async def main() -> None:
        server = FastAgiServer()

        async def ok(session: AgiSession) -> None:
            pass

        server.add_route("ok", ok)
        with pytest.raises(TypeError):
            server.add_route("bad", lambda s: None)  # type: ignore[arg-type, return-value]
        with pytest.raises(ValueError):
            server.add_route("ok", ok)

    run(main())


def test_a_peer_closing_before_the_headers_ends_the_session_at_once() -> None:
    async def main() -> None:
        called = False

        async def route(session: AgiSession) -> None:
            nonlocal called
            called = True

        server = await serve(route)
        _r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(b"agi_network: yes\n")
        w.close()
        await asyncio.sleep(0.2)
        assert not server.sessions and not called
        await server.stop()

    run(main())


def test_a_silent_peer_is_dropped_after_the_header_timeout() -> None:
    async def main() -> None:
        async def route(session: AgiSession) -> None:
            raise AssertionError("no route for a peer that sent no headers")

        server = await serve(route, header_timeout_s=0.2)
        r, _w = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(r.read(), 2) == b""  # closed by the server
        assert not server.sessions
        await server.stop()

    run(main())


async def fake_asterisk(port: int, answers: list[bytes], sent: list[str], linger_s: float = 0.05) -> None:
    """Send the headers, then answer each command line with the next of ``answers``; EOF after."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(HEADERS)
    for answer in answers:
        line = await r.readline()
        if not line:
            break
        sent.append(line.decode().strip())
        w.write(answer)
    await asyncio.sleep(linger_s)
    w.close()


def test_a_session_runs_typed_commands_and_reads_the_arguments() -> None:
    async def main() -> None:
        seen: dict[str, Any] = {}

        async def route(session: AgiSession) -> None:
            seen["args"] = session.args
            seen["key"] = await session.stream_file("/sounds/zh/welcome", "0123456789*#")
            seen["digit"] = await session.wait_for_digit(2.5)
            await session.set_variable("CC_IVR_NEXT", 'queue "main"')
            seen["var"] = await session.get_variable("VM_MESSAGEFILE")

        server = await serve(route)
        sent: list[str] = []
        await fake_asterisk(server.port, [b"200 result=49 endpos=1234\n", b"200 result=0\n",
                                          b"100 result=0 Trying...\n200 result=1\n",
                                          b"200 result=1 (/spool/msg0000)\n"], sent)
        await asyncio.sleep(0.1)
        assert seen == {"args": ["12345", "1700000000.1"], "key": "1", "digit": "", "var": "/spool/msg0000"}
        assert sent == ['STREAM FILE /sounds/zh/welcome "0123456789*#"', "WAIT FOR DIGIT 2500",
                        'SET VARIABLE CC_IVR_NEXT "queue \\"main\\""', "GET VARIABLE VM_MESSAGEFILE"]
        await server.stop()

    run(main())


def _outcome_of(answers: list[bytes], command: Callable[[AgiSession], Awaitable[Any]], linger_s: float = 0.05,
                **kwargs: Any) -> Any:
    async def main() -> Any:
        outcome: list[Any] = []

        async def route(session: AgiSession) -> None:
            try:
                outcome.append(await command(session))
            except Exception as exc:
                outcome.append(exc)
                raise

        server = await serve(route, **kwargs)
        client = asyncio.ensure_future(fake_asterisk(server.port, answers, [], linger_s))
        while not outcome:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert not server.sessions, "the session must be over, its socket closed"
        await server.stop()
        client.cancel()
        return outcome[0]

    return run(main())


def test_every_command_has_a_deadline() -> None:
    # Asterisk stays connected but never answers (a wedged peer, a half-open link)
    out = _outcome_of([b""], lambda s: s.send_command("GET VARIABLE X", timeout=0.2), linger_s=2.0)
    assert isinstance(out, AgiTimeout)


def test_a_hangup_line_before_the_result_raises_hangup() -> None:
    out = _outcome_of([b"HANGUP\n200 result=-1\n"], lambda s: s.wait_for_digit(5))
    assert isinstance(out, AgiHangup) and not isinstance(out, AgiConnectionLost)


def test_a_dead_channel_refusal_is_a_hangup() -> None:
    out = _outcome_of([b"511 Command Not Permitted on a dead channel or intercept routine\n"],
                      lambda s: s.stream_file("x"))
    assert isinstance(out, AgiHangup)


def test_an_application_failing_is_reported() -> None:
    out = _outcome_of([b"200 result=-1\n"], lambda s: s.exec("VoiceMail", "1@hotline,s"))
    assert isinstance(out, AgiAppFailed)


def test_asterisk_closing_mid_command_is_connection_lost() -> None:
    out = _outcome_of([], lambda s: s.wait_for_digit(5))
    assert isinstance(out, AgiConnectionLost)


def test_stop_cancels_running_sessions_and_closes_their_sockets() -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def route(session: AgiSession) -> None:
            started.set()
            await asyncio.sleep(3600)

        server = await serve(route)
        r, w = await asyncio.open_connection("127.0.0.1", server.port)
        w.write(HEADERS)
        await started.wait()
        await server.stop(grace_s=0.1)
        assert not server.sessions
        assert await asyncio.wait_for(r.read(), 2) == b""
        w.close()

    run(main())


# ---- who may open a session (issue 7, item 4) ------------------------------------------------------
def _headers(script: str) -> bytes:
    return HEADERS.replace(b"agi_network_script: test", f"agi_network_script: {script}".encode())


async def _session(server: FastAgiServer, script: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(_headers(script))
    await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(), 3)  # the server's command, or EOF when refused
    except ConnectionResetError:
        data = b""  # refused before its headers were read: the close resets the connection
    writer.close()
    return data


def _greeter(served: list[str]) -> Callable[[AgiSession], Awaitable[None]]:
    async def route(session: AgiSession) -> None:
        served.append(session.headers.get("agi_network_script", ""))
        session.writer.write(b"VERBOSE hello\n")
        await session.writer.drain()

    return route


def test_a_peer_outside_allowed_peers_is_refused_before_anything_runs() -> None:
    served: list[str] = []

    async def main() -> FastAgiServer:
        server = await serve(_greeter(served), allowed_peers=("10.9.9.0/24",))
        assert await _session(server, "test") == b""
        await server.stop()
        return server

    assert run(main()).refused == 1 and served == []


def test_loopback_is_allowed_by_default_and_the_secret_is_checked() -> None:
    served: list[str] = []

    async def main() -> FastAgiServer:
        server = await serve(_greeter(served), secret="s3cret")
        assert await _session(server, "test") == b""                     # no secret
        assert await _session(server, "test?secret=wrong") == b""        # wrong secret
        assert (await _session(server, "test?secret=s3cret")).startswith(b"VERBOSE")
        await server.stop()
        return server

    server = run(main())
    assert server.refused == 2 and len(served) == 1


def test_peer_matching_understands_networks_and_ipv4_mapped_addresses() -> None:
    from callcenter.asterisk.agi.server import _peer_allowed, parse_peers

    nets = parse_peers(["127.0.0.1", "10.0.0.0/8", "::1"])
    assert _peer_allowed(("10.2.3.4", 1), nets) and _peer_allowed(("::ffff:127.0.0.1", 1, 0, 0), nets)
    assert _peer_allowed(("::1", 1, 0, 0), nets)
    assert not _peer_allowed(("192.168.1.1", 1), nets) and not _peer_allowed(None, nets)
