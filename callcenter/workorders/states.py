"""The work-order lifecycle as an explicit table of transitions.

Every change of an order's state goes through :func:`transition`, which looks the pair
(current state, action) up in :data:`TRANSITIONS`; a pair that is not there does not exist, and
asking for it raises :class:`IllegalTransition` naming the state, the action and what is allowed.

    created ──register──▶ registered ──close_immediately──▶ closed ──archive──▶ archived
      │                     ├──coordinate──▶ coordinating ──close_coordinated──▶ closed
      │                     │                    └──dispatch──┐
      │                     └──dispatch───────────────────────┴─▶ dispatched
      ├──merge──▶ merged      dispatched ──accept──▶ accepted ──handle──▶ handled
      └──discard──▶ discarded dispatched | accepted ──return (reason)──▶ returned ──redispatch──▶ dispatched
                              handled ──review──▶ follow_up ──follow_up (satisfaction)──▶ closed
                              handled ──return──▶ accepted;  follow_up ──reopen──▶ dispatched
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callcenter.errors import Refusal, Term, Terms


class State(StrEnum):
    CREATED = "created"
    REGISTERED = "registered"
    COORDINATING = "coordinating"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    HANDLED = "handled"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    ARCHIVED = "archived"
    MERGED = "merged"
    DISCARDED = "discarded"


class Action(StrEnum):
    REGISTER = "register"
    CLOSE_IMMEDIATELY = "close_immediately"
    COORDINATE = "coordinate"
    CLOSE_COORDINATED = "close_coordinated"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RETURN = "return"
    REDISPATCH = "redispatch"
    HANDLE = "handle"
    REVIEW = "review"
    FOLLOW_UP = "follow_up"
    REOPEN = "reopen"
    ARCHIVE = "archive"
    MERGE = "merge"
    DISCARD = "discard"
    RECALL = "recall"  # 撤回: the front desk takes a dispatched order back before the department accepts it
    REMIND = "remind"  # 催办: the front desk presses the department (the order stays where it is)


# Roles (see callcenter.auth.roles); repeated here as plain strings to keep this module standalone.
AGENT, LEADER, INSPECTOR, DEPARTMENT, ADMIN, API = (
    "agent", "team_leader", "quality_inspector", "department", "admin", "api_client",
)
FRONT_DESK = frozenset({AGENT, LEADER, ADMIN})
DEPT_SIDE = frozenset({DEPARTMENT, API, ADMIN})


@dataclass(frozen=True, slots=True)
class Transition:
    """One legal move: where it leads, who may make it, what it must carry."""

    to: State
    roles: frozenset[str]
    # Arguments that must be non-empty (e.g. a return needs a reason, a dispatch a department).
    requires: tuple[str, ...] = ()
    # Handling mode the action sets on the order (immediate / coordinated / dispatch).
    mode: str | None = None
    # The actor must belong to the order's department (department users and platforms).
    own_department: bool = False


S, A, T = State, Action, Transition
TRANSITIONS: dict[tuple[State, Action], Transition] = {
    (S.CREATED, A.REGISTER): T(S.REGISTERED, FRONT_DESK, ("category", "content")),
    (S.CREATED, A.MERGE): T(S.MERGED, FRONT_DESK, ("target",)),
    (S.CREATED, A.DISCARD): T(S.DISCARDED, FRONT_DESK, ("reason",)),
    (S.REGISTERED, A.MERGE): T(S.MERGED, FRONT_DESK, ("target",)),
    (S.REGISTERED, A.CLOSE_IMMEDIATELY): T(S.CLOSED, FRONT_DESK, ("result",), mode="immediate"),
    (S.REGISTERED, A.COORDINATE): T(S.COORDINATING, FRONT_DESK, (), mode="coordinated"),
    (S.REGISTERED, A.DISPATCH): T(S.DISPATCHED, FRONT_DESK, ("department",), mode="dispatch"),
    (S.COORDINATING, A.CLOSE_COORDINATED): T(S.CLOSED, FRONT_DESK, ("result",)),
    (S.COORDINATING, A.DISPATCH): T(S.DISPATCHED, FRONT_DESK, ("department",), mode="dispatch"),
    (S.DISPATCHED, A.ACCEPT): T(S.ACCEPTED, DEPT_SIDE, own_department=True),
    (S.DISPATCHED, A.RETURN): T(S.RETURNED, DEPT_SIDE, ("reason",), own_department=True),
    (S.DISPATCHED, A.RECALL): T(S.REGISTERED, FRONT_DESK, ("reason",)),
    (S.DISPATCHED, A.REMIND): T(S.DISPATCHED, FRONT_DESK, ("reason",)),
    (S.ACCEPTED, A.RETURN): T(S.RETURNED, DEPT_SIDE, ("reason",), own_department=True),
    (S.ACCEPTED, A.HANDLE): T(S.HANDLED, DEPT_SIDE, ("result",), own_department=True),
    (S.ACCEPTED, A.REMIND): T(S.ACCEPTED, FRONT_DESK, ("reason",)),
    (S.RETURNED, A.REDISPATCH): T(S.DISPATCHED, FRONT_DESK, ("department",), mode="dispatch"),
    (S.HANDLED, A.REVIEW): T(S.FOLLOW_UP, FRONT_DESK),
    (S.HANDLED, A.RETURN): T(S.ACCEPTED, FRONT_DESK, ("reason",)),
    (S.FOLLOW_UP, A.FOLLOW_UP): T(S.CLOSED, FRONT_DESK, ("satisfaction",)),
    (S.FOLLOW_UP, A.REOPEN): T(S.DISPATCHED, FRONT_DESK, ("reason",)),
    (S.CLOSED, A.ARCHIVE): T(S.ARCHIVED, frozenset({LEADER, ADMIN})),
}

TERMINAL = frozenset({S.ARCHIVED, S.MERGED, S.DISCARDED})
# States in which an order runs against a deadline (the clock stops when it closes).
OPEN_STATES = frozenset(set(State) - TERMINAL - {S.CLOSED})
# States in which the order is with a department.
AT_DEPARTMENT = frozenset({S.DISPATCHED, S.ACCEPTED})


class WorkOrderError(Refusal):
    """A request about a work order that cannot be carried out; ``code`` maps to an HTTP status."""

    code = 400


class IllegalTransition(WorkOrderError):
    """The action does not exist from the order's current state."""

    code = 409

    def __init__(self, state: State, action: str) -> None:
        allowed = allowed_actions(state)
        if allowed:
            super().__init__("illegal_transition", action=Term("action", action), state=Term("state", state.value),
                             allowed=Terms("action", (a.value for a in allowed)))
        else:
            super().__init__("illegal_transition_final", action=Term("action", action),
                             state=Term("state", state.value))
        self.state, self.action = state, action


class Forbidden(WorkOrderError):
    code = 403


class MissingField(WorkOrderError):
    code = 422


def allowed_actions(state: State, role: str | None = None) -> list[Action]:
    """The actions that exist from ``state`` (for ``role``, if given), in table order."""
    return [a for (s, a), t in TRANSITIONS.items() if s == state and (role is None or role in t.roles)]


def transition(state: State | str, action: Action | str, role: str, args: dict[str, object] | None = None,
               same_department: bool = True) -> Transition:
    """Check that ``role`` may do ``action`` now, with the required ``args``; return the transition.

    Raises :class:`IllegalTransition` (no such move), :class:`Forbidden` (not for this role or
    department) or :class:`MissingField` (a required argument is empty). Changes nothing.
    """
    state = State(state)
    try:
        action = Action(action)
    except ValueError:
        raise WorkOrderError("unknown_action", action=action, actions=Terms("action", Action)) from None
    t = TRANSITIONS.get((state, action))
    if t is None:
        raise IllegalTransition(state, action.value)
    if role not in t.roles:
        raise Forbidden("role_may_not_act", role=Term("role", role), action=Term("action", action.value),
                        roles=Terms("role", sorted(t.roles)))
    if t.own_department and role != ADMIN and not same_department:
        raise Forbidden("own_department_only", action=Term("action", action.value))
    args = args or {}
    missing = [name for name in t.requires if not str(args.get(name) or "").strip()]
    if missing:
        raise MissingField("missing_fields", action=Term("action", action.value), fields=Terms("field", missing))
    return t
