"""``SimulatedFleet``: the deterministic, seeded fleet that mock mode reads, behind ``interfaces.Source``.

It answers ``list_objects`` with Kubernetes object dicts (built once, shared, read-only) and the
catalogue's named queries with Prometheus ``data`` objects computed from its workload model, and
exposes every raw series through :meth:`SimulatedFleet.samples` for serving ``/metrics``.

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

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import numpy as np

from mtop.catalogue import normalize_params, spec
from mtop.interfaces import JSONDict
from mtop.promql import matrix, vector
from mtop.sources.hardware import HARDWARE
from mtop.sources.objects import namespace_object, node_object
from mtop.sources.pod_objects import PodParts, pod_object
from mtop.sources.service_objects import service_object
from mtop.sources.telemetry import Labels, Telemetry
from mtop.sources.topology import FleetPlan, plan_fleet
from mtop.sources.workload import TICK, WorkloadModel

__all__ = ["KINDS", "FleetConfig", "SimulatedFleet"]

KINDS = ("llminferenceservices", "pods", "nodes", "namespaces")
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
        labels, values = self.telemetry.evaluate(name, norm, np.array([t]))
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
        labels, values = self.telemetry.evaluate(name, norm, times)
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
        return self.telemetry.samples(t)
