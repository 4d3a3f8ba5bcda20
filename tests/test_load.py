"""Load scenarios: baseline and spike from the workload config, GPU utilisation following load, replicas needed."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from mtop.config import WorkloadConfig, default_config
from mtop.context import Fleet, connect
from mtop.simulation import SimulationError, load_scenarios

NOON = datetime(2026, 8, 3, 12, tzinfo=UTC)


def _fleet(baseline: float = 100.0, spike: float = 2.0, seed: int = 0, at: datetime = NOON) -> Fleet:
    cfg = dataclasses.replace(default_config(), workload=WorkloadConfig(baseline, spike))
    return connect(config=cfg, seed=seed, clock="frozen", start=at)


def _pair(df: pd.DataFrame, a: str, b: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    key = ["namespace", "service"]
    return df[df["scenario"] == a].set_index(key), df[df["scenario"] == b].set_index(key)


@pytest.fixture(scope="module")
def default() -> pd.DataFrame:
    return load_scenarios(_fleet())


def test_baseline_splits_the_configured_rate_and_spike_multiplies_it(default: pd.DataFrame) -> None:
    base, spike = _pair(default, "baseline", "spike")
    assert base["requests_per_second"].sum() == pytest.approx(100.0)  # every serving service shares R
    assert spike["requests_per_second"].tolist() == pytest.approx((2.0 * base["requests_per_second"]).tolist())
    assert len(base) == 14  # the 16 planned services less the two with no ready replica


def test_spike_runs_hotter_and_slower_than_baseline(default: pd.DataFrame) -> None:
    base, spike = _pair(default, "baseline", "spike")
    gpu = base["gpu_type"].notna()
    assert (spike.loc[gpu, "utilization_percent"] >= base.loc[gpu, "utilization_percent"]).all()
    unclipped = gpu & (spike["utilization_percent"] < 100)
    # GPU utilisation is 5 + 90 rho, and rho doubles with the rate.
    assert (spike.loc[unclipped, "utilization_percent"] - 5).tolist() == pytest.approx(
        (2 * (base.loc[unclipped, "utilization_percent"] - 5)).tolist()
    )
    assert (spike["ttft_p95_ms"] > base["ttft_p95_ms"]).all()
    assert (spike["error_rate_percent"] >= base["error_rate_percent"]).all()
    assert spike["utilization_percent"].max() == 100.0 and base["utilization_percent"].max() < 100.0
    assert base.loc[~gpu, "utilization_percent"].isna().all()  # a CPU-only service has no GPU to use


def test_hot_services_need_at_least_their_replicas_in_a_spike(default: pd.DataFrame) -> None:
    base, spike = _pair(default, "baseline", "spike")
    hot = base["utilization_percent"] >= 70  # the fleet plans two services near 75-80 % of capacity
    assert hot.sum() >= 2
    assert (spike.loc[hot, "replicas_needed"] > spike.loc[hot, "replicas"]).all()
    assert not spike.loc[hot, "slo_ok"].any()
    assert (spike["replicas_needed"] >= base["replicas_needed"]).all()
    assert (base.loc[base["slo_ok"], "replicas_needed"] <= base.loc[base["slo_ok"], "replicas"]).all()


def test_replicas_needed_grows_with_load_and_is_one_with_none() -> None:
    fleet = _fleet()
    df = load_scenarios(fleet, scenarios={"idle": 0.0, "half": 0.5, "x1": 1.0, "x3": 3.0, "x6": 6.0})
    wide = df.pivot_table(index="service", columns="scenario", values="replicas_needed", aggfunc="first")
    assert (wide["idle"] == 1).all()
    for lo, hi in [("idle", "half"), ("half", "x1"), ("x1", "x3"), ("x3", "x6")]:
        assert (wide[hi] >= wide[lo]).all()
    assert (wide["x6"] > wide["x1"]).all()
    assert list(dict.fromkeys(df["scenario"])) == ["idle", "half", "x1", "x3", "x6"]


def test_replicas_needed_is_the_fewest_that_meet_the_slo() -> None:
    # n replicas at rate R carry the same load per replica as today's ready replicas at R x ready / n,
    # so a scenario with that multiplier says, through the public API, whether n replicas would do.
    fleet = _fleet()
    base = load_scenarios(fleet, scenarios=["baseline"])
    for row in base.itertuples():
        n, ready = int(row.replicas_needed), int(row.ready_replicas)  # type: ignore[call-overload]
        probe = {"n": ready / n, "n-1": ready / (n - 1) if n > 1 else math.inf}
        probe = {k: v for k, v in probe.items() if math.isfinite(v)}
        df = load_scenarios(fleet, scenarios=probe, namespaces=[row.namespace])
        ok = df[df["service"] == row.service].set_index("scenario")["slo_ok"]
        assert ok["n"], row.service
        if "n-1" in ok:
            assert not ok["n-1"], row.service


def test_costs_price_the_gpus_at_the_configured_rate(default: pd.DataFrame) -> None:
    prices = {k: t.hourly_cost for k, t in default_config().technology.gpu_types.items()}
    for row in default.itertuples():
        price = prices.get(row.gpu_type, 0.0) if isinstance(row.gpu_type, str) else 0.0
        assert row.hourly_cost == pytest.approx(row.gpus * price)
        assert row.hourly_cost_needed == pytest.approx(row.gpus_needed * price)
    llama = default[(default["service"] == "llama-3-8b-instruct") & (default["scenario"] == "baseline")].iloc[0]
    assert (llama["gpus"], llama["hourly_cost"]) == (12, 36.0)  # 12 replicas of one $3.00 A100


def test_the_configured_baseline_and_spike_drive_the_scenarios() -> None:
    one = load_scenarios(_fleet(baseline=100.0, spike=2.0))
    two = load_scenarios(_fleet(baseline=200.0, spike=3.0))
    b1, s1 = _pair(one, "baseline", "spike")
    b2, s2 = _pair(two, "baseline", "spike")
    assert b2["requests_per_second"].tolist() == pytest.approx((2 * b1["requests_per_second"]).tolist())
    assert s2["requests_per_second"].tolist() == pytest.approx((3 * b2["requests_per_second"]).tolist())
    assert s1["requests_per_second"].tolist() == pytest.approx((2 * b1["requests_per_second"]).tolist())
    assert two.attrs["multipliers"] == {"baseline": 1.0, "spike": 3.0}


def test_scenarios_do_not_depend_on_the_time_of_day() -> None:
    noon = load_scenarios(_fleet())
    night = load_scenarios(_fleet(at=datetime(2026, 8, 3, 3, tzinfo=UTC)))
    pd.testing.assert_frame_equal(noon, night)


def test_namespaces_and_named_scenarios() -> None:
    df = load_scenarios(_fleet(), scenarios=["spike"], namespaces="production")
    assert set(df["scenario"]) == {"spike"} and set(df["namespace"]) == {"production"}
    assert df.attrs["estimate"] is True and "5 + 90 rho" in df.attrs["method"]
    assert str(df["replicas_needed"].dtype) == "Int64" and df["slo_ok"].dtype == bool


@pytest.mark.parametrize(
    ("scenarios", "match"),
    [(["surge"], "unknown scenario"), ({"down": -1.0}, "multiplier must be"), ({"x": math.inf}, "finite")],
)
def test_bad_scenarios_name_the_culprit(scenarios: object, match: str) -> None:
    with pytest.raises(SimulationError, match=match):
        load_scenarios(_fleet(), scenarios=scenarios)  # type: ignore[arg-type]


def test_an_unattainable_slo_leaves_replicas_needed_unknown() -> None:
    cfg = dataclasses.replace(default_config(), slo=dataclasses.replace(default_config().slo, ttft_p95_ms=1.0))
    df = load_scenarios(connect(config=cfg, seed=0, clock="frozen", start=NOON))
    assert df["replicas_needed"].isna().all() and df["gpus_needed"].isna().all()
    assert df["hourly_cost_needed"].isna().all() and not df["slo_ok"].any()
