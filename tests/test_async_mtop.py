"""AsyncMTop: the same operations as the CLI, concurrent batches, timeouts and cancellation that change nothing.

Overlap is proven with a ``threading.Barrier`` inside the source (calls that ran one after another
could never all reach it), and "blocked" operations wait on their own cancel token, never on a clock.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mtop import context
from mtop.async_cli import AsyncMTop, AsyncResourceMonitor, OperationTimeout
from mtop.commands import ops
from mtop.commands.ops import NotFoundError, current_token
from mtop.context import Fleet, connect
from mtop.errors import MtopError, SourceError
from mtop.sources.overlay import OVERLAY_FILE

START = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
NEW = {
    "apiVersion": "serving.kserve.io/v1alpha2",
    "kind": "LLMInferenceService",
    "metadata": {"name": "fresh", "namespace": "staging"},
    "spec": {"model": {"uri": "hf://org/fresh"}, "replicas": 1},
}


def _fleet(workspace: Path) -> Fleet:
    return connect(seed=0, start=START, clock="frozen", workspace=str(workspace), env={})


class BarrierSource:
    """Wraps a source: listing services waits at a barrier, so it completes only if N calls overlap."""

    def __init__(self, inner: Any, parties: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(parties, timeout=30)
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[Any]:
        if kind == "llminferenceservices":
            with self._lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            try:
                self.barrier.wait()  # BrokenBarrierError (a failure) if the calls were serialised
            finally:
                with self._lock:
                    self.active -= 1
        return list(self.inner.list_objects(kind, namespaces))


async def test_get_many_runs_the_reads_concurrently(tmp_path: Path) -> None:
    base = _fleet(tmp_path)
    source = BarrierSource(base.source, parties=3)
    api = AsyncMTop(fleet=Fleet(source=source, config=base.config))  # type: ignore[arg-type]
    got = await api.get_many(["gemini-pro", "gpt-4-turbo", "phi-3-medium-instruct"])
    assert [o["metadata"]["name"] for o in got] == ["gemini-pro", "gpt-4-turbo", "phi-3-medium-instruct"]
    assert source.peak == 3 and not source.barrier.broken


async def test_get_many_reports_each_failure_in_its_place(tmp_path: Path) -> None:
    api = AsyncMTop(fleet=_fleet(tmp_path))
    got = await api.get_many(["nope", "gemini-pro"], return_exceptions=True)
    assert isinstance(got[0], NotFoundError) and got[1]["metadata"]["name"] == "gemini-pro"
    with pytest.raises(NotFoundError, match="service 'nope' not found in all namespaces"):
        await api.get_many(["gemini-pro", "nope"])


async def test_the_event_loop_runs_while_an_operation_blocks(tmp_path: Path) -> None:
    # The read cannot finish until another coroutine has run on the loop: only possible off the loop thread.
    base = _fleet(tmp_path)
    other_ran = threading.Event()

    class Gate(BarrierSource):
        def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[Any]:
            assert other_ran.wait(timeout=30), "the event loop was blocked"
            return list(self.inner.list_objects(kind, namespaces))

    api = AsyncMTop(fleet=Fleet(source=Gate(base.source, 1), config=base.config))  # type: ignore[arg-type]

    async def other() -> None:
        other_ran.set()

    obj, _ = await asyncio.gather(api.get("gemini-pro"), other())
    assert obj["metadata"]["name"] == "gemini-pro"


def _block_writes_until_cancelled(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> tuple[threading.Event, threading.Event]:
    """Make the overlay's commit wait (inside its lock, before writing) until the operation's token is cancelled."""
    store: Any = fleet.source.overlay  # type: ignore[attr-defined]
    real_read = store._read
    entered, released = threading.Event(), threading.Event()

    def blocking_read() -> Any:
        token = current_token()
        assert token is not None, "writes run under a cancel token"
        entered.set()
        assert token.wait(timeout=30), "nobody cancelled the operation"
        released.set()
        return real_read()

    monkeypatch.setattr(store, "_read", blocking_read)
    return entered, released


async def test_cancelling_a_create_leaves_the_overlay_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = _fleet(tmp_path)
    entered, released = _block_writes_until_cancelled(fleet, monkeypatch)
    api = AsyncMTop(fleet=fleet)
    task = asyncio.ensure_future(api.create([NEW, {**NEW, "metadata": {"name": "fresh-2", "namespace": "staging"}}]))
    assert await asyncio.to_thread(entered.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The call returned only after its worker had finished, and the worker wrote nothing.
    assert released.is_set()
    assert not (tmp_path / OVERLAY_FILE).exists()
    monkeypatch.undo()
    with pytest.raises(NotFoundError):
        await api.get("fresh")


async def test_a_timed_out_delete_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = _fleet(tmp_path)
    _, released = _block_writes_until_cancelled(fleet, monkeypatch)
    api = AsyncMTop(fleet=fleet, timeout=0.05)  # the worker waits for its token: only the timeout frees it
    with pytest.raises(OperationTimeout, match=r"delete timed out after 0\.05s and changed nothing"):
        await api.delete(["gemini-pro", "gpt-4-turbo"])
    assert released.is_set() and not (tmp_path / OVERLAY_FILE).exists()
    monkeypatch.undo()
    assert (await api.get("gemini-pro", timeout=30))["metadata"]["name"] == "gemini-pro"


async def test_a_timed_out_read_is_a_clear_error(tmp_path: Path) -> None:
    base = _fleet(tmp_path)
    freed = threading.Event()

    class Stuck(BarrierSource):
        def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[Any]:
            token = current_token()
            assert token is not None and token.wait(timeout=30)
            freed.set()
            return list(self.inner.list_objects(kind, namespaces))

    api = AsyncMTop(fleet=Fleet(source=Stuck(base.source, 1), config=base.config))  # type: ignore[arg-type]
    with pytest.raises(OperationTimeout, match=r"get gemini-pro timed out after 0\.05s") as info:
        await api.get("gemini-pro", timeout=0.05)
    assert isinstance(info.value, MtopError) and isinstance(info.value, TimeoutError)
    assert await asyncio.to_thread(freed.wait, 30)  # the abandoned worker was told to stop


async def test_a_batch_create_is_all_or_nothing(tmp_path: Path) -> None:
    api = AsyncMTop(fleet=_fleet(tmp_path))
    clash = {**NEW, "metadata": {"name": "gemini-pro", "namespace": "production"}}
    with pytest.raises(SourceError, match='"gemini-pro" already exists'):
        await api.create([NEW, clash])
    assert not (tmp_path / OVERLAY_FILE).exists()
    created = await api.create([NEW])
    assert created[0]["status"]["conditions"][-1]["reason"] == "Progressing"
    assert (await api.get("fresh"))["metadata"]["namespace"] == "staging"
    assert [o["metadata"]["name"] for o in await api.delete("fresh")] == ["fresh"]
    assert await api.reset() is True  # the overlay still existed (empty); reset removes the file


async def test_async_and_sync_faces_give_the_same_answers(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path)
    api = AsyncMTop(fleet=fleet)
    assert await api.get("gemini-pro") == ops.get_service(fleet, "gemini-pro")
    assert (await api.check("claude-3-opus")).equals(ops.check_service(fleet, "claude-3-opus"))
    logs = await api.logs("gemini-pro", tail=2)
    assert [(x.pod, x.text) for x in logs] == [(x.pod, x.text) for x in ops.service_logs(fleet, "gemini-pro", tail=2)]
    assert len(await api.list_crs("staging")) == len(ops.list_crs(fleet, ["staging"]))
    listed = await api.list_services(sort="name")
    assert list(listed["service"]) == sorted(listed["service"])
    costs, _ = await api.cost(["production"])
    assert set(costs["namespace"]) == {"production"}
    monitor = await api.monitor(interval=7)
    assert isinstance(monitor, AsyncResourceMonitor) and monitor.fleet is fleet


async def test_the_mode_is_only_forwarded_to_connect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[tuple[Any, dict[str, Any]]] = []
    real = context.connect

    def spy(mode: Any = None, **kwargs: Any) -> Fleet:
        seen.append((mode, kwargs))
        return real("mock", start=START, clock="frozen", workspace=str(tmp_path), env={})

    monkeypatch.setattr(context, "connect", spy)
    api = AsyncMTop(mode="live", context="prod", prometheus_url="http://127.0.0.1:9")
    await asyncio.gather(api.get("gemini-pro"), api.get("gpt-4-turbo"))
    assert seen == [("live", {"context": "prod", "prometheus_url": "http://127.0.0.1:9"})]  # connected once


async def test_live_mode_without_a_cluster_fails_clearly() -> None:
    with pytest.raises(MtopError):
        await AsyncMTop(mode="live").list_crs()
