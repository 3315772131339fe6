"""Typed configuration, in layers: defaults in code, then a YAML file, then environment.

The file is ``callcenter.yaml`` (``--config`` or ``CALLCENTER_CONFIG``). Environment variables
override single settings: ``CALLCENTER_DATABASE_URL``, ``REDIS_URL``, ``CALLCENTER_AMI_SECRET``,
``CALLCENTER_DATA_DIR``, ``CALLCENTER_AGI_SECRET``. Secrets (AMI, agent SIP passwords, web keys) are never defaults:
they come from the file, the environment or the sandbox's generated secrets file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callcenter import yamlfiles
from callcenter.audit.settings import AuditSettings
from callcenter.sms.settings import SmsSettings
from callcenter.workorders.settings import DeskSettings


class ConfigError(Exception):
    """The configuration cannot be loaded; the message says which file and setting."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmiConfig(_Model):
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    secret: str = ""
    # Seconds between reconnect attempts grow from min to max (doubling).
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    action_timeout_s: float = 10.0
    # Write the raw AMI byte stream to this file (audit / offline KPI replay).
    capture_file: str | None = None


class AgiConfig(_Model):
    host: str = "127.0.0.1"
    port: int = 4573
    # Addresses/networks allowed to open FastAGI sessions (Asterisk's); others are refused. Bind
    # ``host`` to the address Asterisk reaches, never 0.0.0.0 on a shared network.
    allowed_peers: tuple[str, ...] = ("127.0.0.1", "::1")
    # Optional shared secret: the dialplan passes it as ``?secret=`` in the AGI URL (the sandbox
    # generates one). Env CALLCENTER_AGI_SECRET.
    secret: str = ""

    @field_validator("allowed_peers")
    @classmethod
    def _peers_ok(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for p in v:
            try:
                ipaddress.ip_network(p.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"agi.allowed_peers: {p!r} is not an address or network") from exc
        return v

    @field_validator("secret")
    @classmethod
    def _secret_ok(cls, v: str) -> str:
        # It travels in a URL inside a dialplan argument: URL-safe characters only.
        if not all(c.isascii() and (c.isalnum() or c in "-_.~") for c in v):
            raise ValueError("agi.secret may only hold letters, digits and '-_.~'")
        return v


class IvrConfig(_Model):
    """IVR flows (``ivr_flows/*.yaml``), their prompts, and how the FastAGI sessions behave."""

    flows_dir: str = "ivr_flows"
    # Sound files flows name (``zh/welcome`` → ``<prompts_dir>/zh/welcome.gsm``).
    prompts_dir: str = "prompts"
    # Where Asterisk reads the prompts (a copy inside its chroot); empty: prompts_dir itself.
    asterisk_sounds_dir: str = ""
    # Asterisk's voicemail spool (to find the messages callers leave); empty: Asterisk's default.
    voicemail_dir: str = "/var/spool/asterisk/voicemail"
    # Seconds between sweeps of voicemail_dir for messages without a row (left through the dialplan
    # fallback, e.g. while the daemon was down); one sweep always runs at start-up. 0: start-up only.
    voicemail_sweep_s: float = 30.0
    # What the dialplan fallback plays before it takes a voicemail.
    fallback_prompt: str = "zh/leave-message"
    # Seconds between checks of flows_dir for edits (0: reload only on request).
    watch_interval_s: float = 2.0
    # Deadline of one AGI command (prompts and digit waits get their own, longer, ones).
    read_timeout_s: float = 30.0
    # Lets the ops API move the IVR's clock (after-hours tests); never in production.
    allow_clock_override: bool = False


class WebConfig(_Model):
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = ""
    # Token that the CLI and trusted tools use for the ops API.
    ops_token: str = ""
    # Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For/-Proto are believed: the client
    # address for sign-in lockout and the access log, HTTPS for HSTS and the Secure cookie.
    trusted_proxies: tuple[str, ...] = ()
    # Serve HTTPS directly (PEM files); otherwise terminate TLS at a proxy (README, Security).
    tls_certificate: str | None = None
    tls_key: str | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for item in v:
            ipaddress.ip_network(item.strip(), strict=False)  # ValueError names the bad entry
        return v

    @property
    def tls(self) -> bool:
        return bool(self.tls_certificate and self.tls_key)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"


class KpiConfig(_Model):
    threshold_s: int = 15
    # Callers who hang up within this many seconds are not counted at all.
    short_abandon_grace_s: int = 0


class StaffingConfig(_Model):
    # share of callers to answer within kpi.threshold_s (the contract: 95%)
    target: float = Field(0.95, gt=0, lt=1)
    # seconds of after-call work per call added to the measured talk time (until after-call work is recorded)
    after_call_s: float = Field(0.0, ge=0)
    # share of paid time agents are not on the phones (breaks, training, meetings)
    shrinkage: float = Field(0.3, ge=0, lt=1)
    # weeks of history a forecast averages; days measured for handling time and patience
    history_weeks: int = Field(8, ge=1, le=104)
    measure_days: int = Field(28, ge=1, le=366)
    # handling time when there is no history yet
    default_aht_s: float = Field(240.0, gt=0)
    # intraday check of logged-in agents against the next hour's need (0: off)
    check_interval_s: float = Field(300.0, ge=0)


class QueueConfig(_Model):
    name: str
    description: str = ""
    strategy: Literal["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom"] = (
        "rrmemory"
    )
    servicelevel: int = 15
    ring_timeout: int = 20
    # Seconds before ringing again after nobody answered: short, a free agent must not wait.
    retry: int = 1
    wrapup_time: int = 0
    weight: int = 0
    joinempty: str = "yes"
    leavewhenempty: str = "no"
    maxlen: int = 0
    max_wait: int = 600
    exit_context: str | None = None
    # What a waiting caller hears. app_queue rings nobody while an announcement plays, so the
    # defaults never delay an agent who becomes free: music on hold (``musicclass``, which may
    # hold a recorded "please hold" message) and no position/hold-time announcements.
    # ``announce_frequency`` > 0 turns position announcements on (first one after that many
    # seconds of waiting, never at once); ``periodic_announce`` (a sound) plays every
    # ``periodic_announce_frequency`` s (>= 15). Each announcement delays ringing by its length.
    musicclass: str = "default"
    announce_frequency: int = Field(default=0, ge=0)
    announce_position: Literal["yes", "no", "more", "limit"] = "no"
    announce_position_limit: int = Field(default=5, ge=0)
    announce_holdtime: Literal["yes", "no", "once"] = "no"
    periodic_announce: str = ""
    periodic_announce_frequency: int = Field(default=0, ge=0)

    @field_validator("announce_frequency", "periodic_announce_frequency")
    @classmethod
    def _not_at_once(cls, v: int) -> int:
        if 0 < v < 15:
            raise ValueError("announcements every less than 15 s keep callers from being rung: use 0 or >= 15")
        return v

    @field_validator("musicclass", "periodic_announce")
    @classmethod
    def _sound_name_ok(cls, v: str) -> str:
        if not all(c.isalnum() or c in "-_/." for c in v) or ".." in v:
            raise ValueError(f"{v!r}: letters, digits and '-_/.' only")
        return v

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not v or not all(c.isalnum() or c in "-_" for c in v):
            raise ValueError(f"queue name {v!r} may only hold letters, digits, '-' and '_'")
        if v.lower() == "general":
            raise ValueError("'general' is queues.conf's settings section, not a usable queue name")
        return v


class HotlineConfig(_Model):
    """A number callers dial (12345 or a merged legacy number) and where it goes."""

    did: str
    name: str
    queue: str
    max_wait: int = 600
    mailbox: str = ""
    # Entry IVR flow (a file in ivr_flows/); None: straight to the queue.
    flow: str | None = None
    # When the IVR is unreachable the dialplan queues the caller in these hours and takes a
    # voicemail outside them (Asterisk GotoIfTime: times,weekdays,monthdays,months).
    open_hours: str = "00:00-23:59,mon-sun,*,*"
    # A calendar of ivr_flows/ (weekly hours, holidays, make-up working days): when set, the fallback
    # follows it instead of open_hours.
    calendar: str | None = None

    @field_validator("did", "name", "queue", "mailbox")
    @classmethod
    def _dialplan_safe(cls, v: str) -> str:
        # rendered into dialplan application arguments (Gosub(cc-hotline,s,1(did,name,queue,...)))
        if not all(c.isalnum() or c in "_.-+*#@" for c in v):
            raise ValueError(f"{v!r}: letters, digits and '_.-+*#@' only (it is a dialplan argument)")
        return v


class AgentConfig(_Model):
    id: str
    name: str = ""
    # SIP secret for the softphone; empty means "generated by the sandbox".
    password: str = ""
    # Static SIP contact (test harnesses); real softphones register instead.
    contact: str | None = None
    # Queues (skills) the agent logs in to by default; empty means every queue.
    queues: tuple[str, ...] = ()
    penalty: int = 0


class TrunkConfig(_Model):
    name: str
    host: str
    port: int = 5060
    context: str = "from-trunk"
    description: str = ""


class AsteriskConfig(_Model):
    """Where and how Asterisk runs, and what the rendered configuration contains."""

    flavour: Literal["16", "22"] = "22"
    chroot: str = "/opt/callcenter/asterisk22"
    sip_bind: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_start: int = 20000
    rtp_end: int = 30000
    qualify_frequency: int = 10
    qualify_timeout: float = 3.0
    language: str = "en"
    trunks: tuple[TrunkConfig, ...] = (
        TrunkConfig(name="carrier", host="127.0.0.2", description="carrier / SIP gateway"),
        TrunkConfig(name="emergency", host="127.0.0.3", description="110/119/120 command centres"),
    )
    # Asterisk's queue_log as this daemon can read it: queue stays the daemon missed on AMI (it was
    # down or restarting) are recovered from it. None turns the catch-up off.
    queue_log: str | None = None
    # Where MixMonitor writes (the dialplan's CC_RECDIR, as this daemon sees it): the catch-up links a
    # recovered call to its recording (<dir>/YYYY/MM/DD/<linkedid>.wav) when AMI never said so, and the
    # web serves recordings only from under it.
    recordings_dir: str = "/var/spool/asterisk/monitor"
    queue_log_interval_s: float = 30.0
    # A caller's queue_log lines are reconciled this long after their last stay ended (AMI has
    # recorded everything it saw by then).
    queue_log_lag_s: float = 60.0


class CallControlConfig(_Model):
    """Call control and click-to-call (callcenter.callctl, callcenter.dialer)."""

    # departments' and experts' numbers (YAML; relative to data_dir unless absolute)
    address_book: str = "address_book.yaml"
    # the caller id of outbound calls and of calls to departments (the hotline's number)
    hotline_number: str = "12345"
    # click-to-call pacing: outbound calls in progress at once (all agents), seconds between two originations
    max_outbound: int = Field(default=20, ge=1, le=500)
    outbound_interval_s: float = Field(default=0.0, ge=0.0, le=60.0)
    # transfers and three-way calls to numbers not in the address book
    allow_free_numbers: bool = True


class Config(_Model):
    # This daemon's node (one per Asterisk): Asterisk's systemname, so uniqueids and linkedids are
    # unique across nodes, and the namespace of its live state in Redis.
    node: str = "cc1"
    data_dir: str = "var"
    database_url: str = ""
    redis_url: str | None = None
    # Local time of the hotline: business hours, report days, CLI times without a zone.
    timezone: str = "Asia/Shanghai"
    log_level: str = "info"
    log_format: Literal["console", "json"] = "console"
    ami: AmiConfig = AmiConfig()
    agi: AgiConfig = AgiConfig()
    ivr: IvrConfig = IvrConfig()
    web: WebConfig = WebConfig()
    kpi: KpiConfig = KpiConfig()
    staffing: StaffingConfig = StaffingConfig()
    asterisk: AsteriskConfig = AsteriskConfig()
    queues: tuple[QueueConfig, ...] = (
        QueueConfig(name="main", description="12345 general enquiries"),
        QueueConfig(name="complaints", description="complaints and reports"),
    )
    # 12345 and the legacy hotline numbers merged into it (归并号码), each with its entry flow.
    hotlines: tuple[HotlineConfig, ...] = (
        HotlineConfig(did="12345", name="12345", queue="main", mailbox="12345", flow="12345"),
        HotlineConfig(did="12319", name="12319", queue="main", mailbox="12319", flow="12319",
                      open_hours="08:30-17:30,mon-fri,*,*", calendar="government"),
    )
    agents: tuple[AgentConfig, ...] = tuple(AgentConfig(id=str(n)) for n in range(1001, 1006))
    # SIP passwords by agent id, usually from the secrets file.
    agent_passwords: dict[str, str] = Field(default_factory=dict)
    # A YAML file of secrets merged under this config (the sandbox generates one).
    secrets_file: str | None = None
    # Agent desktop, work orders, knowledge base, online submissions (callcenter.desk).
    desk: DeskSettings = DeskSettings()
    callctl: CallControlConfig = CallControlConfig()
    # SMS service: gateway (Kannel), outbox, templates (callcenter.sms).
    sms: SmsSettings = SmsSettings()
    audit: AuditSettings = AuditSettings()

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_path / 'callcenter.sqlite').absolute()}"

    @property
    def journal_dir(self) -> Path:
        return self.data_path / "journal"

    def queue(self, name: str) -> QueueConfig:
        for q in self.queues:
            if q.name == name:
                return q
        raise KeyError(name)

    def agent(self, agent_id: str) -> AgentConfig:
        for a in self.agents:
            if a.id == agent_id:
                return a
        raise KeyError(agent_id)

    def agent_queues(self, agent_id: str) -> tuple[str, ...]:
        return self.agent(agent_id).queues or tuple(q.name for q in self.queues)

    def agent_password(self, agent_id: str) -> str:
        for a in self.agents:
            if a.id == agent_id and a.password:
                return a.password
        return self.agent_passwords.get(agent_id, "")

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with top-level settings replaced (and validated)."""
        data = self.model_dump()
        data.update(changes)
        return Config.model_validate(data)


_ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "CALLCENTER_DATABASE_URL": ("database_url",),
    "REDIS_URL": ("redis_url",),
    "CALLCENTER_DATA_DIR": ("data_dir",),
    "CALLCENTER_AMI_SECRET": ("ami", "secret"),
    "CALLCENTER_AMI_PORT": ("ami", "port"),
    "CALLCENTER_AGI_SECRET": ("agi", "secret"),
    "CALLCENTER_WEB_SECRET_KEY": ("web", "secret_key"),
    "CALLCENTER_OPS_TOKEN": ("web", "ops_token"),
}


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    """Load defaults, then the YAML file (if any), then environment overrides."""
    env = dict(os.environ if env is None else env)
    path = path or env.get("CALLCENTER_CONFIG")
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        try:
            loaded = yamlfiles.load_file(p) or {}
        except FileNotFoundError as exc:
            raise ConfigError(f"{p}: no such configuration file") from exc
        except yamlfiles.YamlFileError as exc:
            raise ConfigError(str(exc)) from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: top level must be a mapping")
        data = loaded
        if "data_dir" in data and not Path(str(data["data_dir"])).is_absolute():
            data["data_dir"] = str((p.parent / str(data["data_dir"])).resolve())
    for var, keys in _ENV_OVERRIDES.items():
        if env.get(var):
            cursor = data
            for k in keys[:-1]:
                cursor = cursor.setdefault(k, {})
            cursor[keys[-1]] = env[var]
    if data.get("secrets_file"):
        secrets_path = Path(str(data["secrets_file"]))
        if not secrets_path.is_absolute() and path:
            secrets_path = Path(path).parent / secrets_path
        if secrets_path.exists():
            try:
                data = _deep_merge(yamlfiles.load_file(secrets_path) or {}, data)
            except yamlfiles.YamlFileError as exc:
                raise ConfigError(str(exc)) from exc
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{where}{problems}") from exc


SECRET_FIELDS: dict[str, Any] = {
    "ami": {"secret"}, "agi": {"secret"}, "web": {"secret_key", "ops_token"}, "agent_passwords": True,
    "desk": {"users": {"__all__": {"password"}}},
    "sms": {"callback_token": True, "kannel": {"password", "admin_password"}},
}


def dump_config(config: Config, without_secrets: bool = False) -> str:
    """YAML text of a configuration; ``without_secrets`` leaves out every secret field."""
    data = config.model_dump(mode="json", exclude=SECRET_FIELDS if without_secrets else None)
    if without_secrets:
        data["agents"] = [{k: v for k, v in a.items() if k != "password"} for a in data["agents"]]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)

