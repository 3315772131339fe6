"""The work-order state machine: every (state, action) pair is either in the table or refused."""

from __future__ import annotations

import itertools

import pytest

from callcenter.desk.i18n import Translator
from callcenter.workorders import states as st

ROLES = ("agent", "team_leader", "quality_inspector", "department", "admin", "api_client")
FULL_ARGS = {"category": "c", "content": "x", "target": "KM1", "reason": "r", "result": "done",
             "department": "fund", "satisfaction": "satisfied"}

EXPECTED = {
    ("created", "register"): "registered",
    ("created", "merge"): "merged",
    ("created", "discard"): "discarded",
    ("registered", "merge"): "merged",
    ("registered", "close_immediately"): "closed",
    ("registered", "coordinate"): "coordinating",
    ("registered", "dispatch"): "dispatched",
    ("coordinating", "close_coordinated"): "closed",
    ("coordinating", "dispatch"): "dispatched",
    ("dispatched", "accept"): "accepted",
    ("dispatched", "return"): "returned",
    ("dispatched", "recall"): "registered",
    ("dispatched", "remind"): "dispatched",
    ("accepted", "remind"): "accepted",
    ("accepted", "return"): "returned",
    ("accepted", "handle"): "handled",
    ("returned", "redispatch"): "dispatched",
    ("handled", "review"): "follow_up",
    ("handled", "return"): "accepted",
    ("follow_up", "follow_up"): "closed",
    ("follow_up", "reopen"): "dispatched",
    ("closed", "archive"): "archived",
}


def test_the_table_is_exactly_the_documented_lifecycle() -> None:
    assert {(s.value, a.value): t.to.value for (s, a), t in st.TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize(("state", "action"), list(itertools.product(list(st.State), list(st.Action))))
def test_every_pair_is_legal_or_refused(state: st.State, action: st.Action) -> None:
    key = (state.value, action.value)
    if key in EXPECTED:
        t = st.TRANSITIONS[(state, action)]
        role = sorted(t.roles)[0]
        assert st.transition(state, action, role, FULL_ARGS).to.value == EXPECTED[key]
    else:
        with pytest.raises(st.IllegalTransition) as err:
            st.transition(state, action, "admin", FULL_ARGS)
        # for logs and the CLI: English, with the program's names
        message = str(err.value)
        assert f'the order is {state.value}' in message and f'"{action.value}" is not possible' in message
        # for people: the catalogue's words, Chinese by default
        zh, en = Translator("zh"), Translator("en")
        text = err.value.text("zh")
        assert zh(f"state.{state.value}") in text and zh(f"action.{action.value}") in text
        allowed = st.allowed_actions(state)
        assert all(zh(f"action.{a.value}") in text for a in allowed)
        assert "possible" not in text and en(f"action.{action.value}") in err.value.text("en")


@pytest.mark.parametrize(("state", "action"), sorted(EXPECTED))
def test_roles_outside_the_transition_are_refused(state: str, action: str) -> None:
    t = st.TRANSITIONS[(st.State(state), st.Action(action))]
    for role in ROLES:
        if role in t.roles:
            st.transition(state, action, role, FULL_ARGS)
        else:
            with pytest.raises(st.Forbidden):
                st.transition(state, action, role, FULL_ARGS)


@pytest.mark.parametrize(("state", "action"), sorted(EXPECTED))
def test_required_arguments(state: str, action: str) -> None:
    t = st.TRANSITIONS[(st.State(state), st.Action(action))]
    role = sorted(t.roles)[0]
    for name in t.requires:
        args = {**FULL_ARGS, name: "  "}
        with pytest.raises(st.MissingField, match=name):
            st.transition(state, action, role, args)


def test_department_actions_need_the_orders_department() -> None:
    with pytest.raises(st.Forbidden, match="department"):
        st.transition("dispatched", "accept", "department", {}, same_department=False)
    assert st.transition("dispatched", "accept", "department", {}, same_department=True).to == st.State.ACCEPTED
    # an admin may act for any department
    assert st.transition("dispatched", "accept", "admin", {}, same_department=False).to == st.State.ACCEPTED


def test_return_needs_a_reason_and_unknown_actions_are_named() -> None:
    with pytest.raises(st.MissingField, match="reason"):
        st.transition("dispatched", "return", "department", {})
    with pytest.raises(st.WorkOrderError, match='unknown action "fly"') as err:
        st.transition("created", "fly", "agent", {})
    assert err.value.text("zh").startswith("未知的操作“fly”") and "回访不满意重办" in err.value.text("zh")


def test_final_states_allow_nothing() -> None:
    for state in st.TERMINAL:
        assert st.allowed_actions(state) == []
