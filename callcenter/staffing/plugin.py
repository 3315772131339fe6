"""Intraday staffing check inside the daemon: logged-in agents against what the next hour needs.

Every ``staffing.check_interval_s`` the forecast for today is read (in a worker thread) and the agents
needed in the current and the next half hours are compared with the agents logged in to a queue now.
A shortfall is logged once when it starts (WARNING) and when it ends, and exported as metrics
(``callcenter_staffing_required_agents``, ``callcenter_staffing_logged_in_agents``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import Gauge

from callcenter.config import Config

log = logging.getLogger(__name__)


def logged_in(view: dict[str, Any]) -> int:
    """Agents logged in to at least one queue in a live view (``LiveState.view``)."""
    return sum(1 for a in view.get("agents", {}).values() if a.get("queues"))


def need_now(plan_data: dict[str, Any], now_local: datetime) -> int:
    """The most agents any half hour from now to one hour ahead needs, from a one-day plan."""
    horizon = now_local + timedelta(hours=1)
    slot_start = now_local.replace(minute=now_local.minute // 30 * 30, second=0, microsecond=0)
    best = 0
    for day in plan_data["days"]:
        for slot in day["slots"]:
            start = datetime.fromisoformat(slot["start"])
            if slot_start <= start < horizon:
                best = max(best, slot["agents"])
    return best


class StaffingPlugin:
    name = "staffing"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.daemon: Any = None
        self._task: asyncio.Task | None = None
        self.short = False
        self.required = 0
        self.logged_in = 0
        self.checked_at: float | None = None
        self._gauges: tuple[Gauge, Gauge] | None = None

    def start(self, daemon: Any) -> None:
        self.daemon = daemon
        registry = getattr(getattr(daemon, "metrics", None), "registry", None)
        if registry is not None:
            self._gauges = (
                Gauge("callcenter_staffing_required_agents", "Agents the next hour needs (forecast, Erlang A)",
                      registry=registry),
                Gauge("callcenter_staffing_logged_in_agents", "Agents logged in to a queue", registry=registry))
        if self.config.staffing.check_interval_s > 0 and getattr(daemon, "db", None) is not None:
            self._task = asyncio.ensure_future(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _plan_today(self) -> dict[str, Any]:
        from callcenter.calendars import CalendarFiles
        from callcenter.staffing.forecast import plan

        c = self.config
        s = c.staffing
        days = CalendarFiles(c.ivr.flows_dir, c.desk.workorders.calendar, c.timezone).current()
        today = datetime.now(ZoneInfo(c.timezone)).date()
        with self.daemon.db.session() as session:
            return plan(session, today, 1, timezone=c.timezone, is_working_day=days.is_working_day, target=s.target,
                        within_s=float(c.kpi.threshold_s), shrinkage=s.shrinkage, history_weeks=s.history_weeks,
                        measure_days=s.measure_days, default_aht_s=s.default_aht_s, after_call_s=s.after_call_s)

    async def check(self) -> None:
        """One comparison (also called by tests)."""
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(None, self._plan_today)
        now_local = datetime.now(ZoneInfo(self.config.timezone)).replace(tzinfo=None)
        self.required = need_now(data, now_local)
        self.logged_in = logged_in(self.daemon.live.view(time.time()))
        self.checked_at = time.time()
        if self._gauges is not None:
            self._gauges[0].set(self.required)
            self._gauges[1].set(self.logged_in)
        short = self.logged_in < self.required
        log.debug("staffing check: %d agents logged in, %d needed in the next hour", self.logged_in, self.required)
        if short and not self.short:
            log.warning("staffing: %d agents logged in, the next hour needs %d for %.0f%% within %d s",
                        self.logged_in, self.required, 100 * self.config.staffing.target,
                        self.config.kpi.threshold_s)
        elif self.short and not short:
            log.info("staffing: %d agents logged in, enough for the next hour (%d needed)", self.logged_in,
                     self.required)
        self.short = short

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed check must not end the checks (the next one may succeed)
                log.exception("staffing check failed; next in %s s", self.config.staffing.check_interval_s)
            await asyncio.sleep(self.config.staffing.check_interval_s)
