"""caller numbers 80 wide (Asterisk keeps 79), satisfaction 32, and the dead_letters table

Revision ID: 0004
Revises: 0009
Create Date: 2026-12-01 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0009"
branch_labels = None
depends_on = None

# (table, column, old width, new width, nullable)
WIDENED = [
    ("calls", "caller_number", 64, 80, False),
    ("calls", "did", 64, 80, False),
    ("calls", "transferred_to", 64, 80, True),
    ("queue_entries", "caller_number", 64, 80, False),
    ("voicemails", "caller_number", 64, 80, False),
    ("work_orders", "caller_number", 64, 80, False),
    ("work_orders", "satisfaction", 16, 32, True),
]


def upgrade() -> None:
    for table, column, old, new, nullable in WIDENED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=old), type_=sa.String(length=new),
                                  existing_nullable=nullable)
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("dead_letters__pk")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("dead_letters__idx__at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("dead_letters__idx__at"))
    op.drop_table("dead_letters")
    for table, column, old, new, nullable in reversed(WIDENED):
        # Narrowing back: clip what no longer fits (PostgreSQL refuses otherwise).
        op.execute(sa.text(f"UPDATE {table} SET {column} = SUBSTR({column}, 1, {old}) "
                           f"WHERE LENGTH({column}) > {old}"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=new), type_=sa.String(length=old),
                                  existing_nullable=nullable)
