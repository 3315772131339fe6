"""Entry point: ``callcenter [--config FILE] COMMAND ...``.

Sub-commands are imported only when used: importing all of them (SQLAlchemy, Twisted, the web) cost
more than the work of a quick command such as ``kpi service-level`` on a day.
"""

from __future__ import annotations

import importlib

import click

from callcenter import __version__
from callcenter.cli.dberrors import DatabaseErrorsAsMessages

# command name → (module whose ``register(cli)`` adds it, one-line help shown by ``--help`` without importing it)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("callcenter.cli.run", "Run the call-centre daemon (AMI, FastAGI, web)."),
    "sandbox": ("callcenter.cli.sandbox", "A private Asterisk for trying and testing."),
    "db": ("callcenter.cli.db", "Database schema (Alembic migrations)."),
    "agent": ("callcenter.cli.agent", "Agents: login, logout, pause (with a reason), unpause, list."),
    "queue": ("callcenter.cli.queue", "ACD queues."),
    "kpi": ("callcenter.cli.kpi", "Key performance indicators."),
    "ami": ("callcenter.cli.ami", "Asterisk Manager Interface tools."),
    "calls": ("callcenter.cli.calls", "Call records."),
    "ivr": ("callcenter.cli.ivr", "IVR flows (ivr_flows/*.yaml)."),
    "user": ("callcenter.cli.user", "Users: agents, team leaders, inspectors, departments..."),
    "order": ("callcenter.cli.order", "Work orders (工单)."),
    "kb": ("callcenter.cli.kb", "Knowledge base (知识库)."),
    "call": ("callcenter.cli.call", "Call controls: hang up, hold, transfer, three-way, click-to-call, listen-in."),
    "sms": ("callcenter.cli.sms", "SMS (短信): send, list, status, templates, opt-outs."),
    "staffing": ("callcenter.cli.staffing", "Staffing to the 15-second target: forecast, agents needed."),
    "audit": ("callcenter.cli.audit", "Tamper-evident audit log: verify, anchor, log, recordings' hashes."),
    "hold": ("callcenter.cli.audit", "Legal holds on orders and calls (kept from the purge)."),
    "retention": ("callcenter.cli.audit", "Retention per data kind: the purge (--dry-run)."),
    "backup": ("callcenter.cli.audit", "Back up the database with a manifest of recordings/attachments."),
    "restore": ("callcenter.cli.audit", "Restore a backup into an empty database."),
}


class LazyGroup(DatabaseErrorsAsMessages):
    """A group that imports a sub-command's module only when that sub-command is run or described."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        holder = click.Group()
        importlib.import_module(COMMANDS[cmd_name][0]).register(holder)
        for name, command in holder.commands.items():
            self.add_command(command, name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1] if name in COMMANDS else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="FILE", envvar="CALLCENTER_CONFIG",
              help="callcenter.yaml (default: ./callcenter.yaml, then .run/sandbox/callcenter.yaml).")
@click.version_option(__version__, prog_name="callcenter")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Call-centre engine for government service hotlines (12345), on Asterisk."""
    from callcenter.files import secure_umask

    secure_umask()  # before anything is written: secrets and personal data are the owner's only
    ctx.ensure_object(dict)["config_path"] = config_path


def main() -> None:
    cli(prog_name="callcenter")


if __name__ == "__main__":
    main()
