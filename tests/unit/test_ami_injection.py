"""AMI injection: no key or value with CR, LF or another control character ever reaches the socket.

The attack (issue 7, item 1): a desk pause reason ``x\\r\\n\\r\\nAction: Hangup\\r\\nChannel: /.*/``
became a second action that hung up every call. The client refuses such actions in ``_send``,
the one place actions leave, so every present and future field is covered.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from callcenter.acd import commands as c
from callcenter.asterisk.ami.actions import action_for
from callcenter.asterisk.ami.client import AmiClient, AmiError, AmiInjection, check_action

ATTACK = "x\r\n\r\nAction: Hangup\r\nChannel: /.*/"


@pytest.mark.parametrize("value", [ATTACK, "a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x7fb", "a\u2028b"])
def test_control_characters_in_a_value_are_refused(value: str) -> None:
    with pytest.raises(AmiInjection):
        check_action({"Action": "QueuePause", "Interface": "PJSIP/1001", "Reason": value})


def test_control_characters_in_a_key_and_in_list_values_are_refused() -> None:
    with pytest.raises(AmiInjection):
        check_action({"Action": "Originate", "Bad\r\nKey": "1"})
    with pytest.raises(AmiInjection):
        check_action({"Action": "Originate", "Variable": ["A=1", "B=2\r\nAction: Hangup"]})


def test_ordinary_values_pass_unicode_and_tab_included() -> None:
    check_action({"Action": "QueuePause", "Interface": "PJSIP/1001", "Reason": "午餐 lunch\tbreak"})
    check_action(action_for(c.PauseAgent("1001", "PJSIP/1001", "training")))


def test_the_injection_is_an_ami_error_so_existing_handlers_catch_it() -> None:
    assert issubclass(AmiInjection, AmiError)


def test_the_client_sends_nothing_and_logs_when_refusing(caplog: pytest.LogCaptureFixture) -> None:
    received: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        raw = await reader.readuntil(b"\r\n\r\n")
        action_id = next(line.split(": ", 1)[1] for line in raw.decode().split("\r\n")
                         if line.lower().startswith("actionid"))
        writer.write(f"Response: Success\r\nActionID: {action_id}\r\nMessage: ok\r\n\r\n".encode())
        await writer.drain()
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                received.append(data)
        except ConnectionError:
            pass

    async def main() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = AmiClient("127.0.0.1", port, "u", "s", on_event=lambda m: None, action_timeout_s=1.0)
        await client.open()
        with pytest.raises(AmiInjection):
            await client.action(action_for(c.PauseAgent("1001", "PJSIP/1001", ATTACK)))
        await asyncio.sleep(0.1)
        client.protocol.close()  # type: ignore[union-attr]
        await asyncio.sleep(0.1)
        server.close()

    with caplog.at_level(logging.WARNING, logger="callcenter.asterisk.ami.client"):
        asyncio.run(main())
    assert b"Hangup" not in b"".join(received)
    assert any("refused AMI action" in r.getMessage() for r in caplog.records)


# ---- forged events: a header repeated with another value ------------------------------------------

def test_an_event_with_a_header_repeated_with_another_value_is_dropped() -> None:
    from callcenter.asterisk.ami.framing import MessageSplitter
    from callcenter.asterisk.ami.translate import translate

    def frame(*lines: str) -> bytes:
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    head = ("Event: UserEvent", "Channel: PJSIP/carrier-1", "Uniqueid: 1.1", "Linkedid: 1.1",
            "UserEvent: CallcenterQueueResult", "Queue: main", "QueueStatus: TIMEOUT")
    ours = frame(*head, "Linkedid: 1.1", "Timestamp: 1.0")                 # repeats the same value
    forged = frame(*head, "Linkedid: 9.9", "Timestamp: 1.0")               # smuggled through a comma
    forged_case = frame(*head, "linkedid: 9.9", "Timestamp: 1.0")          # panoramisk would keep this one
    chanvars = frame("Event: Newchannel", "Uniqueid: 2.2", "Linkedid: 2.2", "ChanVariable: A=1",
                     "ChanVariable: B=2", "Timestamp: 2.0")
    splitter = MessageSplitter()
    messages = splitter.feed(b"Asterisk Call Manager/9.0.0\r\n" + ours + forged + forged_case + chanvars)
    assert splitter.forged == 2 and len(messages) == 2
    event = translate(messages[0])
    assert event.linkedid == "1.1" and event.status == "TIMEOUT"
    assert messages[0]["linkedid"] == "1.1" and messages[0].get("UserEvent") == "CallcenterQueueResult"
    assert messages[1]["ChanVariable"] == ["A=1", "B=2"]


def test_caller_names_are_stored_without_placeholders_and_escapes() -> None:
    from callcenter.asterisk.ami.translate import translate
    from callcenter.asterisk.callerid import clean_name, clean_number

    assert clean_name("<unknown>") == "" and clean_name("unknown") == "" and clean_number("<unknown>") == ""
    assert clean_name("O\\'Brien") == "O'Brien" and clean_name('say \\"hi\\"') == 'say "hi"'
    assert clean_name("张三") == "张三"
    event = translate({"Event": "Newchannel", "Uniqueid": "1.1", "Linkedid": "1.1", "Channel": "PJSIP/x",
                       "CallerIDNum": "<unknown>", "CallerIDName": "<unknown>", "Timestamp": "1.0"})
    assert event.caller_name == "" and event.caller_number == ""
