"""Background work never dies silently (issue 7, item 3): threads, loops and tasks restart."""

from __future__ import annotations

import asyncio
import threading

from twisted.internet import task

from callcenter.supervise import Supervisor


def test_a_failing_thread_is_logged_counted_and_restarted(caplog) -> None:  # type: ignore[no-untyped-def]
    sup = Supervisor(min_backoff_s=0.01, max_backoff_s=0.02)
    runs = []
    done = threading.Event()

    def target() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise OSError(28, "No space left on device")
        done.set()

    thread = sup.thread("writer", target)
    assert done.wait(5)
    thread.join(5)
    assert len(runs) == 3
    assert sup.failures == 2
    status = sup.status()["writer"]
    assert status["failures"] == 2 and "No space left" in status["last_error"] and not status["running"]
    assert "background thread writer failed" in caplog.text


def test_backoff_doubles_up_to_the_maximum() -> None:
    slept: list[float] = []
    sup = Supervisor(min_backoff_s=0.5, max_backoff_s=2.0, sleep=slept.append)
    n = 0

    def target() -> None:
        nonlocal n
        n += 1
        if n <= 4:
            raise RuntimeError("boom")

    sup.thread("t", target).join(5)
    assert slept == [0.5, 1.0, 2.0, 2.0]


def test_a_failing_loop_is_started_again() -> None:
    clock = task.Clock()
    sup = Supervisor(min_backoff_s=1.0)
    calls = []

    def tick() -> None:
        calls.append(clock.seconds())
        if len(calls) == 2:
            raise ValueError("bad line")

    loop = sup.looping("catchup", tick, 5.0, now=True, clock=clock)
    clock.advance(5)  # second call fails: the loop stops
    assert len(calls) == 2 and not loop.running and sup.failures == 1
    clock.advance(1)  # restarted after the backoff
    assert len(calls) == 3 and loop.running
    clock.advance(5)
    assert len(calls) == 4
    loop.stop()


def test_a_failing_task_is_started_again() -> None:
    sup = Supervisor(min_backoff_s=0.01)
    starts = []

    async def work() -> None:
        starts.append(1)
        if len(starts) == 1:
            raise ConnectionError("redis away")
        await asyncio.sleep(0)

    async def main() -> None:
        sup.task("redis", work)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(starts) == 2:
                break

    asyncio.run(main())
    assert len(starts) == 2 and sup.failures == 1


def test_a_task_can_be_started_before_the_loop_runs() -> None:
    # The daemon starts its parts from the reactor, before the asyncio loop it runs on is running.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        ran = []

        async def work() -> None:
            ran.append(1)

        handle = Supervisor().task("early", work)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert ran == [1] and handle.done()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
