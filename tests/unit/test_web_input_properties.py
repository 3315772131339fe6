"""Property-based tests (hypothesis) of the routes' input models: whatever a stranger sends, a model
either refuses it with a 4xx that reads in both languages, or yields values every column can store."""

from __future__ import annotations

import math
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from callcenter.auth import models as auth_models
from callcenter.desk import attachments as att
from callcenter.desk import schemas
from callcenter.desk.http import HttpError
from callcenter.kb import models as kb_models
from callcenter.workorders.models import WorkOrder, WorkOrderCall
from callcenter.workorders.settings import DEFAULT_DISTRICTS, DeskSettings

REASONS = DeskSettings().pause_reasons
CONTEXT = {"districts": DEFAULT_DISTRICTS, "pause_reasons": REASONS, "agents": {"1001", "1002"},
           "departments": {"fund", "hrss"}}
MODELS = [schemas.SubmissionBody, schemas.ActionBody, schemas.OrdersQuery, schemas.SearchQuery, schemas.OrderForm,
          schemas.OrderEditForm, schemas.ActForm, schemas.LinkForm, schemas.DuplicatesQuery, schemas.AgentStateForm,
          schemas.SupervisorQuery, schemas.KbForm, schemas.KbStatusForm, schemas.UserForm, schemas.PasswordForm,
          schemas.ActiveForm, schemas.PublicForm]
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Anything JSON can carry, and then some: lone surrogates, NUL, NaN, huge integers, deep nesting.
nasty_text = st.one_of(st.text(), st.text(alphabet=st.characters(codec=None, categories=None)),
                       st.sampled_from(["\ud800", "a\x00b", "x\r\nAction: Hangup", "\u202egnp.exe", " ", "9" * 70,
                                        "五华区", "meal", "published", "1", "0", "2026-02-30", "²"]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), nasty_text)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(nasty_text, inner, max_size=4)),
                           max_leaves=12)


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def bodies(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the model's own field names (so validators run) and a few strangers' ones."""
    keys = st.sampled_from([*_field_names(model), "colour", "_csrf"])
    return st.dictionaries(keys, json_values, max_size=6)


def _max_length(model: type[BaseModel], name: str) -> int | None:
    for meta in model.model_fields[name].metadata:
        if getattr(meta, "max_length", None) is not None:
            return int(meta.max_length)
    return None


def _storable(value: Any) -> None:
    if isinstance(value, str):
        value.encode("utf-8")  # no lone surrogates
        assert "\x00" not in value
        assert all(unicodedata.category(ch) != "Cc" or ch in "\t\r\n" for ch in value)
    elif isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        assert 0 <= value < 2**31
    elif isinstance(value, list):
        for item in value:
            _storable(item)
    elif isinstance(value, dict):
        for item in value.values():
            _storable(item)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_any_input_is_refused_with_a_4xx_or_yields_storable_values(model: type[BaseModel]) -> None:
    @PROPERTY
    @given(data=st.one_of(bodies(model), json_values))
    def check(data: Any) -> None:
        try:
            value = schemas.check(model, data, **CONTEXT)
        except HttpError as exc:
            assert 400 <= exc.code < 500
            for lang in ("zh", "en"):
                text = exc.text(lang)
                assert text and "{" not in text and "=" not in text, text
            return
        for name, field_value in value:
            _storable(field_value)
            limit = _max_length(model, name)
            if limit is not None and isinstance(field_value, str):
                assert len(field_value) <= limit
        dumped = schemas.dump(value)
        if dumped.get("district"):
            assert dumped["district"] in DEFAULT_DISTRICTS
        if model is schemas.AgentStateForm and dumped.get("reason"):
            assert dumped["reason"] in REASONS  # nothing else reaches AMI
        if model is schemas.UserForm:
            assert dumped.get("agent_id", "") in ("", *CONTEXT["agents"])

    check()


printable = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), max_size=300)


@PROPERTY
@given(content=printable, name=printable, contact=st.from_regex(r"\A1[3-9][0-9]{9}\Z"),
       district=st.sampled_from(("", *DEFAULT_DISTRICTS)))
def test_ordinary_submissions_are_accepted_as_typed(content: str, name: str, contact: str, district: str) -> None:
    data = {"content": content, "caller_name": name[:128], "contact": contact, "district": district}
    got = schemas.dump(schemas.check(schemas.SubmissionBody, data, **CONTEXT))
    assert got == {k: v.strip() for k, v in data.items()}


@PROPERTY
@given(version=st.integers(min_value=0, max_value=2**31 - 1))
def test_every_storable_version_is_accepted_in_json_and_forms(version: int) -> None:
    assert schemas.dump(schemas.check(schemas.ActionBody, {"version": version})) == {"version": version}
    assert schemas.dump(schemas.check(schemas.ActForm, {"version": str(version)}))["version"] == str(version)


@PROPERTY
@given(name=st.text(alphabet=st.characters(codec=None), max_size=400))
def test_attachment_names_are_plain(name: str) -> None:
    safe = att.safe_name(name)
    assert 0 < len(safe) <= 120 and "/" not in safe and "\\" not in safe
    assert not any(unicodedata.category(ch) == "Cc" for ch in safe)
    assert not schemas.BIDI_AND_INVISIBLE.search(safe)
    safe.encode("utf-8")


COLUMNS = [
    (schemas.OrderForm, WorkOrder, ("caller_number", "caller_name", "contact", "district", "address", "category",
                                    "urgency", "title", "hotline")),
    (schemas.SubmissionBody, WorkOrder, ("caller_number", "caller_name", "contact", "district", "address",
                                         "category", "urgency", "title")),
    (schemas.ActForm, WorkOrder, ("department",)),
    (schemas.ActionBody, WorkOrder, ("department",)),
    (schemas.LinkForm, WorkOrderCall, ("linkedid",)),
    (schemas.OrderForm, WorkOrderCall, ("linkedid",)),
    (schemas.UserForm, auth_models.User, ("username", "display_name", "agent_id", "department", "role")),
    (schemas.KbForm, kb_models.Article, ("title", "category")),
    (schemas.KbForm, kb_models.ArticleVersion, ("note",)),
]


@pytest.mark.parametrize(("model", "table", "fields"), COLUMNS, ids=lambda x: getattr(x, "__name__", ""))
def test_text_limits_fit_their_columns(model: type[BaseModel], table: Any, fields: tuple[str, ...]) -> None:
    for name in fields:
        limit, column = _max_length(model, name), table.__table__.columns[name].type.length
        assert limit is not None and limit <= column, (model.__name__, name, limit, column)
