"""``callcenter audit|hold|retention|backup|restore`` and ``user sessions|revoke|security-events``."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

import click

from callcenter.cli.common import get_config, parse_time, print_json

# The CLI acts with the database owner's authority (as order.py does).
CLI_ROLE = "admin"


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


def open_db(ctx: click.Context):  # type: ignore[no-untyped-def]
    """The configured database, with this command's actor and the password policy in force."""
    from callcenter.audit import chain
    from callcenter.audit.policy import apply
    from callcenter.store.db import Database

    config = get_config(ctx)
    chain.set_default_actor(cli_actor())
    apply(config.audit.password)
    return Database(config.effective_database_url)


# ---- audit ------------------------------------------------------------------------------------------------
@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log (hash chains), recordings' hashes, anchors."""


@audit_group.command("verify")
@click.option("--since", metavar="T", help="Check only entries from T on (skips the table comparison).")
@click.option("--recordings", is_flag=True, help="Also hash every recording file and compare.")
@click.option("--anchor-file", type=click.Path(dir_okay=False), default=None,
              help="Anchors to check (default: audit.anchor_file).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def verify_cmd(ctx: click.Context, since: str | None, recordings: bool, anchor_file: str | None,
               as_json: bool) -> None:
    """Recompute every chain and name the first broken entry; exit status 1 when anything is wrong."""
    from callcenter.audit.plugin import anchor_path
    from callcenter.audit.verify import verify

    config = get_config(ctx)
    db = open_db(ctx)
    try:
        with db.engine.connect() as conn:
            report = verify(conn, parse_time(since, config.timezone),
                            Path(anchor_file) if anchor_file else anchor_path(config), recordings)
    finally:
        db.dispose()
    data = report.as_dict()
    if as_json:
        print_json(data)
    else:
        for stream, s in sorted(report.streams.items()):
            click.echo(f"{stream:<12} {s['entries']:>9} entries  head {s['head_seq']} {(s['head_hash'] or '')[:16]}")
        click.echo(f"anchors checked: {report.anchors_checked}")
        for b in report.broken:
            click.echo(f"BROKEN {b['stream']} seq {b['seq']} (id {b['id']}): {b['reason']}")
        for m in report.mismatches[:50]:
            click.echo(f"MISMATCH {m['entity']} {m['id']}: {m['reason']} {' '.join(m.get('columns', []))}")
        if report.recordings is not None:
            r = report.recordings
            click.echo(f"recordings: {r['checked']} checked, {len(r['missing'])} missing, {len(r['altered'])} "
                       f"altered, {len(r['unhashed'])} never hashed")
            for p in r["missing"]:
                click.echo(f"MISSING {p}")
            for p in r["altered"]:
                click.echo(f"ALTERED {p}")
        click.echo("audit: OK" if report.ok else "audit: FAILED")
    sys.exit(0 if report.ok else 1)


@audit_group.command("anchor")
@click.pass_context
def anchor_cmd(ctx: click.Context) -> None:
    """Write the chains' heads to the anchor file (0600) and the log now."""
    from callcenter.audit.anchors import write_anchor
    from callcenter.audit.plugin import anchor_path

    db = open_db(ctx)
    try:
        with db.session() as s:
            line = write_anchor(s, anchor_path(get_config(ctx)))
    finally:
        db.dispose()
    print_json(line)


@audit_group.command("hash-recordings")
@click.pass_context
def hash_recordings_cmd(ctx: click.Context) -> None:
    """Hash the ended recordings that have no hash yet (the daemon does this after each call)."""
    from callcenter.audit.recordings import hash_closed

    db = open_db(ctx)
    total = 0
    try:
        while True:
            with db.session() as s:
                n = hash_closed(s, settle_s=0)
            total += n
            if n == 0:
                break
    finally:
        db.dispose()
    click.echo(f"{total} recordings hashed")


@audit_group.command("log")
@click.option("--stream", default=None)
@click.option("--entity", default=None, help="Table name, e.g. work_orders.")
@click.option("--id", "entity_id", default=None)
@click.option("--since", metavar="T")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def log_cmd(ctx: click.Context, stream: str | None, entity: str | None, entity_id: str | None, since: str | None,
            limit: int, as_json: bool) -> None:
    """The latest audit entries (newest first)."""
    from sqlalchemy import select

    from callcenter.audit.models import AuditEntry

    config = get_config(ctx)
    db = open_db(ctx)
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 10000)))
    if stream:
        q = q.where(AuditEntry.stream == stream)
    if entity:
        q = q.where(AuditEntry.entity == entity)
    if entity_id:
        q = q.where(AuditEntry.entity_id == entity_id)
    if since:
        q = q.where(AuditEntry.at >= parse_time(since, config.timezone))
    try:
        with db.session() as s:
            rows = [{"stream": e.stream, "seq": e.seq, "at": e.at.isoformat(), "actor": e.actor,
                     "action": e.action, "entity": e.entity, "id": e.entity_id, "data": json.loads(e.data),
                     "hash": e.hash} for e in s.scalars(q)]
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['at']} {r['stream']}#{r['seq']} {r['actor']:<16} {r['action']:<8} {r['entity']} {r['id']}")


@audit_group.command("baseline")
@click.pass_context
def baseline_cmd(ctx: click.Context) -> None:
    """Chain the rows that predate the audit log (once, after upgrading a database that had data)."""
    from callcenter.audit.verify import baseline

    db = open_db(ctx)
    try:
        with db.session() as s:
            n = baseline(s)
    finally:
        db.dispose()
    click.echo(f"{n} existing rows recorded")


# ---- legal holds --------------------------------------------------------------------------------------------
@click.group("hold")
def hold_group() -> None:
    """Legal holds: orders or calls kept from the retention purge."""


@hold_group.command("add")
@click.argument("kind", type=click.Choice(["order", "call"]))
@click.argument("ref")
@click.option("--reason", required=True)
@click.pass_context
def hold_add(ctx: click.Context, kind: str, ref: str, reason: str) -> None:
    """Hold an order (by number) or a call (by linkedid)."""
    from callcenter.audit.holds import HoldError, add_hold

    db = open_db(ctx)
    try:
        with db.session() as s:
            hold = add_hold(s, kind, ref, reason, cli_actor(), CLI_ROLE)
            hid = hold.id
    except HoldError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(f"hold {hid} placed on {kind} {ref}")


@hold_group.command("remove")
@click.argument("hold_id", type=int)
@click.option("--reason", default="")
@click.pass_context
def hold_remove(ctx: click.Context, hold_id: int, reason: str) -> None:
    """Lift a hold (it stays in the list as released, and in the audit log)."""
    from callcenter.audit.holds import HoldError, release_hold

    db = open_db(ctx)
    try:
        with db.session() as s:
            release_hold(s, hold_id, cli_actor(), CLI_ROLE, reason)
    except HoldError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(f"hold {hold_id} released")


@hold_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Released holds too.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def hold_list(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    from callcenter.audit.holds import list_holds

    db = open_db(ctx)
    try:
        with db.session() as s:
            rows = [{"id": h.id, "kind": h.kind, "ref": h.ref, "reason": h.reason, "by": h.created_by,
                     "at": h.created_at.isoformat(),
                     "released_at": h.released_at.isoformat() if h.released_at else None}
                    for h in list_holds(s, active_only=not show_all)]
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        state = f"released {r['released_at']}" if r["released_at"] else "active"
        click.echo(f"{r['id']:>4} {r['kind']:<5} {r['ref']:<20} {state:<10} {r['by']}: {r['reason']}")


# ---- retention ----------------------------------------------------------------------------------------------
@click.group("retention")
def retention_group() -> None:
    """Retention per data kind (audit.retention) and the purge."""


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would go.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def purge_cmd(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Delete what has expired, except items under a legal hold (the daemon does this daily)."""
    from callcenter.audit import retention

    config = get_config(ctx)
    db = open_db(ctx)
    try:
        with db.session() as s:
            summary = retention.purge(s, config.audit.retention, config.data_path / "attachments", dry_run,
                                      actor=cli_actor())
    finally:
        db.dispose()
    if not dry_run:
        summary["files_removed"] = retention.remove_files(summary.pop("files"))
    if as_json:
        print_json(summary)
        return
    click.echo(("would delete" if dry_run else "deleted") + ": " +
               ", ".join(f"{k} {v}" for k, v in summary["deleted"].items()) or "nothing (no retention set)")
    click.echo("kept by legal holds: " + ", ".join(f"{k} {v}" for k, v in summary["kept_by_hold"].items()))


# ---- backups ------------------------------------------------------------------------------------------------
@click.command("backup")
@click.option("--dest", type=click.Path(file_okay=False), default=None, help="Default: audit.backup_dir.")
@click.option("--with-files", is_flag=True, help="Copy recordings and attachments into the backup too.")
@click.option("--keep", type=int, default=None, help="Then keep only this many backups (default: audit.backup_keep).")
@click.pass_context
def backup_cmd(ctx: click.Context, dest: str | None, with_files: bool, keep: int | None) -> None:
    """A consistent backup of the database with the recordings/attachments manifest."""
    from callcenter.audit import backup
    from callcenter.audit.plugin import backup_root

    config = get_config(ctx)
    root = Path(dest) if dest else backup_root(config)
    db = open_db(ctx)
    try:
        out = backup.backup(db, root, config.data_path / "attachments", with_files)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    backup.rotate(root, config.audit.backup_keep if keep is None else keep)
    click.echo(str(out))


@click.command("restore")
@click.argument("backup_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def restore_cmd(ctx: click.Context, backup_dir: str, as_json: bool) -> None:
    """Restore a backup into the configured (empty) database; then run 'callcenter audit verify'."""
    from callcenter.audit import backup

    config = get_config(ctx)
    try:
        out: dict[str, Any] = backup.restore(Path(backup_dir), config.effective_database_url)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        print_json(out)
        return
    click.echo(f"restored {out['restored']} ({out['dialect']}); {out['files_listed']} files listed, "
               f"{len(out['files_missing'])} missing on this host")


# ---- users: sessions and security events ------------------------------------------------------------------
@click.command("sessions")
@click.argument("username", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sessions_cmd(ctx: click.Context, username: str | None, as_json: bool) -> None:
    """Open browser sessions (all, or one user's)."""
    from callcenter.audit.policy import sessions

    db = open_db(ctx)
    try:
        with db.session() as s:
            rows = sessions(s, username)
    finally:
        db.dispose()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']} {r['username']:<16} {r['role']:<18} {r['address']:<16} since {r['created_at']} "
                   f"seen {r['last_seen_at']}")


@click.command("revoke")
@click.argument("session_id", required=False)
@click.option("--user", "username", default=None, help="End every session of this user.")
@click.pass_context
def revoke_cmd(ctx: click.Context, session_id: str | None, username: str | None) -> None:
    """End a session (by the id 'user sessions' shows) or all of a user's."""
    from callcenter.audit.policy import revoke

    db = open_db(ctx)
    try:
        with db.session() as s:
            n = revoke(s, cli_actor(), session_id, username)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(f"{n} sessions ended")


@click.command("security-events")
@click.option("--since", metavar="T")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.pass_context
def security_events_cmd(ctx: click.Context, since: str | None, fmt: str) -> None:
    """Export sign-ins, failures, locks, role and password changes (from the audit chain)."""
    import csv

    from callcenter.audit.policy import security_events

    config = get_config(ctx)
    db = open_db(ctx)
    try:
        with db.session() as s:
            rows = security_events(s, parse_time(since, config.timezone))
    finally:
        db.dispose()
    if fmt == "jsonl":
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    fields = ["at", "seq", "event", "user", "actor", "address", "role", "failures", "until"]
    w = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)


@click.command("expired")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def expired_cmd(ctx: click.Context, as_json: bool) -> None:
    """People whose password is older than audit.password.max_age_days."""
    from callcenter.audit.policy import expired
    from callcenter.auth import services as auth

    policy = get_config(ctx).audit.password
    db = open_db(ctx)
    try:
        with db.session() as s:
            names = [u.username for u in auth.list_users(s) if u.active and expired(u, policy)]
    finally:
        db.dispose()
    if as_json:
        print_json(names)
    else:
        click.echo("\n".join(names) or "none")


def add_user_commands(group: click.Group) -> None:
    """The session and security-event commands under ``callcenter user``."""
    for cmd in (sessions_cmd, revoke_cmd, security_events_cmd, expired_cmd):
        group.add_command(cmd)


def register(cli: click.Group) -> None:
    for cmd in (audit_group, hold_group, retention_group, backup_cmd, restore_cmd):
        cli.add_command(cmd)
