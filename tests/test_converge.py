"""Convergence: the cheapest replica count and GPU type meeting the SLOs, found by an explainable search."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pandas as pd
import pytest

from mtop.config import default_config
from mtop.context import Fleet, connect
from mtop.recommend import UnknownGPUTypeError
from mtop.simulation import SimulationError, converge
from mtop.simulation.convergence import bracket_search, gpu_options
from mtop.simulation.service_model import ServiceModel, find_service, service_models, slo_targets

NOON = datetime(2026, 8, 3, 12, tzinfo=UTC)
CFG = default_config()
FLEET = connect(seed=0, clock="frozen", start=NOON)
MODELS = service_models(FLEET)
CASES = [
    ("llama-3-8b-instruct", None, None),
    ("deepseek-v3", None, None),
    ("mixtral-8x7b-instruct", 60.0, ["nvidia-h100", "nvidia-a100", "nvidia-l40s"]),
    ("phi-3-medium-instruct", 20.0, None),
    ("gpt-4-turbo", None, ["nvidia-h100", "nvidia-h200"]),
    ("qwen2-7b-instruct-pd", 0.0, None),
    ("granite-3-2b-instruct", None, None),  # CPU-only: replicas only
    ("gemini-pro", 3.0, {"ttft_p95_ms": 800}),
]


def _brute_force(m: ServiceModel, load: float, slo: object, gpu_types: list[str] | None) -> float:
    """The cheapest feasible hourly cost by trying every option and every count up to a generous bound."""
    targets = slo_targets(CFG, slo if isinstance(slo, dict) else None)
    best = math.inf
    for o in gpu_options(m, CFG, gpu_types):
        for n in range(1, 400):
            if m.meets(load, n, targets, o.speed):
                best = min(best, o.gpus(n) * o.price)
                break  # feasibility is monotone: larger counts only cost more
    return best


@pytest.mark.parametrize(("service", "load", "extra"), CASES)
def test_converge_picks_the_cheapest_feasible_option(service: str, load: float | None, extra: object) -> None:
    gpu_types = extra if isinstance(extra, list) else None
    slo = extra if isinstance(extra, dict) else None
    df = converge(FLEET, service=service, load_qps=load, gpu_types=gpu_types, slo=slo)
    m = find_service(MODELS, service)
    expected = _brute_force(m, m.rate if load is None else load, slo, gpu_types)
    chosen = df[df["chosen"]]
    assert len(chosen) == 1 and chosen.index[0] == df.index[-1]
    row = chosen.iloc[0]
    assert row["decision"] == "accept" and bool(row["meets_slo"])
    assert row["hourly_cost"] == pytest.approx(expected)
    target = slo_targets(CFG, slo)
    assert row["ttft_p95_ms"] <= target.ttft_p95_ms and row["error_rate_percent"] <= target.error_rate_percent


def _check_history(df: pd.DataFrame) -> None:
    """Per GPU type, every probe lies inside the bracket narrowed so far; decisions match the verdicts."""
    probes = df.iloc[:-1] if df["chosen"].iloc[-1] and df["decision"].iloc[-1] == "accept" else df
    for _, rows in probes.groupby("gpu_type", dropna=False, sort=False):
        lo, hi = 0, math.inf
        seen: set[int] = set()
        for row in rows.itertuples():
            if pd.isna(row.replicas):
                continue
            n = int(row.replicas)  # type: ignore[call-overload]
            assert n not in seen
            seen.add(n)
            if row.decision in ("scale_up", "scale_down") or (row.decision == "switch_gpu" and "fewest" in row.reason):
                assert lo < n < hi, (row.gpu_type, n, lo, hi)
                if row.meets_slo:
                    hi = n
                else:
                    lo = n
        for row in rows.itertuples():
            if row.decision == "scale_up" and "fewest" not in row.reason:
                assert not row.meets_slo
            if row.decision == "scale_down":
                assert row.meets_slo
        assert len(rows) <= 2 * math.log2(1000) + 3


@pytest.mark.parametrize(("service", "load", "extra"), CASES)
def test_the_history_is_monotone_and_explained(service: str, load: float | None, extra: object) -> None:
    gpu_types = extra if isinstance(extra, list) else None
    slo = extra if isinstance(extra, dict) else None
    df = converge(FLEET, service=service, load_qps=load, gpu_types=gpu_types, slo=slo)
    _check_history(df)
    assert df["iteration"].tolist() == list(range(len(df)))
    assert set(df["decision"]) <= {"scale_up", "scale_down", "switch_gpu", "accept"}
    assert df["reason"].str.len().min() > 20
    # Deterministic: the same question gives the same answer, row for row.
    pd.testing.assert_frame_equal(df, converge(FLEET, service=service, load_qps=load, gpu_types=gpu_types, slo=slo))


def test_the_search_starts_from_todays_configuration() -> None:
    df = converge(FLEET, service="llama-3-8b-instruct")
    first = df.iloc[0]
    assert (first["gpu_type"], first["replicas"]) == ("nvidia-a100", 12)
    assert first["hourly_cost"] == 36.0 and df.attrs["current"]["hourly_cost"] == 36.0


def test_cost_never_falls_as_load_grows() -> None:
    costs = [
        float(converge(FLEET, service="mixtral-8x7b-instruct", load_qps=q).query("chosen")["hourly_cost"].iloc[0])
        for q in (0.0, 5.0, 20.0, 40.0, 80.0, 160.0)
    ]
    assert costs == sorted(costs) and costs[-1] > costs[0]


def test_no_load_needs_one_replica_of_the_cheapest_type() -> None:
    df = converge(FLEET, service="llama-3-8b-instruct", load_qps=0.0)
    row = df[df["chosen"]].iloc[0]
    per_replica = {
        o.gpu_type: o.gpus(1) * o.price for o in gpu_options(find_service(MODELS, "llama-3-8b-instruct"), CFG)
    }
    assert row["replicas"] == 1 and row["hourly_cost"] == pytest.approx(min(per_replica.values()))


def test_an_unattainable_slo_chooses_nothing() -> None:
    df = converge(FLEET, service="gemini-pro", slo={"ttft_p95_ms": 5})
    assert df.attrs["feasible"] is False and not df["chosen"].any()
    assert (df["decision"] == "switch_gpu").all() and df["reason"].str.contains("even with no load").all()


def test_gpu_options_keep_the_memory_of_a_replica() -> None:
    mixtral = find_service(MODELS, "mixtral-8x7b-instruct")  # 2 H100 (80 GB) per replica
    options = {o.gpu_type: o for o in gpu_options(mixtral, CFG)}
    types = CFG.technology.gpu_types
    for key, o in options.items():
        assert o.gpus_per_replica * types[key].memory_gb >= 2 * 80
        assert o.speed == pytest.approx(o.gpus_per_replica * types[key].relative_throughput / 2.0)
    assert options["nvidia-l4"].gpus_per_replica == 7  # ceil(160 / 24)
    assert next(iter(options)) == "nvidia-h100"  # today's type first


@pytest.mark.parametrize("seed", range(6))
def test_bracket_search_finds_the_threshold_without_repeating(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        threshold, start = rng.randint(1, 5000), rng.randint(1, 6000)
        lower = rng.randint(0, threshold - 1)
        probes = bracket_search(lambda n, t=threshold: n >= t, start, lower)  # type: ignore[misc]
        ns = [n for n, _ in probes]
        assert min(n for n, ok in probes if ok) == threshold
        assert len(ns) == len(set(ns)) and all(n > lower for n in ns)
        assert len(ns) <= 2 * math.log2(6000) + 3


def test_bad_arguments_name_the_culprit() -> None:
    with pytest.raises(UnknownGPUTypeError, match="nvidia-x9"):
        converge(FLEET, service="gemini-pro", gpu_types=["nvidia-x9"])
    with pytest.raises(SimulationError, match="load_qps"):
        converge(FLEET, service="gemini-pro", load_qps=-1.0)
    with pytest.raises(SimulationError, match="unknown SLO key"):
        converge(FLEET, service="gemini-pro", slo={"ttft_p99_ms": 100})
    with pytest.raises(SimulationError, match="no serving service"):
        converge(FLEET, service="claude-3-opus")


def test_default_service_is_the_busiest(fleet: Fleet = FLEET) -> None:
    df = converge(fleet)
    assert df.attrs["service"] == max(MODELS, key=lambda m: m.rate).service
    assert df.attrs["load_qps"] == pytest.approx(max(m.rate for m in MODELS))
