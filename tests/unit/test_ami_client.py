"""The AMI client over panoramisk: isolated handlers, bounded waits, reconnect, synchronous snapshots.

A scripted AMI server (asyncio) stands in for Asterisk here: this is a unit test of the client.
End-to-end tests run the same client against a real Asterisk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from panoramisk import actions
from panoramisk.message import Message

from callcenter.asterisk.ami.client import AmiClient, AmiError, AmiTimeout

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_action(reader: asyncio.StreamReader) -> dict[str, str]:
    raw = await reader.readuntil(b"\r\n\r\n")
    fields = {}
    for line in raw.decode().split("\r\n"):
        if ": " in line:
            k, v = line.split(": ", 1)
            fields[k.lower()] = v
    return fields


def _frame(**headers: str) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


async def _serve(handler: Handler) -> tuple[asyncio.AbstractServer, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _client(port: int, **kwargs: object) -> AmiClient:
    defaults: dict[str, object] = {"on_event": lambda m: None, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2,
                                   "action_timeout_s": 1.0}
    defaults.update(kwargs)
    return AmiClient("127.0.0.1", port, "user", "secret", **defaults)  # type: ignore[arg-type]


async def _login(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"Asterisk Call Manager/9.0.0\r\n")
    action = await _read_action(reader)
    assert action["action"] == "Login"
    writer.write(_frame(Response="Success", ActionID=action["actionid"], Message="Authentication accepted"))
    await writer.drain()


def test_a_raising_handler_neither_closes_the_link_nor_stops_later_events() -> None:
    seen: list[str] = []

    def on_event(msg: Message) -> None:
        seen.append(msg["Uniqueid"])
        if msg["Uniqueid"] == "boom":
            raise RuntimeError("handler bug")

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _login(reader, writer)
        writer.write(_frame(Event="Hangup", Uniqueid="boom") + _frame(Event="Hangup", Uniqueid="after"))
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> AmiClient:
        server, port = await _serve(handler)
        client = _client(port, on_event=on_event)
        client.start()
        await client.wait_connected(2)
        await asyncio.sleep(0.2)
        assert client.connected
        await client.stop()
        server.close()
        return client

    client = asyncio.run(main())
    assert seen == ["boom", "after"]
    assert client.handler_errors == 1
    assert client.connections == 1


def test_stock_panoramisk_waits_forever_for_queueadd() -> None:
    """The defect: 'Added interface to queue' makes panoramisk expect a list that never comes."""
    async def main() -> bool:
        action = actions.Action({"Action": "QueueAdd", "Queue": "main", "Interface": "PJSIP/1001"})
        action.add_message(Message({"Response": "Success", "ActionID": action.id,
                                    "Message": "Added interface to queue"}))
        return action.future.done()

    assert asyncio.run(main()) is False


def test_a_refused_list_action_raises_at_once() -> None:
    """The defect: a list action refused by Asterisk (Response: Error) left panoramisk waiting for the list."""
    from callcenter.asterisk.ami.client import _Action

    async def main() -> tuple[bool, bool]:
        stock = actions.Action({"Action": "PJSIPShowEndpoint", "Endpoint": "1001"}, as_list=True)
        stock.add_message(Message({"Response": "Error", "ActionID": stock.id, "Message": "Permission denied"}))
        ours = _Action({"Action": "PJSIPShowEndpoint", "Endpoint": "1001"}, as_list=True)
        ours.add_message(Message({"Response": "Error", "ActionID": ours.id, "Message": "Permission denied"}))
        return stock.future.done(), ours.future.done() and ours.future.result()[0]["Message"] == "Permission denied"

    assert asyncio.run(main()) == (False, True)


def test_queueadd_completes_with_our_client() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _login(reader, writer)
        action = await _read_action(reader)
        writer.write(_frame(Response="Success", ActionID=action["actionid"], Message="Added interface to queue"))
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> Message:
        server, port = await _serve(handler)
        client = _client(port)
        await client.open()
        resp = await client.action({"Action": "QueueAdd", "Queue": "main", "Interface": "PJSIP/1001"})
        await client.close()
        server.close()
        return resp

    assert asyncio.run(main())["Message"] == "Added interface to queue"


def test_an_unanswered_action_times_out_and_an_error_is_raised() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _login(reader, writer)
        await _read_action(reader)  # never answered
        action = await _read_action(reader)
        writer.write(_frame(Response="Error", ActionID=action["actionid"], Message="Interface not found"))
        await writer.drain()
        await asyncio.sleep(2)

    async def main() -> None:
        server, port = await _serve(handler)
        client = _client(port, action_timeout_s=0.3)
        await client.open()
        with pytest.raises(AmiTimeout):
            await client.action({"Action": "Ping"})
        with pytest.raises(AmiError, match="Interface not found"):
            await client.action({"Action": "QueueRemove", "Queue": "main", "Interface": "PJSIP/9"})
        await client.close()
        server.close()

    asyncio.run(main())


def test_reconnects_with_backoff_and_resyncs_each_time() -> None:
    connects = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connects
        connects += 1
        await _login(reader, writer)
        if connects < 3:
            writer.close()  # Asterisk restarting
            return
        await asyncio.sleep(2)

    async def main() -> int:
        server, port = await _serve(handler)
        resyncs = 0

        async def on_connected() -> None:
            nonlocal resyncs
            resyncs += 1

        client = _client(port, on_connected=on_connected)
        client.start()
        for _ in range(40):
            if connects >= 3 and client.connected:
                break
            await asyncio.sleep(0.05)
        await client.stop()
        server.close()
        return resyncs

    assert asyncio.run(main()) == 3


def test_pending_actions_fail_at_once_when_the_link_drops() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _login(reader, writer)
        await _read_action(reader)
        writer.close()

    async def main() -> None:
        server, port = await _serve(handler)
        client = _client(port, action_timeout_s=5)
        await client.open()
        with pytest.raises(AmiError, match="connection lost"):
            await asyncio.wait_for(client.action({"Action": "QueueStatus"}, as_list=True), 2)
        server.close()

    asyncio.run(main())


def test_a_snapshot_is_applied_before_the_events_that_follow_it() -> None:
    order: list[str] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _login(reader, writer)
        action = await _read_action(reader)
        aid = action["actionid"]
        # the list and the next event arrive in the same TCP segment
        writer.write(_frame(Response="Success", ActionID=aid, EventList="start", Message="Queue status will follow")
                     + _frame(Event="QueueParams", Queue="main", ActionID=aid)
                     + _frame(Event="QueueStatusComplete", ActionID=aid, EventList="Complete")
                     + _frame(Event="QueueCallerJoin", Queue="main", Uniqueid="1.1"))
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> None:
        server, port = await _serve(handler)
        client = _client(port, on_event=lambda m: order.append(m["Event"]))
        await client.open()
        await client.action({"Action": "QueueStatus"}, as_list=True,
                            on_complete=lambda msgs: order.append(f"snapshot({len(msgs)})"))
        await asyncio.sleep(0.1)
        await client.close()
        server.close()

    asyncio.run(main())
    assert order == ["snapshot(3)", "QueueCallerJoin"]


def test_stock_panoramisk_lets_one_raising_handler_close_the_connection() -> None:
    """The defect our client's dispatch guards against (panoramisk 1.4 Manager.dispatch)."""
    from panoramisk import Manager

    lost: list[object] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n" + _frame(Event="Hangup", Uniqueid="boom"))
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> None:
        server, port = await _serve(handler)
        manager = Manager(host="127.0.0.1", port=port, ping_delay=60, reconnect_timeout=60,
                          loop=asyncio.get_running_loop())

        def explode(_manager: object, _event: object) -> None:
            raise RuntimeError("handler bug")

        manager.register_event("Hangup", explode)
        manager.connection_lost = lambda exc: lost.append(exc)  # type: ignore[method-assign]
        manager.connect()
        await asyncio.sleep(0.5)
        server.close()
        manager.close()

    asyncio.run(main())
    assert lost, "panoramisk kept the connection: the defect is gone, revisit callcenter.asterisk.ami.client"
