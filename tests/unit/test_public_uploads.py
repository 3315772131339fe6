"""Public attachments are bounded: unreviewed storage in all, per day, per address and day."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from callcenter.auth.services import Actor
from callcenter.desk.i18n import Translator
from callcenter.intake import quota
from callcenter.store import migrate
from callcenter.store.db import Database
from callcenter.workorders.services import Services
from callcenter.workorders.settings import DeskSettings, PublicUploadLimits, WorkOrderSettings

PUBLIC = Actor(0, "public", "public", "网络来件")
AGENT = Actor(1, "agent1001", "agent", "", agent_id="1001")
MB = 1024 * 1024


@pytest.fixture
def env(db_url: str) -> Iterator[tuple[Database, Services]]:
    migrate.upgrade(db_url)
    db = Database(db_url)
    yield db, Services(WorkOrderSettings())
    db.dispose()


def _submit(db: Database, svc: Services, limits: PublicUploadLimits, address: str, files: int, size: int,
            day: str = "2026-12-01") -> str:
    with db.session() as s:
        quota.check(s, limits, day, address, files, size)
        order = svc.create(s, PUBLIC, "online", {"content": "x", "contact": "1"})
        quota.record(s, day, address, order.id, files, size)
        return order.number


def _refused(db: Database, svc: Services, limits: PublicUploadLimits, address: str, files: int, size: int,
             day: str = "2026-12-01") -> quota.UploadsRefused:
    with pytest.raises(quota.UploadsRefused) as exc:
        _submit(db, svc, limits, address, files, size, day)
    return exc.value


def test_per_address_and_day_caps(env: Any) -> None:
    db, svc = env
    limits = PublicUploadLimits(unreviewed_bytes=0, per_day_bytes=25 * MB, per_day_files=100,
                                per_address_day_bytes=10 * MB, per_address_day_files=3)
    _submit(db, svc, limits, "10.0.0.1", 2, 4 * MB)
    _submit(db, svc, limits, "10.0.0.1", 1, 4 * MB)
    exc = _refused(db, svc, limits, "10.0.0.1", 1, 1)  # 4th file
    assert (exc.code, exc.msg_id) == (429, "public_uploads_address_full")
    assert exc.text("zh") == "您今天上传的附件已达上限（3个、10MB），请明天再试，或不带附件提交"
    assert "today's attachment limit (3 files, 10 MB)" in exc.text("en")
    # without attachments a submission always goes through; other addresses and the next day are free
    _submit(db, svc, limits, "10.0.0.1", 0, 0)
    _submit(db, svc, limits, "10.0.0.2", 2, 9 * MB)
    _submit(db, svc, limits, "10.0.0.1", 3, 9 * MB, day="2026-12-02")
    exc = _refused(db, svc, limits, "10.0.0.3", 1, 9 * MB)  # 8 + 9 + 9 > 25 MB on the 1st
    assert exc.msg_id == "public_uploads_day_full"
    assert "明天" in exc.text("zh")
    # nothing of a refused submission was written
    with db.session() as s:
        assert quota.usage(s, "2026-12-01", "10.0.0.3") == quota.Usage(26 * MB, 17 * MB, 5, 0, 0)


def test_unreviewed_storage_frees_when_an_agent_takes_the_submission(env: Any) -> None:
    db, svc = env
    limits = PublicUploadLimits(unreviewed_bytes=10 * MB, per_day_bytes=0, per_day_files=0,
                                per_address_day_bytes=0, per_address_day_files=0)
    first = _submit(db, svc, limits, "10.0.0.1", 1, 6 * MB)
    exc = _refused(db, svc, limits, "10.0.0.2", 1, 5 * MB)
    assert (exc.code, exc.msg_id) == (507, "public_uploads_full")
    assert "12345" in Translator("zh").refusal(exc)
    with db.session() as s:
        svc.take_submission(s, AGENT, svc.get(s, first))
    _submit(db, svc, limits, "10.0.0.2", 1, 5 * MB)


def test_shipped_limits_are_bounded() -> None:
    limits = DeskSettings().public_uploads
    assert 0 < limits.per_address_day_bytes <= limits.per_day_bytes
    assert 0 < limits.unreviewed_bytes and 0 < limits.per_address_day_files <= limits.per_day_files
    with pytest.raises(ValueError):
        PublicUploadLimits(per_day_bytes=-1)
