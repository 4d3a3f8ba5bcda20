from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

import pandas as pd
import pytest

from mtop.async_cli import AsyncResourceMonitor, Snapshot
from mtop.context import Fleet, connect
from mtop.errors import SourceUnavailable

START = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _fleet() -> Fleet:
    return connect(seed=2, clock="frozen", start=START, env={})


async def test_a_failed_refresh_keeps_the_last_good_frames_and_recovers() -> None:
    calls = {"n": 0}

    def flaky(fleet: Fleet) -> Mapping[str, pd.DataFrame]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise SourceUnavailable("connection refused", source="test", target="127.0.0.1:1")
        return {"overview": pd.DataFrame({"n": [calls["n"]]})}

    monitor = AsyncResourceMonitor(_fleet(), interval=0, collect=flaky)
    first = await monitor.refresh()
    second = await monitor.refresh()
    third = await monitor.refresh()
    assert first.error is None and first.frames["overview"]["n"][0] == 1
    assert isinstance(second.error, SourceUnavailable) and second.stale
    assert second.frames["overview"]["n"][0] == 1  # last good data, not empty
    assert third.error is None and not third.stale and third.frames["overview"]["n"][0] == 3
    assert monitor.get_metrics()["overview"]["n"][0] == 3


async def test_collection_runs_off_the_event_loop_and_the_loop_keeps_working() -> None:
    # The collector blocks its thread until the loop has run another coroutine: that can only
    # finish if collection is not on the loop's thread (recorded overlap, not timing).
    loop_thread = threading.get_ident()
    other_ran = threading.Event()
    seen: dict[str, int] = {}

    def blocking(fleet: Fleet) -> Mapping[str, pd.DataFrame]:
        seen["thread"] = threading.get_ident()
        assert other_ran.wait(timeout=10), "the event loop was blocked during collection"
        return {}

    async def other_cell() -> None:
        other_ran.set()

    monitor = AsyncResourceMonitor(_fleet(), interval=0, collect=blocking)
    snap, _ = await asyncio.gather(monitor.refresh(), other_cell())
    assert snap.error is None and seen["thread"] != loop_thread


async def test_start_and_stop_leave_no_task_behind() -> None:
    snaps: list[Snapshot] = []
    monitor = AsyncResourceMonitor(_fleet(), interval=0.001)
    monitor.listeners.append(snaps.append)
    before = set(asyncio.all_tasks())
    await monitor.start()
    while len(snaps) < 2:
        await asyncio.sleep(0.001)
    assert monitor.running
    await monitor.stop()
    assert not monitor.running
    assert set(asyncio.all_tasks()) == before
    assert [s.sequence for s in snaps[:2]] == [1, 2]


@pytest.mark.parametrize("interval", [0.0])
async def test_iteration_ends_after_stop(interval: float) -> None:
    monitor = AsyncResourceMonitor(_fleet(), interval=interval)
    count = 0
    async for _ in monitor:
        count += 1
        if count == 3:
            await monitor.stop()
    assert count == 3
