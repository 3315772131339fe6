"""sms: outbox, delivery events, templates, do-not-SMS list, inbound messages

Revision ID: 0008
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("template", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("gateway_reply", sa.String(length=200), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("sms_messages__pk")),
        sa.UniqueConstraint("idempotency_key", name=op.f("sms_messages__uq__idempotency_key")),
    )
    for col in ("number", "order_number", "state", "next_attempt_at", "created_at", "sent_at"):
        op.create_index(op.f(f"sms_messages__idx__{col}"), "sms_messages", [col], unique=False)
    op.create_table(
        "sms_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("sms_events__pk")),
        sa.UniqueConstraint("message_id", "kind", name=op.f("sms_events__uq__message_id_kind")),
    )
    op.create_index(op.f("sms_events__idx__message_id"), "sms_events", ["message_id"], unique=False)
    op.create_table(
        "sms_templates",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("sms_templates__pk")),
    )
    op.create_table(
        "sms_optouts",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("sms_optouts__pk")),
    )
    op.create_table(
        "sms_inbound",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("to", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("sms_inbound__pk")),
    )
    op.create_index(op.f("sms_inbound__idx__number"), "sms_inbound", ["number"], unique=False)
    op.create_index(op.f("sms_inbound__idx__received_at"), "sms_inbound", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("sms_inbound")
    op.drop_table("sms_optouts")
    op.drop_table("sms_templates")
    op.drop_table("sms_events")
    op.drop_table("sms_messages")
