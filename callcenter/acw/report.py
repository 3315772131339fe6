"""After-call work counted apart from breaks: per agent, the time paused for each reason in a window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.acd.commands import WRAP_UP
from callcenter.store.models import AgentPause


def pause_time(session: Session, since: datetime, until: datetime, now: datetime) -> list[dict[str, Any]]:
    """Per agent: after-call work (count, seconds) and other pauses (seconds per reason) in [since, until).

    An agent's pause is recorded once per queue; the agent's time is the union over queues, so a
    pause in two queues at once counts once. Open pauses count up to ``now``.
    """
    rows = session.execute(select(AgentPause.agent, AgentPause.reason, AgentPause.started_at, AgentPause.ended_at)
                           .where(AgentPause.started_at < until,
                                  (AgentPause.ended_at.is_(None)) | (AgentPause.ended_at > since))).all()
    spans: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for agent, reason, start, end in rows:
        a, b = max(start, since), min(end or now, until)
        if b > a:
            spans.setdefault((agent, reason or ""), []).append((a, b))
    out: dict[str, dict[str, Any]] = {}
    for (agent, reason), items in sorted(spans.items()):
        items.sort()
        merged: list[list[datetime]] = []
        for a, b in items:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        seconds = round(sum((b - a).total_seconds() for a, b in merged), 1)
        entry = out.setdefault(agent, {"agent": agent, "acw_count": 0, "acw_s": 0.0, "breaks": {}, "break_s": 0.0})
        if reason == WRAP_UP:
            entry["acw_count"] += len(merged)
            entry["acw_s"] = seconds
        else:
            entry["breaks"][reason] = seconds
            entry["break_s"] = round(entry["break_s"] + seconds, 1)
    return list(out.values())
