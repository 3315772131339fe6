"""call control: call_actions (who did what to which call, when, with what result); calls.direction and
calls.order_number (click-to-call records)

Revision ID: 0010
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("call_actions__pk")),
    )
    op.create_index("call_actions__idx__linkedid", "call_actions", ["linkedid"])
    op.create_index("call_actions__idx__at", "call_actions", ["at"])
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("direction", sa.String(length=16), server_default="inbound", nullable=False))
        batch.add_column(sa.Column("order_number", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("order_number")
        batch.drop_column("direction")
    op.drop_index("call_actions__idx__at", table_name="call_actions")
    op.drop_index("call_actions__idx__linkedid", table_name="call_actions")
    op.drop_table("call_actions")
