"""The async face of mtop: ``AsyncMTop`` (every CLI operation) and ``AsyncResourceMonitor``.

``AsyncResourceMonitor`` is the one refresh loop of mtop: ``mtop top`` and the dashboard both iterate
it. Collection runs in a worker thread (``asyncio.to_thread``), so the event loop (a Jupyter kernel's,
or the CLI's) is never blocked while a fleet is read, and no ``nest_asyncio`` is needed. A failed
collection yields a snapshot carrying the error *and the last good frames*, so views keep showing data.

>>> import asyncio, mtop
>>> async def first_snapshot():
...     monitor = AsyncResourceMonitor(mtop.connect(seed=1, clock="frozen"), interval=0.01)
...     async for snap in monitor:
...         await monitor.stop()
...         return len(snap.frames["overview"]) > 0, snap.error
>>> asyncio.run(first_snapshot())
(True, None)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mtop.context import Fleet

__all__ = ["AsyncResourceMonitor", "Collect", "Snapshot", "collect_overview"]

Collect = Callable[["Fleet"], Mapping[str, "pd.DataFrame"]]
"""What one refresh collects: a fleet in, named frames out (runs in a worker thread)."""


def collect_overview(fleet: Fleet) -> dict[str, pd.DataFrame]:
    """The default refresh: every frame of one collection pass (``overview``, ``nodes``, ``gpus``, ...).

    >>> import mtop
    >>> sorted(collect_overview(mtop.connect(seed=1, clock="frozen")))[:3]
    ['gpu_costs', 'gpus', 'nodes']
    """
    from mtop.collect import collect_all

    return dict(collect_all(fleet))


@dataclass(frozen=True)
class Snapshot:
    """One refresh: when, the frames (the last good ones if this refresh failed), and the error if any."""

    sequence: int
    collected_at: datetime | None
    frames: Mapping[str, pd.DataFrame]
    error: BaseException | None = None
    stale: bool = False
    """True when ``frames`` are the last good data of an earlier refresh (this one failed)."""


@dataclass
class AsyncResourceMonitor:
    """Fleet snapshots at an interval, as an async iterator; implements the ``Monitor`` protocol.

    ``interval`` may be changed while it runs. ``stop()`` ends the iteration; a collection still in
    flight finishes in its thread and is discarded.
    """

    fleet: Fleet | None = None
    interval: float = 2.0
    collect: Collect = collect_overview
    _last_good: Snapshot | None = field(default=None, init=False, repr=False)
    _sequence: int = field(default=0, init=False, repr=False)
    _stopped: asyncio.Event | None = field(default=None, init=False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    listeners: list[Callable[[Snapshot], Any]] = field(default_factory=list, repr=False)

    def _fleet(self) -> Fleet:
        if self.fleet is None:
            from mtop.context import default_fleet

            self.fleet = default_fleet()
        return self.fleet

    async def refresh(self) -> Snapshot:
        """Collect once (in a worker thread) and return the snapshot; errors are captured, not raised."""
        fleet = self._fleet()
        self._sequence += 1
        try:
            frames = await asyncio.to_thread(self.collect, fleet)
        except Exception as exc:  # a failing source must not end the loop: keep the last good data
            last = self._last_good
            return Snapshot(self._sequence, last.collected_at if last else None, last.frames if last else {}, exc, True)
        snap = Snapshot(self._sequence, fleet.now(), frames)
        self._last_good = snap
        return snap

    def __aiter__(self) -> AsyncIterator[Snapshot]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Snapshot]:
        self._stopped = self._stopped or asyncio.Event()
        while not self._stopped.is_set():
            snap = await self.refresh()
            if self._stopped.is_set():
                return
            for listener in list(self.listeners):
                listener(snap)
            yield snap
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=max(self.interval, 0.0))

    async def start(self) -> None:
        """Refresh in a background task, calling each of ``listeners`` with every snapshot."""
        if self._task is not None and not self._task.done():
            return
        self._stopped = asyncio.Event()

        async def run() -> None:
            async for _ in self:
                pass

        self._task = asyncio.get_running_loop().create_task(run())

    async def stop(self) -> None:
        """Stop refreshing; waits for the background task (if any) to end. Leaves nothing running."""
        if self._stopped is not None:
            self._stopped.set()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        """Whether a background task started by ``start()`` is still running."""
        return self._task is not None and not self._task.done()

    def get_metrics(self) -> Mapping[str, Any]:
        """The last good snapshot's frames (empty before the first good refresh)."""
        return dict(self._last_good.frames) if self._last_good else {}
