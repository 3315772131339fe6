"""SMS templates: the four the hotline sends, editable (admin page, CLI), placeholders validated.

A template body uses ``{name}`` placeholders; each template has the placeholders it must contain and
the ones it may contain. Unknown names, format specs, conversions and positional fields are refused,
and the body rendered with the longest plausible values must fit in ``max_segments`` parts.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from callcenter.sms.segments import segment


class TemplateError(ValueError):
    """A template body is not acceptable; ``code`` is a message id suffix (``sms.template_error.<code>``)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    default: str
    required: frozenset[str]
    optional: frozenset[str] = frozenset()

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional


# Sample values for the length check: as long as real values get.
SAMPLES = {
    "order_number": "12345202612010001", "callback_time": "2026-12-01 18:00",
    "survey_url": "https://12345.example.gov.cn/s/AbCdEfGhIjKlMnOpQrStUvWxYz012345",
    "department": "市住房和城乡建设局物业管理处", "hotline": "12345",
}

SPECS: dict[str, TemplateSpec] = {s.name: s for s in (
    TemplateSpec("order_receipt",
                 "【12345热线】您反映的问题已受理，工单号{order_number}，可凭工单号查询办理进度。回复TD退订",
                 frozenset({"order_number"}), frozenset({"hotline"})),
    TemplateSpec("callback_notice",
                 "【12345热线】您的工单{order_number}已办理，我们将在{callback_time}前回访，请留意来电。回复TD退订",
                 frozenset({"order_number", "callback_time"}), frozenset({"hotline"})),
    TemplateSpec("survey_link", "【12345热线】请对工单{order_number}的办理情况评价：{survey_url} 回复TD退订",
                 frozenset({"order_number", "survey_url"}), frozenset({"hotline"})),
    TemplateSpec("handled_notice", "【12345热线】您的工单{order_number}已由{department}办理完毕。回复TD退订",
                 frozenset({"order_number", "department"}), frozenset({"hotline"})),
)}


def placeholders(body: str) -> list[str]:
    """The placeholder names of ``body``; refuses format specs, conversions, attribute/index access."""
    names = []
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise TemplateError("syntax", str(exc)) from exc
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field or not field.isidentifier():
            raise TemplateError("bad_placeholder", field or "{}")
        if spec or conversion:
            raise TemplateError("bad_placeholder", field)
        names.append(field)
    return names


def validate(name: str, body: str, max_segments: int = 10) -> str:
    """``body`` stripped if it is a valid body for template ``name``; else :class:`TemplateError`."""
    spec = SPECS.get(name)
    if spec is None:
        raise TemplateError("unknown_template", name)
    body = body.strip()
    if not body:
        raise TemplateError("empty")
    if len(body) > 1000:
        raise TemplateError("too_long", str(max_segments))
    used = set(placeholders(body))
    unknown = used - spec.allowed
    if unknown:
        raise TemplateError("unknown_placeholder", ", ".join(sorted(unknown)))
    missing = spec.required - used
    if missing:
        raise TemplateError("missing_placeholder", ", ".join(sorted(missing)))
    if segment(body.format(**SAMPLES)).segments > max_segments:
        raise TemplateError("too_long", str(max_segments))
    return body


def render(body: str, values: dict[str, str]) -> str:
    """The text of a validated body with ``values`` (every placeholder must have one)."""
    missing = set(placeholders(body)) - set(values)
    if missing:
        raise TemplateError("missing_value", ", ".join(sorted(missing)))
    return body.format(**{k: str(v) for k, v in values.items()})
