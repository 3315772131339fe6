"""Configuration of the audit trail, retention, backups and the password policy (``Config.audit``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retention(_Model):
    """Days each kind of data is kept after it ends (0: forever). Items under a legal hold are always kept."""

    recordings_days: int = 0
    voicemail_days: int = 0
    attachments_days: int = 0
    call_records_days: int = 0
    # closed (or merged) orders, counted from their closure
    orders_days: int = 0

    @field_validator("*")
    @classmethod
    def _not_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError("retention days must be 0 (forever) or more")
        return v


class PasswordPolicy(_Model):
    """等保 2.0 identity checks: length, character classes, expiry."""

    min_length: int = 8
    # of: lower case, upper case, digits, others
    min_classes: int = 3
    # a password older than this must be changed at the next sign-in (0: never expires)
    max_age_days: int = 90


def _hhmm(v: str) -> str:
    h, _, m = v.partition(":")
    if not (h.isdigit() and m.isdigit() and 0 <= int(h) < 24 and 0 <= int(m) < 60):
        raise ValueError(f"{v!r} is not a local time HH:MM")
    return f"{int(h):02d}:{int(m):02d}"


class AuditSettings(_Model):
    # the chain heads go here (and to the log) every anchor_interval_s; keep it off the database host
    anchor_file: str = ""
    anchor_interval_s: float = 3600.0
    # seconds between sweeps that hash recordings closed since the last one
    recording_hash_interval_s: float = 15.0
    retention: Retention = Retention()
    # local time of the daily purge and of the scheduled backup
    purge_at: str = "03:30"
    backup_enabled: bool = True
    backup_at: str = "02:30"
    backup_dir: str = ""
    backup_keep: int = 7
    # the recording disk alarm: raised when less than this share / this many bytes are free
    recordings_dir: str = ""
    disk_alarm_free_percent: float = 10.0
    disk_alarm_free_bytes: int = 5 * 1024**3
    disk_check_interval_s: float = 60.0
    password: PasswordPolicy = PasswordPolicy()

    _times = field_validator("purge_at", "backup_at")(classmethod(lambda cls, v: _hhmm(v)))
