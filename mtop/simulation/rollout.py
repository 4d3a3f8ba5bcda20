"""Rollouts on the simulated fleet: canary, blue-green, rolling and shadow, step by step, with SLO gates.

A rollout replaces a service's current version (``old``) with a new one. Each topology is a plan of
steps (:func:`rollout_plan`): per version its replicas, ready replicas, share of user traffic,
mirrored traffic and status. :func:`simulate` plays the plan against the fleet's workload model for
that service: each version's load is ``rho = its requests/s / (its ready replicas x capacity per
replica)``, with the service's request rate held at its value at ``fleet.now()``, so the SLO figures
(TTFT p95 as Prometheus reports it, error rate) and the GPU cost of each step follow from the model.

The gate: every step in which the new version serves traffic (user or mirrored) ends with an
analysis of the new version against ``config.slo``. A rollback happens when, and only when, that
analysis finds a breach; otherwise the last analysis promotes. The old version keeps all its
replicas until promotion (rolling updates replace them batch by batch, never below the starting
ready count), so a new version as good as the old one sees no more load than the old one did.

``fail_at=k`` makes the new version bad from step ``k``: its own errors add 2 %, then 5 %, then 8 %
of requests over the following steps (the progression of the earlier mtop's failure recipe), or
whatever ``new_version_error_rate_percent`` / ``new_version_latency_factor`` say.

>>> from datetime import UTC, datetime
>>> from mtop.context import connect
>>> fleet = connect(seed=0, clock="frozen", start=datetime(2026, 8, 3, 12, tzinfo=UTC))
>>> df = simulate("canary", fleet, fail_at=2)
>>> df.attrs["outcome"], df.attrs["rollback_step"], df["decision"].iloc[-1]
('rolled_back', 2, 'done')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mtop.simulation.service_model import (
    ServiceModel,
    SLOTargets,
    busiest,
    find_service,
    resolve_fleet,
    service_models,
    slo_targets,
)
from mtop.simulation.topologies import (
    DEFAULT_STEPS,
    DESCRIPTIONS,
    TOPOLOGIES,
    VERSIONS,
    SimulationError,
    UnknownTopologyError,
    canonical_topology,
)

if TYPE_CHECKING:
    from mtop.context import Fleet

__all__ = [
    "ANALYSIS_S",
    "DESCRIPTIONS",
    "DRAIN_S",
    "STARTUP_S",
    "TOPOLOGIES",
    "Phase",
    "UnknownTopologyError",
    "VersionState",
    "canonical_topology",
    "rollout_plan",
    "simulate",
]

STARTUP_S = 180.0
"""Seconds for new replicas to become ready (pull, load weights, warm up)."""
ANALYSIS_S = 300.0
"""Seconds of traffic each analysis looks at (the SLO collectors' default 5-minute window)."""
DRAIN_S = 30.0
"""Seconds for a scaled-down version to finish its in-flight requests."""
BAD_ERROR_PERCENT = (2.0, 5.0, 8.0)
MAX_STEPS = 50
METHOD = (
    "per version: rho = requests/s / (ready replicas x the service's capacity per replica), request rate held at "
    "fleet.now(); TTFT p95 = histogram_quantile over vLLM's buckets of the fleet's lognormal TTFT; errors = the "
    "fleet's load-driven error share plus the new version's own defect; cost = replicas x GPUs per replica x the "
    "configured GPU price; gate: the new version against config.slo at every step it serves traffic"
)


@dataclass(frozen=True)
class VersionState:
    """One version during one step: replicas (incl. starting or draining), ready ones, traffic, status.

    >>> VersionState(3, 3, 100.0, "Ready").mirrored
    0.0
    """

    replicas: int
    ready: int
    traffic: float
    """Share of user traffic, percent (whole numbers: routers split by integer weights)."""
    status: str
    mirrored: float = 0.0
    """Share of user traffic mirrored to it (its responses are discarded), percent."""


@dataclass(frozen=True)
class Phase:
    """One step of a plan: what each version looks like, what the step is for, and how long it lasts.

    ``kind``: ``setup`` (new replicas starting), ``analysis``, ``promote`` (the last analysis),
    ``release`` (the old version draining) or ``final``.

    >>> rollout_plan("blue-green", 2, 1)[1].kind
    'promote'
    """

    kind: str
    old: VersionState
    new: VersionState
    duration_s: float
    note: str


def _ready(replicas: int, ready: int, traffic: float, mirrored: float = 0.0, status: str = "Ready") -> VersionState:
    return VersionState(replicas, ready, float(traffic), status, float(mirrored))


def _release(old_replicas: int, old_ready: int, new_replicas: int, new_name: str) -> list[Phase]:
    new = _ready(new_replicas, new_replicas, 100)
    return [
        Phase("release", VersionState(old_replicas, 0, 0.0, "Terminating"), new, DRAIN_S, "old version draining"),
        Phase("final", VersionState(0, 0, 0.0, "Terminated"), new, 0.0, f"{new_name} serves all traffic"),
    ]


def _canary(r: int, ready: int, n: int) -> list[Phase]:
    weights = [round(100 * i / (n + 1)) for i in range(1, n + 1)]
    sizes = [min(r, max(1, math.ceil(r * w / 100))) for w in weights]
    out = [Phase("setup", _ready(r, ready, 100), VersionState(sizes[0], 0, 0.0, "Pending"), STARTUP_S,
                 f"canary: {sizes[0]} replica(s) starting")]  # fmt: skip
    for w, c in zip(weights, sizes, strict=True):
        out.append(Phase("analysis", _ready(r, ready, 100 - w), _ready(c, c, w), ANALYSIS_S, f"canary at {w} %"))
    out.append(Phase("promote", _ready(r, ready, 0), _ready(r, r, 100), ANALYSIS_S, "canary at 100 % (stable kept)"))
    return out + _release(r, ready, r, "canary")


def _blue_green(r: int, ready: int, n: int) -> list[Phase]:
    out = [Phase("setup", _ready(r, ready, 100), VersionState(r, 0, 0.0, "Pending"), STARTUP_S,
                 f"green: {r} replica(s) starting, no traffic")]  # fmt: skip
    for j in range(1, n + 1):
        note = "green takes all traffic at once (blue kept)" if j == 1 else "green at 100 %"
        out.append(Phase("analysis", _ready(r, ready, 0), _ready(r, r, 100), ANALYSIS_S, note))
    out[-1] = replace(out[-1], kind="promote")
    return out + _release(r, ready, r, "green")


def _rolling(r: int, ready: int, n: int) -> list[Phase]:
    batch = math.ceil(r / n)
    out = [Phase("setup", _ready(r, ready, 100), VersionState(batch, 0, 0.0, "Pending"), STARTUP_S,
                 f"new: first batch of {batch} replica(s) starting (maxSurge {batch}, maxUnavailable 0)")]  # fmt: skip
    done = 0
    while done < r:
        done = min(r, done + batch)
        old_left = r - done
        if old_left:
            old_ready = min(old_left, ready)
            share = round(100 * done / (done + old_ready))
            old = _ready(old_left, old_ready, 100 - share)
            new = VersionState(min(r, done + batch), done, float(share), "Ready")
            out.append(Phase("analysis", old, new, ANALYSIS_S, f"new: {done} of {r} replicas ready"))
        else:  # the last old batch was just removed: it drains while the new version takes everything
            old = VersionState(r - (math.ceil(r / batch) - 1) * batch, 0, 0.0, "Terminating")
            out.append(Phase("promote", old, _ready(r, r, 100), ANALYSIS_S, f"new: all {r} replicas ready"))
    out.append(Phase("final", VersionState(0, 0, 0.0, "Terminated"), _ready(r, r, 100), 0.0, "new serves all traffic"))
    return out


def _shadow(r: int, ready: int, n: int) -> list[Phase]:
    out = [Phase("setup", _ready(r, ready, 100), VersionState(r, 0, 0.0, "Pending"), STARTUP_S,
                 f"shadow: {r} replica(s) starting")]  # fmt: skip
    shadow = VersionState(r, r, 0.0, "Shadow", 100.0)
    out += [Phase("analysis", _ready(r, ready, 100), shadow, ANALYSIS_S, "shadow gets a mirror of all traffic")] * n
    out.append(Phase("promote", _ready(r, ready, 0), _ready(r, r, 100), ANALYSIS_S, "cut over to canary (stable kept)"))
    return out + _release(r, ready, r, "canary")


def _whole(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


_PLANS = {"canary": _canary, "blue-green": _blue_green, "rolling": _rolling, "shadow": _shadow}


def rollout_plan(topology: str, replicas: int, steps: int | None = None, ready: int | None = None) -> list[Phase]:
    """The steps of a rollout that goes well (no rollback), for a service of ``replicas`` (``ready`` of them ready).

    >>> [p.new.traffic for p in rollout_plan("canary", 4, 3)][:6]
    [0.0, 25.0, 50.0, 75.0, 100.0, 100.0]
    """
    name = canonical_topology(topology)
    n = DEFAULT_STEPS[name] if steps is None else steps
    if not _whole(n) or not 1 <= n <= MAX_STEPS:
        raise SimulationError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    if replicas < 1:
        raise SimulationError(f"a rollout needs at least one replica, got {replicas}")
    return _PLANS[name](int(replicas), int(replicas if ready is None else ready), int(n))


@dataclass(frozen=True)
class _Defect:
    start: int | None
    error_percent: float | None
    latency_factor: float | None

    def at(self, step: int) -> tuple[float, float]:
        """(extra error percent, latency factor) of the new version at ``step``."""
        if self.start is None or step < self.start:
            return 0.0, 1.0
        if self.error_percent is not None:
            err = self.error_percent
        elif self.latency_factor is None:
            err = BAD_ERROR_PERCENT[min(step - self.start, len(BAD_ERROR_PERCENT) - 1)]
        else:
            err = 0.0
        return err, self.latency_factor or 1.0


def _defect(fail_at: int | None, error: float | None, latency: float | None, last: int) -> _Defect:
    if fail_at is not None and (not _whole(fail_at) or not 0 <= fail_at <= last):
        raise SimulationError(f"fail_at must be a step from 0 to {last} (the promote step), got {fail_at!r}")
    if error is not None and not 0 <= error <= 100:
        raise SimulationError(f"new_version_error_rate_percent must be between 0 and 100, got {error}")
    if latency is not None and not (latency > 0 and math.isfinite(latency)):
        raise SimulationError(f"new_version_latency_factor must be a finite number > 0, got {latency}")
    start = fail_at if fail_at is not None else (0 if error is not None or latency is not None else None)
    return _Defect(start, error, latency)


def _metrics(m: ServiceModel, v: VersionState, err: float, lat: float) -> tuple[float, float, float]:
    """(requests/s, TTFT p95 ms, error %) of one version; NaN figures without traffic."""
    rate = m.rate * (v.traffic + v.mirrored) / 100.0
    if rate <= 0 or v.ready <= 0:
        return rate, math.nan, math.nan
    rho = m.rho(rate, v.ready)
    return rate, float(m.ttft_p95_ms(rho, lat)), float(m.error_rate_percent(rho, err))


def simulate(
    topology: str,
    fleet: Fleet | None = None,
    *,
    service: str | None = None,
    namespace: str | None = None,
    steps: int | None = None,
    fail_at: int | None = None,
    new_version_error_rate_percent: float | None = None,
    new_version_latency_factor: float | None = None,
) -> pd.DataFrame:
    """Play a rollout of ``service`` on the simulated fleet: one row per (step, version).

    Columns: step, elapsed_s, topology, namespace, service, version, status, traffic_percent,
    mirrored_percent, replicas, ready_replicas, requests_per_second, ttft_p95_ms, error_rate_percent,
    slo_ok (NA without traffic), hourly_cost, decision (continue, promote, rollback, done), reason.
    The default service is the busiest serving one that meets the SLOs now (the busiest of all if
    none does): a service already out of its SLO would be rolled back whatever the new version is.
    ``fail_at`` makes the new version bad from that step (default defect: +2, +5, then +8 % errors);
    without it, ``new_version_error_rate_percent`` / ``new_version_latency_factor`` apply from step 0.
    ``df.attrs``: estimate, method, topology, service, namespace, slo, load_qps, at, outcome
    (``promoted``/``rolled_back``), rollback_step, promote_step, old_slo_ok, fail_at.

    Raises:
        SimulationError: unknown topology or service, ``steps`` or ``fail_at`` out of range, a live fleet.

    >>> from mtop.context import connect
    >>> df = simulate("blue-green", connect(seed=0, clock="frozen"))
    >>> sorted(set(df["traffic_percent"]))
    [0.0, 100.0]
    """
    name = canonical_topology(topology)
    fleet, _ = resolve_fleet(fleet)
    slo = slo_targets(fleet.config)
    models = service_models(fleet, [namespace] if namespace is not None else None)
    m = find_service(models, service, namespace) if service is not None else busiest(models, slo)
    plan = rollout_plan(name, m.replicas, steps, m.ready_replicas)
    promote_step = next(i for i, p in enumerate(plan) if p.kind == "promote")
    defect = _defect(fail_at, new_version_error_rate_percent, new_version_latency_factor, promote_step)
    old_name, new_name = VERSIONS[name]

    cols: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
    elapsed, rollback_step = 0.0, None
    for i, phase in enumerate(plan):
        err, lat = defect.at(i)
        figures = {"old": _metrics(m, phase.old, 0.0, 1.0), "new": _metrics(m, phase.new, err, lat)}
        decision, reason = _decide(phase, figures["new"], slo, new_name)
        if phase.kind == "final":
            reason = f"promoted at step {promote_step}: {phase.note}"
        for label, state, version in (("old", phase.old, old_name), ("new", phase.new, new_name)):
            _append(cols, m, i, elapsed, name, version, state, figures[label], slo, decision, reason)
        elapsed += phase.duration_s
        if decision == "rollback":
            rollback_step = i
            old = _ready(m.replicas, m.ready_replicas, 100)
            gone = VersionState(0, 0, 0.0, "Failed")
            why = f"rolled back at step {i}: {old_name} serves 100 % on {m.replicas} replica(s); {new_name} removed"
            for state, version in ((old, old_name), (gone, new_name)):
                _append(cols, m, i + 1, elapsed, name, version, state, _metrics(m, state, 0.0, 1.0), slo, "done", why)
            break

    df = _frame(cols)
    df.attrs.update(
        {
            "estimate": True,
            "method": METHOD,
            "topology": name,
            "service": m.service,
            "namespace": m.namespace,
            "slo": slo.as_dict(),
            "load_qps": m.rate,
            "at": fleet.now().isoformat(),
            "outcome": "rolled_back" if rollback_step is not None else "promoted",
            "rollback_step": rollback_step,
            "promote_step": promote_step,
            "old_slo_ok": cols["slo_ok"][0] if cols["slo_ok"][0] is not pd.NA else None,
            "fail_at": fail_at,
        }
    )
    return df


def _decide(phase: Phase, new: tuple[float, float, float], slo: SLOTargets, who: str) -> tuple[str, str]:
    if phase.kind == "final":
        return "done", phase.note
    if phase.kind in ("setup", "release"):
        return "continue", phase.note
    if new[0] <= 0:  # nothing to judge (no traffic at all): the plan goes on
        return ("promote" if phase.kind == "promote" else "continue"), f"{phase.note}: no traffic to analyse"
    if not slo.met(new[1], new[2]):
        return "rollback", f"{phase.note}: {slo.breach(new[1], new[2], who)}"
    verdict = "promote" if phase.kind == "promote" else "continue"
    return verdict, f"{phase.note}: {slo.breach(new[1], new[2], who)}"


_COLUMNS = {
    "step": "int64", "elapsed_s": "float64", "topology": "string", "namespace": "string", "service": "string",
    "version": "string", "status": "string", "traffic_percent": "float64", "mirrored_percent": "float64",
    "replicas": "int64", "ready_replicas": "int64", "requests_per_second": "float64", "ttft_p95_ms": "float64",
    "error_rate_percent": "float64", "slo_ok": "boolean", "hourly_cost": "float64", "decision": "string",
    "reason": "string",
}  # fmt: skip


def _append(cols: dict[str, list[Any]], m: ServiceModel, step: int, elapsed: float, topology: str, version: str,
            v: VersionState, figures: Sequence[float], slo: SLOTargets, decision: str, reason: str,
            ) -> None:  # fmt: skip
    rate, ttft, err = figures
    row = {
        "step": step, "elapsed_s": elapsed, "topology": topology, "namespace": m.namespace, "service": m.service,
        "version": version, "status": v.status, "traffic_percent": v.traffic, "mirrored_percent": v.mirrored,
        "replicas": v.replicas, "ready_replicas": v.ready, "requests_per_second": rate, "ttft_p95_ms": ttft,
        "error_rate_percent": err, "slo_ok": pd.NA if math.isnan(ttft) else slo.met(ttft, err),
        "hourly_cost": float(m.hourly_cost(v.replicas)), "decision": decision, "reason": reason,
    }  # fmt: skip
    for key, value in row.items():
        cols[key].append(value)


def _frame(cols: dict[str, list[Any]]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(cols[c], dtype=dtype) for c, dtype in _COLUMNS.items()})
