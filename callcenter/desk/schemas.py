"""What each desk and API route accepts: one pydantic model per route, checked before any work.

Strangers type into these routes (the public form, platforms' JSON), so every value is bounded at
entry: text is text (no list, number, bool or NaN where text is expected), valid Unicode (no lone
surrogates), free of NUL and other control characters, and no longer than its column; codes are
checked against the configuration (districts, pause reasons, agents, departments, roles) or the
program's own lists (states, due filters, sources). A refusal is a 4xx with a message id, never a
500 from the database.

Routes call :func:`body`, :func:`form` or :func:`query` with their model; each returns the cleaned
values as a plain ``dict`` of the fields the request gave, so the code after it does not change.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from callcenter.desk.http import HttpError, args_dict, json_body
from callcenter.errors import Term
from callcenter.workorders import states as st
from callcenter.workorders.services import DUE_FILTERS, EDITABLE, SOURCES

# Characters that reorder or hide text when shown (bidi embeddings, overrides, isolates, marks) and
# zero-width ones: a name may not use them to look like something else ("invoice\u202egnp.exe").
BIDI_AND_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Largest version number any table holds (INTEGER): bigger ones are refused, not overflowed.
MAX_VERSION = 2**31 - 1
# At most this many entries in a list the API takes (attachments): the real limit is configured lower.
MAX_LIST = 20


class InvalidInput(HttpError):
    """A value the route cannot take: which field, and what is wrong with it (a term of ``input.*``)."""

    def __init__(self, field: str, problem: str, code: int = 422) -> None:
        super().__init__(code, "invalid_input", field=Term("field", field), problem=Term("input", problem))


def _problem(term: str) -> ValueError:
    """A validator's failure, named by its ``input.<term>`` (not a refusal of its own)."""
    return ValueError(term)


def _check_text(value: Any, multiline: bool) -> str:
    if not isinstance(value, str):  # strict: 5, true, [..], {..}, NaN are not text
        raise _problem("not_text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): no database can store it
        raise _problem("bad_unicode") from None
    allowed = "\t\n\r" if multiline else "\t"
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        raise _problem("control_chars")
    if not multiline:
        value = BIDI_AND_INVISIBLE.sub("", value)
    return value.strip()


def _text(value: Any) -> str:
    return _check_text(value, multiline=False)


def _long_text(value: Any) -> str:
    return _check_text(value, multiline=True)


def Text(max_length: int) -> Any:
    """One line of text, stripped, at most ``max_length`` characters."""
    return Annotated[str, BeforeValidator(_text), Field(max_length=max_length)]


def LongText(max_length: int) -> Any:
    """Text that may span lines (content, results, notes)."""
    return Annotated[str, BeforeValidator(_long_text), Field(max_length=max_length)]


def _digits(value: str) -> str:
    # ASCII digits only ("²".isdigit() is True and int("²") fails), and few enough for a column.
    if value and not re.fullmatch(r"[0-9]{1,10}", value):
        raise _problem("not_a_number")
    if value and int(value) > MAX_VERSION:
        raise _problem("number_too_big")
    return value


def _date_text(value: str) -> str:
    if value and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise _problem("not_a_date")
    return value


VersionText = Annotated[str, BeforeValidator(_text), Field(max_length=10), AfterValidator(_digits)]
DateText = Annotated[str, BeforeValidator(_text), Field(max_length=10), AfterValidator(_date_text)]
Version = Annotated[StrictInt, Field(ge=0, le=MAX_VERSION)]


def _allowed(info: ValidationInfo, key: str) -> Any:
    return (info.context or {}).get(key)


class _Input(BaseModel):
    """A route's input. Forms may carry more (``_csrf``, buttons): ignored; JSON bodies may not."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Body(_Input):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RequestFields(_Input):
    """The request details of an order (``EDITABLE``), with their columns' lengths."""

    caller_number: Text(EDITABLE["caller_number"]) = ""
    caller_name: Text(EDITABLE["caller_name"]) = ""
    contact: Text(EDITABLE["contact"]) = ""
    district: Text(EDITABLE["district"]) = ""
    address: Text(EDITABLE["address"]) = ""
    category: Text(EDITABLE["category"]) = ""
    urgency: Text(EDITABLE["urgency"]) = ""
    title: Text(EDITABLE["title"]) = ""
    content: LongText(EDITABLE["content"]) = ""

    @field_validator("district")
    @classmethod
    def _district_known(cls, v: str, info: ValidationInfo) -> str:
        districts = _allowed(info, "districts")
        if v and districts is not None and v not in districts:
            raise _problem("unknown_district")
        return v


class _OrderFields(_RequestFields):
    hotline: Text(EDITABLE["hotline"]) = ""


# ---- the API (/api/v1) ------------------------------------------------------------------------------
class PublicForm(_RequestFields):
    """The public submission form (``/submit``)."""


class AttachmentIn(_Body):
    filename: Text(255) = "file"
    data: Annotated[str, Field(strict=True, max_length=64 * 1024 * 1024)]


class SubmissionBody(_RequestFields, _Body):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attachments: Annotated[list[AttachmentIn], Field(strict=True, max_length=MAX_LIST)] = []


class ActionBody(_Body):
    action: Text(32) = ""
    version: Version | None = None
    department: Text(64) = ""
    reason: LongText(2000) = ""
    result: LongText(20000) = ""
    satisfaction: Text(32) = ""
    target: Text(32) = ""
    note: LongText(2000) = ""


def _empty_none(value: Any) -> Any:
    return None if value == "" else value


StateName = Literal[tuple(s.value for s in st.State)]  # type: ignore[valid-type]
DueName = Literal[DUE_FILTERS]  # type: ignore[valid-type]
SourceName = Literal[SOURCES]  # type: ignore[valid-type]


class OrdersQuery(_Input):
    state: Annotated[StateName | None, BeforeValidator(_empty_none)] = None
    due: Annotated[DueName | None, BeforeValidator(_empty_none)] = None
    source: Annotated[SourceName | None, BeforeValidator(_empty_none)] = None


class SearchQuery(_Input):
    q: Text(400) = ""


# ---- the people's pages (/app) ------------------------------------------------------------------------
class OrderForm(_OrderFields):
    linkedid: Text(64) = ""
    register_: Literal["0", "1"] = Field("1", alias="register")  # "register" is a BaseModel method
    source: SourceName = "call"


class OrderEditForm(_OrderFields):
    version: VersionText = ""


class ActForm(_Input):
    action: Text(32) = ""
    version: VersionText = ""
    department: Text(64) = ""
    reason: LongText(2000) = ""
    result: LongText(20000) = ""
    satisfaction: Text(32) = ""
    target: Text(32) = ""
    note: LongText(2000) = ""


class LinkForm(_Input):
    linkedid: Text(64) = ""


class DuplicatesQuery(_Input):
    caller_number: Text(EDITABLE["caller_number"]) = ""
    address: Text(EDITABLE["address"]) = ""
    category: Text(EDITABLE["category"]) = ""


class AgentStateForm(_Input):
    action: Text(16) = ""
    reason: Text(64) = ""

    @field_validator("reason")
    @classmethod
    def _reason_configured(cls, v: str, info: ValidationInfo) -> str:
        # Only a configured reason reaches AMI: free text once carried "\r\nAction: Hangup" there.
        reasons = _allowed(info, "pause_reasons")
        if v and reasons is not None and v not in reasons:
            raise _problem("unknown_pause_reason")
        return v


class SupervisorQuery(_Input):
    since: DateText = ""
    until: DateText = ""


class KbForm(_Input):
    title: Text(200) = ""
    body: LongText(100_000) = ""
    category: Text(64) = ""
    valid_from: DateText = ""
    valid_until: DateText = ""
    publish: Text(4) = ""
    version: VersionText = ""
    note: Text(200) = ""


class KbStatusForm(_Input):
    status: Literal["published", "unpublished"]


class UserForm(_Input):
    username: Text(64) = ""
    role: Text(24) = ""
    password: Annotated[str, BeforeValidator(_text), Field(max_length=128)] = ""
    display_name: Text(128) = ""
    agent_id: Text(64) = ""
    department: Text(64) = ""

    @field_validator("agent_id")
    @classmethod
    def _agent_configured(cls, v: str, info: ValidationInfo) -> str:
        agents = _allowed(info, "agents")
        if v and agents is not None and v not in agents:
            raise _problem("unknown_agent")
        return v

    @field_validator("department")
    @classmethod
    def _department_configured(cls, v: str, info: ValidationInfo) -> str:
        departments = _allowed(info, "departments")
        if v and departments is not None and v not in departments:
            raise _problem("unknown_department")
        return v


class PasswordForm(_Input):
    password: Annotated[str, BeforeValidator(_text), Field(max_length=128)] = ""


class ActiveForm(_Input):
    active: Literal["0", "1", ""] = ""


def path_value(value: str, max_length: int) -> str:
    """A value from the URL path (an order number, a linkedid, a username): one that no row can have
    (too long for its column, control characters) is simply not found."""
    if len(value) > max_length or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise HttpError(404, "page_not_found")
    return value


# ---- validating ------------------------------------------------------------------------------------------
M = TypeVar("M", bound=BaseModel)
# pydantic's error types → this module's problem terms (``input.<problem>`` in the catalogues)
PROBLEMS = {
    "missing": "missing", "string_type": "not_text", "string_too_long": "too_long", "int_type": "not_integer",
    "int_from_float": "not_integer", "greater_than_equal": "out_of_range", "less_than_equal": "out_of_range",
    "literal_error": "not_allowed", "list_type": "not_list", "too_long": "too_long", "model_type": "not_object",
    "dict_type": "not_object", "model_attributes_type": "not_object",
}


def check(model: type[M], data: Any, **context: Any) -> M:
    """``data`` as ``model`` (``context``: configured lists the validators check against), or a refusal:
    400 ``unknown_fields`` for fields a JSON body may not have, 422 ``invalid_input`` naming the field."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise _refusal(model, exc) from None
    except RecursionError:
        raise InvalidInput("JSON", "too_deep", 400) from None


def _refusal(model: type[BaseModel], exc: ValidationError) -> HttpError:
    errors = exc.errors(include_url=False, include_input=False)
    extra = [str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == 1]
    if extra:
        # names come from the request: echo only plain ones (no markup, braces or control characters)
        shown = sorted({n if re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", n) else "?" for n in extra})
        return HttpError(400, "unknown_fields", fields=", ".join(shown),
                         allowed=", ".join(model.model_fields))
    first = errors[0]
    field = ".".join(str(p) for p in first["loc"])
    if first["type"] == "value_error":
        problem = str(first.get("ctx", {}).get("error", "invalid"))
    else:
        problem = PROBLEMS.get(first["type"], "invalid")
    return InvalidInput(field, problem if problem in PROBLEM_TERMS else "invalid")


PROBLEM_TERMS = ("missing", "not_text", "too_long", "not_integer", "out_of_range", "not_allowed", "not_list",
                 "not_object", "invalid", "bad_unicode", "control_chars", "not_a_number",
                 "number_too_big", "not_a_date", "unknown_district", "unknown_pause_reason", "unknown_agent",
                 "unknown_department", "too_deep")


def dump(value: BaseModel) -> dict[str, Any]:
    """The fields the request gave (defaults left out: an edit changes only what was sent)."""
    return value.model_dump(exclude_unset=True, by_alias=True)


def body(request: Any, model: type[M], **context: Any) -> dict[str, Any]:
    """The request's JSON body checked against ``model``: the given fields, cleaned."""
    return dump(check(model, json_body(request), **context))


def form(request: Any, model: type[M], **context: Any) -> dict[str, Any]:
    """The request's form (or query) arguments checked against ``model``: the given fields, cleaned."""
    return dump(check(model, args_dict(request), **context))


query = form
