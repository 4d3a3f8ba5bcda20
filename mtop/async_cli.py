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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mtop.errors import MtopError

if TYPE_CHECKING:
    import pandas as pd

    from mtop.commands.ops import PodLog
    from mtop.context import Fleet
    from mtop.interfaces import JSONDict

__all__ = ["AsyncMTop", "AsyncResourceMonitor", "Collect", "OperationTimeout", "Snapshot", "collect_overview"]

T = TypeVar("T")

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


# --- AsyncMTop ----------------------------------------------------------------------------------------------


class OperationTimeout(MtopError, TimeoutError):
    """An ``AsyncMTop`` operation did not finish in time (a write that timed out changed nothing).

    >>> isinstance(OperationTimeout("get timed out"), TimeoutError)
    True
    """


Namespaces = str | Sequence[str] | None


class AsyncMTop:
    """The async face of every ``mtop`` command: the same operations (:mod:`mtop.commands.ops`) in worker threads.

    ``mode`` and ``connect_options`` are only forwarded to :func:`mtop.context.connect` (on first use,
    in a thread). Every call takes ``namespace`` (one, a list, or ``None``: all in mock mode, the
    context's namespace live), ``all_namespaces`` and ``timeout`` (seconds; default the instance's).
    A timeout is an :class:`OperationTimeout`. Cancelling a call, or its timeout, makes a write stop
    before it commits, and the call returns only once the worker is done: a write is then either
    complete or absent, never half-done (``create``/``delete`` of several objects are one transaction).
    ``get_many`` runs its reads concurrently.

    >>> import asyncio
    >>> api = AsyncMTop(mode="mock", workspace=False, clock="frozen")
    >>> asyncio.run(api.get("gpt-4-turbo"))["metadata"]["namespace"]
    'production'
    """

    def __init__(self, mode: str | None = None, *, timeout: float | None = None, fleet: Fleet | None = None,
                 **connect_options: Any) -> None:  # fmt: skip
        self.mode = mode
        self.timeout = timeout
        self._options = connect_options
        self._fleet = fleet
        self._connecting: asyncio.Lock | None = None

    async def fleet(self) -> Fleet:
        """The fleet, connected on first use (in a worker thread: a live connection may block).

        >>> import asyncio
        >>> asyncio.run(AsyncMTop(workspace=False).fleet()).mode
        'mock'
        """
        if self._fleet is None:
            self._connecting = self._connecting or asyncio.Lock()
            async with self._connecting:
                if self._fleet is None:
                    from mtop.context import connect

                    self._fleet = await asyncio.to_thread(connect, self.mode, **self._options)
        return self._fleet

    async def _run(self, what: str, fn: Callable[..., T], *args: Any, write: bool = False,
                   timeout: float | None = None, **kwargs: Any) -> T:  # fmt: skip
        """Run ``fn`` in a worker thread under a cancel token, with the timeout, settling writes."""
        from mtop.commands.ops import CancelToken, OperationCancelled, running_under

        token = CancelToken()

        def work() -> T:
            with running_under(token):
                return fn(*args, **kwargs)

        task: asyncio.Future[T] = asyncio.ensure_future(asyncio.to_thread(work))
        # A read abandoned by a timeout or a cancel may still fail in its thread: retrieve that, unseen.
        task.add_done_callback(lambda f: f.cancelled() or f.exception())
        limit = self.timeout if timeout is None else timeout
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                return await asyncio.shield(task)
        except TimeoutError:
            if not deadline.expired():
                raise  # a TimeoutError of the operation itself
            token.cancel()
            if write:
                try:
                    return await self._settle(task)  # it committed before the deadline was seen: done
                except OperationCancelled:
                    pass
            message = f"{what} timed out after {limit:g}s" + (" and changed nothing" if write else "")
            raise OperationTimeout(message) from None
        except asyncio.CancelledError:
            token.cancel()
            if write:
                with contextlib.suppress(Exception):
                    await self._settle(task)
            raise

    @staticmethod
    async def _settle(task: asyncio.Future[T]) -> T:
        """Wait for a worker to finish even through further cancellations (they are re-raised after)."""
        interrupted = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                interrupted = True
            except Exception:
                break
        if interrupted:
            raise asyncio.CancelledError
        return task.result()

    async def _scope(self, namespace: Namespaces, all_namespaces: bool) -> tuple[Fleet, list[str] | None]:
        from mtop.commands.ops import scope

        fleet = await self.fleet()
        names = [namespace] if isinstance(namespace, str) else list(namespace) if namespace is not None else None
        default = None
        if fleet.mode == "live" and not names and not all_namespaces:  # the kubeconfig context's namespace
            from mtop.commands.kube_ops import context_namespace

            live, opts = fleet.config.live, self._options
            default = await asyncio.to_thread(context_namespace, opts.get("kubeconfig") or live.kubeconfig,
                                              opts.get("context") or live.context)  # fmt: skip
        return fleet, scope(fleet, names, all_namespaces, default)

    async def list_crs(self, namespace: Namespaces = None, *, all_namespaces: bool = False,
                       timeout: float | None = None) -> list[JSONDict]:  # fmt: skip
        """Every LLMInferenceService object in scope (``mtop list``'s objects).

        >>> import asyncio
        >>> len(asyncio.run(AsyncMTop(workspace=False, clock="frozen").list_crs("staging")))
        3
        """
        from mtop.commands.ops import list_crs

        fleet, ns = await self._scope(namespace, all_namespaces)
        return await self._run("list", list_crs, fleet, ns, timeout=timeout)

    async def list_services(self, namespace: Namespaces = None, *, all_namespaces: bool = False,
                            sort: str | None = None, timeout: float | None = None) -> pd.DataFrame:  # fmt: skip
        """``mtop list``'s frame: the overview, sorted (default ``MTOP_SORT_KEY``).

        >>> import asyncio
        >>> asyncio.run(AsyncMTop(workspace=False, clock="frozen").list_services(sort="name"))["service"].iloc[0]
        'claude-3-haiku'
        """
        from mtop.commands.ops import list_services

        fleet, ns = await self._scope(namespace, all_namespaces)
        return await self._run("list", list_services, fleet, ns, sort, timeout=timeout)

    async def get(self, name: str, namespace: Namespaces = None, *, all_namespaces: bool = False,
                  timeout: float | None = None) -> JSONDict:  # fmt: skip
        """One service object (``mtop get``); ``NotFoundError`` if it is not in scope.

        >>> import asyncio
        >>> asyncio.run(AsyncMTop(workspace=False).get("gemini-pro"))["kind"]
        'LLMInferenceService'
        """
        from mtop.commands.ops import get_service

        fleet, ns = await self._scope(namespace, all_namespaces)
        return await self._run(f"get {name}", get_service, fleet, name, ns, timeout=timeout)

    async def get_many(self, names: Sequence[str], namespace: Namespaces = None, *, all_namespaces: bool = False,
                       return_exceptions: bool = False, timeout: float | None = None) -> list[Any]:  # fmt: skip
        """Several services at once, fetched concurrently; results in the order of ``names``.

        With ``return_exceptions`` a failure is returned in its place instead of raised.

        >>> import asyncio
        >>> got = asyncio.run(AsyncMTop(workspace=False).get_many(["gemini-pro", "nope"], return_exceptions=True))
        >>> got[0]["metadata"]["name"], type(got[1]).__name__
        ('gemini-pro', 'NotFoundError')
        """
        calls = [self.get(n, namespace, all_namespaces=all_namespaces, timeout=timeout) for n in names]
        return list(await asyncio.gather(*calls, return_exceptions=return_exceptions))

    async def check(self, name: str, namespace: Namespaces = None, *, all_namespaces: bool = False,
                    timeout: float | None = None) -> pd.DataFrame:  # fmt: skip
        """A service's conditions (``mtop check``).

        >>> import asyncio
        >>> df = asyncio.run(AsyncMTop(workspace=False).check("claude-3-opus"))
        >>> df.set_index("type").loc["Ready", "status"]
        'False'
        """
        from mtop.commands.ops import check_service

        fleet, ns = await self._scope(namespace, all_namespaces)
        return await self._run(f"check {name}", check_service, fleet, name, ns, timeout=timeout)

    async def logs(self, name: str, namespace: Namespaces = None, *, all_namespaces: bool = False,
                   tail: int | None = None, since: str | None = None, role: str | None = None,
                   timestamps: bool = False, timeout: float | None = None) -> list[PodLog]:  # fmt: skip
        """Logs of a service's pods (``mtop logs``), one :class:`mtop.commands.ops.PodLog` per pod.

        >>> import asyncio
        >>> logs = asyncio.run(AsyncMTop(workspace=False).logs("gemini-pro", tail=2))
        >>> all(len(log.text.splitlines()) == 2 for log in logs)
        True
        """
        from mtop.commands.ops import service_logs

        fleet, ns = await self._scope(namespace, all_namespaces)
        return await self._run(f"logs {name}", service_logs, fleet, name, ns, tail=tail, since=since, role=role,
                               timestamps=timestamps, timeout=timeout)  # fmt: skip

    async def create(self, manifest: Mapping[str, Any] | Sequence[Mapping[str, Any]] | str | Path,
                     namespace: str | None = None, *, timeout: float | None = None) -> list[JSONDict]:  # fmt: skip
        """Create services from an object, a list of them, or a manifest file path; all or none.

        >>> import asyncio, tempfile
        >>> api = AsyncMTop(workspace=tempfile.mkdtemp())
        >>> obj = {"apiVersion": "serving.kserve.io/v1alpha2", "kind": "LLMInferenceService",
        ...        "metadata": {"name": "new-model", "namespace": "staging"}, "spec": {"model": {"uri": "hf://a/b"}}}
        >>> [o["status"]["conditions"][-1]["reason"] for o in asyncio.run(api.create(obj))]
        ['Progressing']
        """
        from mtop.commands.ops import create_services, load_manifests

        fleet = await self.fleet()
        if isinstance(manifest, (str, Path)):
            objects: Sequence[Mapping[str, Any]] = await asyncio.to_thread(load_manifests, manifest, namespace)
        elif isinstance(manifest, Mapping):
            objects = [manifest]
        else:
            objects = list(manifest)
        return await self._run("create", create_services, fleet, objects, namespace, write=True, timeout=timeout)

    async def delete(self, names: str | Sequence[str], namespace: Namespaces = None, *,
                     all_namespaces: bool = False, timeout: float | None = None) -> list[JSONDict]:  # fmt: skip
        """Delete services by name, all or none (no confirmation: that is the CLI's job).

        >>> import asyncio, tempfile
        >>> api = AsyncMTop(workspace=tempfile.mkdtemp())
        >>> [o["metadata"]["name"] for o in asyncio.run(api.delete("gemini-pro"))]
        ['gemini-pro']
        """
        from mtop.commands.ops import delete_services

        fleet, ns = await self._scope(namespace, all_namespaces)
        targets = [names] if isinstance(names, str) else list(names)
        return await self._run("delete", delete_services, fleet, targets, ns, write=True, timeout=timeout)

    # ----------------------------------------------- interfaces.KubernetesClient (the guide's contract)
    async def get_resource(self, kind: str, name: str, namespace: str | None = None) -> JSONDict:
        """One LLMInferenceService (the only kind mtop manages) as a dict; ``NotFoundError`` if absent.

        >>> import asyncio
        >>> asyncio.run(AsyncMTop(workspace=False).get_resource("LLMInferenceService", "gemini-pro"))["kind"]
        'LLMInferenceService'
        """
        _managed_kind(kind)
        return await self.get(name, namespace)

    async def create_resource(self, obj: Mapping[str, Any]) -> JSONDict:
        """Create one LLMInferenceService and return what was stored (see :meth:`create`)."""
        _managed_kind(str(obj.get("kind") or "LLMInferenceService"))
        return (await self.create(obj))[0]

    async def delete_resource(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete one LLMInferenceService; ``False`` when there was none of that name.

        >>> import asyncio, tempfile
        >>> api = AsyncMTop(workspace=tempfile.mkdtemp())
        >>> asyncio.run(api.delete_resource("llminferenceservices", "gemini-pro")), asyncio.run(
        ...     api.delete_resource("llminferenceservices", "gemini-pro"))
        (True, False)
        """
        from mtop.commands.ops import NotFoundError

        _managed_kind(kind)
        try:
            await self.delete(name, namespace)
        except NotFoundError:
            return False
        return True

    async def get_logs(self, name: str, namespace: str | None = None, tail: int | None = None) -> str:
        """The log of pod ``name``'s model-server container (``tail`` last lines).

        >>> import asyncio
        >>> api = AsyncMTop(workspace=False, clock="frozen")
        >>> pod = asyncio.run(api.logs("gemini-pro"))[0].pod
        >>> len(asyncio.run(api.get_logs(pod, tail=1)).splitlines())
        1
        """
        from mtop.commands.ops import pod_log

        fleet, ns = await self._scope(namespace, False)
        return await self._run(f"logs {name}", pod_log, fleet, name, ns, tail=tail)

    async def slo(self, namespace: Namespaces = None, *, all_namespaces: bool = False, window: str = "5m",
                  history: str = "1h", step: str = "1m", timeout: float | None = None) -> pd.DataFrame:  # fmt: skip
        """``mtop slo``'s frame: SLO figures and ``compliance_percent`` per service.

        >>> import asyncio
        >>> "compliance_percent" in asyncio.run(AsyncMTop(workspace=False).slo(history="5m", step="5m")).columns
        True
        """
        from mtop.commands.ops import slo_report

        fleet, ns = await self._scope(namespace, all_namespaces)
        return await self._run("slo", slo_report, fleet, ns, window, history, step, timeout=timeout)

    async def cost(self, namespace: Namespaces = None, *, all_namespaces: bool = False,
                   timeout: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
        """``mtop cost``'s frames: cost per service and the recommendations.

        >>> import asyncio
        >>> costs, recs = asyncio.run(AsyncMTop(workspace=False).cost())
        >>> len(costs) >= 16
        True
        """
        from mtop.commands.ops import cost_report

        fleet, ns = await self._scope(namespace, all_namespaces)
        return await self._run("cost", cost_report, fleet, ns, timeout=timeout)

    async def reset(self, *, timeout: float | None = None) -> bool:
        """Clear the mock workspace overlay (``mtop sim reset``); ``False`` if it held nothing.

        >>> import asyncio, tempfile
        >>> asyncio.run(AsyncMTop(workspace=tempfile.mkdtemp()).reset())
        False
        """
        from mtop.commands.ops import reset_overlay

        fleet = await self.fleet()
        return await self._run("reset", reset_overlay, fleet, write=True, timeout=timeout)

    async def monitor(self, interval: float = 2.0, collect: Collect = collect_overview) -> AsyncResourceMonitor:
        """An :class:`AsyncResourceMonitor` of this fleet (iterate it, or ``start()`` it).

        >>> import asyncio
        >>> asyncio.run(AsyncMTop(workspace=False).monitor(interval=5)).interval
        5
        """
        return AsyncResourceMonitor(await self.fleet(), interval=interval, collect=collect)


_MANAGED_KINDS = frozenset({"llminferenceservice", "llminferenceservices", "llmisvc"})


def _managed_kind(kind: str) -> None:
    """Refuse any kind but LLMInferenceService (the only kind mtop manages) with a clear ``ValueError``.

    >>> _managed_kind("Deployment")
    Traceback (most recent call last):
    ...
    ValueError: mtop manages LLMInferenceService objects only, not 'Deployment'
    """
    if kind.lower() not in _MANAGED_KINDS:
        raise ValueError(f"mtop manages LLMInferenceService objects only, not {kind!r}")
