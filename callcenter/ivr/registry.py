"""The flow sets in force: the current one, and recent ones that calls may still be running on."""

from __future__ import annotations

from collections import OrderedDict

from callcenter.ivr.flows import EMPTY, FlowSet, Problem


class FlowRegistry:
    """Holds the current :class:`FlowSet`; swapping is one assignment, so it is atomic."""

    def __init__(self, keep: int = 32) -> None:
        self.current: FlowSet = EMPTY
        self.keep = keep
        self.history: OrderedDict[str, FlowSet] = OrderedDict()
        self.last_problems: list[Problem] = []
        self.loads = 0
        self.refusals = 0

    def swap(self, flows: FlowSet) -> bool:
        """Make ``flows`` current; False when it is the version already in force."""
        self.last_problems = []
        changed = flows.version != self.current.version
        self.history[flows.version] = flows
        self.history.move_to_end(flows.version)
        while len(self.history) > self.keep:
            self.history.popitem(last=False)
        self.current = flows
        self.loads += 1
        return changed

    def refuse(self, problems: list[Problem]) -> None:
        """A reload failed: keep the current set and remember why."""
        self.last_problems = list(problems)
        self.refusals += 1

    def get(self, version: str) -> FlowSet | None:
        """A set by version (a caller resuming after a queue or transfer)."""
        return self.history.get(version)
