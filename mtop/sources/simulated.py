"""``SimulatedFleet``: the deterministic, seeded fleet that mock mode reads, behind ``interfaces.Source``.

It answers ``list_objects`` with Kubernetes object dicts (built once, shared, read-only) and the
catalogue's named queries with Prometheus ``data`` objects computed from its workload model, and
exposes every raw series through :meth:`SimulatedFleet.samples` for serving ``/metrics``.

Beyond the ``Source`` protocol it offers what the CLI's mock mode needs: ``read_pod_log`` (simulated
vLLM logs, :mod:`mtop.sources.sim_logs`), and ``create_objects``/``delete_objects``/``reset_overlay``,
which change the workspace overlay (:mod:`mtop.sources.overlay`) applied over every read when an
``overlay`` store is given (``connect()`` gives the workspace's).

Simulated time: ``start`` (default: now, to the second) plus, with the default ``clock="wall"``,
the wall time elapsed since construction; ``clock="frozen"`` pins it; a callable supplies it.
:meth:`SimulatedFleet.advance` adds to any of them. The fleet's counters start one day before ``start``.

>>> from datetime import datetime, timezone
>>> from mtop.config import default_config
>>> fleet = SimulatedFleet(default_config(), start=datetime(2026, 8, 3, 12, tzinfo=timezone.utc), clock="frozen")
>>> len(fleet.list_objects("llminferenceservices"))
16
>>> fleet.query("request_rate")["resultType"]
'vector'
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from mtop.catalogue import normalize_params, spec
from mtop.errors import SourceError
from mtop.interfaces import JSONDict
from mtop.promql import matrix, vector
from mtop.sources.hardware import HARDWARE
from mtop.sources.objects import GATEWAY, namespace_object, node_object, rfc3339, stable_uuid
from mtop.sources.overlay import OverlayState, OverlayStore, created_status
from mtop.sources.pod_objects import PodParts, pod_object
from mtop.sources.service_objects import service_object
from mtop.sources.sim_logs import STATS_INTERVAL_S, LogSubject, PodStats, pod_log
from mtop.sources.telemetry import _IDLE_FB_MIB, Labels, Telemetry  # idle framebuffer: what a freed GPU reads
from mtop.sources.topology import FleetPlan, plan_fleet
from mtop.sources.workload import TICK, WorkloadModel

__all__ = ["KINDS", "FleetConfig", "SimulatedFleet"]

KINDS = ("llminferenceservices", "pods", "nodes", "namespaces")
_GPU_QUERIES = ("gpu_utilization", "gpu_memory_used", "gpu_memory_total", "gpu_power")
_GPU_HELD_LABELS = ("namespace", "pod", "container")
MAX_POINTS = 11_000
"""Points per series a range query may ask for (Prometheus's own limit)."""
EPOCH_BEFORE_START = timedelta(days=1)


class _GPUTypeLike(Protocol):
    @property
    def relative_throughput(self) -> float: ...


class _TechnologyLike(Protocol):
    @property
    def gpu_types(self) -> Mapping[str, _GPUTypeLike]: ...

    def match_product(self, product: str) -> str | None: ...


class _WorkloadLike(Protocol):
    @property
    def baseline_qps(self) -> float: ...

    @property
    def spike_multiplier(self) -> float: ...


class FleetConfig(Protocol):
    """The part of ``mtop.config.Config`` the simulator reads: GPU types and the workload.

    >>> from mtop.config import default_config
    >>> isinstance(default_config().workload.baseline_qps, float)
    True
    """

    @property
    def technology(self) -> _TechnologyLike:
        """GPU types (relative throughput) and how node product labels map to them.

        >>> from mtop.config import default_config
        >>> default_config().technology.match_product("NVIDIA-H200")
        'nvidia-h200'
        """
        ...

    @property
    def workload(self) -> _WorkloadLike:
        """Fleet request rate (``baseline_qps``) and ``spike_multiplier``.

        >>> from mtop.config import default_config
        >>> default_config().workload.spike_multiplier
        2.0
        """
        ...


@dataclass(frozen=True)
class _Hidden:
    """What an overlay hides from the seeded fleet: service and pod indexes, and the pods' keys."""

    state: OverlayState
    services: frozenset[int]
    pods: frozenset[int]
    pod_keys: frozenset[tuple[str, str]]


def _strip_pod(labels: Labels) -> Labels:
    return {k: v for k, v in labels.items() if k not in _GPU_HELD_LABELS}


def _utc(dt: datetime, what: str) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(dt).__name__}")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


class SimulatedFleet:
    """A simulated llm-d / KServe fleet: the mock-mode :class:`mtop.interfaces.Source`.

    Same ``seed`` (and ``services``, ``start``, config) gives identical objects and query results;
    ``services=N`` sizes the fleet (default: the 16 hand-planned services; 1,000 gives 10,000+ pods).
    Returned objects are shared between calls: treat them as read-only.

    >>> from mtop.config import default_config
    >>> fleet = SimulatedFleet(default_config(), services=1000, clock="frozen")
    >>> len(fleet.plan.pods) >= 10_000
    True
    """

    kind = "simulated"
    cluster = "simulated"

    def __init__(
        self,
        config: FleetConfig | None = None,
        *,
        seed: int = 0,
        services: int | None = None,
        start: datetime | None = None,
        clock: Callable[[], datetime] | Literal["frozen", "wall"] | None = None,
        overlay: OverlayStore | None = None,
    ) -> None:
        if config is None:
            from mtop.config import default_config  # the config module is only needed without an explicit one

            config = default_config()
        self.config = config
        self.seed = int(seed)
        wall_now = datetime.now(UTC)
        self.start = _utc(start, "start") if start is not None else wall_now.replace(microsecond=0)
        self._offset = timedelta(0)
        self._clock = self._make_clock(clock, wall_now)
        self.epoch = self.start - EPOCH_BEFORE_START
        self.plan: FleetPlan = plan_fleet(self.seed, services)
        self.model = WorkloadModel(
            self.plan,
            baseline_qps=float(config.workload.baseline_qps),
            spike_multiplier=float(config.workload.spike_multiplier),
            relative_throughput=self._relative_throughput(config),
            epoch_tick=int(np.floor(self.epoch.timestamp() / TICK)),
        )
        self._telemetry: Telemetry | None = None
        self._objects: dict[str, dict[str, list[JSONDict]]] = {}
        self._crash: tuple[str, int, int] | None = None  # (namespace, position, pod index)
        self._parts: list[PodParts] = []
        self.overlay = overlay
        """The workspace overlay applied over every read (``None``: the seeded fleet only)."""
        self._hidden_cache: _Hidden | None = None
        self._index_cache: tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]] | None = None

    def _make_clock(
        self, clock: Callable[[], datetime] | Literal["frozen", "wall"] | None, wall_now: datetime
    ) -> Callable[[], datetime]:
        start = self.start
        if clock is None or clock == "wall":
            return lambda: start + (datetime.now(UTC) - wall_now)
        if clock == "frozen":
            return lambda: start
        if callable(clock):
            return lambda: _utc(clock(), "clock()")
        raise ValueError(f"clock must be 'wall', 'frozen' or a callable returning a datetime, got {clock!r}")

    @staticmethod
    def _relative_throughput(config: FleetConfig) -> dict[str, float]:
        tech = config.technology
        out: dict[str, float] = {}
        for key, hw in HARDWARE.items():
            matched = tech.match_product(hw.product)
            gpu_type = tech.gpu_types.get(matched) if matched else None
            out[key] = float(gpu_type.relative_throughput) if gpu_type is not None else 1.0
        return out

    @property
    def telemetry(self) -> Telemetry:
        """The fleet's exporters and query engine (built on first use).

        >>> from mtop.config import default_config
        >>> fleet = SimulatedFleet(default_config(), services=3, start=datetime(2026, 8, 3, tzinfo=UTC), clock="frozen")
        >>> fleet.telemetry is fleet.telemetry
        True
        """
        if self._telemetry is None:
            self._telemetry = Telemetry(self.plan, self.model)
        return self._telemetry

    # -------------------------------------------------------------------------------------- time
    def now(self) -> datetime:
        """Simulated now (UTC): the clock's time plus everything :meth:`advance` added.

        >>> from mtop.config import default_config
        >>> fleet = SimulatedFleet(default_config(), services=3, start=datetime(2026, 8, 3, tzinfo=UTC), clock="frozen")
        >>> fleet.now().isoformat()
        '2026-08-03T00:00:00+00:00'
        """
        return self._clock() + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move simulated time forward by ``delta`` (never back: counters must not decrease).

        >>> from mtop.config import default_config
        >>> fleet = SimulatedFleet(default_config(), services=3, start=datetime(2026, 8, 3, tzinfo=UTC), clock="frozen")
        >>> fleet.advance(timedelta(minutes=5))
        >>> fleet.now().isoformat()
        '2026-08-03T00:05:00+00:00'
        """
        if delta < timedelta(0):
            raise ValueError(f"advance() takes a non-negative timedelta, got {delta}")
        self._offset += delta

    # ----------------------------------------------------------------------------------- objects
    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[JSONDict]:
        """Objects of ``kind`` in ``namespaces`` (None: all; ignored for cluster-scoped nodes).

        Items are sorted by namespace and name, as the API server lists them.

        >>> from mtop.config import default_config
        >>> fleet = SimulatedFleet(default_config(), services=3, start=datetime(2026, 8, 3, tzinfo=UTC), clock="frozen")
        >>> [s["metadata"]["name"] for s in fleet.list_objects("llminferenceservices", ["production"])]
        ['claude-3-haiku', 'claude-3-opus']
        """
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; the simulated fleet lists {', '.join(KINDS)}")
        by_ns = self._objects_of(kind)
        if isinstance(namespaces, str):
            namespaces = [namespaces]
        wanted = sorted(by_ns) if namespaces is None or kind == "nodes" else sorted(set(namespaces))
        out: list[JSONDict] = []
        for ns in wanted:
            items = by_ns.get(ns)
            if not items:
                continue
            if kind == "pods" and self._crash is not None and self._crash[0] == ns:
                items = list(items)
                _, position, index = self._crash
                # The one pod whose status moves with time: rebuilt on every list.
                items[position] = pod_object(
                    self.plan, index, self._parts[self.plan.pods[index].service], self.start, self.now()
                )
            out.extend(items)
        hidden = self._hidden()
        if hidden is not None and kind in ("llminferenceservices", "pods"):
            out = self._overlay_objects(kind, out, None if namespaces is None else set(wanted), hidden)
        return out

    def _objects_of(self, kind: str) -> dict[str, list[JSONDict]]:
        if kind not in self._objects:
            self._objects[kind] = getattr(self, f"_build_{kind}")()
        return self._objects[kind]

    def _build_llminferenceservices(self) -> dict[str, list[JSONDict]]:
        order = sorted(
            range(len(self.plan.services)), key=lambda i: (self.plan.services[i].namespace, self.plan.services[i].name)
        )
        out: dict[str, list[JSONDict]] = {}
        for i in order:
            out.setdefault(self.plan.services[i].namespace, []).append(service_object(self.plan, i, self.start))
        return out

    def _build_pods(self) -> dict[str, list[JSONDict]]:
        self._parts = [PodParts(s) for s in self.plan.services]
        pods = self.plan.pods
        order = sorted(range(len(pods)), key=lambda k: (pods[k].namespace, pods[k].name))
        out: dict[str, list[JSONDict]] = {}
        for k in order:
            p = pods[k]
            items = out.setdefault(p.namespace, [])
            if p.state == "crashloop":
                self._crash = (p.namespace, len(items), k)
            items.append(pod_object(self.plan, k, self._parts[p.service], self.start))
        return out

    def _build_nodes(self) -> dict[str, list[JSONDict]]:
        nodes = sorted(self.plan.nodes, key=lambda n: n.name)
        return {"": [node_object(self.seed, n, self.start) for n in nodes]}

    def _build_namespaces(self) -> dict[str, list[JSONDict]]:
        names = sorted({s.namespace for s in self.plan.services})
        return {ns: [namespace_object(self.seed, ns, self.start)] for ns in names}

    # ----------------------------------------------------------------------------------- queries
    def query(self, name: str, params: Mapping[str, Any] | None = None, at: datetime | None = None) -> JSONDict:
        """A named query at one instant (default: now), as Prometheus's ``data``: a ``vector``.

        >>> from mtop.config import default_config
        >>> fleet = SimulatedFleet(default_config(), services=3, start=datetime(2026, 8, 3, tzinfo=UTC), clock="frozen")
        >>> [r["metric"]["service"] for r in fleet.query("ttft_quantile", {"q": 0.5})["result"]]
        ['codellama-34b-instruct', 'claude-3-haiku']
        """
        spec(name)
        norm = normalize_params(name, params)
        t = (_utc(at, "at") if at is not None else self.now()).timestamp()
        labels, values = self._overlay_series(name, *self.telemetry.evaluate(name, norm, np.array([t])))
        return vector(zip(labels, values[:, 0].tolist(), strict=True), t)

    def query_range(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> JSONDict:
        """A named query at ``start, start + step, ...`` up to ``end``, as Prometheus's ``data``: a ``matrix``.

        >>> from mtop.config import default_config
        >>> fleet = SimulatedFleet(default_config(), services=3, start=datetime(2026, 8, 3, tzinfo=UTC), clock="frozen")
        >>> end = fleet.now()
        >>> data = fleet.query_range("request_rate", None, end - timedelta(minutes=2), end, timedelta(minutes=1))
        >>> [len(r["values"]) for r in data["result"]]
        [3, 3]
        """
        spec(name)
        norm = normalize_params(name, params)
        t0, t1 = _utc(start, "start").timestamp(), _utc(end, "end").timestamp()
        dt = step.total_seconds()
        if dt <= 0:
            raise ValueError(f"query_range step must be positive, got {step}")
        if t1 < t0:
            raise ValueError(f"query_range end ({end}) is before start ({start})")
        n = int(np.floor((t1 - t0) / dt + 1e-9)) + 1
        if n > MAX_POINTS:
            raise ValueError(f"query_range would return {n} points per series; the maximum is {MAX_POINTS}")
        times = np.asarray(t0 + dt * np.arange(n), dtype=np.float64)
        labels, values = self._overlay_series(name, *self.telemetry.evaluate(name, norm, times))
        stamps = times.tolist()
        return matrix(
            (lab, list(zip(stamps, row, strict=True))) for lab, row in zip(labels, values.tolist(), strict=True)
        )

    def samples(self, at: datetime | None = None) -> list[tuple[str, Labels, float]]:
        """Every raw series at ``at`` (default: now) as its exporter exposes it: ``(name, labels, value)``.

        Counters are integrated from the fleet's epoch (one day before ``start``); label dicts are
        shared between series of one pod: read-only.

        >>> from mtop.config import default_config
        >>> fleet = SimulatedFleet(default_config(), services=3, start=datetime(2026, 8, 3, tzinfo=UTC), clock="frozen")
        >>> sum(1 for name, _, _ in fleet.samples() if name == "vllm:num_requests_waiting")  # one per ready vLLM pod
        4
        """
        t = (_utc(at, "at") if at is not None else self.now()).timestamp()
        out = self.telemetry.samples(t)
        hidden = self._hidden()
        return out if hidden is None or not hidden.services else self._overlay_samples(out, hidden)

    # ----------------------------------------------------------------------------------- overlay
    def _indexes(self) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
        """``(namespace, name)`` -> index, for services and for pods of the plan (built once)."""
        if self._index_cache is None:
            services = {(s.namespace, s.name): i for i, s in enumerate(self.plan.services)}
            pods = {(p.namespace, p.name): k for k, p in enumerate(self.plan.pods)}
            self._index_cache = (services, pods)
        return self._index_cache

    def _hidden(self) -> _Hidden | None:
        """What the overlay changes now (``None``: nothing); one ``stat`` of the overlay file per call."""
        if self.overlay is None:
            return None
        state = self.overlay.state()
        if state.empty:
            return None
        cached = self._hidden_cache
        if cached is not None and cached.state is state:
            return cached
        services_at, _ = self._indexes()
        services = frozenset(i for key in state.deleted if (i := services_at.get(key)) is not None)
        pods = frozenset(k for i in services for k in self.plan.pods_of[i])
        keys = frozenset((self.plan.pods[k].namespace, self.plan.pods[k].name) for k in pods)
        hidden = _Hidden(state, services, pods, keys)
        self._hidden_cache = hidden
        return hidden

    def _overlay_objects(
        self, kind: str, items: list[JSONDict], namespaces: set[str] | None, hidden: _Hidden
    ) -> list[JSONDict]:
        def key(o: JSONDict) -> tuple[str, str]:
            return o["metadata"].get("namespace", ""), o["metadata"]["name"]

        if kind == "pods":
            return [p for p in items if key(p) not in hidden.pod_keys] if hidden.pod_keys else items
        kept = [o for o in items if key(o) not in hidden.state.deleted]
        kept += [o for o in hidden.state.created if namespaces is None or key(o)[0] in namespaces]
        return sorted(kept, key=key)

    def _overlay_series(
        self, name: str, labels: list[Labels], values: NDArray[np.float64]
    ) -> tuple[list[Labels], NDArray[np.float64]]:
        """Query results without the series of deleted services; GPUs they held read idle and unallocated."""
        hidden = self._hidden()
        if hidden is None or not hidden.services:
            return labels, values
        tel = self.telemetry
        if name in _GPU_QUERIES:
            held = np.isin(tel.gpu_pod, np.fromiter(hidden.pods, dtype=np.int64))
            if not held.any():
                return labels, values
            values = values.copy()
            if name == "gpu_utilization":
                values[held] = 0.0
            elif name == "gpu_memory_used":
                values[held] = _IDLE_FB_MIB
            elif name == "gpu_power":
                values[held] = tel.gpu_idle_w[held][:, None]
            return [_strip_pod(lab) if h else lab for lab, h in zip(labels, held.tolist(), strict=True)], values
        if name.startswith("epp_"):
            shown = {(s.namespace, s.model_name) for i, s in enumerate(self.plan.services) if i not in hidden.services}
            keep = [i for i, lab in enumerate(labels) if (lab.get("namespace"), lab.get("model_name")) in shown]
        else:
            gone = hidden.state.deleted
            keep = [i for i, lab in enumerate(labels) if (lab.get("namespace", ""), lab.get("service", "")) not in gone]
        return [labels[i] for i in keep], values[keep]

    def _overlay_samples(
        self, samples: list[tuple[str, Labels, float]], hidden: _Hidden
    ) -> list[tuple[str, Labels, float]]:
        """Raw series without deleted services' pods and pools; their GPUs as idle, unallocated ones."""
        pools = {(ns, f"{name}-inference-pool") for ns, name in hidden.state.deleted}
        idle_w = {
            lab["UUID"]: float(w) for lab, w in zip(self.telemetry.gpu_labels, self.telemetry.gpu_idle_w, strict=True)
        }
        used = {lab["UUID"]: v for m, lab, v in samples if m == "DCGM_FI_DEV_FB_USED"}
        out: list[tuple[str, Labels, float]] = []
        for metric, labels, value in samples:
            pod = labels.get("pod")
            if pod is not None and (labels.get("namespace", ""), pod) in hidden.pod_keys:
                if not metric.startswith("DCGM_"):
                    continue  # vLLM and endpoint-picker series of a deleted pod
                uuid = labels["UUID"]
                if metric in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_GR_ENGINE_ACTIVE"):
                    value = 0.0
                elif metric == "DCGM_FI_DEV_FB_USED":
                    value = _IDLE_FB_MIB
                elif metric == "DCGM_FI_DEV_FB_FREE":
                    value = value + used[uuid] - _IDLE_FB_MIB
                elif metric == "DCGM_FI_DEV_POWER_USAGE":
                    value = idle_w[uuid]
                out.append((metric, _strip_pod(labels), value))
            elif metric.startswith("inference_pool_") and (labels.get("namespace"), labels.get("name")) in pools:
                continue
            else:
                out.append((metric, labels, value))
        return out

    def _store(self) -> OverlayStore:
        if self.overlay is None:
            raise SourceError("this simulated fleet has no overlay store to record changes in", source="simulated")
        return self.overlay

    def create_objects(
        self, kind: str, objects: Sequence[Mapping[str, Any]], *, before_commit: Callable[[], None] | None = None
    ) -> list[JSONDict]:
        """Create LLMInferenceServices in the overlay, all or none, and return them as stored.

        Each needs ``metadata.name`` and ``metadata.namespace`` (an existing namespace) and must not
        exist yet. The stored object gets server-set metadata and a not-ready status (see
        :mod:`mtop.sources.overlay`). ``before_commit`` runs just before the write and may raise to cancel.

        >>> import tempfile
        >>> from pathlib import Path
        >>> from mtop.config import default_config
        >>> store = OverlayStore(Path(tempfile.mkdtemp()) / "overlay.json")
        >>> fleet = SimulatedFleet(default_config(), clock="frozen", overlay=store)
        >>> obj = {"apiVersion": "serving.kserve.io/v1alpha2", "kind": "LLMInferenceService",
        ...        "metadata": {"name": "new", "namespace": "staging"}, "spec": {"model": {"uri": "hf://x/y"}}}
        >>> [o["metadata"]["name"] for o in fleet.create_objects("llminferenceservices", [obj])]
        ['new']
        >>> "new" in [o["metadata"]["name"] for o in fleet.list_objects("llminferenceservices", ["staging"])]
        True
        """
        self._writable(kind)
        store = self._store()
        namespaces = set(self._objects_of("namespaces"))
        seeded, _ = self._indexes()
        now = self.now()
        stored: list[JSONDict] = []

        def change(state: OverlayState) -> OverlayState:
            stored.clear()
            for obj in objects:
                meta = obj.get("metadata") or {}
                ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
                if ns not in namespaces:
                    known = ", ".join(sorted(namespaces))
                    raise SourceError(
                        f'namespaces "{ns}" not found (the simulated fleet has {known})', source="simulated"
                    )
                if state.find_created(ns, name) is not None or ((ns, name) in seeded and not state.hidden(ns, name)):
                    raise SourceError(
                        f'llminferenceservices "{name}" already exists in namespace "{ns}"', source="simulated"
                    )
                full = self._as_stored(obj, state.revision + 1, now)
                state = state.with_created(full)
                stored.append(full)
            return state

        store.commit(change, before_commit)
        return stored

    def _as_stored(self, obj: Mapping[str, Any], revision: int, now: datetime) -> JSONDict:
        out: JSONDict = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
        meta = out.setdefault("metadata", {})
        ns, name = meta["namespace"], meta["name"]
        meta.update(
            uid=stable_uuid(self.seed, "created", ns, name, rfc3339(now), str(revision)),
            creationTimestamp=rfc3339(now),
            generation=1,
            resourceVersion=str(90_000_000 + revision),
        )
        out["status"] = created_status(out, now, f"http://{GATEWAY}/{ns}/{name}")
        return out

    def delete_objects(
        self,
        kind: str,
        keys: Sequence[tuple[str, str]],
        *,
        before_commit: Callable[[], None] | None = None,
    ) -> list[JSONDict]:
        """Delete LLMInferenceServices ``(namespace, name)`` through the overlay, all or none; returns them.

        >>> import tempfile
        >>> from pathlib import Path
        >>> from mtop.config import default_config
        >>> store = OverlayStore(Path(tempfile.mkdtemp()) / "o.json")
        >>> fleet = SimulatedFleet(default_config(), clock="frozen", overlay=store)
        >>> gone = fleet.delete_objects("llminferenceservices", [("production", "gpt-4-turbo")])
        >>> [o["metadata"]["name"] for o in gone]
        ['gpt-4-turbo']
        >>> any(p["metadata"]["name"].startswith("gpt-4-turbo-") for p in fleet.list_objects("pods", ["production"]))
        False
        """
        self._writable(kind)
        store = self._store()
        seeded = {
            (o["metadata"]["namespace"], o["metadata"]["name"]): o
            for items in self._objects_of("llminferenceservices").values()
            for o in items
        }
        removed: list[JSONDict] = []

        def change(state: OverlayState) -> OverlayState:
            removed.clear()
            for ns, name in keys:
                found = state.find_created(ns, name)
                if found is None and not state.hidden(ns, name):
                    found = seeded.get((ns, name))
                if found is None:
                    raise SourceError(
                        f'llminferenceservices "{name}" not found in namespace "{ns}"', source="simulated"
                    )
                removed.append(found)
                state = state.with_deleted(ns, name)
            return state

        store.commit(change, before_commit)
        return removed

    def reset_overlay(self) -> bool:
        """Forget every created and deleted service (the seeded fleet again); ``False`` if nothing was changed.

        >>> from mtop.config import default_config
        >>> SimulatedFleet(default_config(), clock="frozen").reset_overlay()
        False
        """
        return self.overlay.reset() if self.overlay is not None else False

    @staticmethod
    def _writable(kind: str) -> None:
        if kind != "llminferenceservices":
            raise SourceError(f"the simulated fleet can only create and delete llminferenceservices, not {kind}")

    # -------------------------------------------------------------------------------------- logs
    def read_pod_log(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        since_seconds: float | None = None,
        timestamps: bool = False,
    ) -> str:
        """The log of a model pod's ``main`` container, as CoreV1 ``read_namespaced_pod_log`` returns it.

        Simulated vLLM logs (:mod:`mtop.sources.sim_logs`) whose engine figures come from the workload
        model, the same numbers the pod's metrics expose. ``SourceError`` for an unknown pod or
        container, a pod whose container never started, or an endpoint-picker pod.

        >>> from mtop.config import default_config
        >>> fleet = SimulatedFleet(default_config(), start=datetime(2026, 8, 3, 12, tzinfo=UTC), clock="frozen")
        >>> pod = fleet.list_objects("pods", ["production"])[0]["metadata"]["name"]
        >>> "Avg generation throughput" in fleet.read_pod_log("production", pod, tail_lines=1)
        True
        """
        pod = next((p for p in self.list_objects("pods", [namespace]) if p["metadata"]["name"] == name), None)
        if pod is None:
            raise SourceError(f'pods "{name}" not found in namespace "{namespace}"', source="simulated")
        if container not in (None, "main"):
            raise SourceError(
                f'container "{container}" is not valid for pod "{name}" (it has: main)', source="simulated"
            )
        k = self._indexes()[1][(namespace, name)]
        rec = self.plan.pods[k]
        if rec.kind == "epp":
            raise SourceError(f'pod "{name}" is an endpoint picker: the simulated fleet writes vLLM logs only',
                              source="simulated")  # fmt: skip
        s = self.plan.services[rec.service]
        per_pod = int(s.parallelism.get("dataLocal", 0) or 0) if s.multinode else 0
        subject = LogSubject(
            model_name=s.model_name,
            namespace=namespace,
            service=s.name,
            pod=name,
            seed=self.seed,
            tensor=int(s.parallelism.get("tensor", 0) or s.gpus_per_pod or 1),
            params_b=float(s.params_b),
            gpu_memory_mib=HARDWARE[s.hardware].memory_mib if s.hardware else 0,
            platform="cuda" if s.hardware else "cpu",
            engines=max(1, per_pod),
            first_engine=rec.worker * per_pod,
        )
        return pod_log(
            pod,
            subject,
            self._stats_at(k),
            self.now(),
            tail_lines=tail_lines,
            since_seconds=since_seconds,
            timestamps=timestamps,
            history_start=self.epoch,
        )

    def _stats_at(self, k: int) -> Callable[[NDArray[np.float64]], PodStats] | None:
        """Engine figures of plan pod ``k`` from the workload model (``None`` if it takes no traffic)."""
        tel = self.telemetry
        rows = np.flatnonzero(tel.pod_index == k)
        if rows.size == 0:
            return None
        row, s, w = int(rows[0]), self.plan.pods[k].service, STATS_INTERVAL_S
        # Bound the working set: the model evaluates every service (and every pod's gauges) per time.
        chunk = max(16, 2_000_000 // max(1, len(tel.pod_index), len(self.plan.services)))

        def stats_at(times: NDArray[np.float64]) -> PodStats:
            parts: list[list[NDArray[np.float64]]] = [[] for _ in range(6)]
            for c0 in range(0, times.size, chunk):
                t = times[c0 : c0 + chunk]
                tokens = self.model.increase("tokens", t - w, t)[s]
                finished = self.model.increase("finished", t - w, t)[s]
                gauges = tel.pod_gauges(self.model.state(np.floor(t / TICK).astype(np.int64)))
                for i, values in enumerate(
                    (
                        tokens[0] * tel.prompt_share[row] / w,
                        tokens[1] * tel.req_share[row] / w,
                        gauges["running"][row],
                        gauges["waiting"][row],
                        gauges["kv"][row],
                        finished[2] * tel.req_share[row],
                    )
                ):
                    parts[i].append(np.asarray(values, dtype=np.float64))
            return PodStats(*(np.concatenate(p) if p else np.zeros(0) for p in parts))

        return stats_at
