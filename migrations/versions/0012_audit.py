"""audit log (hash chain, append-only by trigger), recording hashes, legal holds

Revision ID: 0012
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
# 0011a in the plan; main already has 0009 on 0003, so this chains after it (one head).
down_revision = "0008"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$
"""


# One round trip per stream: lock the stream, read its head, link and insert the entries. The client sends
# each entry's content digest (SHA-256 of its canonical JSON); the chain step is sha256(prev:seq:digest).
_PG_APPEND = """
CREATE OR REPLACE FUNCTION audit_append(p_stream text, p_at timestamp, p_rows jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    s integer;
    h text;
    prev text;
    r jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('callcenter-audit:' || p_stream, 0));
    SELECT seq, hash INTO s, h FROM audit_log WHERE stream = p_stream ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        s := 0;
        h := repeat('0', 64);
    END IF;
    FOR r IN SELECT value FROM jsonb_array_elements(p_rows) LOOP
        s := s + 1;
        prev := h;
        h := encode(sha256(convert_to(prev || ':' || s || ':' || (r->>'digest'), 'UTF8')), 'hex');
        INSERT INTO audit_log (stream, seq, at, actor, action, entity, entity_id, data, prev_hash, hash)
        VALUES (p_stream, s, p_at, r->>'actor', r->>'action', r->>'entity', r->>'entity_id', r->>'data', prev, h);
    END LOOP;
    RETURN s;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=512), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="audit_log__pk"),
        sa.UniqueConstraint("stream", "seq", name="audit_log__uq__stream_seq"),
    )
    op.create_index("audit_log__idx__at", "audit_log", ["at"])
    op.create_index("audit_log__idx__entity_entity_id", "audit_log", ["entity", "entity_id"])
    op.create_table(
        "recording_hashes",
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("hashed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("path", name="recording_hashes__pk"),
    )
    op.create_index("recording_hashes__idx__linkedid", "recording_hashes", ["linkedid"])
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="legal_holds__pk"),
    )
    op.create_index("legal_holds__idx__ref", "legal_holds", ["ref"])
    # The database itself refuses to change or remove audit entries.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_APPEND)
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse()")
        op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{what.lower()} BEFORE {what} ON audit_log "
                       f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only ({what} refused)'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_refuse()")
        op.execute("DROP FUNCTION IF EXISTS audit_append(text, timestamp, jsonb)")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_table("legal_holds")
    op.drop_table("recording_hashes")
    op.drop_table("audit_log")
