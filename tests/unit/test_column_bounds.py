"""Every string column holds every value the code can put there (issue 7, item 2a).

Two kinds of values reach a column: values the code chooses (enumerations: states, outcomes,
satisfaction, roles…), which must fit as they are, and values from outside (caller ids, names,
AMI fields), which :func:`callcenter.store.rows.fit_row` fits to the column, whatever they are.
"""

from __future__ import annotations

import pytest
from sqlalchemy import String, Text

import callcenter.store.all_models  # noqa: F401 - every table on the metadata
from callcenter import bounds
from callcenter.auth.roles import Role
from callcenter.calls import records as r
from callcenter.desk.views import DISPOSITIONS
from callcenter.kb.services import STATUSES
from callcenter.store.models import Base
from callcenter.store.rows import TABLES, fit_row
from callcenter.workorders import services as wo
from callcenter.workorders import states as st

OUTCOMES = (r.WAITING, r.ANSWERED, r.ABANDONED, r.TIMEOUT, r.EXIT_EMPTY, r.EXIT_WITH_KEY, r.TRANSFERRED,
            r.FULL, r.LEFT, *r.EXIT_OUTCOMES.values())
# (table, column) → every value the code can write there by itself.
ENUMERATED: dict[tuple[str, str], tuple[str, ...]] = {
    ("work_orders", "state"): tuple(s.value for s in st.State),
    ("work_orders", "source"): wo.SOURCES,
    ("work_orders", "urgency"): wo.URGENCIES,
    ("work_orders", "satisfaction"): wo.SATISFACTION,
    ("work_orders", "handling_mode"): tuple({t.mode for t in st.TRANSITIONS.values() if t.mode}),
    ("work_order_events", "action"): tuple(a.value for a in st.Action),
    ("work_order_events", "from_state"): tuple(s.value for s in st.State),
    ("work_order_events", "to_state"): tuple(s.value for s in st.State),
    ("work_order_events", "actor_role"): tuple(x.value for x in Role),
    ("users", "role"): tuple(x.value for x in Role),
    ("kb_articles", "status"): STATUSES,
    ("calls", "disposition"): (*DISPOSITIONS, *OUTCOMES, "in-progress", "queued", "voicemail",
                               "transferred-out", "ivr-only"),
    ("queue_entries", "outcome"): OUTCOMES,
    ("queue_entries", "complete_reason"): ("caller", "agent", "transfer"),
    ("voicemails", "status"): ("new", "taken", "converted", "discarded"),
}


def _column(table: str, column: str):  # type: ignore[no-untyped-def]
    return Base.metadata.tables[table].c[column]


@pytest.mark.parametrize(("where", "values"), sorted(ENUMERATED.items()))
def test_every_enumerated_value_fits_its_column(where: tuple[str, str], values: tuple[str, ...]) -> None:
    column = _column(*where)
    assert isinstance(column.type, String)
    width = column.type.length
    too_long = [v for v in values if width is not None and len(v) > width]
    assert values and not too_long, f"{where} is String({width}); these do not fit: {too_long}"


def test_enumerated_columns_exist() -> None:
    # The table above must follow renames, or it would check nothing.
    for table, column in ENUMERATED:
        _column(table, column)


def test_outside_values_have_room_in_their_columns() -> None:
    # The widths bounds.py clips to must fit where the values go (a 79-character caller id).
    for table in ("calls", "queue_entries", "voicemails", "work_orders"):
        assert _column(table, "caller_number").type.length >= bounds.NUMBER_MAX
        assert _column(table, "caller_name").type.length >= bounds.NAME_MAX
    assert _column("calls", "did").type.length >= bounds.NUMBER_MAX
    assert _column("calls", "transferred_to").type.length >= bounds.NUMBER_MAX
    assert _column("calls", "linkedid").type.length >= bounds.ID_MAX


WORST = ("9" * 79 + "\x00\r\n" + "\ud800" + "😀" * 300)


@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_fit_row_fits_any_string_to_every_column(table_name: str) -> None:
    table = TABLES[table_name][0]
    values = {c.name: WORST for c in table.columns if isinstance(c.type, String)}
    fitted = fit_row(table, values)
    for name, value in fitted.items():
        column = table.c[name]
        assert "\x00" not in value and "\ud800" not in value
        value.encode("utf-8")  # would raise on a lone surrogate
        if column.type.length is not None:
            assert len(value) <= column.type.length, name
        if not isinstance(column.type, Text):
            assert "\n" not in value and "\r" not in value


def test_fit_row_cleans_json_and_leaves_other_types() -> None:
    table = TABLES["calls"][0]
    fitted = fit_row(table, {"ivr_path": [{"node": "a\x00b"}], "tags": {"k\x00": "v\ud800"}, "wait_s": 5,
                             "hangup_cause": None})
    assert fitted == {"ivr_path": [{"node": "ab"}], "tags": {"k": "v"}, "wait_s": 5, "hangup_cause": None}


def test_bounds_helpers() -> None:
    assert bounds.number(" 1" * 100) == ("1 " * 40).strip()
    assert len(bounds.number("1" * 200)) == 80
    assert bounds.name("O'Brien\x00\x1b[31m") == "O'Brien[31m"
    assert bounds.ident("x" * 100) == "x" * 64
    assert bounds.clean("a\tb\nc", multiline=True) == "a\tb\nc"
    assert bounds.clean("a\tb\nc") == "abc"
    assert bounds.clean(None) == ""
    assert bounds.clean("张三😀") == "张三😀"


def test_editable_work_order_fields_are_checked_to_their_column_width() -> None:
    # Web/API input to work orders is refused (too_long) beyond EDITABLE: that must fit the column.
    for field, limit in wo.EDITABLE.items():
        column = Base.metadata.tables["work_orders"].c[field]
        if isinstance(column.type, String) and column.type.length is not None:
            assert limit <= column.type.length, (field, limit, column.type.length)


# String columns neither enumerated nor fitted by rows.py, with what bounds their values.
OTHERWISE_BOUNDED = {
    ("agents", "id"), ("agents", "name"),  # configuration (config.py), not outside input
    ("dead_letters", "table_name"), ("dead_letters", "row_key"),  # clipped by the writer
    ("kb_articles", "title"), ("kb_articles", "category"), ("kb_articles", "updated_by"),
    ("kb_article_versions", "title"), ("kb_article_versions", "category"), ("kb_article_versions", "status"),
    ("kb_article_versions", "changed_by"), ("kb_article_versions", "note"), ("kb_postings", "term"),
    ("users", "username"), ("users", "display_name"), ("users", "password_hash"), ("users", "agent_id"),
    ("users", "department"), ("api_tokens", "token_hash"), ("user_sessions", "id"),
    ("user_sessions", "csrf_token"), ("user_sessions", "address"), ("work_order_counters", "day"),
    ("work_order_attachments", "filename"), ("work_order_attachments", "content_type"),
    ("work_order_attachments", "sha256"), ("work_order_attachments", "stored_as"),
    ("work_order_calls", "linkedid"), ("work_order_events", "actor"),
    ("work_orders", "number"), ("work_orders", "hotline"), ("work_orders", "created_by"), ("work_orders", "agent"),
    ("work_orders", "merged_into"), ("work_orders", "voicemail_id"), ("work_orders", "department"),
    # clipped where written: desk/media.py, auth/lockout.py, intake (public uploads), audit/chain.py and holds.py,
    # callctl/services.py (targets are validated numbers ≤ 20 digits), workorders/drafts.py, sms/outbox.py
    # (numbers normalised by sms.segments.clean_number, gateway text cleaned and clipped)
    ("access_log", "actor"), ("access_log", "role"), ("access_log", "action"), ("access_log", "object_kind"),
    ("access_log", "object_id"), ("access_log", "address"), ("login_throttle", "username"),
    ("login_throttle", "address"), ("public_uploads", "day"), ("public_uploads", "address"),
    ("audit_log", "stream"), ("audit_log", "actor"), ("audit_log", "action"), ("audit_log", "entity"),
    ("audit_log", "entity_id"), ("audit_log", "prev_hash"), ("audit_log", "hash"), ("legal_holds", "kind"),
    ("legal_holds", "ref"), ("legal_holds", "reason"), ("legal_holds", "created_by"), ("legal_holds", "released_by"),
    ("recording_hashes", "path"), ("recording_hashes", "linkedid"), ("recording_hashes", "sha256"),
    ("call_actions", "actor"), ("call_actions", "agent"), ("call_actions", "action"), ("call_actions", "target"),
    ("call_actions", "linkedid"), ("call_actions", "result"), ("call_actions", "detail"),
    ("order_drafts", "token"), ("order_drafts", "owner"), ("order_drafts", "linkedid"),
    ("order_drafts", "caller_number"), ("order_drafts", "status"), ("order_drafts", "order_number"),
    ("work_orders", "assist_departments"),
    ("sms_events", "kind"), ("sms_inbound", "number"), ("sms_inbound", "to"), ("sms_inbound", "text"),
    ("sms_inbound", "action"), ("sms_messages", "idempotency_key"), ("sms_messages", "number"),
    ("sms_messages", "template"), ("sms_messages", "encoding"), ("sms_messages", "order_number"),
    ("sms_messages", "state"), ("sms_messages", "gateway_reply"), ("sms_messages", "gateway_id"),
    ("sms_messages", "last_error"), ("sms_messages", "created_by"), ("sms_optouts", "number"),
    ("sms_optouts", "source"), ("sms_optouts", "note"), ("sms_templates", "name"), ("sms_templates", "updated_by"),
}


def test_every_string_column_is_accounted_for() -> None:
    # A new column must be added to one of the lists above (and so be thought about).
    loose = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String) or (isinstance(column.type, Text) and column.type.length is None):
                continue
            where = (table.name, column.name)
            if (table.name in TABLES or where in ENUMERATED or where in OTHERWISE_BOUNDED
                    or (column.name in wo.EDITABLE and table.name == "work_orders")):
                continue
            loose.append(where)
    assert loose == []
