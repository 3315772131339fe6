"""The nine KPIs of the contract (DESIGN.md): the two the product records today, and what the others need.

KPI 1 and KPI 5 are computed from the call and order records; the others are registered as unavailable,
naming the records they need, until the packages that record those inputs register their definitions.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.config import Config
from callcenter.kpi.registry import Case, KpiDefinition, KpiValue, Window, register


# ---- KPI 1: the 15-second answer rate ------------------------------------------------------------------
def _servicelevels(config: Config) -> dict[str, int]:
    return {q.name: q.servicelevel for q in config.queues}


def answer_rate(session: Session, window: Window, config: Config) -> KpiValue:
    from callcenter.calls.queries import stay_facts
    from callcenter.kpi.service_level import compute

    report = compute(stay_facts(session, window.since, window.until), config.kpi.threshold_s,
                     config.kpi.short_abandon_grace_s, _servicelevels(config),
                     default_servicelevel=config.kpi.threshold_s, grouped=True)
    return KpiValue(report.answered_within_threshold, report.offered,
                    {"answered": report.answered, "abandoned": report.abandoned,
                     "excluded_short_abandons": report.excluded_short_abandons,
                     "threshold_s": report.threshold_s})


def answer_rate_cases(session: Session, window: Window, config: Config) -> Iterator[Case]:
    from callcenter.calls.queries import stay_facts
    from callcenter.kpi.service_level import caller_outcome

    facts = stay_facts(session, window.since, window.until)
    for linkedid, group in itertools.groupby(facts, key=lambda f: f.linkedid):
        stays = sorted(group, key=lambda f: f.entered_at)
        outcome = caller_outcome(stays, config.kpi.threshold_s, config.kpi.short_abandon_grace_s)
        if outcome != "excluded":
            yield Case("call", linkedid, outcome == "within", stays[0].entered_at, outcome)


register(KpiDefinition(
    id=1, key="answer_rate_15s", name_zh="15秒接通率", name_en="15-second answer rate",
    target=95.0, comparison=">=",
    numerator="callers answered by an agent within the threshold of their first queue entry",
    denominator="callers who entered a human queue (per linkedid; abandons, timeouts and exits included; "
                "short abandons within kpi.short_abandon_grace_s excluded)",
    window="callers whose first queue entry is in [since, until)",
    inputs=("queue_entries",), compute=answer_rate, cases=answer_rate_cases,
))


# ---- KPI 5: front-desk on-time closure ------------------------------------------------------------------
FRONT_DESK_MODES = ("immediate", "coordinated")


def front_desk_on_time(session: Session, window: Window, config: Config) -> KpiValue:
    from callcenter.workorders.services import Services

    data = Services.front_desk_on_time(session, window.since, window.until)
    return KpiValue(data["closed_on_time"], data["orders"], {"modes": data["modes"]})


def front_desk_cases(session: Session, window: Window, config: Config) -> Iterator[Case]:
    from callcenter.store.models import epoch
    from callcenter.workorders.models import WorkOrder

    stmt = (select(WorkOrder.number, WorkOrder.registered_at, WorkOrder.closed_on_time, WorkOrder.state,
                   WorkOrder.handling_mode)
            .where(WorkOrder.handling_mode.in_(FRONT_DESK_MODES)).order_by(WorkOrder.registered_at))
    if window.since is not None:
        stmt = stmt.where(WorkOrder.registered_at >= window.since)
    if window.until is not None:
        stmt = stmt.where(WorkOrder.registered_at < window.until)
    for number, registered_at, on_time, state, mode in session.execute(stmt.execution_options(yield_per=5000)):
        note = f"{mode}, {state}" + ("" if on_time is not None else ", not closed")
        yield Case("order", number, bool(on_time), epoch(registered_at), note)


register(KpiDefinition(
    id=5, key="front_desk_on_time", name_zh="前台限时办结率", name_en="Front-desk on-time closure",
    target=99.0, comparison=">=",
    numerator="immediate/coordinated orders closed (办结) by their deadline",
    denominator="immediate/coordinated orders registered in the window (open ones count as not on time)",
    window="orders registered in [since, until)",
    inputs=("work_orders",), compute=front_desk_on_time, cases=front_desk_cases,
))


# ---- KPIs whose inputs are not recorded yet ------------------------------------------------------------
def _unavailable(id_: int, key: str, zh: str, en: str, target: float, comparison: str, numerator: str,
                 denominator: str, window: str, inputs: tuple[str, ...], needs: str) -> None:
    register(KpiDefinition(id=id_, key=key, name_zh=zh, name_en=en, target=target, comparison=comparison,  # type: ignore[arg-type]
                           numerator=numerator, denominator=denominator, window=window, inputs=inputs,
                           unavailable=needs))


_unavailable(2, "satisfaction", "满意率", "Satisfaction", 98.0, ">=",
             "satisfied evaluations (survey, callback and SMS results), less verified complaints",
             "evaluations with a rating", "evaluations made in [since, until)", ("satisfaction_results",),
             "needs recorded satisfaction evaluations (post-call, callback and SMS surveys)")
_unavailable(3, "service_error_rate", "服务质量差错率", "Service-quality error rate", 5.0, "<=",
             "inspected calls with a service error (red-line errors counted one by one)",
             "inspected calls", "inspections scored in [since, until)", ("inspections",),
             "needs quality inspections (scorecards, sampled calls)")
_unavailable(4, "order_error_rate", "工单差错率", "Work-order error rate", 5.0, "<=",
             "orders with an error (returns, inspection defects, verified complaints)", "orders",
             "orders registered in [since, until)", ("work_orders", "inspections", "complaints"),
             "needs work-order inspections and verified complaints")
_unavailable(6, "attrition", "话务员流失率", "Agent attrition", 20.0, "<=",
             "agents who left in the year", "average headcount of the year", "calendar year",
             ("staff_roster",), "needs the staff roster (hire and leave dates)")
_unavailable(7, "inspection_ratio", "质检比例", "Inspection ratio", 20.0, ">=",
             "orders inspected", "orders registered", "orders registered in [since, until)",
             ("inspections", "work_orders"), "needs quality inspections")
_unavailable(8, "followup_completeness", "交办工单回访率", "Follow-up completeness", 100.0, ">=",
             "dispatched orders with a recorded follow-up result", "dispatched orders handled",
             "orders handled in [since, until)", ("followup_tasks",),
             "needs follow-up callback tasks and their results")
_unavailable(9, "star_distribution", "话务员星级分布", "Agent star distribution", 100.0, ">=",
             "star bands within the contract's distribution (5★ 10%, 4★ 30%, 3★ 45%, ≤2★ 15%)",
             "star bands", "rating period", ("star_ratings",),
             "needs the client's star ratings per period")
