"""One service of the simulated fleet as the simulation layer sees it: capacity, load, latency, price.

Every number comes from the simulated fleet's workload model (``mtop.sources.workload``): a replica's
capacity (requests/s at full load), the unloaded TTFT median, the base error share, the current
request rate (the tick at ``fleet.now()``) and its mean share of the fleet's rate; the GPU price comes
from ``config.technology``. Load ``rho = rate / (ready replicas x capacity per replica)`` then gives
the TTFT p95 as Prometheus reports it (``histogram_quantile`` over vLLM's buckets), the error rate
and the GPU utilisation, exactly as the fleet's exporters would.

>>> from datetime import UTC, datetime
>>> from mtop.context import connect
>>> fleet = connect(seed=0, clock="frozen", start=datetime(2026, 8, 3, 12, tzinfo=UTC))
>>> m = find_service(service_models(fleet), "llama-3-8b-instruct")
>>> m.gpu_type, m.replicas, bool(m.ttft_p95_ms(m.rho(m.rate, m.ready_replicas)) < 500)
('nvidia-a100', 12, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mtop.simulation.topologies import SimulationError
from mtop.sources.hardware import HARDWARE
from mtop.sources.simulated import SimulatedFleet
from mtop.sources.workload import (
    RHO_CAP,
    TICK,
    error_share,
    gpu_utilization_percent,
    observed_quantile,
    ttft_median,
)

if TYPE_CHECKING:
    from mtop.config import Config
    from mtop.context import Fleet

__all__ = [
    "SLOTargets",
    "ServiceModel",
    "SimulationError",
    "busiest",
    "find_service",
    "resolve_fleet",
    "service_models",
    "slo_targets",
]


@dataclass(frozen=True)
class SLOTargets:
    """The two SLOs a simulation gates on: TTFT p95 (ms) and error rate (percent); met when ``<=``.

    >>> SLOTargets(500.0, 0.1).met(480.0, 0.02), SLOTargets(500.0, 0.1).met(480.0, 2.0)
    (True, False)
    """

    ttft_p95_ms: float
    error_rate_percent: float

    def met(self, ttft_p95_ms: float, error_rate_percent: float) -> bool:
        """Whether both figures are within their targets (NaN, i.e. no traffic, is not a breach)."""
        return not (ttft_p95_ms > self.ttft_p95_ms or error_rate_percent > self.error_rate_percent)

    def breach(self, ttft_p95_ms: float, error_rate_percent: float, who: str) -> str:
        """Why ``who`` breaches (or meets) the SLOs, in words with the numbers.

        >>> SLOTargets(500.0, 0.1).breach(612.0, 0.02, "canary")
        'canary TTFT p95 612 ms > SLO 500 ms'
        """
        parts = []
        if ttft_p95_ms > self.ttft_p95_ms:
            parts.append(f"TTFT p95 {ttft_p95_ms:.0f} ms > SLO {self.ttft_p95_ms:g} ms")
        if error_rate_percent > self.error_rate_percent:
            parts.append(f"errors {error_rate_percent:.2f} % > SLO {self.error_rate_percent:g} %")
        if not parts:
            return (
                f"{who} TTFT p95 {ttft_p95_ms:.0f} ms <= {self.ttft_p95_ms:g} ms, "
                f"errors {error_rate_percent:.2f} % <= {self.error_rate_percent:g} %"
            )
        return f"{who} " + " and ".join(parts)

    def as_dict(self) -> dict[str, float]:
        """``{"ttft_p95_ms": ..., "error_rate_percent": ...}`` (for ``df.attrs``)."""
        return {"ttft_p95_ms": self.ttft_p95_ms, "error_rate_percent": self.error_rate_percent}


def slo_targets(config: Config, slo: Any = None) -> SLOTargets:
    """SLO targets from ``slo`` (an ``SLOConfig``, a mapping, or None for ``config.slo``).

    A mapping may give one of the two keys; the other comes from the config.

    >>> from mtop.config import default_config
    >>> slo_targets(default_config(), {"ttft_p95_ms": 800})
    SLOTargets(ttft_p95_ms=800.0, error_rate_percent=0.1)
    """
    base = config.slo
    if slo is None:
        values: Mapping[str, Any] = {}
    elif isinstance(slo, Mapping):
        unknown = sorted(set(slo) - {"ttft_p95_ms", "error_rate_percent", "tokens_per_second"})
        if unknown:
            raise SimulationError(f"unknown SLO key(s) {', '.join(unknown)}; use ttft_p95_ms, error_rate_percent")
        values = slo
    else:
        values = {"ttft_p95_ms": slo.ttft_p95_ms, "error_rate_percent": slo.error_rate_percent}
    ttft = float(values.get("ttft_p95_ms", base.ttft_p95_ms))
    err = float(values.get("error_rate_percent", base.error_rate_percent))
    if not ttft > 0 or not 0 <= err <= 100:
        raise SimulationError(
            f"SLO targets must be ttft_p95_ms > 0 and 0 <= error_rate_percent <= 100, got {ttft}, {err}"
        )
    return SLOTargets(ttft, err)


@dataclass(frozen=True)
class ServiceModel:
    """What the fleet's model says about one serving service (see the module docstring).

    ``gpus_per_replica`` includes a replica's share of prefill GPUs (a P/D service), so that
    ``replicas x gpus_per_replica x gpu_hourly_cost`` is the service's GPU cost.
    """

    namespace: str
    service: str
    gpu_type: str | None
    """Config key of its GPU type (None: CPU-only, or a GPU no configured type matches)."""
    replicas: int
    ready_replicas: int
    gpus_per_replica: float
    gpu_hourly_cost: float
    """USD per GPU-hour (0 for a CPU-only service: the cost model prices GPUs only; NaN if unknown)."""
    relative_throughput: float
    capacity_per_replica: float
    """Requests/s one ready replica finishes at full load (``rho = 1``)."""
    base_ttft_s: float
    base_error: float
    rate: float
    """Requests/s at ``fleet.now()``."""
    weight: float
    """Mean share of the fleet's request rate (the baseline split, without the smooth jitter)."""

    @property
    def cpu_only(self) -> bool:
        """Whether the service runs on CPUs only (no GPU type to switch)."""
        return self.gpus_per_replica == 0

    def rho(self, rate: ArrayLike, replicas: ArrayLike, speed: float = 1.0) -> NDArray[np.float64]:
        """Load of ``replicas`` ready replicas (each ``speed`` x as fast as today's) serving ``rate`` requests/s.

        Zero replicas with traffic is infinite load; zero traffic is zero load.
        """
        r = np.asarray(rate, dtype=np.float64)
        n = np.asarray(replicas, dtype=np.float64) * self.capacity_per_replica * speed
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r > 0, np.divide(r, n), 0.0)

    def ttft_p95_ms(self, rho: ArrayLike, latency_factor: float = 1.0, speed: float = 1.0) -> NDArray[np.float64]:
        """TTFT p95 (ms) at load ``rho`` as Prometheus would report it; ``latency_factor`` scales the unloaded TTFT."""
        base = self.base_ttft_s * latency_factor / speed
        return observed_quantile("ttft", ttft_median(rho, base), 0.95) * 1000.0

    def error_rate_percent(self, rho: ArrayLike, extra_percent: float = 0.0) -> NDArray[np.float64]:
        """Errors (percent of finished requests) at load ``rho``, plus an independent ``extra_percent`` defect."""
        load = error_share(rho, self.base_error)
        return 100.0 * (1.0 - (1.0 - load) * (1.0 - extra_percent / 100.0))

    def utilization_percent(self, rho: ArrayLike) -> NDArray[np.float64]:
        """Mean GPU utilisation at load ``rho`` (NaN for a CPU-only service)."""
        util = gpu_utilization_percent(rho)
        return np.full_like(util, math.nan) if self.cpu_only else util

    def hourly_cost(self, replicas: ArrayLike, gpus_per_replica: float | None = None, price: float | None = None) -> (
        NDArray[np.float64]
    ):  # fmt: skip
        """GPU cost (USD/h) of ``replicas`` replicas (default: this GPU type and size)."""
        gpr = self.gpus_per_replica if gpus_per_replica is None else gpus_per_replica
        usd = self.gpu_hourly_cost if price is None else price
        return np.asarray(replicas, dtype=np.float64) * gpr * usd

    def meets(self, rate: float, replicas: int, slo: SLOTargets, speed: float = 1.0) -> bool:
        """Whether ``replicas`` ready replicas serve ``rate`` within the SLOs (and below the load cap)."""
        rho = float(self.rho(rate, replicas, speed))
        if rho > RHO_CAP:
            return False
        return slo.met(float(self.ttft_p95_ms(rho, speed=speed)), float(self.error_rate_percent(rho)))

    def attainable(self, slo: SLOTargets, speed: float = 1.0) -> bool:
        """Whether any replica count meets the SLOs: true iff they hold with no load at all."""
        return slo.met(float(self.ttft_p95_ms(0.0, speed=speed)), float(self.error_rate_percent(0.0)))

    def replicas_needed(self, rate: float, slo: SLOTargets, speed: float = 1.0) -> int | None:
        """The smallest replica count meeting the SLOs at ``rate`` (None if no count does).

        Latency and errors only grow with load, so feasibility is monotone in the replica count:
        double until feasible, then bisect.
        """
        if not self.attainable(slo, speed):
            return None
        lo = max(0, math.ceil(rate / (self.capacity_per_replica * speed * RHO_CAP)) - 1)  # infeasible (or 0)
        hi = max(1, lo + 1)
        while not self.meets(rate, hi, slo, speed):
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if self.meets(rate, mid, slo, speed) else (mid, hi)
        return hi


def resolve_fleet(fleet: Fleet | None) -> tuple[Fleet, SimulatedFleet]:
    """The fleet (default: ``default_fleet()``) and its simulated source; a live fleet is an error.

    >>> from mtop.context import connect
    >>> type(resolve_fleet(connect(seed=0, clock="frozen"))[1]).__name__
    'SimulatedFleet'
    """
    if fleet is None:
        from mtop.context import default_fleet

        fleet = default_fleet()
    source = fleet.source
    if not isinstance(source, SimulatedFleet):
        raise SimulationError(
            f"simulations play on the simulated fleet's model; this fleet's source is {source.kind!r} "
            "(connect with mode='mock')"
        )
    return fleet, source


def service_models(fleet: Fleet | None = None, namespaces: Sequence[str] | str | None = None) -> list[ServiceModel]:
    """Every service of the simulated fleet with ready replicas, in ``namespaces`` (None: all), by namespace and name.

    >>> from mtop.context import connect
    >>> len(service_models(connect(seed=0, clock="frozen"), ["production"]))  # claude-3-opus has none ready
    7
    """
    fleet, sim = resolve_fleet(fleet)
    wanted = {namespaces} if isinstance(namespaces, str) else set(namespaces) if namespaces is not None else None
    model, plan, tech = sim.model, sim.plan, fleet.config.technology
    tick = math.floor(fleet.now().timestamp() / TICK)
    rate = model.state([tick]).rate[:, 0]
    out: list[ServiceModel] = []
    for i, spec in enumerate(plan.services):
        ready = int(model.ready_replicas[i])
        if ready <= 0 or (wanted is not None and spec.namespace not in wanted):
            continue
        gpu_type, price, rel = None, 0.0, 1.0
        if spec.hardware is not None:
            gpu_type = tech.match_product(HARDWARE[spec.hardware].product)
            found = tech.gpu_types.get(gpu_type) if gpu_type else None
            price = float(found.hourly_cost) if found else math.nan
            rel = float(found.relative_throughput) if found else 1.0
        gpus = spec.replicas * spec.gpus_per_pod * spec.pods_per_replica + spec.prefill_replicas * spec.gpus_per_pod
        out.append(
            ServiceModel(
                namespace=spec.namespace,
                service=spec.name,
                gpu_type=gpu_type,
                replicas=spec.replicas,
                ready_replicas=ready,
                gpus_per_replica=gpus / spec.replicas if spec.replicas else 0.0,
                gpu_hourly_cost=price,
                relative_throughput=rel,
                capacity_per_replica=float(model.capacity[i]) / ready,
                base_ttft_s=float(model.base_ttft[i]),
                base_error=float(model.base_error[i]),
                rate=float(rate[i]),
                weight=float(model.weight[i]),
            )
        )
    return sorted(out, key=lambda m: (m.namespace, m.service))


def find_service(models: Sequence[ServiceModel], service: str, namespace: str | None = None) -> ServiceModel:
    """The model of ``service`` (in ``namespace`` if given); the error lists what exists.

    >>> find_service([], "nope")
    Traceback (most recent call last):
    ...
    mtop.simulation.topologies.SimulationError: no serving service 'nope'; serving: (none)
    """
    found = [m for m in models if m.service == service and (namespace is None or m.namespace == namespace)]
    if not found:
        where = f" in namespace {namespace!r}" if namespace else ""
        names = ", ".join(f"{m.namespace}/{m.service}" for m in models) or "(none)"
        raise SimulationError(f"no serving service {service!r}{where}; serving: {names}")
    if len(found) > 1:
        raise SimulationError(
            f"service {service!r} exists in namespaces {', '.join(m.namespace for m in found)}: name one"
        )
    return found[0]


def busiest(models: Sequence[ServiceModel], slo: SLOTargets | None = None) -> ServiceModel:
    """The service with the highest request rate (with ``slo``: the busiest one meeting it, if any does).

    >>> busiest([])
    Traceback (most recent call last):
    ...
    mtop.simulation.topologies.SimulationError: no service with ready replicas to simulate
    """
    if not models:
        raise SimulationError("no service with ready replicas to simulate")
    pool = list(models)
    if slo is not None:
        healthy = [m for m in pool if m.meets(m.rate, m.ready_replicas, slo)]
        pool = healthy or pool
    return max(pool, key=lambda m: (m.rate, m.namespace, m.service))
