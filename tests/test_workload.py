"""The workload model (traffic, spikes, latency) and the PromQL maths it is read through."""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from mtop.catalogue import TTFT_BUCKETS
from mtop.config import WorkloadConfig, default_config
from mtop.promql import format_value, histogram_quantile, histogram_quantile_many
from mtop.sources.mathx import norm_cdf
from mtop.sources.simulated import SimulatedFleet
from mtop.sources.workload import TICK, daily, spike

START = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)  # a multiple of the 15 s tick
INF = math.inf
Z95 = 1.6448536269514722  # standard normal 95th percentile


def _fleet(spike_multiplier: float = 2.0, baseline: float = 100.0, seed: int = 0) -> SimulatedFleet:
    cfg = dataclasses.replace(default_config(), workload=WorkloadConfig(baseline, spike_multiplier))
    return SimulatedFleet(cfg, seed=seed, start=START, clock="frozen")


def _total(fleet: SimulatedFleet, name: str, at: datetime, window: str = "15s") -> float:
    return sum(float(r["value"][1]) for r in fleet.query(name, {"window": window}, at=at)["result"])


def _expected_daily(t: float) -> float:
    hour = (t % 86400) / 3600
    return 1 + 0.35 * math.sin(2 * math.pi * (hour - 9) / 24)


# ------------------------------------------------------------------------------------------ traffic
def test_daily_pattern_matches_the_formula() -> None:
    times = np.arange(0, 86400, 900, dtype=float)
    assert np.allclose(daily(times), [_expected_daily(t) for t in times])
    assert daily([15 * 3600.0])[0] == pytest.approx(1.35)


def test_spikes_are_ten_minute_windows_in_about_one_hour_in_six() -> None:
    ticks = np.arange(0, 600 * 3600, TICK)  # 600 hours
    f = spike(ticks, seed=7, multiplier=3.0)
    assert f.min() == 1.0 and f.max() == 3.0
    hours = np.floor(ticks / 3600).astype(int)
    spiky = np.unique(hours[f > 1.0])
    assert 0.10 < spiky.size / 600 < 0.25
    for h in spiky[:20]:
        inside = ticks[(hours == h) & (f > 1.0)]
        # Ramps at 0.25/0.5/0.75 over the first and last minute, 33 ticks at the full multiplier between.
        assert inside.max() - inside.min() == 600 - 2 * TICK
        assert (inside.min() - TICK) % 60 == 0
        assert np.count_nonzero(f[hours == h] == 3.0) == 33
    assert not np.array_equal(f, spike(ticks, seed=8, multiplier=3.0))


def test_fleet_request_rate_is_baseline_times_daily_times_spike() -> None:
    fleet = _fleet(baseline=250.0)
    for minutes in (0, 7, 95, 600):
        at = START - timedelta(minutes=minutes)
        tick_start = at.timestamp() - TICK  # a 15 s window ending on a tick boundary is exactly one tick
        expected = 250.0 * _expected_daily(tick_start) * float(spike([tick_start], 0, 2.0)[0])
        assert _total(fleet, "request_rate", at) == pytest.approx(expected, rel=1e-9)


def test_spike_multiplier_from_config_scales_the_spike_window_only() -> None:
    ticks = START.timestamp() - TICK * np.arange(1, 5760)
    plateau = ticks[spike(ticks, 0, 2.0) == 2.0][0]
    calm = ticks[spike(ticks, 0, 2.0) == 1.0][0]
    two, three = _fleet(2.0), _fleet(3.0)
    at = datetime.fromtimestamp(plateau + TICK, UTC)
    assert _total(three, "request_rate", at) / _total(two, "request_rate", at) == pytest.approx(1.5)
    at = datetime.fromtimestamp(calm + TICK, UTC)
    assert _total(three, "request_rate", at) == pytest.approx(_total(two, "request_rate", at))


def test_traffic_goes_only_to_ready_services_and_some_are_hot_or_idle() -> None:
    fleet = _fleet()
    model, plan = fleet.model, fleet.plan
    served = {r["metric"]["service"] for r in fleet.query("request_rate")["result"]}
    not_ready = {s.name for i, s in enumerate(plan.services) if plan.ready_replicas[i] == 0}
    assert not_ready == {"claude-3-opus", "llama-3-70b-instruct"}
    assert served.isdisjoint(not_ready) and served | not_ready == {s.name for s in plan.services}
    u = model.target_utilisation[model.active]
    assert np.count_nonzero(u >= 0.74) >= 2 and np.count_nonzero(u < 0.15) >= 2
    assert np.all((u >= 0.1) & (u <= 0.95))
    # At the baseline rate (no spike, daily factor 1, no jitter) load equals the target utilisation.
    active = model.active
    rho = model.baseline_qps * model.weight[active] / model.capacity[active]
    assert np.allclose(rho, u)


def test_different_seeds_spread_traffic_differently() -> None:
    rates = [
        {r["metric"]["service"]: r["value"][1] for r in _fleet(seed=s).query("request_rate")["result"]} for s in (0, 3)
    ]
    assert rates[0] != rates[1]


# ----------------------------------------------------------------------------------------- latency
def test_ttft_p95_is_within_bucket_resolution_of_the_model() -> None:
    fleet = _fleet()
    result = fleet.query("ttft_quantile", {"q": 0.95, "window": "15s"}, at=START)["result"]
    tick = int(START.timestamp() // TICK) - 1  # the one tick inside the window: load constant
    median = fleet.model.state(np.array([tick])).ttft_median[:, 0]
    index = {s.name: i for i, s in enumerate(fleet.plan.services)}
    bounds = (0.0, *TTFT_BUCKETS)
    assert len(result) == 14
    for r in result:
        analytic = median[index[r["metric"]["service"]]] * math.exp(Z95 * 0.45)
        b = next(i for i in range(1, len(bounds)) if bounds[i] >= analytic)
        assert bounds[b - 1] <= float(r["value"][1]) <= bounds[b], r["metric"]


def test_tokens_follow_requests_and_errors_grow_with_overload() -> None:
    fleet = _fleet()
    at = START + timedelta(hours=3)  # 15:00 UTC, the daily peak
    rps = {r["metric"]["service"]: float(r["value"][1]) for r in fleet.query("request_rate", at=at)["result"]}
    tok = {r["metric"]["service"]: float(r["value"][1]) for r in fleet.query("generation_tokens_rate", at=at)["result"]}
    err = {r["metric"]["service"]: float(r["value"][1]) for r in fleet.query("error_request_rate", at=at)["result"]}
    model = fleet.model
    for i, s in enumerate(fleet.plan.services):
        if s.name in rps:
            assert tok[s.name] == pytest.approx(rps[s.name] * model.mean_output[i], rel=1e-9)
            assert 0 < err[s.name] < rps[s.name]
    # The hottest service (overloaded at the afternoon peak) loses far more requests than the coolest.
    st = model.state(np.array([int(at.timestamp() // TICK) - 1]))
    hot = int(np.argmax(st.rho[:, 0]))
    cool = int(np.argmin(np.where(model.active, st.rho[:, 0], np.inf)))

    def share(i: int) -> float:
        return err[fleet.plan.services[i].name] / rps[fleet.plan.services[i].name]

    assert st.rho[hot, 0] > 0.9 and share(hot) > 10 * share(cool)


def test_gauges_follow_load() -> None:
    fleet = _fleet()
    model = fleet.model
    st = model.state(np.array([int(START.timestamp() // TICK)]))
    kv = {r["metric"]["service"]: float(r["value"][1]) for r in fleet.query("kv_cache_usage")["result"]}
    queue = {r["metric"]["service"]: float(r["value"][1]) for r in fleet.query("queue_depth")["result"]}
    for i, s in enumerate(fleet.plan.services):
        if s.name in kv:
            rho = st.rho[i, 0]
            assert kv[s.name] == pytest.approx(min(0.99, 0.1 + 0.85 * rho), abs=0.021)
            if rho < 0.2:
                assert queue[s.name] == 0


def test_partial_ticks_are_integrated_pro_rata() -> None:
    model = _fleet().model
    k = int(START.timestamp() // TICK) - 10
    t = k * TICK
    rate = model.family("finished", model.state(np.array([k])))[:, 0, :]
    half = model.increase("finished", [t], [t + TICK / 2])[:, :, 0]
    assert np.allclose(half, rate * TICK / 2)
    # Before the fleet's epoch (one day before start) nothing was counted.
    early = START.timestamp() - 2 * 86400
    assert np.all(model.increase("finished", [early], [early + 600]) == 0)


# -------------------------------------------------------------------------------- histogram_quantile
UP = [0.1, 0.5, 1.0, INF]


@pytest.mark.parametrize(
    ("q", "counts", "expected"),
    [
        (0.5, [0, 0, 0, 0], math.nan),  # no observations
        (0.25, [8, 12, 16, 16], 0.1 * 4 / 8),  # inside the first bucket, interpolated from 0
        (0.5, [8, 12, 16, 16], 0.1),  # rank lands exactly on the first bound
        (0.6, [8, 12, 16, 16], 0.1 + 0.4 * (9.6 - 8) / 4),  # second bucket
        (0.99, [2, 4, 6, 10], 1.0),  # in the +Inf bucket: highest finite bound
        (1.0, [2, 4, 10, 10], 1.0),  # q = 1: the last bucket reaching the count
        (0.0, [2, 4, 10, 10], 0.0),  # q = 0 with a non-empty first bucket
        (0.0, [0, 4, 10, 10], math.nan),  # q = 0 with an empty first bucket: 0/0, as in Prometheus
        (-0.1, [2, 4, 10, 10], -INF),
        (1.1, [2, 4, 10, 10], INF),
    ],
)
def test_histogram_quantile_cases(q: float, counts: list[float], expected: float) -> None:
    got = histogram_quantile(q, UP, counts)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected)
    vec = histogram_quantile_many(q, UP, [counts])[0]
    assert (math.isnan(vec) and math.isnan(expected)) or vec == pytest.approx(expected)


def test_histogram_quantile_special_shapes() -> None:
    assert math.isnan(histogram_quantile(0.5, [0.1, 1.0], [1, 2]))  # no +Inf bucket
    assert math.isnan(histogram_quantile(0.5, [INF], [3]))  # fewer than two buckets
    assert histogram_quantile(0.5, [1.0, INF, 0.1], [6, 8, 2]) == pytest.approx(0.1 + 0.9 * 2 / 4)  # unsorted
    assert histogram_quantile(0.2, [-1.0, 1.0, INF], [4, 8, 8]) == -1.0  # lowest bound <= 0 is returned
    # Equal bounds add up: one bucket le=0.1 holding 2 of 2 observations, so the median is half-way into it.
    assert histogram_quantile(0.5, [0.1, 0.1, INF], [1, 1, 2]) == pytest.approx(0.05)
    # A dip (non-monotonic counts) is flattened to [6, 6, 8, 8] as Prometheus does: rank 6.4 sits 0.4 of 2 into
    # the (2, 4] bucket (left as is, it would be 1.4 of 3 into it: 2.93).
    assert histogram_quantile(0.8, [1.0, 2.0, 4.0, INF], [6, 5, 8, 8]) == pytest.approx(2.4)


def test_vectorised_quantile_matches_scalar() -> None:
    rng = random.Random(5)
    uppers = [*TTFT_BUCKETS, INF]
    rows = []
    for _ in range(300):
        steps = [rng.choice((0.0, 0.0, rng.random() * 10)) for _ in uppers]
        rows.append(np.cumsum(steps).tolist())
    for q in (0.0, 0.01, 0.5, 0.95, 0.999, 1.0):
        vec = histogram_quantile_many(q, uppers, rows)
        for row, v in zip(rows, vec, strict=True):
            s = histogram_quantile(q, uppers, row)
            assert (math.isnan(s) and math.isnan(v)) or v == pytest.approx(s, rel=1e-12), (q, row)


def test_values_are_formatted_as_prometheus_does() -> None:
    assert [format_value(v) for v in (1.0, 0.5, math.nan, INF, -INF, 1e-7)] == [
        "1",
        "0.5",
        "NaN",
        "+Inf",
        "-Inf",
        "1e-07",
    ]
    assert float(format_value(0.1 + 0.2)) == 0.1 + 0.2


def test_norm_cdf_accuracy_and_monotonicity() -> None:
    z = np.linspace(-8, 8, 4001)
    exact = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in z])
    got = norm_cdf(z)
    assert np.max(np.abs(got - exact)) < 1e-7
    assert np.all(np.diff(got) >= 0)
    assert norm_cdf([-INF, INF]).tolist() == [0.0, 1.0]
