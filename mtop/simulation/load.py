"""Load scenarios on the simulated fleet: what each service would see at the baseline, in a spike, or at any multiple.

A scenario is a multiplier of ``workload.baseline_qps`` (``baseline`` x1, ``spike`` x
``workload.spike_multiplier``, or your own ``{name: multiplier}``). The fleet's rate is split over
the serving services by the workload model's mean shares, so a service's request rate in a scenario
is ``baseline_qps x multiplier x its share``, independent of the time of day. From its load ``rho``
(with the replicas ready now) follow GPU utilisation (``5 + 90 rho``), the TTFT p95 as Prometheus
reports it, the error rate, and the smallest replica count that would meet the SLOs.

>>> from mtop.context import connect
>>> df = load_scenarios(connect(seed=0, clock="frozen"))
>>> sorted(set(df["scenario"]))
['baseline', 'spike']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from mtop.simulation.service_model import SimulationError, resolve_fleet, service_models, slo_targets

if TYPE_CHECKING:
    from mtop.context import Fleet

__all__ = ["COLUMNS", "load_scenarios"]

COLUMNS = {
    "scenario": "string", "namespace": "string", "service": "string", "gpu_type": "string",
    "requests_per_second": "float64", "utilization_percent": "float64", "ttft_p95_ms": "float64",
    "error_rate_percent": "float64", "slo_ok": "bool", "replicas": "int64", "ready_replicas": "int64",
    "replicas_needed": "Int64",
    "gpus": "int64", "gpus_needed": "Int64", "hourly_cost": "float64", "hourly_cost_needed": "float64",
}  # fmt: skip
"""Columns and dtypes; ``replicas_needed``/``gpus_needed`` are NA when no replica count meets the SLOs."""
METHOD = (
    "requests/s = workload.baseline_qps x scenario multiplier x the service's mean share of the fleet's rate; "
    "rho = requests/s / (ready replicas x capacity per replica); GPU utilisation = 5 + 90 rho (max 100); "
    "TTFT p95 = histogram_quantile over vLLM's buckets of the fleet's lognormal TTFT; replicas_needed = the "
    "smallest count meeting config.slo with rho <= 0.97 (latency and errors only grow with load)"
)


def _scenarios(config: Any, scenarios: Mapping[str, float] | Sequence[str] | None) -> dict[str, float]:
    builtin = {"baseline": 1.0, "spike": float(config.workload.spike_multiplier)}
    if scenarios is None:
        return builtin
    if isinstance(scenarios, str):
        scenarios = [scenarios]
    if not isinstance(scenarios, Mapping):
        unknown = [s for s in scenarios if s not in builtin]
        if unknown:
            raise SimulationError(
                f"unknown scenario(s) {', '.join(map(repr, unknown))}: built in are baseline, spike; "
                "pass {name: multiplier} for others"
            )
        return {s: builtin[s] for s in scenarios}
    out: dict[str, float] = {}
    for name, mult in scenarios.items():
        value = float(mult)
        if not (value >= 0 and math.isfinite(value)):
            raise SimulationError(f"scenario {name!r}: the multiplier must be a finite number >= 0, got {mult!r}")
        out[str(name)] = value
    return out


def load_scenarios(
    fleet: Fleet | None = None,
    *,
    scenarios: Mapping[str, float] | Sequence[str] | None = None,
    namespaces: Sequence[str] | str | None = None,
) -> pd.DataFrame:
    """Per scenario and serving service: load, GPU utilisation, TTFT p95, errors, SLO, and the replicas needed.

    ``scenarios``: None (baseline and spike), names of those two, or ``{name: multiplier of
    workload.baseline_qps}``. Rows come by scenario (in the given order), then namespace and service.
    ``df.attrs``: estimate (True), method, multipliers, baseline_qps, slo.

    Raises:
        SimulationError: an unknown scenario name, a negative multiplier, or a live fleet.

    >>> from mtop.context import connect
    >>> df = load_scenarios(connect(seed=0, clock="frozen"), scenarios={"quiet": 0.0})
    >>> float(df["requests_per_second"].max()), bool(df["slo_ok"].all())
    (0.0, True)
    """
    fleet, _ = resolve_fleet(fleet)
    cfg = fleet.config
    multipliers = _scenarios(cfg, scenarios)
    slo = slo_targets(cfg)
    models = service_models(fleet, namespaces)
    baseline = float(cfg.workload.baseline_qps)
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for scenario, mult in multipliers.items():
        for m in models:
            rate = baseline * mult * m.weight
            rho = m.rho(rate, m.ready_replicas)
            ttft, err = float(m.ttft_p95_ms(rho)), float(m.error_rate_percent(rho))
            needed = m.replicas_needed(rate, slo)
            gpus_needed = None if needed is None else math.ceil(round(needed * m.gpus_per_replica, 9))
            row = {
                "scenario": scenario, "namespace": m.namespace, "service": m.service, "gpu_type": m.gpu_type,
                "requests_per_second": rate, "utilization_percent": float(m.utilization_percent(rho)),
                "ttft_p95_ms": ttft, "error_rate_percent": err,
                "slo_ok": m.meets(rate, m.ready_replicas, slo),
                "replicas": m.replicas, "ready_replicas": m.ready_replicas, "replicas_needed": needed,
                "gpus": round(m.replicas * m.gpus_per_replica), "gpus_needed": gpus_needed,
                "hourly_cost": float(m.hourly_cost(m.replicas)),
                "hourly_cost_needed": math.nan if gpus_needed is None else gpus_needed * m.gpu_hourly_cost,
            }  # fmt: skip
            for key, value in row.items():
                cols[key].append(value)
    df = pd.DataFrame({c: pd.Series(cols[c], dtype=dtype) for c, dtype in COLUMNS.items()})
    df.attrs.update(
        {
            "estimate": True,
            "method": METHOD,
            "multipliers": multipliers,
            "baseline_qps": baseline,
            "slo": slo.as_dict(),
        }
    )
    return df
