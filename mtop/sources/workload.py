"""The time model of the simulated fleet: traffic, load and latency per service, vectorised over ticks.

Time is cut into 15-second ticks aligned to the unix epoch; every rate is constant within a tick
and is a pure function of ``(seed, tick)`` for a given fleet and config, so any window can be
evaluated on its own, in any order, and agrees with every other reading of the same ticks.

- Fleet rate ``R(t) = baseline_qps x daily(t) x spike(t)``: ``daily = 1 + 0.35 sin(2 pi (hour_utc - 9) / 24)``
  (peak mid-afternoon UTC); in about one hour in six a 10-minute spike at a seeded minute multiplies
  the rate by ``spike_multiplier``, with one-minute linear ramps in and out.
- ``R`` is spread over the services that have ready replicas by seeded weights that fit capacity:
  ``w_s = cap_s u_s / sum(cap u)`` with a small smooth jitter ``j_s(t)`` renormalised so the fleet
  sum is exactly ``R(t)``. ``cap_s`` (requests/s at saturation) is ready replicas x GPUs x 2500 tok/s
  x the GPU type's relative throughput / max(1, params/8) / mean output tokens, calibrated once by a
  fleet-wide factor so that service ``s`` runs at its target utilisation ``u_s`` at a reference rate of
  6.25 requests/s per service (100 QPS, the default baseline, for the 16-service default fleet); two
  services are hot (``u`` 0.74-0.8: past 0.9 at the afternoon peak, overloaded in a spike), two nearly
  idle (``u < 0.15``). The configured baseline does not move
  the calibration: doubling ``workload.baseline_qps`` doubles every service's load.
- Load ``rho = rate / cap`` drives lognormal latencies (TTFT, ITL, E2E), overload aborts, queueing,
  KV-cache usage and GPU utilisation.

>>> import numpy as np
>>> float(daily(np.array([15 * 3600.0]))[0])  # 15:00 UTC, the daily peak
1.35
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mtop.catalogue import E2E_BUCKETS, ITL_BUCKETS, TTFT_BUCKETS
from mtop.promql import histogram_quantile_many
from mtop.sources.mathx import hash_u64, lognormal_cdf, unit_float
from mtop.sources.topology import FleetPlan

__all__ = [
    "FAMILIES",
    "HISTOGRAMS",
    "RHO_CAP",
    "SIGMA",
    "TICK",
    "TickState",
    "WorkloadModel",
    "daily",
    "error_share",
    "gpu_utilization_percent",
    "itl_median",
    "latency_quantile",
    "observed_quantile",
    "queueing",
    "spike",
    "ttft_median",
]

TICK = 15.0
"""Seconds per tick (a typical scrape interval)."""
SIGMA = {"ttft": 0.45, "itl": 0.3, "e2e": 0.5}
"""Log-space spread of each latency distribution."""
HISTOGRAMS: dict[str, tuple[float, ...]] = {"ttft": TTFT_BUCKETS, "itl": ITL_BUCKETS, "e2e": E2E_BUCKETS}
FAMILIES = ("finished", "tokens", "ttft", "itl", "e2e")
"""Counter families: ``finished`` (stop, length, abort, error), ``tokens`` (prompt, generation), and per
histogram its finite buckets, then the count (the ``+Inf`` bucket), then the sum."""

REF_TOKENS_PER_GPU = 2500.0
"""Output tokens/s of one reference GPU (relative throughput 1) on a model of 8B parameters or fewer."""
CPU_GPU_EQUIVALENT = 0.04
# Requests/s per service at which the hardware model is calibrated (100 QPS for the 16-service default fleet).
REFERENCE_QPS_PER_SERVICE = 6.25
"""A CPU-only replica's throughput as a fraction of one reference GPU."""
RHO_CAP = 0.97
"""Load beyond which the latency model stops growing (a queue past it grows without bound)."""
_SPIKE_SALT, _SPIKE_MINUTES, _RAMP_S = 101, 10, 60.0


def daily(t: ArrayLike) -> NDArray[np.float64]:
    """The daily traffic pattern at unix times ``t``: 0.65 at 03:00 UTC to 1.35 at 15:00 UTC.

    >>> [round(float(x), 2) for x in daily([3 * 3600.0, 9 * 3600.0])]
    [0.65, 1.0]
    """
    hours = np.mod(np.asarray(t, dtype=np.float64), 86400.0) / 3600.0
    return 1.0 + 0.35 * np.sin(2.0 * math.pi * (hours - 9.0) / 24.0)


def spike(t: ArrayLike, seed: int, multiplier: float) -> NDArray[np.float64]:
    """The spike factor at unix times ``t``: 1 outside spike windows, ``multiplier`` inside.

    An hour has a spike when its seeded hash is divisible by 6; the spike starts at a seeded minute
    (0-49) and lasts 10 minutes, ramping linearly over its first and last minute.

    >>> f = spike(np.arange(0.0, 86400.0 * 7, 15.0), seed=0, multiplier=2.0)
    >>> float(f.min()), float(f.max())
    (1.0, 2.0)
    """
    tt = np.asarray(t, dtype=np.float64)
    hour = np.floor(tt / 3600.0).astype(np.int64)
    h = hash_u64(seed, hour, salt=_SPIKE_SALT)
    has_spike = (h % np.uint64(6)) == 0
    start = hour * 3600.0 + ((h >> np.uint64(8)) % np.uint64(50)).astype(np.float64) * 60.0
    x = tt - start
    length = _SPIKE_MINUTES * 60.0
    ramp = np.clip(np.minimum(x, length - x) / _RAMP_S, 0.0, 1.0)
    ramp = np.where(has_spike & (x >= 0) & (x < length), ramp, 0.0)
    return 1.0 + (multiplier - 1.0) * ramp


# --------------------------------------------------------------------------- load -> latency, errors, GPU
# Pure functions of a service's load ``rho`` (arrival rate / capacity): the fleet's model and the
# simulation layer (rollouts, load scenarios, convergence) share them, so both tell the same story.


def queueing(rho: ArrayLike) -> NDArray[np.float64]:
    """The queueing factor ``rho / (1 - rho)``, with ``rho`` capped at :data:`RHO_CAP` in the denominator.

    >>> queueing([0.0, 0.5, 2.0]).round(2).tolist()
    [0.0, 1.0, 66.67]
    """
    r = np.asarray(rho, dtype=np.float64)
    return r / (1.0 - np.minimum(r, RHO_CAP))


def ttft_median(rho: ArrayLike, base: ArrayLike) -> NDArray[np.float64]:
    """Median time to first token (seconds) at load ``rho`` for an unloaded median ``base``: ``base (1 + 2 q)``.

    >>> float(ttft_median(0.5, 0.1))
    0.30000000000000004
    """
    return np.asarray(base, dtype=np.float64) * (1.0 + 2.0 * queueing(rho))


def itl_median(rho: ArrayLike, base: ArrayLike) -> NDArray[np.float64]:
    """Median inter-token latency (seconds) at load ``rho``: ``base (1 + 0.8 q)``.

    >>> float(itl_median(0.0, 0.02))
    0.02
    """
    return np.asarray(base, dtype=np.float64) * (1.0 + 0.8 * queueing(rho))


def error_share(rho: ArrayLike, base: ArrayLike) -> NDArray[np.float64]:
    """Share of finished requests that fail (0-0.5): ``base``, plus 5 points per 0.1 of load past 0.9 (aborts).

    >>> error_share([0.5, 1.0], 0.0002).round(4).tolist()
    [0.0002, 0.0502]
    """
    r = np.asarray(rho, dtype=np.float64)
    return np.minimum(0.5, np.asarray(base, dtype=np.float64) + 0.05 * np.maximum(0.0, r - 0.9) / 0.1)


def gpu_utilization_percent(rho: ArrayLike) -> NDArray[np.float64]:
    """Mean GPU utilisation (percent) of a serving pod at load ``rho``: ``5 + 90 rho``, within 0-100.

    The exporters add a small fixed offset per GPU; this is the service-level mean.

    >>> gpu_utilization_percent([0.0, 0.5, 2.0]).tolist()
    [5.0, 50.0, 100.0]
    """
    return np.clip(5.0 + 90.0 * np.asarray(rho, dtype=np.float64), 0.0, 100.0)


def latency_quantile(median: ArrayLike, sigma: float, q: float) -> NDArray[np.float64]:
    """The exact ``q``-quantile of a lognormal latency with this median and log-space ``sigma``.

    >>> round(float(latency_quantile(1.0, SIGMA["ttft"], 0.95)), 3)  # e^(1.645 x 0.45)
    2.096
    """
    from statistics import NormalDist

    return np.asarray(median, dtype=np.float64) * math.exp(sigma * NormalDist().inv_cdf(q))


def observed_quantile(name: str, median: ArrayLike, q: float) -> NDArray[np.float64]:
    """The ``q``-quantile Prometheus reports for latency ``name`` (``ttft``, ``itl``, ``e2e``) with this median.

    That is ``histogram_quantile`` over vLLM's buckets of the lognormal (linear inside a bucket), what
    an SLO query sees, rather than the exact :func:`latency_quantile`; it is exact on a bucket bound
    and never decreases as the median grows.

    >>> round(float(observed_quantile("ttft", 0.5 / latency_quantile(1.0, SIGMA["ttft"], 0.95), 0.95)), 6)
    0.5
    """
    if name not in HISTOGRAMS:
        raise KeyError(f"unknown latency {name!r}; known: {', '.join(HISTOGRAMS)}")
    bounds = (*HISTOGRAMS[name], math.inf)
    le = np.asarray(bounds, dtype=np.float64)
    med = np.asarray(median, dtype=np.float64)
    cdf = lognormal_cdf(le, med[..., None], SIGMA[name])
    return histogram_quantile_many(q, bounds, cdf)


@dataclass(frozen=True)
class TickState:
    """Per-service, per-tick load for some ticks: arrays of shape ``[services, ticks]``.

    >>> from mtop.sources.topology import plan_fleet
    >>> m = WorkloadModel(plan_fleet(0, 3), baseline_qps=10.0, spike_multiplier=2.0)
    >>> m.state([100, 101]).rho.shape
    (3, 2)
    """

    rate: NDArray[np.float64]
    """Finished requests per second."""
    rho: NDArray[np.float64]
    ttft_median: NDArray[np.float64]
    itl_median: NDArray[np.float64]
    e2e_median: NDArray[np.float64]
    error_share: NDArray[np.float64]


class WorkloadModel:
    """Static per-service workload parameters and the per-tick state they imply.

    ``relative_throughput`` maps hardware keys (``"H100"``) to the config's relative throughput (default 1);
    ``epoch_tick`` is the first tick the fleet counts (its counters are zero before).

    >>> from mtop.sources.topology import plan_fleet
    >>> m = WorkloadModel(plan_fleet(0, 3), baseline_qps=10.0, spike_multiplier=2.0)
    >>> bool(np.isclose(m.state([7]).rate.sum(), m.fleet_rate([7 * TICK])[0]))  # the services share R(t)
    True
    """

    def __init__(
        self,
        plan: FleetPlan,
        *,
        baseline_qps: float,
        spike_multiplier: float,
        relative_throughput: Mapping[str, float] | None = None,
        epoch_tick: int = 0,
    ) -> None:
        if baseline_qps < 0 or not math.isfinite(baseline_qps):
            raise ValueError(f"workload.baseline_qps must be a finite number >= 0, got {baseline_qps}")
        if spike_multiplier <= 0 or not math.isfinite(spike_multiplier):
            raise ValueError(f"workload.spike_multiplier must be a finite number > 0, got {spike_multiplier}")
        self.seed = plan.seed
        self.baseline_qps = float(baseline_qps)
        self.spike_multiplier = float(spike_multiplier)
        self.epoch_tick = int(epoch_tick)
        specs = plan.services
        n = len(specs)
        idx = np.arange(n)

        def draw(salt: int, lo: float, hi: float) -> NDArray[np.float64]:
            return lo + (hi - lo) * unit_float(hash_u64(self.seed, idx, salt=salt))

        params = np.array([s.params_b for s in specs], dtype=np.float64)
        size = np.clip(np.log(np.maximum(params, 1.0)) / math.log(700.0), 0.0, 1.0) ** 2
        self.mean_output = np.round(draw(1, 150.0, 600.0))
        self.mean_prompt = np.round(draw(2, 300.0, 2000.0))
        self.base_ttft = 0.040 + 0.210 * size * draw(3, 0.6, 1.0)
        self.base_itl = 0.010 + 0.035 * size * draw(4, 0.6, 1.0)
        self.base_error = draw(5, 0.00005, 0.0005)
        self.period = draw(6, 7.0, 23.0) * 60.0
        self.phase = draw(7, 0.0, 2.0 * math.pi)

        self.ready_replicas = np.array(plan.ready_replicas, dtype=np.float64)
        self.active = self.ready_replicas > 0
        gpus = np.array([s.gpus_per_pod * s.pods_per_replica for s in specs], dtype=np.float64)
        throughput = relative_throughput or {}
        rel = np.array([throughput.get(s.hardware, 1.0) if s.hardware else 1.0 for s in specs])
        per_replica = np.where(gpus > 0, gpus, CPU_GPU_EQUIVALENT) * REF_TOKENS_PER_GPU * rel
        per_replica = per_replica / np.maximum(1.0, params / 8.0)
        raw_capacity = self.ready_replicas * per_replica / self.mean_output
        self.target_utilisation = self._utilisation(draw(8, 0.15, 0.6))
        weight = np.where(self.active, raw_capacity * self.target_utilisation, 0.0)
        total = float(weight.sum())
        self.weight = weight / total if total > 0 else weight
        # One fleet-wide calibration of the hardware model: at the *reference* rate (what the fleet was sized
        # for, proportional to its size) each service runs at its target utilisation. It does not depend on
        # the configured baseline, so raising workload.baseline_qps raises load, as it would on real GPUs.
        scale = REFERENCE_QPS_PER_SERVICE * max(n, 1) / total if total > 0 else 0.0
        self.capacity = raw_capacity * scale

    def _utilisation(self, base: NDArray[np.float64]) -> NDArray[np.float64]:
        u = base.copy()
        active = np.flatnonzero(self.active)
        order = active[np.argsort(unit_float(hash_u64(self.seed, active, salt=9)), kind="stable")]
        hot, idle = order[:2], order[2:4]
        u[hot] = 0.74 + 0.06 * unit_float(hash_u64(self.seed, hot, salt=10))
        u[idle] = 0.10 + 0.04 * unit_float(hash_u64(self.seed, idle, salt=11))
        return u

    def fleet_rate(self, t: ArrayLike) -> NDArray[np.float64]:
        """``R(t)``: the whole fleet's request rate at unix times ``t`` (before the fleet existed: 0).

        >>> from mtop.sources.topology import plan_fleet
        >>> m = WorkloadModel(plan_fleet(0, 3), baseline_qps=10.0, spike_multiplier=2.0)
        >>> m.fleet_rate([-TICK]).tolist()
        [0.0]
        """
        tt = np.asarray(t, dtype=np.float64)
        r = self.baseline_qps * daily(tt) * spike(tt, self.seed, self.spike_multiplier)
        return np.where(np.floor(tt / TICK) >= self.epoch_tick, r, 0.0)

    def state(self, ticks: ArrayLike) -> TickState:
        """Load of every service at these tick indexes (each tick evaluated at its start time).

        >>> from mtop.sources.topology import plan_fleet
        >>> m = WorkloadModel(plan_fleet(0, 3), baseline_qps=10.0, spike_multiplier=2.0)
        >>> m.state([10]).rate[1].tolist()  # claude-3-opus is not ready: no traffic
        [0.0]
        """
        t = np.asarray(ticks, dtype=np.int64).astype(np.float64) * TICK
        jitter = 1.0 + 0.1 * np.sin(2.0 * math.pi * t[None, :] / self.period[:, None] + self.phase[:, None])
        share = self.weight[:, None] * jitter
        norm = share.sum(axis=0)
        share = np.divide(share, norm, out=np.zeros_like(share), where=norm > 0)
        rate = self.fleet_rate(t)[None, :] * share
        rho = np.divide(rate, self.capacity[:, None], out=np.zeros_like(rate), where=self.capacity[:, None] > 0)
        ttft = ttft_median(rho, self.base_ttft[:, None])
        itl = itl_median(rho, self.base_itl[:, None])
        e2e = ttft + self.mean_output[:, None] * itl
        return TickState(rate, rho, ttft, itl, e2e, error_share(rho, self.base_error[:, None]))

    def family(self, name: str, st: TickState) -> NDArray[np.float64]:
        """Per-second rates of one counter family for these ticks: shape ``[services, K, F]``.

        >>> from mtop.sources.topology import plan_fleet
        >>> m = WorkloadModel(plan_fleet(0, 3), baseline_qps=10.0, spike_multiplier=2.0)
        >>> m.family("ttft", m.state([10, 11])).shape
        (3, 2, 24)
        """
        rate = st.rate
        if name == "finished":
            ok = rate * (1.0 - st.error_share)
            bad = rate * st.error_share
            return np.stack([0.8 * ok, 0.2 * ok, 0.6 * bad, 0.4 * bad], axis=-1)
        if name == "tokens":
            return np.stack([rate * self.mean_prompt[:, None], rate * self.mean_output[:, None]], axis=-1)
        if name not in HISTOGRAMS:
            raise KeyError(f"unknown counter family {name!r}; known: {', '.join(FAMILIES)}")
        median = {"ttft": st.ttft_median, "itl": st.itl_median, "e2e": st.e2e_median}[name]
        # ITL is observed once per output token after the first; the others once per request.
        count = rate * (self.mean_output[:, None] - 1.0) if name == "itl" else rate
        sigma = SIGMA[name]
        le = np.asarray(HISTOGRAMS[name], dtype=np.float64)
        cdf = lognormal_cdf(le[None, None, :], median[:, :, None], sigma)
        mean = median * math.exp(sigma * sigma / 2.0)
        return np.concatenate([cdf * count[:, :, None], count[:, :, None], (count * mean)[:, :, None]], axis=-1)

    def counters(
        self,
        name: str,
        k_from: int,
        points: ArrayLike,
        chunk: int = 0,
        initial: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Integral of family ``name`` from the start of tick ``k_from`` to each time in ``points``.

        Shape ``[services, F, len(points)]``. Rates are zero before the fleet's epoch tick, and
        constant within a tick, so a point inside a tick takes that tick's share pro rata. Ticks are
        processed in chunks, so a day of a 1,000-service fleet never sits in memory at once.

        ``initial`` (``[services, F]``) is the value at the start of ``k_from``. Ticks are added one at
        a time, in order, onto it: a counter's value at a tick is then the same float however it was
        reached (from the epoch, or from any tick before), so counters never step back by an ulp.

        >>> from mtop.sources.topology import plan_fleet
        >>> m = WorkloadModel(plan_fleet(0, 3), baseline_qps=10.0, spike_multiplier=2.0)
        >>> c = m.counters("tokens", 4, [4 * TICK, 5 * TICK])
        >>> c.shape, bool(np.all(c[:, :, 0] == 0))
        ((3, 2, 2), True)
        """
        pts = np.asarray(points, dtype=np.float64)
        n = len(self.weight)
        if pts.size == 0:
            width = self.width(name)
            return np.zeros((n, width, 0))
        if np.any(pts < k_from * TICK):
            raise ValueError("counter points must not precede the start tick")
        k_end = int(np.floor(pts.max() / TICK)) + 1
        start = max(k_from, self.epoch_tick)
        width = self.width(name)
        running = np.zeros((n, width)) if initial is None else np.array(initial, dtype=np.float64)
        out = np.repeat(running[:, :, None], pts.size, axis=2)  # points before the epoch keep the initial value
        tick_of = np.floor(pts / TICK).astype(np.int64)
        step = chunk or max(8, 250_000 // max(1, n * width))  # ~2 MB blocks stay in cache
        for c0 in range(start, k_end, step):  # none when every point is before the epoch
            c1 = min(k_end, c0 + step)
            rates = self.family(name, self.state(np.arange(c0, c1)))
            # cumsum is a sequential accumulate: running + i0, then + i1, ... (one association only).
            cum = np.cumsum(np.concatenate([running[:, None, :], rates * TICK], axis=1), axis=1)
            before, cum = cum[:, :-1, :], cum[:, 1:, :]
            inside = np.flatnonzero((tick_of >= c0) & (tick_of < c1))
            if inside.size:
                j = tick_of[inside] - c0
                frac = pts[inside] - tick_of[inside] * TICK
                values = before[:, j, :] + rates[:, j, :] * frac[None, :, None]
                out[:, :, inside] = np.transpose(values, (0, 2, 1))
            running = cum[:, -1, :]
        # Points past the last chunk cannot occur.
        return out

    def width(self, name: str) -> int:
        """Columns of family ``name`` (``F`` in the shapes above).

        >>> from mtop.sources.topology import plan_fleet
        >>> m = WorkloadModel(plan_fleet(0, 3), baseline_qps=10.0, spike_multiplier=2.0)
        >>> m.width("finished"), m.width("itl")
        (4, 21)
        """
        if name == "finished":
            return 4
        if name == "tokens":
            return 2
        if name in HISTOGRAMS:
            return len(HISTOGRAMS[name]) + 2
        raise KeyError(f"unknown counter family {name!r}; known: {', '.join(FAMILIES)}")

    def increase(self, name: str, starts: ArrayLike, ends: ArrayLike) -> NDArray[np.float64]:
        """Integral of family ``name`` over each window ``[starts[i], ends[i]]``: ``[services, F, windows]``.

        Overlapping windows (a range query whose step is shorter than its window) share one pass
        over their ticks; windows far apart are integrated separately, so a sparse range never
        walks the ticks between its points.

        >>> from mtop.sources.topology import plan_fleet
        >>> m = WorkloadModel(plan_fleet(0, 3), baseline_qps=10.0, spike_multiplier=2.0)
        >>> c = m.counters("finished", 0, [100.0, 400.0])
        >>> bool(np.allclose(m.increase("finished", [100.0], [400.0])[..., 0], c[..., 1] - c[..., 0]))
        True
        """
        a = np.asarray(starts, dtype=np.float64)
        b = np.asarray(ends, dtype=np.float64)
        out = np.zeros((len(self.weight), self.width(name), a.size))
        order = np.argsort(a, kind="stable")
        i = 0
        while i < order.size:
            j = i + 1
            reach = b[order[i]]
            while j < order.size and np.floor(a[order[j]] / TICK) <= np.floor(reach / TICK) + 1:
                reach = max(reach, b[order[j]])
                j += 1
            members = order[i:j]
            k_from = int(np.floor(a[members].min() / TICK))
            values = self.counters(name, k_from, np.concatenate([a[members], b[members]]))
            out[:, :, members] = values[:, :, members.size :] - values[:, :, : members.size]
            i = j
        return out
