"""AMI byte stream → messages: split UTF-8, garbled frames, the banner, legacy encodings."""

from __future__ import annotations

from panoramisk.ami_protocol import AMIProtocol

from callcenter.asterisk.ami.framing import MessageSplitter, iter_messages

JOIN = (
    "Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nTimestamp: 1795643194.796909\r\n"
    "Channel: PJSIP/carrier-00000000\r\nCallerIDNum: 13800138000\r\nCallerIDName: 张三丰\r\n"
    "Uniqueid: callcenter-1795643194.0\r\nLinkedid: callcenter-1795643194.0\r\nQueue: main\r\n"
    "Position: 1\r\nCount: 1\r\n\r\n"
).encode()


def _split_inside(data: bytes, char: str) -> tuple[bytes, bytes]:
    """Cut ``data`` in the middle of the UTF-8 encoding of ``char``."""
    at = data.index(char.encode()) + 1
    return data[:at], data[at:]


def test_a_character_split_across_reads_survives() -> None:
    first, second = _split_inside(JOIN, "三")
    splitter = MessageSplitter()
    assert list(splitter.feed(first)) == []
    [msg] = list(splitter.feed(second))
    assert msg["CallerIDName"] == "张三丰"


class _Recorder:
    def __init__(self) -> None:
        self.events: list = []

    def dispatch(self, message: object) -> None:
        self.events.append(message)


def test_stock_panoramisk_drops_a_split_character() -> None:
    """The defect our framing exists for (panoramisk 1.4 decodes every TCP read on its own)."""
    proto = AMIProtocol()
    proto.connection_made(transport=None)
    proto.factory = _Recorder()
    first, second = _split_inside(JOIN, "三")
    proto.data_received(first)
    proto.data_received(second)
    [msg] = proto.factory.events
    assert msg["CallerIDName"] != "张三丰"


def test_every_byte_split_position_yields_the_same_message() -> None:
    stream = b"Asterisk Call Manager/9.0.0\r\n" + JOIN * 3
    for cut in range(1, len(stream)):
        msgs = list(iter_messages([stream[:cut], stream[cut:]]))
        assert [m["CallerIDName"] for m in msgs] == ["张三丰"] * 3, cut


def test_the_banner_is_read_and_not_a_message() -> None:
    splitter = MessageSplitter()
    msgs = list(splitter.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nMessage: ok\r\n\r\n"))
    assert splitter.version == "11.0.0"
    assert [m["Response"] for m in msgs] == ["Success"]


def test_garbled_frames_are_logged_and_skipped(caplog) -> None:  # type: ignore[no-untyped-def]
    garbage = b"\x00\xff\xfe garbage with no header\r\n\r\nEven: Typo\r\nFoo Bar\r\n\r\n"
    splitter = MessageSplitter()
    msgs = list(splitter.feed(garbage + JOIN))
    assert [m["Event"] for m in msgs] == ["QueueCallerJoin"]
    assert splitter.skipped == 2
    assert "malformed AMI frame" in caplog.text


def test_a_gb18030_caller_name_is_decoded() -> None:
    frame = "Event: Newchannel\r\nCallerIDName: 李四\r\nUniqueid: 1.1\r\n\r\n".encode("gb18030")
    [msg] = list(MessageSplitter().feed(frame))
    assert msg["CallerIDName"] == "李四"


def test_bare_newlines_inside_a_message_are_tolerated() -> None:
    frame = b"Event: Hangup\nUniqueid: 1.2\r\nCause: 16\r\n\r\n"
    [msg] = list(MessageSplitter().feed(frame))
    assert msg["Uniqueid"] == "1.2" and msg["Cause"] == "16"


def test_a_capture_cut_mid_message_keeps_the_complete_ones() -> None:
    msgs = list(iter_messages([JOIN, JOIN[:40]]))
    assert len(msgs) == 1


def test_unwanted_events_are_dropped_unparsed_but_action_answers_are_kept() -> None:
    stream = (
        b"Event: Newstate\r\nUniqueid: 1.1\r\n\r\n"
        b"Event: QueueParams\r\nQueue: main\r\nActionID: a/1\r\n\r\n"  # part of a QueueStatus answer
        b"Response: Success\r\nActionID: a/2\r\n\r\n"
        + JOIN
        + b"Event: Shutdown\r\nShutdown: Cleanly\r\n\r\n"
    )
    splitter = MessageSplitter(wanted={"QueueCallerJoin", "shutdown"})
    kinds = [m.get("Event") or m.get("Response") for m in splitter.feed(stream)]
    assert kinds == ["QueueParams", "Success", "QueueCallerJoin", "Shutdown"]
    assert splitter.filtered == 1
