"""``callcenter run``: the daemon (optionally with a private Asterisk, as ``make run`` does)."""

from __future__ import annotations

import sys

import click

from callcenter.cli.common import get_config
from callcenter.config import load_config
from callcenter.logs import route_twisted_logs, setup_logging


@click.command("run")
@click.option("--sandbox", is_flag=True, help="Start a private Asterisk from asterisk_conf/ first (development).")
@click.option("--run-dir", default=".run/sandbox", show_default=True, help="The sandbox's run directory.")
@click.option("--flavour", type=click.Choice(["16", "22"]), help="Asterisk to use for the sandbox.")
@click.option("--capture", metavar="FILE", help="Append the raw AMI stream to FILE (audit, KPI replay).")
@click.option("--migrate/--no-migrate", default=None,
              help="Upgrade the database schema on start (default: only with --sandbox).")
@click.pass_context
def run(ctx: click.Context, sandbox: bool, run_dir: str, flavour: str | None, capture: str | None,
        migrate: bool | None) -> None:
    """Run the call-centre daemon (AMI, FastAGI, web) until interrupted."""
    config = get_config(ctx)
    setup_logging(config.log_level, config.log_format)
    route_twisted_logs()
    if flavour:
        config = config.with_overrides(asterisk={**config.asterisk.model_dump(), "flavour": flavour})
    box = None
    if sandbox:
        from callcenter.asterisk.sandbox import Sandbox, SandboxError

        try:
            box = Sandbox(config, run_dir)
            box.start()
        except SandboxError as exc:
            raise click.ClickException(str(exc)) from exc
        config = load_config(box.config_file)
        _print_sandbox_banner(box, config)
    warning = plain_http_warning(config)
    if warning:
        click.echo(warning, err=True)
    if capture:
        config = config.with_overrides(ami={**config.ami.model_dump(), "capture_file": capture})
    from callcenter.runner import run_daemon

    try:
        code = run_daemon(config, migrate_on_start=sandbox if migrate is None else migrate)
    finally:
        if box is not None:
            box.stop()
    sys.exit(code)


def _print_sandbox_banner(box: object, config: object) -> None:
    from callcenter.asterisk.sandbox import Sandbox
    from callcenter.config import Config

    assert isinstance(box, Sandbox) and isinstance(config, Config)
    lines = [
        f"{box.install.version()} is running from {box.run_dir}",
        f"  SIP (UDP) {config.asterisk.sip_bind}:{config.asterisk.sip_port}; AMI {config.ami.host}:{config.ami.port}",
        f"  web {config.web.base_url}/ (sign in: create users with "
        "`callcenter user add NAME --role agent --agent 1001`); ops token in "
        f"{box.secrets_file}",
        *[f"    {page:<28} http://{config.web.host}:{config.web.port}{path}" for page, path in (
            ("agent desk (坐席工作台)", "/app/desk"), ("orders (工单)", "/app/orders"),
            ("order search (工单查询)", "/app/orders/search"), ("inbox (待办)", "/app/inbox"),
            ("team leader (班长)", "/app/supervisor"), ("knowledge base (知识库)", "/app/kb"),
            ("users (用户管理)", "/app/admin/users"), ("citizens' form (网上诉求)", "/submit/"),
            ("platform API", "/api/v1/"), ("health", "/ops/health"))],
        f"  Access log: {config.data_path / 'access.log'}",
        "  Agent softphones: register as user <agent> with the password below, e.g. sip:1001@"
        f"{config.asterisk.sip_bind}:{config.asterisk.sip_port}",
    ]
    for a in config.agents:
        lines.append(f"    agent {a.id}  password {config.agent_password(a.id)}")
    lines.append("  Log an agent in with: callcenter agent login 1001")
    lines.append(f"  Callers come in over the carrier trunk from {config.asterisk.trunks[0].host} "
                 f"dialling {', '.join(h.did for h in config.hotlines)}")
    click.echo("\n".join(lines), err=True)


def plain_http_warning(config: object) -> str | None:
    """The banner's warning when the web answers plain HTTP (None with web.tls_certificate/tls_key)."""
    from callcenter.config import Config

    assert isinstance(config, Config)
    if config.web.tls:
        return None
    return (f"  WARNING: the web serves plain HTTP on {config.web.host}:{config.web.port}: passwords and session "
            "cookies travel unencrypted. Beyond this machine, serve it over TLS (web.tls_certificate/web.tls_key, "
            "or a TLS proxy listed in web.trusted_proxies); see README, Security.")


def register(cli: click.Group) -> None:
    cli.add_command(run)
