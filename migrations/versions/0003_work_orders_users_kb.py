"""work orders (with history, calls, attachments, counters), users, sessions, API tokens, knowledge base

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:39:28.006180
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("doc_len", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("kb_articles__pk")),
    )
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("kb_articles__idx__category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("kb_articles__idx__status"), ["status"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("users__pk")),
        sa.UniqueConstraint("username", name=op.f("users__uq__username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("users__idx__agent_id"), ["agent_id"], unique=False)

    op.create_table(
        "work_order_counters",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("work_order_counters__pk")),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("hotline", sa.String(length=64), nullable=True),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_name", sa.String(length=128), nullable=False),
        sa.Column("contact", sa.String(length=128), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("handling_mode", sa.String(length=16), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("satisfaction", sa.String(length=16), nullable=True),
        sa.Column("deadline_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_on_time", sa.Boolean(), nullable=True),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("merged_into", sa.String(length=32), nullable=True),
        sa.Column("voicemail_id", sa.String(length=96), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("work_orders__pk")),
        sa.UniqueConstraint("number", name=op.f("work_orders__uq__number")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("work_orders__idx__agent"), ["agent"], unique=False)
        batch_op.create_index(batch_op.f("work_orders__idx__caller_number"), ["caller_number"], unique=False)
        batch_op.create_index(batch_op.f("work_orders__idx__category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("work_orders__idx__closed_at"), ["closed_at"], unique=False)
        batch_op.create_index(batch_op.f("work_orders__idx__created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("work_orders__idx__deadline_at"), ["deadline_at"], unique=False)
        batch_op.create_index(batch_op.f("work_orders__idx__department"), ["department"], unique=False)
        batch_op.create_index("work_orders__idx__district_address", ["district", "address"], unique=False)
        batch_op.create_index(batch_op.f("work_orders__idx__source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("work_orders__idx__state"), ["state"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("api_tokens__fk__user_id__users")),
        sa.PrimaryKeyConstraint("id", name=op.f("api_tokens__pk")),
        sa.UniqueConstraint("token_hash", name=op.f("api_tokens__uq__token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("api_tokens__idx__user_id"), ["user_id"], unique=False)

    op.create_table(
        "kb_article_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["kb_articles.id"], name=op.f("kb_article_versions__fk__article_id__kb_articles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("kb_article_versions__pk")),
        sa.UniqueConstraint("article_id", "version", name=op.f("kb_article_versions__uq__article_id_version")),
    )
    with op.batch_alter_table("kb_article_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("kb_article_versions__idx__article_id"), ["article_id"], unique=False)

    op.create_table(
        "kb_postings",
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("tf", sa.Integer(), nullable=False),
        sa.Column("doc_len", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["kb_articles.id"], name=op.f("kb_postings__fk__article_id__kb_articles")
        ),
        sa.PrimaryKeyConstraint("term", "article_id", name=op.f("kb_postings__pk")),
    )
    with op.batch_alter_table("kb_postings", schema=None) as batch_op:
        batch_op.create_index("kb_postings__idx__article_id", ["article_id"], unique=False)

    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("user_sessions__fk__user_id__users")),
        sa.PrimaryKeyConstraint("id", name=op.f("user_sessions__pk")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("user_sessions__idx__expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("user_sessions__idx__user_id"), ["user_id"], unique=False)

    op.create_table(
        "work_order_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_as", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["work_orders.id"], name=op.f("work_order_attachments__fk__order_id__work_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("work_order_attachments__pk")),
    )
    with op.batch_alter_table("work_order_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("work_order_attachments__idx__order_id"), ["order_id"], unique=False)

    op.create_table(
        "work_order_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["work_orders.id"], name=op.f("work_order_calls__fk__order_id__work_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("work_order_calls__pk")),
        sa.UniqueConstraint("order_id", "linkedid", name=op.f("work_order_calls__uq__order_id_linkedid")),
    )
    with op.batch_alter_table("work_order_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("work_order_calls__idx__linkedid"), ["linkedid"], unique=False)
        batch_op.create_index(batch_op.f("work_order_calls__idx__order_id"), ["order_id"], unique=False)

    op.create_table(
        "work_order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=24), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["work_orders.id"], name=op.f("work_order_events__fk__order_id__work_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("work_order_events__pk")),
    )
    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("work_order_events__idx__order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("work_order_events__idx__order_id"))

    op.drop_table("work_order_events")
    with op.batch_alter_table("work_order_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("work_order_calls__idx__order_id"))
        batch_op.drop_index(batch_op.f("work_order_calls__idx__linkedid"))

    op.drop_table("work_order_calls")
    with op.batch_alter_table("work_order_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("work_order_attachments__idx__order_id"))

    op.drop_table("work_order_attachments")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("user_sessions__idx__user_id"))
        batch_op.drop_index(batch_op.f("user_sessions__idx__expires_at"))

    op.drop_table("user_sessions")
    with op.batch_alter_table("kb_postings", schema=None) as batch_op:
        batch_op.drop_index("kb_postings__idx__article_id")

    op.drop_table("kb_postings")
    with op.batch_alter_table("kb_article_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("kb_article_versions__idx__article_id"))

    op.drop_table("kb_article_versions")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("api_tokens__idx__user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("work_orders__idx__state"))
        batch_op.drop_index(batch_op.f("work_orders__idx__source"))
        batch_op.drop_index("work_orders__idx__district_address")
        batch_op.drop_index(batch_op.f("work_orders__idx__department"))
        batch_op.drop_index(batch_op.f("work_orders__idx__deadline_at"))
        batch_op.drop_index(batch_op.f("work_orders__idx__created_at"))
        batch_op.drop_index(batch_op.f("work_orders__idx__closed_at"))
        batch_op.drop_index(batch_op.f("work_orders__idx__category"))
        batch_op.drop_index(batch_op.f("work_orders__idx__caller_number"))
        batch_op.drop_index(batch_op.f("work_orders__idx__agent"))

    op.drop_table("work_orders")
    op.drop_table("work_order_counters")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("users__idx__agent_id"))

    op.drop_table("users")
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("kb_articles__idx__status"))
        batch_op.drop_index(batch_op.f("kb_articles__idx__category"))

    op.drop_table("kb_articles")
