"""SLO convergence done right: the cheapest replica count and GPU type that meets the SLOs at a load.

The earlier mtop scored "convergence" from random metrics and rotated strategies on a timer. Here
the answer follows from the simulated fleet's model of the service, by a search that is
deterministic and explains every step:

- Options: each configured GPU type (``technology.gpu_types``), with as many GPUs per replica as
  give a replica at least the GPU memory it has today. A replica on type ``g`` is
  ``speed = (GPUs x relative_throughput on g) / (GPUs x relative_throughput today)`` times as fast:
  its capacity is multiplied, and its unloaded TTFT divided, by ``speed``.
- Feasible: TTFT p95 (as Prometheus reports it) and error rate within the SLOs, and load at most
  0.97 (past that a queue grows without bound). Latency and errors only grow with load, so on one
  GPU type feasibility is monotone in the replica count: the search doubles from a first guess
  until a count is feasible, then bisects, never probing outside the bracket it has narrowed to.
- GPU types are tried from today's type, then by price per unit of throughput. A type whose lower
  bound (the replicas that keep load under 0.97) already costs more than the best option so far is
  skipped, and so is a type on which even an idle service would miss the SLO.
- The answer is the feasible option of lowest hourly cost (ties: fewer GPUs, then the earlier type).

Each row of the result is one evaluated option and the decision taken after it: ``scale_up``
(it misses the SLO), ``scale_down`` (it meets it; try fewer), ``switch_gpu`` (this type is settled or
skipped; move on, or back to the best one), ``accept`` (the chosen option, ``chosen`` True).

>>> from datetime import UTC, datetime
>>> from mtop.context import connect
>>> fleet = connect(seed=0, clock="frozen", start=datetime(2026, 8, 3, 12, tzinfo=UTC))
>>> df = converge(fleet, service="llama-3-8b-instruct", gpu_types=["nvidia-a100"])
>>> df.loc[df["chosen"], ["gpu_type", "replicas", "decision"]].values.tolist()
[['nvidia-a100', 5, 'accept']]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from mtop.recommend import UnknownGPUTypeError
from mtop.simulation.service_model import (
    ServiceModel,
    SimulationError,
    SLOTargets,
    busiest,
    find_service,
    resolve_fleet,
    service_models,
    slo_targets,
)
from mtop.sources.workload import RHO_CAP

if TYPE_CHECKING:
    from mtop.config import Config
    from mtop.context import Fleet

__all__ = ["COLUMNS", "GPUOption", "bracket_search", "converge", "gpu_options"]

COLUMNS = {
    "iteration": "int64", "namespace": "string", "service": "string", "gpu_type": "string",
    "gpus_per_replica": "float64", "replicas": "Int64", "gpus": "Int64", "requests_per_second": "float64",
    "utilization_percent": "float64", "ttft_p95_ms": "float64", "error_rate_percent": "float64",
    "hourly_cost": "float64", "meets_slo": "bool", "decision": "string", "reason": "string", "chosen": "bool",
}  # fmt: skip
METHOD = (
    "per GPU type: GPUs per replica to keep today's GPU memory per replica; speed = GPUs x relative_throughput "
    "vs today's; rho = load / (replicas x capacity per replica x speed); TTFT p95 = histogram_quantile over "
    "vLLM's buckets of the fleet's lognormal TTFT with the unloaded median / speed; feasible = both SLOs met "
    "and rho <= 0.97; search: double then bisect per type (feasibility is monotone in replicas); choose the "
    "lowest hourly cost"
)


@dataclass(frozen=True)
class GPUOption:
    """One GPU type a service could run on: GPUs per replica, relative speed of a replica, price per GPU-hour.

    >>> GPUOption("nvidia-h100", 2.0, 1.0, 5.0).replica_cost
    10.0
    """

    gpu_type: str | None
    gpus_per_replica: float
    speed: float
    price: float

    @property
    def replica_cost(self) -> float:
        """USD per hour of one replica."""
        return self.gpus_per_replica * self.price

    def gpus(self, replicas: int) -> int:
        """GPUs of ``replicas`` replicas (a P/D replica's prefill share can be fractional: rounded up)."""
        return math.ceil(round(replicas * self.gpus_per_replica, 9))


def gpu_options(m: ServiceModel, config: Config, gpu_types: Iterable[str] | None = None) -> list[GPUOption]:
    """The options to search for ``m``, in search order: today's type, then by price per unit of throughput.

    A CPU-only service has one option (its own, free of GPU cost), and so has a service whose GPU
    matches no configured type.

    >>> from mtop.config import default_config
    >>> from mtop.context import connect
    >>> m = service_models(connect(seed=0, clock="frozen"), "production")[-1]  # mixtral on 2 H100 per replica
    >>> [(o.gpu_type, o.gpus_per_replica) for o in gpu_options(m, default_config(), ["nvidia-l4", "nvidia-h100"])]
    [('nvidia-h100', 2.0), ('nvidia-l4', 7.0)]
    """
    types = config.technology.gpu_types
    if isinstance(gpu_types, str):
        gpu_types = [gpu_types]
    wanted = list(types) if gpu_types is None else list(dict.fromkeys(gpu_types))
    unknown = [g for g in wanted if g not in types]
    if unknown:
        raise UnknownGPUTypeError(f"unknown GPU type(s) {', '.join(unknown)}; valid: {', '.join(sorted(types))}",
                                  key="gpu_types")  # fmt: skip
    current = GPUOption(m.gpu_type, m.gpus_per_replica, 1.0, m.gpu_hourly_cost)
    if m.cpu_only or m.gpu_type is None:
        return [current]
    now = types[m.gpu_type]
    memory = m.gpus_per_replica * now.memory_gb
    out = []
    for key in wanted:
        if key == m.gpu_type:
            continue
        g = types[key]
        gpr = float(max(1, math.ceil(round(memory / g.memory_gb, 9))))
        speed = gpr * g.relative_throughput / (m.gpus_per_replica * now.relative_throughput)
        out.append(GPUOption(key, gpr, speed, float(g.hourly_cost)))
    out.sort(key=lambda o: (o.replica_cost / o.speed, o.gpu_type or ""))
    return ([current] if m.gpu_type in wanted else []) + out


def bracket_search(feasible: Callable[[int], bool], start: int, lower: int = 0) -> list[tuple[int, bool]]:
    """Probes ``(n, feasible(n))`` that find the smallest feasible ``n > lower`` of a monotone predicate.

    ``lower`` is known infeasible (or 0). From ``start``, double until feasible, then bisect; every
    probe lies strictly inside the bracket ``(largest infeasible, smallest feasible)`` seen so far, so
    no count is probed twice. The answer is the smallest feasible probe. Needs some feasible ``n``.

    >>> bracket_search(lambda n: n >= 5, start=2)
    [(2, False), (4, False), (8, True), (6, True), (5, True)]
    """
    lo, hi = max(0, lower), None
    n = max(start, lo + 1)
    probes: list[tuple[int, bool]] = []
    while True:
        ok = feasible(n)
        probes.append((n, ok))
        if ok:
            hi = n
        else:
            lo = n
        if hi is not None and hi - lo <= 1:
            return probes
        n = (lo + hi) // 2 if hi is not None else max(lo + 1, 2 * lo)


class _History:
    def __init__(self, m: ServiceModel, load: float, slo: SLOTargets) -> None:
        self.m, self.load, self.slo = m, load, slo
        self.cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}

    def evaluate(self, o: GPUOption, n: int | None) -> dict[str, Any]:
        rho = float(self.m.rho(self.load, n, o.speed)) if n else 0.0
        ttft = float(self.m.ttft_p95_ms(rho, speed=o.speed))
        err = float(self.m.error_rate_percent(rho))
        return {
            "gpu_type": o.gpu_type, "gpus_per_replica": o.gpus_per_replica, "replicas": n,
            "gpus": None if n is None else o.gpus(n), "requests_per_second": self.load,
            "utilization_percent": float(self.m.utilization_percent(rho)), "ttft_p95_ms": ttft,
            "error_rate_percent": err, "hourly_cost": math.nan if n is None else o.gpus(n) * o.price,
            "meets_slo": n is not None and rho <= RHO_CAP and self.slo.met(ttft, err),
        }  # fmt: skip

    def add(self, row: dict[str, Any], decision: str, reason: str, chosen: bool = False) -> None:
        full = {"iteration": len(self.cols["iteration"]), "namespace": self.m.namespace, "service": self.m.service,
                **row, "decision": decision, "reason": reason, "chosen": chosen}  # fmt: skip
        for key in COLUMNS:
            self.cols[key].append(full[key])

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(self.cols[c], dtype=dtype) for c, dtype in COLUMNS.items()})


def _label(o: GPUOption) -> str:
    return o.gpu_type or "CPU"


def _figures(row: dict[str, Any]) -> str:
    return (
        f"TTFT p95 {row['ttft_p95_ms']:.0f} ms, errors {row['error_rate_percent']:.2f} %, ${row['hourly_cost']:.2f}/h"
    )


def converge(
    fleet: Fleet | None = None,
    *,
    service: str | None = None,
    namespace: str | None = None,
    load_qps: float | None = None,
    slo: Any = None,
    gpu_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Search replica counts and GPU types for the cheapest option meeting the SLOs; the decision history.

    ``service``: default the busiest serving one; ``load_qps``: default its request rate at
    ``fleet.now()``; ``slo``: an ``SLOConfig``, a mapping with ``ttft_p95_ms`` and/or
    ``error_rate_percent``, or None for ``config.slo``; ``gpu_types``: keys of
    ``technology.gpu_types`` to consider (default: all). One row per evaluated option (see the
    module docstring); exactly one row has ``chosen`` True unless nothing is feasible
    (``df.attrs["feasible"]`` False). ``df.attrs``: estimate, method, service, namespace, load_qps,
    slo, feasible, current (today's option and cost).

    Raises:
        SimulationError: unknown service, negative load, bad SLO, a live fleet.
        UnknownGPUTypeError: a GPU type that is not configured.

    >>> from mtop.context import connect
    >>> df = converge(connect(seed=0, clock="frozen"), service="gemini-pro", gpu_types=["nvidia-h100"])
    >>> df["decision"].iloc[-1], int(df["chosen"].sum())
    ('accept', 1)
    """
    fleet, _ = resolve_fleet(fleet)
    targets = slo_targets(fleet.config, slo)
    models = service_models(fleet, [namespace] if namespace is not None else None)
    m = find_service(models, service, namespace) if service is not None else busiest(models)
    load = m.rate if load_qps is None else float(load_qps)
    if not (load >= 0 and math.isfinite(load)):
        raise SimulationError(f"load_qps must be a finite number >= 0, got {load_qps!r}")
    if math.isnan(m.gpu_hourly_cost):
        raise SimulationError(f"{m.namespace}/{m.service}: its GPU matches no configured GPU type, so it has no price")
    options = gpu_options(m, fleet.config, gpu_types)
    if not options:
        raise SimulationError("no GPU type to consider: gpu_types is empty")
    hist = _History(m, load, targets)
    best: tuple[float, int, int, dict[str, Any]] | None = None  # (cost, gpus, option index, row)
    reference: tuple[int, float] | None = None  # (replicas, speed) of the first type's minimum
    for k, o in enumerate(options):
        nxt = options[k + 1] if k + 1 < len(options) else None
        if nxt is not None:
            then = f"next: {_label(nxt)}"
        else:
            then = f"back to {_label(options[best[2]])} x {best[3]['replicas']}" if best else "no type left"
        if not m.attainable(targets, o.speed):
            idle = hist.evaluate(o, None)
            figures = f"TTFT p95 {idle['ttft_p95_ms']:.0f} ms, errors {idle['error_rate_percent']:.2f} %"
            hist.add(idle, "switch_gpu", f"{_label(o)}: misses the SLO even with no load ({figures}); {then}")
            continue
        n_lb = max(1, math.ceil(load / (m.capacity_per_replica * o.speed * RHO_CAP)))
        if best is not None and o.gpus(n_lb) * o.price > best[0]:
            row = hist.evaluate(o, n_lb)
            floor = f"at least {n_lb} replica(s) (${row['hourly_cost']:.2f}/h) to keep load under {RHO_CAP}"
            hist.add(row, "switch_gpu", f"{_label(o)}: cannot beat ${best[0]:.2f}/h: {floor}; {then}")
            continue
        if k == 0 and o.gpu_type == m.gpu_type:
            start = max(1, m.ready_replicas)
        elif reference is not None:
            start = max(n_lb, math.ceil(reference[0] * reference[1] / o.speed))
        else:
            start = n_lb
        rows: dict[int, dict[str, Any]] = {}

        def feasible(n: int, o: GPUOption = o, rows: dict[int, dict[str, Any]] = rows) -> bool:
            rows[n] = hist.evaluate(o, n)
            return bool(rows[n]["meets_slo"])

        probes = bracket_search(feasible, start, n_lb - 1)
        minimum = min(n for n, ok in probes if ok)
        if reference is None:
            reference = (minimum, o.speed)
        cand = (rows[minimum]["hourly_cost"], rows[minimum]["gpus"], k, rows[minimum])
        if best is None or cand[:3] < best[:3]:
            best = cand
        for j, (n, ok) in enumerate(probes):
            row = rows[n]
            text = f"{_label(o)} x {n}: {'meets' if ok else 'misses'} the SLO ({_figures(row)})"
            if j < len(probes) - 1:
                hist.add(row, "scale_down" if ok else "scale_up", f"{text}; try {probes[j + 1][0]}")
            elif nxt is not None or best[2] != k:
                back = then if nxt is not None else f"back to {_label(options[best[2]])} x {best[3]['replicas']}"
                hist.add(row, "switch_gpu", f"{text}; {minimum} is the fewest on {_label(o)}; "
                                            f"best so far ${best[0]:.2f}/h; {back}")  # fmt: skip
            elif ok:  # the last type holds the cheapest option and this probe is its minimum
                hist.add(row, "accept", f"{text}; the fewest on {_label(o)} and the cheapest option", chosen=True)
            else:
                hist.add(row, "scale_up", f"{text}; {minimum} is the fewest on {_label(o)} and the cheapest option")
    if best is not None and not hist.cols["chosen"][-1]:
        row = best[3]
        hist.add(row, "accept", f"cheapest option meeting the SLO: {_label(options[best[2]])} x {row['replicas']} "
                                f"({_figures(row)})", chosen=True)  # fmt: skip
    df = hist.frame()
    current = {"gpu_type": m.gpu_type, "replicas": m.replicas, "hourly_cost": float(m.hourly_cost(m.replicas))}
    df.attrs.update({"estimate": True, "method": METHOD, "service": m.service, "namespace": m.namespace,
                     "load_qps": load, "slo": targets.as_dict(), "feasible": best is not None,
                     "current": current})  # fmt: skip
    return df
