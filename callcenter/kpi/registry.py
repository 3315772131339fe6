"""The nine contract KPIs, each defined in one place: what it counts, over which window, against which target.

A :class:`KpiDefinition` names its numerator and denominator, the window basis, its inputs, its rounding and
its target; ``compute`` returns a :class:`KpiValue` from the records, ``cases`` lists the very records it
counted (the click-through). A KPI whose inputs the product does not record yet is registered as unavailable
with the reason, never with an invented figure. The CLI (``kpi all``), ``/ops/kpi/all`` and ``/api/v1/kpi``
all read :func:`compute_all`, so the three always agree.

Features that add inputs (quality inspection, follow-up, staff records) register their definitions from
their own package: add the module to :data:`DEFINITION_MODULES`; a later registration of an id replaces
the unavailable placeholder.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from callcenter.config import Config

# modules whose import registers definitions (each calls ``register``)
DEFINITION_MODULES: list[str] = ["callcenter.kpi.definitions"]

Comparison = Literal[">=", "<="]


@dataclass(frozen=True)
class Window:
    """[since, until) in naive UTC; None = unbounded."""

    since: datetime | None
    until: datetime | None


@dataclass
class KpiValue:
    """One KPI's figure for a window: ``value`` = numerator ÷ denominator × 100, rounded (None when 0/0)."""

    numerator: int
    denominator: int
    details: dict[str, Any] = field(default_factory=dict)

    def value(self, digits: int) -> float | None:
        if self.denominator == 0:
            return None
        return round(100.0 * self.numerator / self.denominator, digits)


@dataclass(frozen=True)
class Case:
    """One record a KPI counted: its kind and id, whether it counts for the KPI (met) or against it."""

    kind: str
    id: str
    ok: bool
    at: float | None = None
    note: str = ""


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI of the contract (DESIGN.md, "Key performance indicators")."""

    id: int
    key: str
    name_zh: str
    name_en: str
    target: float
    comparison: Comparison
    numerator: str
    denominator: str
    window: str
    inputs: tuple[str, ...]
    digits: int = 2
    compute: Callable[[Session, Window, Config], KpiValue] | None = None
    cases: Callable[[Session, Window, Config], Iterator[Case]] | None = None
    unavailable: str = ""  # why the product cannot compute it yet (then compute is None)

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.target if self.comparison == ">=" else value <= self.target

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "name_zh": self.name_zh, "name_en": self.name_en,
                "target": self.target, "comparison": self.comparison, "numerator": self.numerator,
                "denominator": self.denominator, "window": self.window, "inputs": list(self.inputs),
                "rounding": f"percent, {self.digits} decimals, half-even"}


_REGISTRY: dict[int, KpiDefinition] = {}
_loaded = False


def register(definition: KpiDefinition) -> None:
    """Add or replace a KPI's definition (a feature's package replaces an unavailable placeholder)."""
    current = _REGISTRY.get(definition.id)
    if current is not None and current.compute is not None and definition.compute is not None:
        raise ValueError(f"KPI {definition.id} ({definition.key}) is defined twice")
    _REGISTRY[definition.id] = definition


def definitions() -> list[KpiDefinition]:
    """Every KPI, by id (imports the definition modules once)."""
    global _loaded
    if not _loaded:
        for name in DEFINITION_MODULES:
            importlib.import_module(name)
        _loaded = True
    return [_REGISTRY[i] for i in sorted(_REGISTRY)]


def get(kpi: int | str) -> KpiDefinition:
    """A definition by id (``1``) or key (``answer_rate_15s``); KeyError if unknown."""
    for d in definitions():
        if str(kpi) in (str(d.id), d.key):
            return d
    raise KeyError(kpi)


def evaluate(definition: KpiDefinition, session: Session, window: Window, config: Config) -> dict[str, Any]:
    """One KPI as JSON: its definition, and numerator/denominator/value/met (or why it is unavailable)."""
    out = definition.describe()
    if definition.compute is None:
        out.update(status="unavailable", reason=definition.unavailable, numerator=None, denominator=None,
                   value=None, met=None)
        return out
    result = definition.compute(session, window, config)
    value = result.value(definition.digits)
    out.update(status="ok" if value is not None else "no_data", numerator=result.numerator,
               denominator=result.denominator, value=value, met=definition.met(value), details=result.details)
    return out


def compute_all(session: Session, window: Window, config: Config) -> dict[str, Any]:
    """The JSON shared by ``callcenter kpi all --json``, ``/ops/kpi/all`` and ``/api/v1/kpi``."""
    def stamp(dt: datetime | None) -> str | None:
        return None if dt is None else dt.isoformat() + "Z"

    return {"since": stamp(window.since), "until": stamp(window.until),
            "kpis": [evaluate(d, session, window, config) for d in definitions()]}
