"""The panels' refresh: an :class:`~mtop.async_cli.AsyncResourceMonitor` run on the kernel's event loop.

In a Jupyter kernel, cell code runs inside the kernel's asyncio loop (on the main thread), so a task
created there keeps running between cells; collection happens in a worker thread
(``asyncio.to_thread``), and each snapshot is delivered on the loop's thread, where updating widgets
is safe. Nothing blocks the kernel and no ``nest_asyncio`` is needed. :meth:`RefreshLoop.stop` ends
the loop; a collection still in flight finishes in its thread and is discarded. Loops still running
when the interpreter exits (kernel shutdown) are stopped by an ``atexit`` hook, registered on the first
start.

>>> import asyncio, mtop
>>> seen = []
>>> async def once():
...     loop = RefreshLoop(mtop.connect(seed=1, clock="frozen"), interval=0, deliver=seen.append)
...     await loop.astart()
...     while not seen:
...         await asyncio.sleep(0.01)
...     await loop.astop()
...     return loop.running
>>> asyncio.run(once()), seen[0].error is None
(False, True)
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from mtop.async_cli import AsyncResourceMonitor, Collect, Snapshot, collect_overview

if TYPE_CHECKING:
    from mtop.context import Fleet

__all__ = ["RefreshLoop", "running_loop", "stop_all"]

_LIVE: weakref.WeakSet[RefreshLoop] = weakref.WeakSet()
_atexit_lock = threading.Lock()
_atexit_registered = False


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread (a Jupyter kernel's, inside a cell), or None.

    >>> running_loop() is None
    True
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _register_atexit() -> None:
    global _atexit_registered
    with _atexit_lock:
        if not _atexit_registered:
            atexit.register(stop_all)
            _atexit_registered = True


def stop_all() -> int:
    """Stop every refresh loop still running (the ``atexit`` hook); returns how many were stopped.

    >>> stop_all()
    0
    """
    stopped = 0
    for loop in list(_LIVE):
        if loop.active:
            loop.stop()
            stopped += 1
    return stopped


class RefreshLoop:
    """Refresh ``fleet`` every ``interval`` seconds in the background and call ``deliver(snapshot)``.

    ``deliver`` runs on the event loop's thread; it is not called once :meth:`stop` has been called.
    ``on_stop`` callbacks run when the loop is stopped (by :meth:`stop`, a widget close, or exit).
    """

    def __init__(
        self,
        fleet: Fleet | None,
        *,
        interval: float = 2.0,
        collect: Collect = collect_overview,
        deliver: Callable[[Snapshot], object],
    ) -> None:
        self.monitor = AsyncResourceMonitor(fleet, interval=interval, collect=collect)
        self.monitor.listeners.append(self._on_snapshot)
        self.deliver = deliver
        self.on_stop: list[Callable[[], object]] = []
        self.active = False
        self.pending: asyncio.Task[None] | None = None
        """The task starting or stopping the monitor, if one is scheduled (tests may await it)."""
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def interval(self) -> float:
        """Seconds between refreshes; may be changed while running."""
        return self.monitor.interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self.monitor.interval = max(float(seconds), 0.0)

    @property
    def running(self) -> bool:
        """Whether refreshing is on (started and not stopped)."""
        return self.active and (self.monitor.running or (self.pending is not None and not self.pending.done()))

    def _on_snapshot(self, snap: Snapshot) -> None:
        if self.active:
            self.deliver(snap)

    def start(self) -> bool:
        """Start refreshing on the running event loop (a kernel's); False when no loop runs here."""
        loop = running_loop()
        if loop is None:
            return False
        if self.active:
            return True
        self._loop, self.active = loop, True
        self.pending = loop.create_task(self.monitor.start())
        _LIVE.add(self)
        _register_atexit()
        return True

    async def astart(self) -> None:
        """Start refreshing (from a coroutine)."""
        self._loop, self.active = asyncio.get_running_loop(), True
        _LIVE.add(self)
        _register_atexit()
        await self.monitor.start()

    def stop(self) -> None:
        """Stop refreshing now: no snapshot is delivered after this call.

        The task ends on the loop's next turn, or right away when the loop is not running (at exit).
        """
        was_active, self.active = self.active, False
        loop = self._loop
        if loop is not None and not loop.is_closed():
            if loop.is_running():
                self.pending = loop.create_task(self.monitor.stop())
            elif running_loop() is None:
                with contextlib.suppress(RuntimeError):
                    loop.run_until_complete(self.monitor.stop())
        _LIVE.discard(self)
        if was_active:
            self._stopped()

    async def astop(self) -> None:
        """Stop refreshing and wait until the background task has ended."""
        was_active, self.active = self.active, False
        await self.monitor.stop()
        _LIVE.discard(self)
        if was_active:
            self._stopped()

    def _stopped(self) -> None:
        for callback in list(self.on_stop):
            callback()

    async def refresh(self) -> Snapshot:
        """Collect once now (in a worker thread) and deliver the snapshot, running or not."""
        snap = await self.monitor.refresh()
        self.deliver(snap)
        return snap
