"""Recommendations and what-if (mtop.recommend) on crafted overview frames, with hand-computed numbers.

Default config: H100 $5.00/GPU-h (relative throughput 1.0), A100 80 GB $3.00 (0.45), MI300X $1.99 (1.0,
192 GB), spike multiplier 2.0, SLO TTFT p95 500 ms. TARGET_UTILIZATION is 0.7.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from mtop import schema
from mtop.config import default_config
from mtop.errors import ConfigError
from mtop.recommend import UnknownGPUTypeError, needed_replicas, recommend, what_if_frame

CONFIG = default_config()


def _overview(**rows: dict) -> pd.DataFrame:
    base = {
        "namespace": "prod",
        "gpu_type": "nvidia-h100",
        "gpus_per_replica": 1,
        "prefill_replicas": 0,
        "prefill_gpus_per_replica": 0,
        "queue_depth": 0.0,
        "kv_cache_usage": 0.3,
        "ttft_p95_ms": 200.0,
        "ttft_ok": True,
        "slo_ok": True,
        "requests_per_second": 5.0,
    }
    records = [{**base, "service": name, "model": f"org/{name}", **values} for name, values in rows.items()]
    cols = {k: [r.get(k) for r in records] for k in dict.fromkeys(k for r in records for k in r)}
    df = schema.conform(cols, "overview")
    df["gpus"] = df["replicas"] * df["gpus_per_replica"]
    return df


def _row(df: pd.DataFrame, service: str, action: str) -> pd.Series:
    hit = df[(df["service"] == service) & (df["action"] == action)]
    assert len(hit) == 1, df[["service", "action"]].values.tolist()
    return hit.iloc[0]


def test_needed_replicas_rounds_up_and_keeps_one() -> None:
    assert needed_replicas([7, 5, 3], [0.35, 0.0, 0.7], 2.0).tolist() == [7.0, 1.0, 6.0]


def test_idle_service_scales_down_with_the_exact_saving() -> None:
    df = recommend(
        _overview(idle={"replicas": 4, "gpus_per_replica": 2, "utilization_percent": 10.0, "kv_cache_usage": 0.2}),
        CONFIG,
    )
    schema.check_frame(df, "recommendations")
    row = _row(df, "idle", "scale_down")
    # 4 replicas x 10 % x 2.0 spike / 0.7 = 1.14 -> 2 replicas; 2 fewer x 2 GPUs x $5 x 730 h = $14,600.
    assert (row["current"], row["recommended"]) == ("4 replicas", "2 replicas")
    assert row["monthly_saving"] == pytest.approx(14600.0)
    assert row["confidence"] == pytest.approx(0.5 + 0.5 * 20 / 30)


def test_hot_service_scales_up_with_a_negative_saving() -> None:
    hot = {"replicas": 2, "utilization_percent": 90.0, "kv_cache_usage": 0.95, "queue_depth": 80.0,
           "ttft_p95_ms": 900.0, "ttft_ok": False, "slo_ok": False}  # fmt: skip
    df = recommend(_overview(hot=hot), CONFIG)
    row = _row(df, "hot", "scale_up")
    # 2 x 0.9 x 2.0 / 0.7 = 5.14 -> 6 replicas: 4 more x 1 GPU x $5 x 730 h = -$14,600.
    assert row["recommended"] == "6 replicas" and row["monthly_saving"] == pytest.approx(-14600.0)
    assert "KV cache 95%" in row["reason"] and "80 requests waiting" in row["reason"] and "900 ms" in row["reason"]
    assert row["confidence"] == pytest.approx(0.5 + 0.5 * 0.8)  # TTFT 80 % over its SLO is the worst excess
    assert set(df["action"]) == {"scale_up"}  # a service missing its SLO gets no scale_down or switch


def test_scale_up_without_a_load_signal_adds_one_replica() -> None:
    df = recommend(_overview(s={"replicas": 3, "ttft_p95_ms": 800.0, "ttft_ok": False, "slo_ok": False}), CONFIG)
    assert _row(df, "s", "scale_up")["recommended"] == "4 replicas"


def test_busy_but_healthy_service_gets_nothing() -> None:
    # On MI300X (the cheapest per unit of throughput in the default config): not even a switch pays.
    busy = {"replicas": 3, "utilization_percent": 60.0, "kv_cache_usage": 0.6, "gpu_type": "amd-mi300x"}
    assert recommend(_overview(ok=busy), CONFIG).empty


def test_switch_gpu_picks_the_cheapest_type_that_carries_the_peak() -> None:
    df = recommend(
        _overview(idle={"replicas": 4, "gpus_per_replica": 2, "utilization_percent": 10.0, "kv_cache_usage": 0.2}),
        CONFIG,
    )
    row = _row(df, "idle", "switch_gpu")
    # Today: 4 replicas x 2 GPUs x $5 = $40/h; right-sized on H100 (2 replicas) $20/h. MI300X has H100's
    # throughput and more memory: 2 replicas x 2 GPUs x $1.99 = $7.96/h. Saving against today's bill.
    assert row["current"] == "nvidia-h100" and row["recommended"] == "amd-mi300x"
    assert row["monthly_saving"] == pytest.approx((40.0 - 2 * 2 * 1.99) * 730)
    assert "2 replicas of amd-mi300x" in row["reason"] and "$20.00/h right-sized" in row["reason"]
    assert row["confidence"] == pytest.approx((0.4 + 0.6 * (20 - 7.96) / 20) * 0.8)  # x0.8: vendor change


def _config(**types: tuple[float, float, float]) -> SimpleNamespace:
    """A duck-typed config: GPU types as (memory_gb, hourly_cost, relative_throughput)."""
    gpu_types = {
        k: SimpleNamespace(memory_gb=m, hourly_cost=c, relative_throughput=r, vendor="nvidia")
        for k, (m, c, r) in types.items()
    }
    return SimpleNamespace(
        technology=SimpleNamespace(gpu_types=gpu_types),
        slo=SimpleNamespace(ttft_p95_ms=500.0),
        workload=SimpleNamespace(spike_multiplier=2.0),
    )


def test_switch_gpu_respects_memory_and_ttft() -> None:
    # "small" is cheap but has too little memory; "slow" is 4x slower: TTFT 200 ms x 4 = 800 ms breaks the SLO.
    config = _config(big=(80, 4.0, 1.0), small=(24, 1.0, 1.0), slow=(80, 0.5, 0.25))
    svc = {"gpu_type": "big", "replicas": 2, "utilization_percent": 50.0}
    assert recommend(_overview(s={**svc, "ttft_p95_ms": 200.0}), config).empty
    # At 100 ms the slow type keeps TTFT at 400 ms: load 1 replica x 4 x 2.0 / 0.7 -> 12 slow replicas x $0.5
    # = $6/h, cheaper than 3 big replicas right-sized ($12/h) and than today's 2 x $4 = $8/h.
    row = _row(recommend(_overview(s={**svc, "ttft_p95_ms": 100.0}), config), "s", "switch_gpu")
    assert row["recommended"] == "slow" and row["monthly_saving"] == pytest.approx((8.0 - 6.0) * 730)


def test_consolidate_same_model_services() -> None:
    same = {"model": "org/shared", "gpus_per_replica": 1}
    df = recommend(
        _overview(
            s1={"replicas": 3, "utilization_percent": 20.0, **same},
            s2={"replicas": 2, "utilization_percent": 15.0, **same},
        ),
        CONFIG,
    )
    row = _row(df, "s1", "consolidate")
    # Load 3 x 0.2 + 2 x 0.15 = 0.9 replicas; x 2.0 / 0.7 = 2.57 -> 3 replicas instead of 5: 2 x $5 x 730.
    assert row["current"] == "2 services, 5 replicas" and row["recommended"] == "1 service, 3 replicas"
    assert row["monthly_saving"] == pytest.approx(7300.0) and "s2" in row["reason"]


def test_unknown_utilization_recommends_no_scale_down() -> None:
    df = recommend(_overview(s={"replicas": 4, "utilization_percent": float("nan")}), CONFIG)
    assert "scale_down" not in set(df["action"])


def test_what_if_on_a_slower_cheaper_gpu() -> None:
    base = {"replicas": 2, "utilization_percent": 50.0, "tokens_per_second": 2000.0, "hourly_cost": 10.0}
    df = what_if_frame(_overview(s=base), CONFIG, gpu_type="nvidia-a100")
    assert df["scenario"].tolist() == ["current", "what_if"] and df.attrs["estimate"] is True
    new = df.iloc[1]
    # Capacity x0.45 -> needs 111 % of it: serves 2000 / 1.11 = 1800 tok/s at 100 %; 2 GPUs x $3.
    assert new["tokens_per_second"] == pytest.approx(1800.0) and new["utilization_percent"] == pytest.approx(100.0)
    assert new["hourly_cost"] == pytest.approx(6.0) and new["gpus"] == 2
    assert new["cost_per_million_tokens"] == pytest.approx(6.0 / (1800 * 3600) * 1e6)
    assert new["ttft_p95_ms"] == pytest.approx(200.0 / 0.45 * 0.5 / 0.05)  # slower and queueing at 95 %
    assert df.iloc[0]["hourly_cost"] == 10.0  # the current row is the observed figure


def test_what_if_more_replicas() -> None:
    base = {"replicas": 2, "utilization_percent": 50.0, "tokens_per_second": 2000.0}
    new = what_if_frame(_overview(s=base, t=base), CONFIG, replicas=4, service="s").iloc[1]
    assert (new["replicas"], new["gpus"], new["hourly_cost"]) == (4, 4, 20.0)
    assert new["utilization_percent"] == pytest.approx(25.0) and new["tokens_per_second"] == pytest.approx(2000.0)
    assert new["ttft_p95_ms"] == pytest.approx(200.0 * 0.5 / 0.75)


def test_what_if_rejects_unknown_gpu_types_and_services() -> None:
    with pytest.raises(UnknownGPUTypeError) as info:
        what_if_frame(_overview(s={"replicas": 1}), CONFIG, gpu_type="nvidia-h1000")
    assert isinstance(info.value, ValueError) and isinstance(info.value, ConfigError)
    assert "nvidia-h100" in str(info.value) and "nvidia-h1000" in str(info.value)
    with pytest.raises(ValueError, match="no service 'nope'"):
        what_if_frame(_overview(s={"replicas": 1}), CONFIG, service="nope")
    with pytest.raises(ValueError, match="replicas"):
        what_if_frame(_overview(s={"replicas": 1}), CONFIG, replicas=-1)


def test_empty_overview() -> None:
    assert recommend(schema.empty_frame("overview"), CONFIG).empty
    assert what_if_frame(schema.empty_frame("overview"), CONFIG).empty
