"""order drafts (the half-typed order of one call, saved exactly once); request type and assisting departments

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_type", sa.String(length=16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("assist_departments", sa.String(length=256), nullable=False, server_default=""))
    op.create_table(
        "order_drafts",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("caller_number", sa.String(length=80), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_number", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("order_drafts__pk")),
    )
    with op.batch_alter_table("order_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("order_drafts__idx__owner"), ["owner"], unique=False)
        batch_op.create_index(batch_op.f("order_drafts__idx__linkedid"), ["linkedid"], unique=False)
        batch_op.create_index(batch_op.f("order_drafts__idx__status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("order_drafts__idx__status"))
        batch_op.drop_index(batch_op.f("order_drafts__idx__linkedid"))
        batch_op.drop_index(batch_op.f("order_drafts__idx__owner"))
    op.drop_table("order_drafts")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_column("assist_departments")
        batch_op.drop_column("request_type")
