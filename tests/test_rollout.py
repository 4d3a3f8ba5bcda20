"""Rollouts on the simulated fleet: traffic, replicas, the SLO gate (rollback iff breach) and cost."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from mtop.config import default_config
from mtop.context import Fleet, connect
from mtop.errors import MtopError
from mtop.simulation import TOPOLOGIES, SimulationError, UnknownTopologyError, rollout_plan, simulate
from mtop.simulation.service_model import busiest, find_service, service_models, slo_targets
from mtop.simulation.topologies import VERSIONS
from mtop.sources.workload import TICK

NOON = datetime(2026, 8, 3, 12, tzinfo=UTC)  # a multiple of the 15 s tick
STATUSES = {"Pending", "Ready", "Shadow", "Terminating", "Terminated", "Failed"}
DECISIONS = {"continue", "promote", "rollback", "done"}
SLO = default_config().slo
HEALTHY = "llama-3-8b-instruct"  # 12 A100 replicas at rho ~0.2 at noon: well inside the SLOs


def _fleet(seed: int = 0, at: datetime = NOON) -> Fleet:
    return connect(seed=seed, clock="frozen", start=at)


FLEETS = {seed: _fleet(seed) for seed in range(4)}


def _by_step(df: pd.DataFrame) -> dict[int, pd.DataFrame]:
    return {int(k): g for k, g in df.groupby("step")}


def _version(df: pd.DataFrame, topology: str, which: str) -> pd.DataFrame:
    name = VERSIONS[topology][0 if which == "old" else 1]
    return df[df["version"] == name].set_index("step")


def _breaches(row: pd.Series) -> bool:
    """The SLO check done here from the config, not with the code under test."""
    return bool(row["ttft_p95_ms"] > SLO.ttft_p95_ms or row["error_rate_percent"] > SLO.error_rate_percent)


# ------------------------------------------------------------------------------------------- properties
def _runs(n: int, seed: int) -> list[dict[str, object]]:
    """``n`` seeded random rollouts: every topology, step count, fleet seed, service and kind of defect."""
    rng = random.Random(seed)
    services = [None, HEALTHY, "mixtral-8x7b-instruct", "deepseek-v3", "gemini-pro"]
    return [
        {
            "topology": TOPOLOGIES[i % len(TOPOLOGIES)],
            "seed": rng.choice(sorted(FLEETS)),
            "steps": rng.randint(1, 8),
            "service": rng.choice(services),
            "fail_at": rng.choice([None, rng.randint(0, 12)]),
            "error": rng.choice([None, rng.uniform(0.0, 0.3)]),
            "latency": rng.choice([None, rng.uniform(0.5, 3.0)]),
        }
        for i in range(n)
    ]


RUNS = _runs(120, seed=7)


def _play(run: dict[str, object]) -> pd.DataFrame:
    topology, steps, fleet = str(run["topology"]), run["steps"], FLEETS[int(run["seed"])]  # type: ignore[call-overload]
    models = service_models(fleet)
    m = busiest(models, slo_targets(fleet.config)) if run["service"] is None else find_service(models, run["service"])  # type: ignore[arg-type]
    last = next(i for i, p in enumerate(rollout_plan(topology, m.replicas, steps)) if p.kind == "promote")  # type: ignore[arg-type]
    return simulate(
        topology,
        fleet,
        service=run["service"],  # type: ignore[arg-type]
        steps=steps,  # type: ignore[arg-type]
        fail_at=None if run["fail_at"] is None else min(int(run["fail_at"]), last),  # type: ignore[call-overload]
        new_version_error_rate_percent=run["error"],  # type: ignore[arg-type]
        new_version_latency_factor=run["latency"],  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("run", RUNS[:60])
def test_every_step_is_well_formed_and_splits_exactly_100_percent(run: dict[str, object]) -> None:
    df = _play(run)
    topology = df.attrs["topology"]
    steps = _by_step(df)
    assert sorted(steps) == list(range(len(steps)))
    for step, rows in steps.items():
        assert sorted(rows["version"]) == sorted(VERSIONS[topology]), step
        assert rows["traffic_percent"].sum() == 100.0  # exactly: integer weights
        assert set(rows["status"]) <= STATUSES and set(rows["decision"]) <= DECISIONS
        assert rows["decision"].nunique() == 1 and rows["reason"].nunique() == 1
        assert (rows["ready_replicas"] <= rows["replicas"]).all()
        serving = rows[(rows["traffic_percent"] > 0) | (rows["mirrored_percent"] > 0)]
        assert (serving["ready_replicas"] > 0).all() and serving["status"].isin(["Ready", "Shadow"]).all()
        idle = rows[rows["status"].isin(["Terminated", "Failed"])]
        assert (idle["replicas"] == 0).all() and (idle["hourly_cost"] == 0).all()
    assert df["elapsed_s"].is_monotonic_increasing and df["elapsed_s"].iloc[0] == 0.0
    assert df["decision"].iloc[-1] == "done" and (df["decision"] == "done").sum() == 2


@pytest.mark.parametrize("run", RUNS)
def test_a_rollback_happens_when_and_only_when_the_new_version_breaches_the_slo(run: dict[str, object]) -> None:
    df = _play(run)
    topology = df.attrs["topology"]
    new = _version(df, topology, "new")
    judged = new[(new["requests_per_second"] > 0) & (new["decision"] != "done")]
    breached = [int(s) for s, row in judged.iterrows() if _breaches(row)]
    rollbacks = sorted(df.loc[df["decision"] == "rollback", "step"].unique().tolist())
    if breached:
        assert rollbacks == [breached[0]] and df.attrs["outcome"] == "rolled_back"
        assert df.attrs["rollback_step"] == breached[0]
        final = df[df["step"] == df["step"].max()].set_index("version")
        old_name, new_name = VERSIONS[topology]
        assert final.loc[new_name, "status"] == "Failed" and final.loc[old_name, "traffic_percent"] == 100.0
    else:
        assert rollbacks == [] and df.attrs["outcome"] == "promoted"
        assert (df["decision"] == "promote").any()
        final = df[df["step"] == df["step"].max()].set_index("version")
        assert final.loc[VERSIONS[topology][1], "traffic_percent"] == 100.0
        assert final.loc[VERSIONS[topology][0], "status"] == "Terminated"


# ----------------------------------------------------------------------------------------- fail_at
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_without_a_fault_a_healthy_service_is_promoted(topology: str) -> None:
    df = simulate(topology, FLEETS[0], service=HEALTHY)
    assert df.attrs["outcome"] == "promoted" and "rollback" not in set(df["decision"])
    assert df["slo_ok"].dropna().all()


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("fail_at", [0, 1, 2])
def test_fail_at_rolls_back_at_the_first_analysis_after_the_fault(topology: str, fail_at: int) -> None:
    df = simulate(topology, FLEETS[0], service=HEALTHY, fail_at=fail_at)
    new = _version(df, topology, "new")
    exposed = [int(s) for s in new.index if s >= fail_at and new.loc[s, "requests_per_second"] > 0]
    assert df.attrs["rollback_step"] == exposed[0]
    # The old recipe's progression: the defect adds 2 % of errors at the fault's step, 5 % one step later.
    base = _version(df, topology, "old").loc[0, "error_rate_percent"] / 100
    added = (2.0, 5.0, 8.0)[min(exposed[0] - fail_at, 2)] / 100
    assert new.loc[exposed[0], "error_rate_percent"] == pytest.approx(100 * (1 - (1 - base) * (1 - added)))
    assert (new.loc[: exposed[0] - 1, "slo_ok"].dropna()).all()  # nothing breached before


def test_a_small_defect_within_the_slo_is_promoted_and_a_slow_one_is_rolled_back() -> None:
    ok = simulate("canary", FLEETS[0], service=HEALTHY, new_version_error_rate_percent=0.05)
    assert ok.attrs["outcome"] == "promoted"
    slow = simulate("canary", FLEETS[0], service=HEALTHY, fail_at=3, new_version_latency_factor=4.0)
    assert slow.attrs["rollback_step"] == 3
    row = slow[(slow["step"] == 3) & (slow["version"] == "canary")].iloc[0]
    assert row["ttft_p95_ms"] > SLO.ttft_p95_ms and row["error_rate_percent"] <= SLO.error_rate_percent


# ------------------------------------------------------------------------------------------ topologies
@pytest.mark.parametrize("steps", [1, 3, 6])
def test_shadow_never_takes_user_traffic_before_cut_over(steps: int) -> None:
    df = simulate("shadow", FLEETS[1], service=HEALTHY, steps=steps)
    canary = _version(df, "shadow", "new")
    shadowing = canary[canary["status"] == "Shadow"]
    assert len(shadowing) == steps
    assert (shadowing["traffic_percent"] == 0).all() and (shadowing["mirrored_percent"] == 100).all()
    stable = _version(df, "shadow", "old")
    assert (stable.loc[shadowing.index, "traffic_percent"] == 100).all()
    # The mirror carries the whole load: the shadow sees the stable version's request rate.
    assert (shadowing["requests_per_second"] == stable.loc[shadowing.index, "requests_per_second"]).all()
    assert (canary.loc[: shadowing.index.max(), "traffic_percent"] == 0).all()


@pytest.mark.parametrize("fail_at", [None, 1, 2])
def test_blue_green_switches_all_traffic_at_once(fail_at: int | None) -> None:
    df = simulate("blue-green", FLEETS[2], service=HEALTHY, fail_at=fail_at)
    for rows in _by_step(df).values():
        assert sorted(rows["traffic_percent"]) == [0.0, 100.0]
    green = _version(df, "blue-green", "new")
    assert green["traffic_percent"].tolist()[:2] == [0.0, 100.0]  # setup, then the switch
    blue = _version(df, "blue-green", "old")
    switched = green.index[green["traffic_percent"] == 100][0]
    assert blue.loc[switched, "ready_replicas"] == blue.loc[0, "ready_replicas"]  # kept for an instant rollback


@pytest.mark.parametrize("steps", [1, 2, 3, 5, 12, 20])
def test_rolling_moves_replicas_within_max_surge_and_max_unavailable(steps: int) -> None:
    df = simulate("rolling", FLEETS[0], service=HEALTHY, steps=steps)
    r = 12
    surge = math.ceil(r / steps)
    old, new = _version(df, "rolling", "old"), _version(df, "rolling", "new")
    total = old["replicas"] + new["replicas"]
    ready = old["ready_replicas"] + new["ready_replicas"]
    assert (total <= r + surge).all()
    assert (ready >= r).all()  # maxUnavailable 0: capacity never dips
    assert (new["ready_replicas"].diff().dropna().between(0, surge)).all()
    assert new["ready_replicas"].iloc[-1] == r and old["replicas"].iloc[-1] == 0
    # A Service spreads traffic over ready pods.
    serving = ready[new["traffic_percent"] < 100]
    share = (100 * new.loc[serving.index, "ready_replicas"] / serving).round()
    assert (new.loc[serving.index, "traffic_percent"] == share).all()


def test_canary_weights_grow_and_the_canary_is_sized_to_its_share() -> None:
    df = simulate("canary", FLEETS[0], service=HEALTHY, steps=4)
    canary = _version(df, "canary", "new")
    weights = canary["traffic_percent"].tolist()
    assert weights[:6] == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    for step in range(1, 5):
        assert canary.loc[step, "replicas"] == math.ceil(12 * weights[step] / 100)


# -------------------------------------------------------------------------------------- model and cost
def test_figures_come_from_the_fleets_model_at_now() -> None:
    fleet = FLEETS[0]
    df = simulate("canary", fleet, service=HEALTHY)
    stable0 = df[(df["step"] == 0) & (df["version"] == "stable")].iloc[0]
    # The tick holding now, read through the fleet's own queries (a 15 s window ending on the next tick).
    at = fleet.now() + timedelta(seconds=TICK)
    rate = fleet.source.query("request_rate", {"window": "15s"}, at=at)["result"]
    ttft = fleet.source.query("ttft_quantile", {"q": 0.95, "window": "15s"}, at=at)["result"]

    def of(result: list[dict[str, object]]) -> float:
        return next(float(r["value"][1]) for r in result if r["metric"]["service"] == HEALTHY)  # type: ignore[index]

    assert stable0["requests_per_second"] == pytest.approx(of(rate), rel=1e-9)
    assert stable0["ttft_p95_ms"] == pytest.approx(1000 * of(ttft), rel=1e-6)


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("fail_at", [None, 2])
def test_two_versions_cost_more_during_the_rollout_and_one_after(topology: str, fail_at: int | None) -> None:
    df = simulate(topology, FLEETS[0], service=HEALTHY, fail_at=fail_at)
    per_step = df.groupby("step")["hourly_cost"].sum()
    today = 12 * 1 * default_config().technology.gpu_types["nvidia-a100"].hourly_cost  # 12 replicas of 1 A100
    assert per_step.iloc[0] > today  # the new version's replicas start at once
    assert per_step.max() > today
    assert per_step.iloc[-1] == pytest.approx(today)


def test_default_service_is_the_busiest_one_within_its_slo() -> None:
    fleet = _fleet(0, datetime(2026, 8, 3, 15, tzinfo=UTC))  # the daily peak: the busiest service breaches
    models = service_models(fleet)
    slo = slo_targets(fleet.config)
    df = simulate("canary", fleet)
    healthy = [m for m in models if m.meets(m.rate, m.ready_replicas, slo)]
    assert max(models, key=lambda m: m.rate).service not in {m.service for m in healthy}
    assert df.attrs["service"] == max(healthy, key=lambda m: m.rate).service
    assert df.attrs["old_slo_ok"] is True and df.attrs["outcome"] == "promoted"


def test_a_service_already_out_of_slo_is_rolled_back_at_full_traffic() -> None:
    fleet = _fleet(0, datetime(2026, 8, 3, 15, tzinfo=UTC))
    df = simulate("canary", fleet, service="deepseek-v3")
    assert df.attrs["old_slo_ok"] is False and df.attrs["outcome"] == "rolled_back"


def test_attrs_describe_the_estimate() -> None:
    df = simulate("rolling", FLEETS[0], service=HEALTHY)
    assert df.attrs["estimate"] is True and "rho" in df.attrs["method"]
    assert df.attrs["slo"] == {"ttft_p95_ms": SLO.ttft_p95_ms, "error_rate_percent": SLO.error_rate_percent}
    assert (df.attrs["service"], df.attrs["namespace"]) == (HEALTHY, "production")
    assert df["step"].dtype == "int64" and df["version"].dtype == "string" and df["slo_ok"].dtype == "boolean"


# ---------------------------------------------------------------------------------------------- errors
def test_topology_names_and_the_alias() -> None:
    assert simulate("bluegreen", FLEETS[0], service=HEALTHY).attrs["topology"] == "blue-green"
    with pytest.raises(UnknownTopologyError, match="valid: canary, blue-green, rolling, shadow") as err:
        simulate("dark-launch", FLEETS[0])
    assert isinstance(err.value, MtopError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, "steps must be a whole number from 1 to 50"),
        ({"steps": 2.5}, "steps must be a whole number"),
        ({"fail_at": 99}, r"fail_at must be a step from 0 to 5 \(the promote step\)"),
        ({"fail_at": -1}, "fail_at must be a step"),
        ({"new_version_error_rate_percent": 120.0}, "between 0 and 100"),
        ({"new_version_latency_factor": 0.0}, "finite number > 0"),
        ({"service": "nope"}, "no serving service 'nope'"),
        ({"service": "claude-3-opus"}, "no serving service 'claude-3-opus'"),  # no ready replicas
        ({"service": HEALTHY, "namespace": "staging"}, "in namespace 'staging'"),
    ],
)
def test_bad_arguments_name_the_culprit(kwargs: dict[str, object], match: str) -> None:
    args = {"service": HEALTHY, **kwargs}
    with pytest.raises(SimulationError, match=match):
        simulate("canary", FLEETS[0], **args)  # type: ignore[arg-type]


def test_a_live_fleet_is_refused() -> None:
    class LiveSource:
        kind = "kubernetes"

    live = Fleet(source=LiveSource(), config=default_config())  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="simulated fleet"):
        simulate("canary", live)


def test_the_random_runs_cover_both_outcomes() -> None:
    outcomes = [_play(run).attrs["outcome"] for run in RUNS]
    assert 20 < outcomes.count("rolled_back") < 100  # both sides of the "if and only if" are exercised
