"""indexes for the KPI windows and the screen-pop's caller history

Revision ID: 0009
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0003"
branch_labels = None
depends_on = None

_INDEXES = [
    ("queue_entries__idx__linkedid_entered_at", "queue_entries", ["linkedid", "entered_at"]),
    ("calls__idx__caller_number_started_at", "calls", ["caller_number", "started_at"]),
    ("work_orders__idx__caller_number_created_at", "work_orders", ["caller_number", "created_at"]),
    ("work_orders__idx__registered_at", "work_orders", ["registered_at"]),
]


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
