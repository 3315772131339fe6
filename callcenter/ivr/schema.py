"""The shape of a flow document (pydantic): node types and their fields.

A file holds one flow (``flow``, ``start``, ``nodes``) and/or named business-hours
``calendars`` that every flow of the set may use. Cross-node rules (targets, reachability,
loops, prompt files, calendars) live in :mod:`callcenter.ivr.checks`.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DTMF = "0123456789*#"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
TIME_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Prompt = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_./-]+$")]
Prompts = tuple[Prompt, ...]


def _as_tuple(v: object) -> object:
    return (v,) if isinstance(v, str) else v


Label = Annotated[str, Field(min_length=1, max_length=40)]


class _Node(_Model):
    description: str = ""
    # What the agent's screen-pop shows for this step (Chinese), instead of the node's identifier.
    label: str = Field("", max_length=40)


class PlayNode(_Node):
    """Play one or more sound files, then go on."""

    type: Literal["play"]
    prompt: Prompts
    next: str

    _prompts = field_validator("prompt", mode="before")(_as_tuple)


class MenuNode(_Node):
    """Play a prompt and branch on one DTMF key; re-prompt on invalid keys and silence."""

    type: Literal["menu"]
    prompt: Prompts
    choices: dict[str, str] = Field(min_length=1)
    timeout: float = Field(5.0, gt=0, le=60)
    retries: int = Field(2, ge=0, le=9)
    invalid_prompt: Prompts = ()
    timeout_prompt: Prompts = ()
    on_invalid: str
    on_timeout: str
    # What each key means, for the screen-pop ("1": 政策咨询); keys must be keys of ``choices``.
    choice_labels: dict[str, Label] = {}

    _prompts = field_validator("prompt", "invalid_prompt", "timeout_prompt", mode="before")(_as_tuple)

    @model_validator(mode="after")
    def _labels_are_choices(self) -> MenuNode:
        extra = sorted(set(self.choice_labels) - set(self.choices))
        if extra:
            raise ValueError(f"choice_labels names keys that are not choices: {extra}")
        return self

    @field_validator("choices")
    @classmethod
    def _keys_are_dtmf(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if len(key) != 1 or key not in DTMF:
                raise ValueError(f"menu key {key!r} is not one DTMF key (0-9, * or #)")
        return v


class CollectNode(_Node):
    """Collect several digits (a work-order number...), validate them, store them as a tag."""

    type: Literal["collect"]
    prompt: Prompts
    min_length: int = Field(1, ge=1, le=64)
    max_length: int = Field(..., ge=1, le=64)
    terminator: Literal["#", "*", ""] = "#"
    timeout: float = Field(6.0, gt=0, le=60)
    inter_digit_timeout: float = Field(3.0, gt=0, le=30)
    pattern: str | None = None
    tag: str | None = None
    retries: int = Field(2, ge=0, le=9)
    invalid_prompt: Prompts = ()
    next: str
    on_failure: str

    _prompts = field_validator("prompt", "invalid_prompt", mode="before")(_as_tuple)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"pattern {v!r} is not a regular expression: {exc}") from exc
        return v

    @model_validator(mode="after")
    def _lengths(self) -> CollectNode:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} is greater than max_length {self.max_length}")
        return self


class HoursNode(_Node):
    """Branch on business hours (a named calendar: weekly schedule, holidays, make-up days)."""

    type: Literal["hours"]
    calendar: str
    open: str
    closed: str


class TagNode(_Node):
    """Set tags on the call (hotline, category, language, ...)."""

    type: Literal["tag"]
    tags: dict[str, str] = Field(min_length=1)
    # Words for the screen-pop: a tag's name or value → its label ({category: 来电类别, consultation: 咨询}).
    labels: dict[str, Label] = {}
    next: str

    @model_validator(mode="after")
    def _labels_name_tags(self) -> TagNode:
        extra = sorted(set(self.labels) - set(self.tags) - set(self.tags.values()))
        if extra:
            raise ValueError(f"labels names neither a tag nor a tag value of this node: {extra}")
        return self

    @field_validator("tags", mode="before")
    @classmethod
    def _values_as_text(cls, v: object) -> object:
        return {k: str(x) for k, x in v.items()} if isinstance(v, dict) else v


class QueueNode(_Node):
    """Put the caller in an ACD queue; ``on_timeout`` runs when nobody answered in ``max_wait``."""

    type: Literal["queue"]
    queue: str = Field(pattern=NAME)
    max_wait: int = Field(600, ge=1, le=7200)
    on_timeout: str | None = None


class VoicemailNode(_Node):
    """Record a voice message for intake (after hours, queue timeout, the caller's choice)."""

    type: Literal["voicemail"]
    prompt: Prompts = ()
    mailbox: str | None = Field(None, pattern=r"^[0-9A-Za-z_-]+$")
    reason: str = Field("caller-choice", pattern=NAME, max_length=32)
    next: str | None = None

    _prompts = field_validator("prompt", mode="before")(_as_tuple)


class TransferNode(_Node):
    """Send the call out over a trunk (110/119/120, another department's line)."""

    type: Literal["transfer"]
    prompt: Prompts = ()
    destination: str = Field(pattern=r"^\+?[0-9]{2,20}$")
    trunk: str = Field(pattern=NAME)
    dial_timeout: int = Field(60, ge=5, le=600)
    reason: str = Field("", max_length=64)
    on_failure: str | None = None

    _prompts = field_validator("prompt", mode="before")(_as_tuple)


class SubflowNode(_Node):
    """Continue in another flow (from its start node)."""

    type: Literal["subflow"]
    flow: str


class HangupNode(_Node):
    """Optionally play a goodbye, then hang up."""

    type: Literal["hangup"]
    prompt: Prompts = ()

    _prompts = field_validator("prompt", mode="before")(_as_tuple)


Node = Annotated[
    PlayNode | MenuNode | CollectNode | HoursNode | TagNode | QueueNode | VoicemailNode | TransferNode
    | SubflowNode | HangupNode,
    Field(discriminator="type"),
]
NODE_TYPES = ("play", "menu", "collect", "hours", "tag", "queue", "voicemail", "transfer", "subflow", "hangup")


class Calendar(_Model):
    """Opening hours: weekly ranges, dated holidays (closed) and make-up working days (open)."""

    timezone: str = "Asia/Shanghai"
    weekly: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], tuple[str, ...]]
    holidays: tuple[date, ...] = ()
    # 调休: a weekend day worked; it follows the hours of ``workday_hours`` (default: Monday's)
    workdays: tuple[date, ...] = ()
    workday_hours: tuple[str, ...] | None = None

    @field_validator("weekly", mode="before")
    @classmethod
    def _ranges_as_tuples(cls, v: object) -> object:
        return {k: _as_tuple(x) if x is not None else () for k, x in v.items()} if isinstance(v, dict) else v

    @field_validator("weekly")
    @classmethod
    def _ranges_ok(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for ranges in v.values():
            _check_ranges(ranges)
        return v

    @field_validator("workday_hours", mode="before")
    @classmethod
    def _workday_as_tuple(cls, v: object) -> object:
        return _as_tuple(v)

    @field_validator("workday_hours")
    @classmethod
    def _workday_ok(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None:
            _check_ranges(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _zone_ok(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _dates_disjoint(self) -> Calendar:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"{', '.join(d.isoformat() for d in both)} is both a holiday and a working day")
        return self


def parse_range(text: str) -> tuple[int, int]:
    """'08:30-12:00' → minutes since midnight (510, 720)."""
    m = TIME_RANGE.match(text)
    if m is None:
        raise ValueError(f"time range {text!r} is not HH:MM-HH:MM")
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = int(m.group(3)) * 60 + int(m.group(4))
    return start, end


def _check_ranges(ranges: tuple[str, ...]) -> None:
    spans = []
    for text in ranges:
        start, end = parse_range(text)
        if end > 24 * 60:
            raise ValueError(f"time range {text!r} ends after 24:00")
        if start >= end:
            raise ValueError(f"time range {text!r} ends before it starts")
        spans.append((start, end, text))
    spans.sort()
    for (_s1, e1, t1), (s2, _e2, t2) in itertools.pairwise(spans):
        if s2 < e1:
            raise ValueError(f"time ranges {t1!r} and {t2!r} overlap")


class FlowDocument(_Model):
    """One YAML file: a flow, calendars, or both."""

    flow: str | None = Field(None, pattern=NAME)
    description: str = ""
    start: str | None = None
    nodes: dict[str, Node] | None = None
    calendars: dict[str, Calendar] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _flow_complete(self) -> FlowDocument:
        if self.nodes is not None and not self.nodes:
            raise ValueError("a flow needs at least one node")
        if self.nodes is None and (self.start or self.flow):
            raise ValueError("a flow needs 'nodes'")
        if self.nodes is not None and not self.start:
            raise ValueError("a flow needs 'start' (the first node)")
        if self.nodes is None and not self.calendars:
            raise ValueError("the file defines neither a flow ('nodes') nor 'calendars'")
        return self


def targets(node: BaseModel) -> list[tuple[str, str]]:
    """(field, node name) for every place a node can lead to within its flow."""
    out: list[tuple[str, str]] = []
    for fname in ("next", "on_invalid", "on_timeout", "on_failure", "open", "closed"):
        value = getattr(node, fname, None)
        if isinstance(value, str):
            out.append((fname, value))
    if isinstance(node, MenuNode):
        out.extend((f"choices.{k}", v) for k, v in node.choices.items())
    return out


def prompts_of(node: BaseModel) -> list[tuple[str, str]]:
    """(field, sound name) for every sound file a node plays."""
    out = []
    for fname in ("prompt", "invalid_prompt", "timeout_prompt"):
        for p in getattr(node, fname, ()) or ():
            out.append((fname, p))
    return out
