"""Configuration of work orders, the knowledge base and the people-facing web (``Config.desk``).

Defaults work out of the box; a deployment overrides them in ``callcenter.yaml`` under ``desk:``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(_Model):
    """A node of the category tree; ``code`` is unique in the whole tree."""

    code: str
    name: str
    name_en: str = ""
    children: tuple[Category, ...] = ()


class Department(_Model):
    code: str
    name: str
    name_en: str = ""


class RequestType(_Model):
    """A kind of request (诉求类型): what the citizen wants, independent of the subject (category)."""

    code: str
    name: str
    name_en: str = ""


def _default_request_types() -> tuple[RequestType, ...]:
    r = RequestType
    return (r(code="consult", name="咨询", name_en="Enquiry"), r(code="help", name="求助", name_en="Request for help"),
            r(code="complaint", name="投诉", name_en="Complaint"), r(code="report", name="举报", name_en="Report"),
            r(code="suggestion", name="建议", name_en="Suggestion"), r(code="praise", name="表扬", name_en="Praise"))


# The department an order of a category usually goes to (a suggestion at dispatch, never a default).
DEFAULT_CATEGORY_DEPARTMENTS = {
    "housing.fund": "fund", "housing": "housing", "social": "hrss", "transport": "transport", "market": "market",
    "environment": "ecology", "public": "utilities",
}


class TimeLimit(_Model):
    """A deadline: whole working days (holidays and weekends skipped) and/or natural hours."""

    working_days: int = 0
    hours: float = 0.0

    @model_validator(mode="after")
    def _positive(self) -> TimeLimit:
        if self.working_days < 0 or self.hours < 0 or (self.working_days == 0 and self.hours == 0):
            raise ValueError("a time limit needs working_days > 0 or hours > 0")
        return self


HandlingMode = Literal["immediate", "coordinated", "dispatch"]


def _default_categories() -> tuple[Category, ...]:
    c = Category
    return (
        c(code="housing", name="住房城建", name_en="Housing and construction", children=(
            c(code="housing.fund", name="住房公积金", name_en="Housing provident fund"),
            c(code="housing.property", name="物业管理", name_en="Property management"),
            c(code="housing.construction", name="施工噪音", name_en="Construction noise"),
        )),
        c(code="social", name="社会保障", name_en="Social security", children=(
            c(code="social.insurance", name="社会保险", name_en="Social insurance"),
            c(code="social.medical", name="医疗保障", name_en="Medical insurance"),
            c(code="social.labour", name="劳动就业", name_en="Labour and employment"),
        )),
        c(code="transport", name="交通出行", name_en="Transport", children=(
            c(code="transport.bus", name="公交地铁", name_en="Buses and metro"),
            c(code="transport.taxi", name="出租车", name_en="Taxis"),
            c(code="transport.road", name="道路设施", name_en="Roads"),
        )),
        c(code="market", name="市场监管", name_en="Market regulation", children=(
            c(code="market.consumer", name="消费维权", name_en="Consumer rights"),
            c(code="market.food", name="食品安全", name_en="Food safety"),
        )),
        c(code="environment", name="生态环境", name_en="Environment", children=(
            c(code="environment.noise", name="噪声污染", name_en="Noise"),
            c(code="environment.water", name="水污染", name_en="Water pollution"),
        )),
        c(code="public", name="公共服务", name_en="Public services", children=(
            c(code="public.water", name="供水", name_en="Water supply"),
            c(code="public.power", name="供电", name_en="Power supply"),
            c(code="public.gas", name="燃气", name_en="Gas supply"),
        )),
        c(code="other", name="其他", name_en="Other"),
    )


def _default_departments() -> tuple[Department, ...]:
    d = Department
    return (
        d(code="fund", name="市住房公积金管理中心", name_en="Housing Provident Fund Centre"),
        d(code="hrss", name="市人力资源和社会保障局", name_en="Human Resources and Social Security Bureau"),
        d(code="housing", name="市住房和城乡建设局", name_en="Housing and Urban-Rural Development Bureau"),
        d(code="transport", name="市交通运输局", name_en="Transport Bureau"),
        d(code="market", name="市市场监督管理局", name_en="Market Regulation Bureau"),
        d(code="ecology", name="市生态环境局", name_en="Ecology and Environment Bureau"),
        d(code="utilities", name="市公用事业服务中心", name_en="Public Utilities Centre"),
        d(code="wuhua", name="五华区人民政府", name_en="Wuhua District Government"),
        d(code="panlong", name="盘龙区人民政府", name_en="Panlong District Government"),
        d(code="guandu", name="官渡区人民政府", name_en="Guandu District Government"),
        d(code="xishan", name="西山区人民政府", name_en="Xishan District Government"),
    )


DEFAULT_DISTRICTS = ("五华区", "盘龙区", "官渡区", "西山区", "呈贡区", "晋宁区", "东川区", "安宁市", "其他")


class WorkOrderSettings(_Model):
    # Order numbers: prefix + local date (YYYYMMDD) + zero-padded daily sequence, e.g. KM20261126000042.
    number_prefix: str = "KM"
    number_digits: int = 6
    categories: tuple[Category, ...] = Field(default_factory=_default_categories)
    departments: tuple[Department, ...] = Field(default_factory=_default_departments)
    districts: tuple[str, ...] = DEFAULT_DISTRICTS
    request_types: tuple[RequestType, ...] = Field(default_factory=_default_request_types)
    # Category code (or a parent's) → department code suggested at dispatch.
    category_departments: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CATEGORY_DEPARTMENTS))
    # Time limits per handling mode; dispatched orders may be shortened by urgency.
    deadlines: dict[str, TimeLimit] = Field(default_factory=lambda: {
        "immediate": TimeLimit(hours=2),
        "coordinated": TimeLimit(working_days=1),
        "dispatch": TimeLimit(working_days=5),
    })
    urgency_deadlines: dict[str, TimeLimit] = Field(default_factory=lambda: {
        "urgent": TimeLimit(working_days=2),
        "very_urgent": TimeLimit(hours=24),
    })
    # "Near the limit" = less than this many hours left.
    warn_before_hours: float = 4.0
    # Working days for deadlines: the calendar of this name in ivr.flows_dir (ivr_flows/calendars.yaml),
    # the one the IVR's business hours use: its weekly schedule, public holidays and make-up days (调休).
    calendar: str = "government"
    # Possible duplicates: same caller, or same address and category, within this many days.
    duplicate_window_days: int = 30
    # Online submissions: attachments.
    max_attachments: int = 3
    max_attachment_bytes: int = 5 * 1024 * 1024
    attachment_types: tuple[str, ...] = ("image/jpeg", "image/png", "application/pdf", "text/plain")

    @field_validator("number_prefix")
    @classmethod
    def _prefix_ok(cls, v: str) -> str:
        if not v or not v.isascii() or not v.isalnum() or len(v) > 8:
            raise ValueError("number_prefix must be 1-8 ASCII letters/digits")
        return v

    @field_validator("deadlines")
    @classmethod
    def _modes_ok(cls, v: dict[str, TimeLimit]) -> dict[str, TimeLimit]:
        missing = {"immediate", "coordinated", "dispatch"} - set(v)
        if missing:
            raise ValueError(f"deadlines needs every handling mode; missing {sorted(missing)}")
        return v

    @model_validator(mode="after")
    def _codes_unique(self) -> WorkOrderSettings:
        seen: set[str] = set()
        doubles: list[str] = []

        def walk(nodes: tuple[Category, ...]) -> None:
            for node in nodes:
                if node.code in seen:
                    doubles.append(node.code)
                seen.add(node.code)
                walk(node.children)

        walk(self.categories)
        if doubles:
            raise ValueError(f"category codes must be unique in the whole tree; repeated: {sorted(set(doubles))}")
        codes = [d.code for d in self.departments]
        unknown = {k: v for k, v in self.category_departments.items() if v not in codes}
        # The built-in suggestions fit the built-in departments; a deployment's own list must fit its own.
        if unknown and "category_departments" in self.model_fields_set:
            raise ValueError(f"category_departments names unknown departments: {unknown}")
        if len(codes) != len(set(codes)):
            repeated = sorted({c for c in codes if codes.count(c) > 1})
            raise ValueError(f"department codes must be unique; repeated: {repeated}")
        return self

    def category_codes(self) -> dict[str, Category]:
        """Every category by code (the whole tree, flattened)."""
        out: dict[str, Category] = {}

        def walk(nodes: tuple[Category, ...]) -> None:
            for node in nodes:
                out[node.code] = node
                walk(node.children)

        walk(self.categories)
        return out

    def department_codes(self) -> dict[str, Department]:
        return {d.code: d for d in self.departments}

    def request_type_codes(self) -> dict[str, RequestType]:
        return {r.code: r for r in self.request_types}

    def suggested_department(self, category: str) -> str:
        """The department usually in charge of ``category`` (its own entry or its nearest parent's); '' if none."""
        code = category
        while code:
            if code in self.category_departments:
                dept = self.category_departments[code]
                return dept if dept in self.department_codes() else ""
            code = code.rpartition(".")[0]
        return ""


class BootstrapUser(_Model):
    """A user created at start if missing (never overwritten). The password comes from secrets."""

    username: str
    role: str
    display_name: str = ""
    agent_id: str | None = None
    department: str | None = None
    password: str = ""


class KbSettings(_Model):
    # Extra words for the Chinese segmenter (jieba user dictionary format: "word [freq] [tag]" per line).
    user_dict: str | None = None
    results: int = 20


class PublicUploadLimits(_Model):
    """Storage strangers may fill through the public form, checked before anything is written.

    ``unreviewed_bytes``: all attachments of public submissions no agent has taken yet; ``per_day_bytes``
    and ``per_day_files``: all public attachments of one local day; ``per_address_day_*``: the same for
    one client address. 0 turns a bound off.
    """

    unreviewed_bytes: int = Field(default=500 * 1024 * 1024, ge=0)
    per_day_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)
    per_day_files: int = Field(default=2000, ge=0)
    per_address_day_bytes: int = Field(default=50 * 1024 * 1024, ge=0)
    per_address_day_files: int = Field(default=30, ge=0)


class AfterCallWorkSettings(_Model):
    """After-call work (话后处理): after each queue call the desk pauses the agent with reason
    ``wrap-up`` for ``seconds`` (0: off), extendable once by ``extend_seconds``, ended by "ready"."""

    seconds: int = Field(30, ge=0, le=3600)
    extend_seconds: int = Field(60, ge=0, le=3600)


class DeskSettings(_Model):
    """The people-facing web: sessions, throttling, languages, users created at start."""

    language: Literal["zh", "en"] = "zh"
    session_hours: float = 12.0
    session_idle_minutes: float = 120.0
    # Sign-in lockout (callcenter/auth/lockout.py): after max_failed_logins failures a name is locked
    # *from that address* for lock_seconds (doubling, at most a day); after name_failures_per_hour
    # failures from anywhere, the name is locked except from addresses it signed in from within
    # familiar_address_days. `callcenter user unlock NAME` lifts the locks.
    max_failed_logins: int = Field(5, ge=1, le=1000)
    lock_seconds: int = Field(60, ge=1, le=86400)
    name_failures_per_hour: int = Field(30, ge=1, le=100000)
    familiar_address_days: int = Field(30, ge=0, le=3650)
    # Requests per minute one address may make to the login and public submission forms.
    per_ip_per_minute: int = 30
    # Largest request body accepted by the web server (attachments included).
    max_body_bytes: int = 20 * 1024 * 1024
    # The session cookie's Secure flag; unset: on when the request came over HTTPS (directly, or
    # X-Forwarded-Proto from a web.trusted_proxies address).
    cookie_secure: bool | None = None
    # Pause reasons an agent may pick on the desk (each a catalogue entry ``pause.<reason>`` when shown);
    # nothing else is sent to Asterisk. Short codes: letters, digits, "-" and "_".
    pause_reasons: tuple[str, ...] = ("break", "meal", "training", "meeting", "toilet")
    # Public submissions (no sign-in): bounds on the attachments they may store.
    public_uploads: PublicUploadLimits = PublicUploadLimits()
    users: tuple[BootstrapUser, ...] = ()
    workorders: WorkOrderSettings = WorkOrderSettings()
    kb: KbSettings = KbSettings()
    after_call_work: AfterCallWorkSettings = AfterCallWorkSettings()

    @field_validator("pause_reasons")
    @classmethod
    def _reasons_ok(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        bad = [r for r in v if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", r) or r == "wrap-up"]
        if bad:
            raise ValueError(f"pause_reasons must be 1-32 letters, digits, '-' or '_' (not wrap-up): {bad}")
        return v
