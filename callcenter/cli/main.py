"""Entry point: ``callcenter [--config FILE] COMMAND ...``."""

from __future__ import annotations

import click

from callcenter import __version__
from callcenter.cli import agent, ami, calls, db, ivr, kb, kpi, order, queue, run, sandbox, sms, user


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="FILE", envvar="CALLCENTER_CONFIG",
              help="callcenter.yaml (default: ./callcenter.yaml, then .run/sandbox/callcenter.yaml).")
@click.version_option(__version__, prog_name="callcenter")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Call-centre engine for government service hotlines (12345), on Asterisk."""
    ctx.ensure_object(dict)["config_path"] = config_path


for module in (run, sandbox, db, agent, queue, kpi, ami, calls, ivr, user, order, kb, sms):
    module.register(cli)


def main() -> None:
    cli(prog_name="callcenter")


if __name__ == "__main__":
    main()
