"""calls, queue entries, recordings, agents and their sessions

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 21:53:13.986307
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_pauses",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("agent_pauses__pk")),
    )
    with op.batch_alter_table("agent_pauses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("agent_pauses__idx__agent"), ["agent"], unique=False)
        batch_op.create_index(batch_op.f("agent_pauses__idx__started_at"), ["started_at"], unique=False)

    op.create_table(
        "agent_sessions",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("interface", sa.String(length=128), nullable=False),
        sa.Column("login_at", sa.DateTime(), nullable=False),
        sa.Column("logout_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("agent_sessions__pk")),
    )
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("agent_sessions__idx__agent"), ["agent"], unique=False)
        batch_op.create_index(batch_op.f("agent_sessions__idx__login_at"), ["login_at"], unique=False)

    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("agents__pk")),
    )
    op.create_table(
        "calls",
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_name", sa.String(length=128), nullable=False),
        sa.Column("did", sa.String(length=64), nullable=False),
        sa.Column("hotline", sa.String(length=64), nullable=True),
        sa.Column("disposition", sa.String(length=32), nullable=False),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("first_queued_at", sa.DateTime(), nullable=True),
        sa.Column("first_queue", sa.String(length=64), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_queue", sa.String(length=64), nullable=True),
        sa.Column("wait_s", sa.Integer(), nullable=True),
        sa.Column("answered_within_sl", sa.Boolean(), nullable=True),
        sa.Column("recording_path", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("linkedid", name=op.f("calls__pk")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("calls__idx__answered_by"), ["answered_by"], unique=False)
        batch_op.create_index(batch_op.f("calls__idx__caller_number"), ["caller_number"], unique=False)
        batch_op.create_index(batch_op.f("calls__idx__first_queued_at"), ["first_queued_at"], unique=False)
        batch_op.create_index(batch_op.f("calls__idx__hotline"), ["hotline"], unique=False)
        batch_op.create_index(batch_op.f("calls__idx__started_at"), ["started_at"], unique=False)

    op.create_table(
        "queue_entries",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_name", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("left_at", sa.DateTime(), nullable=True),
        sa.Column("hold_s", sa.Integer(), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("agent_uniqueid", sa.String(length=64), nullable=True),
        sa.Column("connected_at", sa.DateTime(), nullable=True),
        sa.Column("ring_s", sa.Integer(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("talk_s", sa.Integer(), nullable=True),
        sa.Column("complete_reason", sa.String(length=16), nullable=True),
        sa.Column("abandon_hold_s", sa.Integer(), nullable=True),
        sa.Column("exit_key", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("queue_entries__pk")),
    )
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("queue_entries__idx__agent"), ["agent"], unique=False)
        batch_op.create_index(batch_op.f("queue_entries__idx__entered_at"), ["entered_at"], unique=False)
        batch_op.create_index(batch_op.f("queue_entries__idx__linkedid"), ["linkedid"], unique=False)
        batch_op.create_index(batch_op.f("queue_entries__idx__queue"), ["queue"], unique=False)

    op.create_table(
        "recordings",
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("path", name=op.f("recordings__pk")),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("recordings__idx__linkedid"), ["linkedid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("recordings__idx__linkedid"))

    op.drop_table("recordings")
    with op.batch_alter_table("queue_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("queue_entries__idx__queue"))
        batch_op.drop_index(batch_op.f("queue_entries__idx__linkedid"))
        batch_op.drop_index(batch_op.f("queue_entries__idx__entered_at"))
        batch_op.drop_index(batch_op.f("queue_entries__idx__agent"))

    op.drop_table("queue_entries")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("calls__idx__started_at"))
        batch_op.drop_index(batch_op.f("calls__idx__hotline"))
        batch_op.drop_index(batch_op.f("calls__idx__first_queued_at"))
        batch_op.drop_index(batch_op.f("calls__idx__caller_number"))
        batch_op.drop_index(batch_op.f("calls__idx__answered_by"))

    op.drop_table("calls")
    op.drop_table("agents")
    with op.batch_alter_table("agent_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("agent_sessions__idx__login_at"))
        batch_op.drop_index(batch_op.f("agent_sessions__idx__agent"))

    op.drop_table("agent_sessions")
    with op.batch_alter_table("agent_pauses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("agent_pauses__idx__started_at"))
        batch_op.drop_index(batch_op.f("agent_pauses__idx__agent"))

    op.drop_table("agent_pauses")
