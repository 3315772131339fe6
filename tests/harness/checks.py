"""Assertions shared by end-to-end tests: the KPI agrees across every source."""

from __future__ import annotations

import time
from typing import Any

from tests.harness.stack import Stack, wait_for


def kpi_everywhere(stack: Stack, since: float, until: float | None = None) -> dict[str, Any]:
    """The service-level JSON from the database (CLI and web), the AMI capture and queue_log, all equal."""
    until = until or time.time() + 1
    window = ["--since", f"{since:.6f}", "--until", f"{until:.6f}"]
    from_db = stack.cli_json("kpi", "service-level", *window)
    from_ami = stack.cli_json("kpi", "replay", "--ami", str(stack.capture), *window)
    from_log = stack.cli_json("kpi", "replay", "--queue-log", str(stack.sandbox.queue_log), *window)
    code, from_web = stack.http(f"/ops/kpi/service-level?since={since:.6f}&until={until:.6f}")
    assert code == 200 and from_web == from_db, f"web and CLI disagree:\n{from_web}\n{from_db}"
    assert from_db == from_ami, f"database and AMI replay disagree:\n{from_db}\n{from_ami}"
    assert from_db == from_log, f"database and queue_log replay disagree:\n{from_db}\n{from_log}"
    # the nine-KPI registry serves the same KPI 1, from the CLI and the web alike
    all_cli = stack.cli_json("kpi", "all", *window)
    code, all_web = stack.http(f"/ops/kpi/all?since={since:.6f}&until={until:.6f}")
    assert code == 200 and all_web == all_cli, f"kpi all: web and CLI disagree:\n{all_web}\n{all_cli}"
    kpi1 = all_cli["kpis"][0]
    assert (kpi1["key"], kpi1["numerator"], kpi1["denominator"], kpi1["value"]) == (
        "answer_rate_15s", from_db["answered_within_threshold"], from_db["offered"], from_db["rate"]), kpi1
    return from_db


def asterisk_agrees(stack: Stack, kpi: dict[str, Any]) -> None:
    """Our ServicelevelPerf/Perf2 per queue equal what Asterisk's QueueStatus reports (1 decimal)."""
    snap = stack.queue_status()
    params = {q.queue: q for q in snap.queues}
    for name, ours in kpi["queues"].items():
        theirs = params[name]
        assert round(ours["servicelevel_perf"], 1) == theirs.servicelevel_perf, (name, ours, theirs)
        assert round(ours["servicelevel_perf2"], 1) == theirs.servicelevel_perf2, (name, ours, theirs)


def wait_call_ended(stack: Stack, caller_number: str, timeout: float = 30.0) -> Any:
    """The call row of ``caller_number`` once it has ended (and its recording has a size)."""
    from sqlalchemy import select

    from callcenter.store.models import Call, Recording

    def ended() -> Any:
        def q(session: Any) -> Any:
            call = session.scalars(select(Call).where(Call.caller_number == caller_number)
                                   .order_by(Call.started_at.desc())).first()
            if call is None or call.ended_at is None:
                return None
            if call.recording_path:
                rec = session.get(Recording, call.recording_path)
                if rec is None or rec.size_bytes is None:
                    return None
            return call
        return stack.query(q)

    return wait_for(ended, timeout, 0.3, f"the call from {caller_number} to be recorded as ended")


def entries_of(stack: Stack, linkedid: str) -> list[Any]:
    from sqlalchemy import select

    from callcenter.store.models import QueueEntry

    return stack.query(lambda s: list(s.scalars(
        select(QueueEntry).where(QueueEntry.linkedid == linkedid).order_by(QueueEntry.entered_at))))
