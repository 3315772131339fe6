"""ivr path, tags and voicemails

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:01:46.809521
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voicemails",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("mailbox", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_name", sa.String(length=128), nullable=False),
        sa.Column("hotline", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("voicemails__pk")),
    )
    with op.batch_alter_table("voicemails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("voicemails__idx__caller_number"), ["caller_number"], unique=False)
        batch_op.create_index(batch_op.f("voicemails__idx__created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("voicemails__idx__linkedid"), ["linkedid"], unique=False)
        batch_op.create_index(batch_op.f("voicemails__idx__status"), ["status"], unique=False)

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flow", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ivr_path", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("transferred_to", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("transferred_to")
        batch_op.drop_column("tags")
        batch_op.drop_column("ivr_path")
        batch_op.drop_column("flow")

    with op.batch_alter_table("voicemails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("voicemails__idx__status"))
        batch_op.drop_index(batch_op.f("voicemails__idx__linkedid"))
        batch_op.drop_index(batch_op.f("voicemails__idx__created_at"))
        batch_op.drop_index(batch_op.f("voicemails__idx__caller_number"))

    op.drop_table("voicemails")
