"""Translations are complete, templates escape what strangers typed, attachments are sniffed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callcenter.desk import attachments as att
from callcenter.desk.base import environment
from callcenter.desk.i18n import LANGUAGES, Translator, catalogue, pick_language
from callcenter.workorders import states as st
from callcenter.workorders.settings import WorkOrderSettings

PACKAGES = Path(__file__).parents[2] / "callcenter"


def _used_keys() -> set[str]:
    keys: set[str] = set()
    literal = r"""\(\s*["']([a-z_]+\.[a-z_.]+)["']\s*[,)]"""
    # every package's pages and code (each capability may keep its own templates and locales)
    for path in [*PACKAGES.glob("*/templates/**/*.html"), *PACKAGES.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r"(?<![\w.])_" + literal, text)) | set(re.findall(r"\bt" + literal, text))
    return keys


def test_catalogues_have_the_same_keys_and_cover_every_use() -> None:
    zh, en = catalogue("zh"), catalogue("en")
    assert set(zh) == set(en)
    used = _used_keys()
    assert len(used) > 100
    assert used - set(zh) == set()
    # keys built at run time: every state, action, source, role, urgency
    for s in st.State:
        assert f"state.{s.value}" in zh
    for a in st.Action:
        assert f"action.{a.value}" in zh
    for prefix in ("source.call", "source.voicemail", "source.online", "source.api", "role.api_client"):
        assert prefix in zh
    # codes the desk shows from pushes: pause reasons, call outcomes (every one the recorder writes)
    from callcenter.acd.commands import PAUSE_REASONS
    from callcenter.calls import records
    from callcenter.desk.views import DISPOSITIONS

    outcomes = {v for k, v in vars(records).items() if k.isupper() and isinstance(v, str) and k != "WAITING"}
    assert outcomes | {"queued", "voicemail", "transferred-out", "ivr-only", "in-progress"} == set(DISPOSITIONS)
    for code in (*(f"pause.{r}" for r in PAUSE_REASONS), *(f"disposition.{d}" for d in DISPOSITIONS)):
        assert code in zh, code


def _refusal_ids() -> set[str]:
    """Message ids of every refusal raised in the code people reach (``SomeError(..., "id"``)."""
    root = Path(__file__).parents[2] / "callcenter"
    ids: set[str] = set()
    pattern = re.compile(r"\b(?:[A-Z]\w*(?:Error|Refusal|Forbidden|MissingField|NotFound|Conflict|Refused|Password))"
                         r"\(\s*(?:\d+,\s*)?\"([a-z_]+)\"")
    for sub in ("desk", "workorders", "kb", "auth"):
        for path in (root / sub).rglob("*.py"):
            ids |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return ids | {"illegal_transition", "illegal_transition_final", "changed_meanwhile", "too_large",
                  "bad_request", "token_required", "sign_in_first", "page_not_found", "method_not_allowed"}


def test_every_refusal_has_a_message_in_both_languages_with_the_same_placeholders() -> None:
    ids = _refusal_ids()
    assert len(ids) > 60
    fields = re.compile(r"{(\w+)}")
    for lang in LANGUAGES:
        assert {i for i in ids if f"error.{i}" not in catalogue(lang)} == set(), lang
    for key, text in catalogue("zh").items():
        if key.startswith("error.") and key not in ("error.title", "error.back"):
            assert set(fields.findall(text)) == set(fields.findall(catalogue("en")[key])), key
            assert not re.search(r"[A-Za-z]{4,}", re.sub(r"{\w+}|application/json|JSON|Authorization|Bearer|"
                                                         r"content|contact|caller_number|filename|data|base64|"
                                                         r"version", "", text)), (key, text)


def test_refusals_read_in_the_readers_language() -> None:
    from callcenter.auth.passwords import WeakPassword, check_strength
    from callcenter.desk.http import HttpError

    try:
        st.transition("closed", "dispatch", "agent", {})
    except st.IllegalTransition as exc:
        assert exc.text("zh") == "工单当前为“已办结”，不能“交办”；现在可以：归档"
        assert exc.text("en") == 'the order is closed: "Dispatch" is not possible now; possible: Archive'
        assert str(exc) == 'the order is closed: "dispatch" is not possible now; possible: archive'
    with pytest.raises(WeakPassword) as weak:
        check_strength("123")
    assert weak.value.text("zh") == "密码至少需要8个字符"
    assert str(weak.value) == "a password needs at least 8 characters"
    assert HttpError(404, "no_recording").text("zh") == "这通电话没有录音"
    with pytest.raises(att.AttachmentRefused) as refused:
        att.check([att.Upload("a.exe", b"MZ\x90\x00\xff\xfe")], WorkOrderSettings())
    assert refused.value.text("zh").startswith("“a.exe”的文件类型（application/octet-stream）不被接受")
    # a missing message is a bug, but still says something
    assert Translator("zh").refusal(st.WorkOrderError("no_such_message", x=1)) == "no_such_message x=1"


def test_every_history_detail_has_a_label() -> None:
    from callcenter.desk.api import ACTION_ARGS

    written = {"source", "linkedid", "voicemail", "department", "previous_department", "order", "agent",
               "filename", "size", "sha256", *ACTION_ARGS}
    for lang in LANGUAGES:
        assert {k for k in written if f"history.{k}" not in catalogue(lang)} == set(), lang


def test_translator_and_language_choice() -> None:
    assert Translator("zh")("nav.orders") == "工单"
    assert Translator("en")("nav.orders") == "Work orders"
    assert Translator("fr").lang == "zh"
    assert Translator("en")("users.token_once", name="p") == "API token for p (shown only once):"
    assert pick_language("en", "zh", None, "zh") == "en"
    assert pick_language(None, "en", None, "zh") == "en"
    assert pick_language("xx", None, None, "zh") == "zh"
    # platforms may ask with Accept-Language (pages do not pass it: the hotline works in Chinese)
    assert pick_language(None, None, "en-GB,en;q=0.8", "zh") == "en"
    assert pick_language(None, None, "fr", "zh") == "zh"
    assert LANGUAGES == ("zh", "en")


def test_templates_escape_caller_supplied_text() -> None:
    t = Translator("zh")
    settings = WorkOrderSettings()
    html = environment().get_template("order.html").render(
        _=t, lang="zh", actor=None, csrf="", can=lambda p: False, cat_name=lambda c: c, dept_name=lambda c: c or "",
        state_name=lambda s: s or "", action_name=lambda a: a, time=lambda *a: "", mask=lambda n: n,
        categories=settings.categories, category_list=[], departments=settings.departments,
        districts=settings.districts, path="/app/orders/x",
        o={"number": "KM1", "state": "registered", "source": "call", "hotline": "12345",
           "caller_number": "1", "caller_name": "<script>alert(1)</script>", "contact": "", "district": "",
           "address": "", "category": "", "urgency": "normal", "title": "", "content": "<img src=x onerror=1>",
           "handling_mode": None, "department": None, "deadline_at": None, "result": "", "satisfaction": None,
           "merged_into": None, "created_at": None, "closed_at": None, "closed_on_time": None, "version": 1,
           "agent": None},
        due="none", history=[], calls=[], attachments=[], duplicates=[], actions=[], editable=False,
        takeable=False, show_number=True, urgencies=(), satisfaction=(), done="", requires={})
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_attachment_types_are_sniffed_not_trusted() -> None:
    s = WorkOrderSettings(max_attachments=2, max_attachment_bytes=100)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 10
    assert [c for _u, c in att.check([att.Upload("a.png", png)], s)] == ["image/png"]
    assert [c for _u, c in att.check([att.Upload("a.txt", "你好".encode())], s)] == ["text/plain"]
    with pytest.raises(att.AttachmentRefused, match="not accepted"):  # str(): English, for logs
        att.check([att.Upload("evil.png", b"MZ\x90\x00\xff\xfe")], s)
    with pytest.raises(att.AttachmentRefused, match="larger"):
        att.check([att.Upload("big.png", png + b"0" * 100)], s)
    with pytest.raises(att.AttachmentRefused, match="at most 2"):
        att.check([att.Upload("a.png", png)] * 3, s)
    assert att.safe_name("../../etc/passwd") == "passwd"
    assert att.safe_name('a<b>:"c".png') == "a_b___c_.png"
