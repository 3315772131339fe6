"""Input of the desk's routes: schemas refuse what a column or the configuration cannot take, audio
files are served only from the spool, attachment names cannot reorder their text."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from callcenter.desk import attachments as att
from callcenter.desk import schemas
from callcenter.desk.audio import confined_file
from callcenter.desk.http import HttpError
from callcenter.workorders.settings import DeskSettings

DISTRICTS = ("五华区", "盘龙区")


def _refused(model: type, data: object, **context: object) -> HttpError:
    with pytest.raises(HttpError) as exc:
        schemas.check(model, data, **context)
    return exc.value


@pytest.mark.parametrize(("data", "field", "problem"), [
    ({"content": "x", "contact": "1", "attachments": 5}, "attachments", "not_list"),
    ({"content": "\ud800", "contact": "1"}, "content", "bad_unicode"),
    ({"content": "a\x00b", "contact": "1"}, "content", "control_chars"),
    ({"content": ["a"], "contact": "1"}, "content", "not_text"),
    ({"content": True, "contact": "1"}, "content", "not_text"),
    ({"content": float("nan"), "contact": "1"}, "content", "not_text"),
    ({"content": 5, "contact": "1"}, "content", "not_text"),
    ({"content": "x", "contact": "1\n2"}, "contact", "control_chars"),
    ({"content": "x", "contact": "1", "district": "火星区"}, "district", "unknown_district"),
    ({"content": "x", "contact": "1", "caller_number": "1" * 81}, "caller_number", "too_long"),
    ({"content": "x", "contact": "1", "attachments": [{"filename": "a"}]}, "attachments.0.data", "missing"),
    ({"content": "x", "contact": "1", "attachments": [5]}, "attachments.0", "not_object"),
    ({"content": "x", "contact": "1", "attachments": [{"filename": "a", "data": 1}]}, "attachments.0.data",
     "not_text"),
])
def test_submission_body_refusals_name_the_field(data: dict, field: str, problem: str) -> None:
    exc = _refused(schemas.SubmissionBody, data, districts=DISTRICTS)
    assert (exc.code, exc.msg_id, str(exc.values["field"]), str(exc.values["problem"])) == (
        422, "invalid_input", field, problem)
    assert exc.text("zh") and exc.text("en") and "{" not in exc.text("zh")


def test_submission_body_cleans_and_keeps_only_given_fields() -> None:
    got = schemas.dump(schemas.check(schemas.SubmissionBody, {"content": "  噪音扰民 \n", "contact": "139",
                                                             "district": "五华区"}, districts=DISTRICTS))
    assert got == {"content": "噪音扰民", "contact": "139", "district": "五华区"}
    exc = _refused(schemas.SubmissionBody, {"content": "x", "colour": "red", "hotline": "12345"})
    assert (exc.code, exc.msg_id, exc.values["fields"]) == (400, "unknown_fields", "colour, hotline")
    # text that may span lines keeps its lines; single lines lose bidi overrides and zero-width marks
    got = schemas.dump(schemas.check(schemas.SubmissionBody, {"content": "a\r\nb\tc", "caller_name": "O'Brien\u202e"}))
    assert got == {"content": "a\r\nb\tc", "caller_name": "O'Brien"}


@pytest.mark.parametrize(("version", "problem"), [
    (True, "not_integer"), (1.0, "not_integer"), ("3", "not_integer"), (-1, "out_of_range"),
    (2**31, "out_of_range"), (2**200, "out_of_range"),
])
def test_action_versions_are_bounded_integers(version: object, problem: str) -> None:
    exc = _refused(schemas.ActionBody, {"action": "accept", "version": version})
    assert (str(exc.values["field"]), str(exc.values["problem"])) == ("version", problem)
    assert schemas.dump(schemas.check(schemas.ActionBody, {"action": "accept", "version": 7})) == {
        "action": "accept", "version": 7}


@pytest.mark.parametrize(("text", "problem"), [("²", "not_a_number"), ("٣", "not_a_number"),
                                              ("9" * 5000, "too_long"), ("99999999999", "too_long"),
                                              ("9999999999", "number_too_big")])
def test_form_versions_are_ascii_digits_that_fit(text: str, problem: str) -> None:
    exc = _refused(schemas.OrderEditForm, {"version": text})
    assert str(exc.values["problem"]) == problem
    assert schemas.form.__name__ == "form"


def test_queries_know_the_states_due_filters_and_sources() -> None:
    assert schemas.dump(schemas.check(schemas.OrdersQuery, {"state": "", "due": "overdue"})) == {
        "state": None, "due": "overdue"}
    for name, value in (("state", "flying"), ("due", "tomorrow"), ("source", "fax")):
        exc = _refused(schemas.OrdersQuery, {name: value})
        assert (exc.code, str(exc.values["field"]), str(exc.values["problem"])) == (422, name, "not_allowed")


def test_pause_reasons_agents_and_departments_come_from_the_configuration() -> None:
    reasons = DeskSettings().pause_reasons
    ok = schemas.dump(schemas.check(schemas.AgentStateForm, {"action": "pause", "reason": "meal"},
                                    pause_reasons=reasons))
    assert ok == {"action": "pause", "reason": "meal"}
    injection = "x\r\n\r\nAction: Hangup\r\nChannel: /.*/"
    for reason in (injection, "lunch", "meal\r\nAction: Hangup"):
        exc = _refused(schemas.AgentStateForm, {"action": "pause", "reason": reason}, pause_reasons=reasons)
        assert exc.code == 422 and str(exc.values["field"]) == "reason"
    assert exc.text("zh") == "“原因”无效：含有控制字符"
    exc = _refused(schemas.AgentStateForm, {"action": "pause", "reason": "lunch"}, pause_reasons=reasons)
    assert str(exc.values["problem"]) == "unknown_pause_reason"
    assert exc.text("en").endswith("not a configured pause reason")
    with pytest.raises(ValueError, match="pause_reasons"):
        DeskSettings(pause_reasons=("meal", "x\r\nAction: Hangup"))
    exc = _refused(schemas.UserForm, {"username": "a", "agent_id": "9999"}, agents={"1001"}, departments={})
    assert str(exc.values["problem"]) == "unknown_agent"
    exc = _refused(schemas.UserForm, {"username": "a", "department": "nasa"}, agents={"1001"}, departments={"fund"})
    assert str(exc.values["problem"]) == "unknown_department"


def test_linkedids_and_path_values_fit_their_columns() -> None:
    exc = _refused(schemas.OrderForm, {"linkedid": "1" * 65})
    assert (str(exc.values["field"]), str(exc.values["problem"])) == ("linkedid", "too_long")
    assert schemas.dump(schemas.check(schemas.OrderForm, {"register": "0", "_csrf": "t"})) == {"register": "0"}
    assert schemas.path_value("KM2026", 32) == "KM2026"
    for bad in ("K" * 33, "KM\x00", "KM\ud800"):
        with pytest.raises(HttpError) as exc_info:
            schemas.path_value(bad, 32)
        assert exc_info.value.code == 404


def test_deep_json_is_a_400_not_a_recursion_error() -> None:
    import io
    import json

    class Request:
        content = io.BytesIO(b"[" * 100_000 + b"]" * 100_000)

        @staticmethod
        def getHeader(name: bytes) -> bytes:
            return b"application/json"

    with pytest.raises(HttpError) as exc:
        schemas.body(Request(), schemas.ActionBody)
    assert (exc.value.code, exc.value.msg_id) == (400, "invalid_json")
    Request.content = io.BytesIO(b'{"version": ' + b"9" * 5000 + b"}")
    with pytest.raises(HttpError) as exc:
        schemas.body(Request(), schemas.ActionBody)
    assert (exc.value.code, exc.value.msg_id) == (400, "invalid_json")
    deep: object = "x"
    for _ in range(200):
        deep = {"a": deep}
    Request.content = io.BytesIO(json.dumps({"action": deep}).encode())
    with pytest.raises(HttpError) as exc:
        schemas.body(Request(), schemas.ActionBody)
    assert (exc.value.code, str(exc.value.values["problem"])) == (422, "not_text")


def test_audio_is_served_only_as_regular_files_under_the_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spool" / "voicemail"
    inbox = spool / "hotline" / "12345" / "INBOX"
    inbox.mkdir(parents=True)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("ami: {secret: s3cret}\n")
    (inbox / "msg0000.wav").write_bytes(b"RIFF")
    (inbox / "msg0001.wav").symlink_to(secrets)  # the forged "voicemail"
    (inbox / "msg0002.wav").symlink_to(inbox / "msg0000.wav")  # a link inside the spool is its target
    (inbox / "msg0003.wav").mkdir()
    os.mkfifo(inbox / "msg0004.wav")
    (inbox / "msg0005.wav").symlink_to(tmp_path / "nowhere")
    assert confined_file(str(inbox / "msg0000"), str(spool)) == (inbox / "msg0000.wav").resolve()
    assert confined_file(str(inbox / "msg0000.wav"), str(spool)) == (inbox / "msg0000.wav").resolve()
    assert confined_file(str(inbox / "msg0002.wav"), str(spool)) == (inbox / "msg0000.wav").resolve()
    for name in ("msg0001.wav", "msg0001", "msg0003.wav", "msg0004.wav", "msg0005.wav", "msg9999"):
        assert confined_file(str(inbox / name), str(spool)) is None, name
    assert confined_file(str(secrets), str(spool)) is None
    assert confined_file(str(inbox / ".." / ".." / ".." / ".." / "secrets.yaml"), str(spool)) is None
    assert confined_file(str(inbox / "msg0000.wav"), str(tmp_path / "missing-root")) is None
    assert confined_file(str(inbox / "msg0000.wav\0"), str(spool)) is None
    # the spool itself may be a symlink (the sandbox's run directory points into Asterisk's chroot)
    link = tmp_path / "spool-link"
    link.symlink_to(spool)
    assert confined_file(str(link / "hotline" / "12345" / "INBOX" / "msg0000.wav"), str(link)) is not None


def test_attachment_names_cannot_reorder_or_hide_text() -> None:
    assert att.safe_name("invoice\u202egnp.exe") == "invoicegnp.exe"
    assert att.safe_name("a\u2066b\u2069c\u200fd\u200be\ufeff.pdf") == "abcde.pdf"
    assert att.safe_name("报告\x7f\x85.pdf") == "报告__.pdf"
    assert att.safe_name("\u202e") == "file"
