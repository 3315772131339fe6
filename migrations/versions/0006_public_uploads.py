"""public_uploads: attachments of public submissions, counted for the upload quotas

Revision ID: 0006
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "public_uploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["work_orders.id"], name=op.f("public_uploads__fk__order_id__work_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("public_uploads__pk")),
    )
    with op.batch_alter_table("public_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("public_uploads__idx__address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("public_uploads__idx__day"), ["day"], unique=False)
        batch_op.create_index(batch_op.f("public_uploads__idx__order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("public_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("public_uploads__idx__order_id"))
        batch_op.drop_index(batch_op.f("public_uploads__idx__day"))
        batch_op.drop_index(batch_op.f("public_uploads__idx__address"))
    op.drop_table("public_uploads")
