"""The Redis mirror against the real Redis (127.0.0.1:6379, database 15): board, keys, published changes."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis
import redis.asyncio as aioredis

from callcenter import events as ev
from callcenter.acd.live import LiveState
from callcenter.live.redis_mirror import CHANNEL, RedisMirror

URL = "redis://127.0.0.1:6379/15"
T = 1_800_000_000.0


@pytest.fixture
def clean_redis() -> None:
    try:
        redis.Redis.from_url(URL).flushdb()
    except redis.ConnectionError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"Redis at {URL} must run for the suite: {exc}")


def test_changes_reach_redis_keys_and_the_channel(clean_redis: None) -> None:
    async def main() -> tuple[dict, list[dict], dict]:
        live = LiveState()
        mirror = RedisMirror(URL, live, clock=lambda: T + 5, interval=0.01)
        live.subscribe(mirror.on_change)
        sub = aioredis.from_url(URL, decode_responses=True).pubsub()
        await sub.subscribe(CHANNEL)
        mirror.start()
        live.apply(ev.QueueStatusSnapshot(T, (), (), ()))
        live.apply(ev.MemberAdded(T, "main", "1001", "PJSIP/1001", False, "", 1))
        live.apply(ev.CallerJoinedQueue(T + 1, "main", "a.1", "a.1", "PJSIP/t-1", 1, 1, "13800000001", "张三"))
        received: list[dict] = []
        for _ in range(100):
            msg = await sub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if msg:
                received.append(json.loads(msg["data"]))
            if len(received) >= 3:
                break
        await asyncio.sleep(0.1)
        client = aioredis.from_url(URL, decode_responses=True)
        board = json.loads(await client.get("callcenter:cc1:board"))
        agent = json.loads(await client.get("callcenter:cc1:agent:1001"))
        queue = json.loads(await client.get("callcenter:cc1:queue:main"))
        assert queue[0]["caller_name"] == "张三" and queue[0]["wait_s"] == 4
        # Nothing in Redis holds a caller's full number (personal data leaves the process masked).
        for key in await client.keys("callcenter:cc1:*"):
            assert "13800000001" not in (await client.get(key) or "")
        await client.aclose()
        await sub.aclose()
        await mirror.stop()
        return board, received, agent

    board, received, agent = asyncio.run(main())
    assert [c["kind"] for c in received] == ["reset", "agent", "queue"]
    assert {c["node"] for c in received} == {"cc1"}
    assert received[2]["payload"] == {"queue": "main", "waiting": 1}
    assert board["queues"]["main"]["waiting"][0]["caller_number"] == "138****0001"
    assert "13800000001" not in json.dumps(received)
    assert agent["state"] == "ready"


def test_redis_down_is_survived_and_resynced(clean_redis: None) -> None:
    async def main() -> bool:
        live = LiveState()
        mirror = RedisMirror("redis://127.0.0.1:1/0", live, clock=lambda: T, interval=0.01)
        live.subscribe(mirror.on_change)
        mirror.start()
        live.apply(ev.MemberAdded(T, "main", "1001", "PJSIP/1001", False, "", 1))
        await asyncio.sleep(0.3)
        ok = mirror.ok
        await mirror.stop()
        return ok

    assert asyncio.run(main()) is False


def test_a_quiet_mirror_still_notices_redis_going_away(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Health said redis_ok while Redis was down, until the next live change (issue 7 drills).
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def main() -> tuple[bool, bool]:
        live = LiveState()
        mirror = RedisMirror(f"redis://127.0.0.1:{port}/0", live, clock=lambda: T, interval=0.01)
        mirror.keepalive_s = 0.2
        live.subscribe(mirror.on_change)
        mirror.start()
        for _ in range(100):  # quiet from the start: the keepalive alone connects it
            await asyncio.sleep(0.05)
            if mirror.ok:
                break
        was_ok = mirror.ok
        server.kill()
        server.wait()
        for _ in range(60):
            await asyncio.sleep(0.05)
            if not mirror.ok:
                break
        still_ok = mirror.ok
        await mirror.stop()
        return was_ok, still_ok

    try:
        was_ok, still_ok = asyncio.run(main())
    finally:
        if server.poll() is None:
            server.kill()
    assert was_ok and not still_ok
