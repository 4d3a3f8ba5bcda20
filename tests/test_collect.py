"""The collectors (mtop.collect): a canned source first, then the real simulated fleet."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fleet_fakes import T0, FakeFleet, FakeSource, dcgm, llmisvc, main_container, node, pod, svc_vector

from mtop import collect, schema
from mtop.catalogue import render

PER_SERVICE = {
    "services": "services",
    "pods": "pods",
    "nodes": "nodes",
    "gpus": "gpus",
    "gpu_costs": "gpu_costs",
    "slo_metrics": "slo_metrics",
    "overview": "overview",
}


def _ttft(params: dict[str, Any]) -> dict[str, Any]:
    q = params["q"]
    return svc_vector({("prod", "chat"): {0.5: 0.1, 0.95: 0.3, 0.99: 0.6}[q], ("team-b", "batch"): 2.0})


def small_fleet(**kw: Any) -> FakeSource:
    """chat: 2 x 2 H100 GPUs, pinned; pd: P/D on H100; batch (team-b): 1 A100; quiet: no traffic."""
    prefill = {"replicas": 1, "template": {"containers": [main_container(1)]}}
    services = [
        llmisvc("chat", replicas=2, gpus=2, product="NVIDIA-H100-80GB-HBM3"),
        llmisvc("pd", replicas=1, gpus=1, prefill=prefill),
        llmisvc("quiet", replicas=1, gpus=1),
        llmisvc("batch", "team-b", replicas=1, gpus=1),
    ]
    pods = [
        pod("chat-kserve-1", "chat", node="h1", gpus=2),
        pod("chat-kserve-2", "chat", node="h1", gpus=2),
        pod("chat-kserve-router-scheduler-1", "chat", node="cpu-1", gpus=0,
            component="llminferenceservice-router-scheduler", role=None),
        pod("pd-kserve-1", "pd", node="h1", gpus=1, role="decode"),
        pod("pd-kserve-prefill-1", "pd", node="h1", gpus=1, role="prefill",
            component="llminferenceservice-workload-prefill"),
        pod("quiet-kserve-1", "quiet", node=None, phase="Pending", ready=False),
        pod("batch-kserve-1", "batch", "team-b", node="a1", gpus=1),
    ]  # fmt: skip
    nodes = [node("h1"), node("a1", "NVIDIA-A100-SXM4-80GB", 4), node("cpu-1", None, 0)]
    chat_gpus = [("h1", i, 60.0, "prod", f"chat-kserve-{1 + i // 2}") for i in range(4)]
    results: dict[str, Any] = {
        "ttft_quantile": _ttft,
        "itl_quantile": svc_vector({("prod", "chat"): 0.02}),
        "e2e_quantile": svc_vector({("prod", "chat"): 4.0}),
        "request_rate": svc_vector({("prod", "chat"): 10.0, ("prod", "pd"): 2.0, ("team-b", "batch"): 1.0}),
        "error_request_rate": svc_vector({("prod", "chat"): 0.02}),
        "generation_tokens_rate": svc_vector(
            {("prod", "chat"): 1800.0, ("prod", "pd"): 300.0, ("team-b", "batch"): 90.0}
        ),
        "prompt_tokens_rate": svc_vector({("prod", "chat"): 900.0}),
        "queue_depth": svc_vector({("prod", "chat"): 2.0}),
        "kv_cache_usage": svc_vector({("prod", "chat"): 0.4}),
        "gpu_utilization": dcgm([*chat_gpus, ("h1", 4, 30.0, "prod", "pd-kserve-1")]),
        "gpu_power": dcgm([("h1", 0, 400.0, "prod", "chat-kserve-1")]),
    }  # fmt: skip
    return FakeSource({"llminferenceservices": services, "pods": pods, "nodes": nodes}, results, **kw)


def test_every_collector_returns_its_schema_with_attrs() -> None:
    fleet = FakeFleet(small_fleet())
    for fn, kind in PER_SERVICE.items():
        df = getattr(collect, fn)(fleet)
        schema.check_frame(df, kind)
        assert df.attrs["source"] == "fake" and df.attrs["cluster"] == "test-cluster"
        assert df.attrs["collected_at"] == T0.isoformat() and df.attrs["errors"] == []
        for q in df.attrs["queries"]:
            assert q["promql"] == render(q["name"], q["params"])
    assert len(collect.overview(fleet)) == len(collect.services(fleet)) == 4


def test_services_and_pods_of_the_small_fleet() -> None:
    fleet = FakeFleet(small_fleet())
    svc = collect.services(fleet).set_index(["namespace", "name"])
    assert svc.loc[("prod", "chat"), "gpus"] == 4 and svc.loc[("prod", "pd"), "gpus"] == 2
    assert svc.loc[("prod", "pd"), "gpu_type"] == "nvidia-h100"  # from its pods' node
    assert svc.loc[("team-b", "batch"), "gpu_type"] == "nvidia-a100"
    pods = collect.pods(fleet).set_index("name")
    assert pods.loc["chat-kserve-router-scheduler-1", "role"] == "scheduler"
    assert pods.loc["chat-kserve-1", "gpu_type"] == "nvidia-h100" and pd.isna(pods.loc["quiet-kserve-1", "gpu_type"])


def test_overview_collects_once() -> None:
    source = small_fleet()
    collect.overview(FakeFleet(source))
    lists = Counter(c[1] for c in source.calls if c[0] == "list")
    queries = Counter((c[1], c[2]) for c in source.calls if c[0] == "query")
    assert lists == {"llminferenceservices": 1, "pods": 1, "nodes": 1}
    assert max(queries.values()) == 1
    assert {n for n, _ in queries} >= {"ttft_quantile", "request_rate", "gpu_utilization", "kv_cache_usage"}
    assert len([n for n, _ in queries if n == "ttft_quantile"]) == 3  # q = 0.5, 0.95, 0.99


def test_window_goes_to_rate_queries_only() -> None:
    source = small_fleet()
    df = collect.slo_metrics(FakeFleet(source), window="1m")
    params = {(c[1], c[2]) for c in source.calls if c[0] == "query"}
    assert ("request_rate", (("window", "1m"),)) in params
    assert ("queue_depth", ()) in params and ("ttft_quantile", (("q", 0.95), ("window", "1m"))) in params
    assert df.attrs["window"] == "1m"
    with pytest.raises(ValueError, match="not a duration"):
        collect.slo_metrics(FakeFleet(source), window="five minutes")


def test_slo_figures_by_hand() -> None:
    df = collect.slo_metrics(FakeFleet(small_fleet())).set_index("service")
    chat = df.loc["chat"]
    assert (chat["ttft_p50_ms"], chat["ttft_p95_ms"], chat["ttft_p99_ms"]) == pytest.approx((100.0, 300.0, 600.0))
    assert chat["itl_p95_ms"] == pytest.approx(20.0) and chat["e2e_p95_ms"] == pytest.approx(4000.0)
    assert chat["error_rate_percent"] == pytest.approx(0.2)  # 0.02 of 10 req/s
    assert chat["prompt_tokens_per_second"] == 900.0 and chat["queue_depth"] == 2.0
    # SLO 500 ms / 0.1 % / 1000 tok/s: fast, but 0.2 % errors.
    assert (chat["ttft_ok"], chat["error_rate_ok"], chat["throughput_ok"], chat["slo_ok"]) == (True, False, True, False)
    assert df.loc["pd", "error_rate_percent"] == 0.0  # traffic, no error series: no errors
    assert df.loc["quiet", "throughput_ok"] is pd.NA and math.isnan(df.loc["quiet", "error_rate_percent"])
    assert df.loc["batch", "ttft_ok"] == False  # noqa: E712 (2 s > 500 ms)


def test_costs_by_hand() -> None:
    fleet = FakeFleet(small_fleet())
    costs = collect.gpu_costs(fleet).set_index("service")
    chat = costs.loc["chat"]
    assert chat["gpus"] == 4 and chat["hourly_cost"] == pytest.approx(20.0)  # 4 H100 x $5
    assert chat["cost_per_million_tokens"] == pytest.approx(20.0 / (1800 * 3600) * 1e6)
    assert chat["utilization_percent"] == pytest.approx(60.0)
    assert chat["idle_hourly_cost"] == pytest.approx(4 * 5.0 * 0.4)
    assert costs.loc["pd", "hourly_cost"] == pytest.approx(10.0)  # decode + prefill pods
    assert costs.loc["quiet", "hourly_cost"] == 0.0  # pending: costs nothing
    assert costs.loc["batch", "hourly_cost"] == pytest.approx(3.0)
    nodes = collect.nodes(fleet).set_index("name")
    assert nodes.loc["h1", "gpus_allocated"] == 6 and nodes.loc["h1", "idle_hourly_cost"] == pytest.approx(10.0)
    total = costs["hourly_cost"].sum() + nodes["idle_hourly_cost"].sum()
    assert total == pytest.approx(nodes["hourly_cost"].sum())  # 8 x $5 + 4 x $3 = $52/h


def test_overview_agrees_with_gpu_costs_and_slo_metrics() -> None:
    fleet = FakeFleet(small_fleet())
    ov = collect.overview(fleet).set_index(["namespace", "service"])
    costs = collect.gpu_costs(fleet).set_index(["namespace", "service"])
    slo = collect.slo_metrics(fleet).set_index(["namespace", "service"])
    pd.testing.assert_series_equal(ov["tokens_per_second"], costs["tokens_per_second"])
    pd.testing.assert_series_equal(ov["hourly_cost"], costs["hourly_cost"])
    pd.testing.assert_series_equal(ov["slo_ok"], slo["slo_ok"])
    assert ov.attrs["cost_basis"].startswith("OpenCost")


def test_a_failing_query_is_recorded_not_raised() -> None:
    failing = ["ttft_quantile", "gpu_utilization", "gpu_power", "error_request_rate"]
    fleet = FakeFleet(small_fleet(failing=failing))
    ov = collect.overview(fleet)
    assert ov["ttft_p95_ms"].isna().all() and ov["utilization_percent"].isna().all()
    assert ov["ttft_ok"].isna().all()
    assert ov["error_rate_percent"].isna().all()  # the error query failed: unknown, not zero
    assert len(ov.attrs["errors"]) == 6 and all("boom" in e for e in ov.attrs["errors"])  # 3 ttft, 2 DCGM, errors
    assert not ov["tokens_per_second"].isna().all()  # the other queries still count
    gpus = collect.gpus(fleet)
    # DCGM silent: still one row per allocatable GPU (8 + 4), allocated to pods from the API.
    assert len(gpus) == 12 and gpus["utilization_percent"].isna().all()
    assert gpus["service"].value_counts().to_dict() == {"chat": 4, "pd": 2, "batch": 1}


def test_namespaces_filter() -> None:
    source = small_fleet()
    fleet = FakeFleet(source)
    svc = collect.services(fleet, namespaces=["team-b"])
    assert svc["name"].tolist() == ["batch"]
    assert ("list", "llminferenceservices", ("team-b",)) in source.calls
    assert collect.overview(fleet, namespaces="team-b")["service"].tolist() == ["batch"]  # a lone name
    nodes = collect.nodes(fleet, namespaces=["team-b"])
    assert nodes["name"].tolist() == ["a1"] and nodes["gpus_allocated"].tolist() == [1]
    prod_nodes = collect.nodes(fleet, namespaces=["prod"]).set_index("name")
    assert prod_nodes.loc["h1", "gpus_allocated"] == 6
    assert set(collect.gpus(fleet, namespaces=["prod"])["namespace"]) == {"prod"}


def test_empty_fleet_gives_empty_frames_with_full_schemas() -> None:
    fleet = FakeFleet(FakeSource())
    for fn, kind in PER_SERVICE.items():
        df = getattr(collect, fn)(fleet)
        schema.check_frame(df, kind)
        assert df.empty
    schema.check_frame(collect.slo_history(fleet), "slo_history")
    schema.check_frame(collect.recommendations(fleet), "recommendations")
    assert collect.what_if(fleet, gpu_type="nvidia-l4").empty


def test_slo_history_ranges_and_tidy_shape() -> None:
    t0, t1 = T0.timestamp() - 60, T0.timestamp()

    def series(values: tuple[str, str]) -> dict[str, Any]:
        pts = [[t0, values[0]], [t1, values[1]]]
        return {"resultType": "matrix", "result": [{"metric": {"namespace": "prod", "service": "chat"}, "values": pts}]}

    source = small_fleet(
        ranges={
            "request_rate": series(("10", "0")),
            "error_request_rate": series(("0.1", "0")),
            "ttft_quantile": series(("0.25", "0.5")),
        }
    )
    df = collect.slo_history(FakeFleet(source), window="30m", step="1m", rate_window="2m")
    calls = [c for c in source.calls if c[0] == "range"]
    assert {c[3] for c in calls} == {T0 - timedelta(minutes=30)} and {c[4] for c in calls} == {T0}
    assert {c[5] for c in calls} == {timedelta(minutes=1)}
    assert ("window", "2m") in dict.fromkeys(p for c in calls if c[1] == "request_rate" for p in c[2])
    tidy = df.set_index(["metric", "timestamp"])["value"]
    assert tidy[("ttft_p95_ms", pd.Timestamp(t1, unit="s", tz="UTC"))] == 500.0
    assert tidy[("error_rate_percent", pd.Timestamp(t0, unit="s", tz="UTC"))] == pytest.approx(1.0)
    assert math.isnan(tidy[("error_rate_percent", pd.Timestamp(t1, unit="s", tz="UTC"))])
    assert set(df["metric"]) <= set(collect.HISTORY_METRICS)
    assert df.attrs["window"] == "30m" and df.attrs["step"] == "1m"


def test_recommendations_and_what_if_through_the_collector() -> None:
    fleet = FakeFleet(small_fleet())
    recs = collect.recommendations(fleet)
    schema.check_frame(recs, "recommendations")
    assert recs.attrs["source"] == "fake"
    wi = collect.what_if(fleet, service="chat", namespace="prod", replicas=4)
    assert wi["scenario"].tolist() == ["current", "what_if"]
    assert wi.iloc[1]["gpus"] == 8 and wi.iloc[1]["hourly_cost"] == pytest.approx(40.0)
    assert wi.attrs["estimate"] is True


def test_collect_all_shares_one_pass() -> None:
    source = small_fleet()
    frames = collect.collect_all(FakeFleet(source))
    assert set(frames) == set(PER_SERVICE)
    assert Counter(c[1] for c in source.calls if c[0] == "list") == {"llminferenceservices": 1, "pods": 1, "nodes": 1}
    assert frames["services"].attrs["queries"] == frames["overview"].attrs["queries"]


def test_no_fleet_uses_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import mtop.context

    fleet = FakeFleet(small_fleet())
    monkeypatch.setattr(mtop.context, "default_fleet", lambda: fleet)
    assert collect.services()["name"].tolist() == ["chat", "pd", "quiet", "batch"]


# --- the real simulated fleet -------------------------------------------------------------------------

START = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _sim() -> Any:
    pytest.importorskip("mtop.sources.simulated")
    from mtop.context import connect

    return connect(seed=7, start=START, clock="frozen")


@pytest.fixture(scope="module")
def sim_frames() -> dict[str, pd.DataFrame]:
    fleet = _sim()
    frames = {fn: getattr(collect, fn)(fleet) for fn in PER_SERVICE}
    frames["slo_history"] = collect.slo_history(fleet, window="30m", step="5m")
    frames["recommendations"] = collect.recommendations(fleet)
    return frames


def test_sim_every_collector_conforms(sim_frames: dict[str, pd.DataFrame]) -> None:
    for kind, df in sim_frames.items():
        schema.check_frame(df, kind)
        assert df.attrs["source"] == "simulated" and df.attrs["errors"] == [], kind
        assert df.attrs["collected_at"] == START.isoformat()
    assert len(sim_frames["services"]) >= 12 and not sim_frames["gpus"].empty


def test_sim_overview_has_one_row_per_service(sim_frames: dict[str, pd.DataFrame]) -> None:
    ov, svc = sim_frames["overview"], sim_frames["services"]
    assert ov[["namespace", "service"]].values.tolist() == svc[["namespace", "name"]].values.tolist()
    assert not ov.duplicated(["namespace", "service"]).any()


def test_sim_fleet_cost_identity(sim_frames: dict[str, pd.DataFrame]) -> None:
    costs, nodes = sim_frames["gpu_costs"], sim_frames["nodes"]
    allocated = costs["hourly_cost"].sum()
    assert allocated > 0 and nodes["idle_hourly_cost"].notna().all()
    assert allocated + nodes["idle_hourly_cost"].sum() == pytest.approx(nodes["hourly_cost"].sum())
    assert costs["gpus"].sum() == nodes["gpus_allocated"].sum()


def test_sim_cost_and_throughput_agree_across_frames(sim_frames: dict[str, pd.DataFrame]) -> None:
    key = ["namespace", "service"]
    ov = sim_frames["overview"].set_index(key)
    costs = sim_frames["gpu_costs"].set_index(key)
    slo = sim_frames["slo_metrics"].set_index(key)
    for col in ("hourly_cost", "cost_per_million_tokens", "idle_hourly_cost", "monthly_cost", "tokens_per_second"):
        pd.testing.assert_series_equal(ov[col], costs[col])
    pd.testing.assert_series_equal(ov["tokens_per_second"], slo["tokens_per_second"])
    busy = costs[costs["tokens_per_second"] > 0]
    expected = busy["hourly_cost"] / (busy["tokens_per_second"] * 3600) * 1e6
    pd.testing.assert_series_equal(busy["cost_per_million_tokens"], expected, check_names=False)
    assert not np.isinf(costs["cost_per_million_tokens"]).any()
    assert set(costs["gpu_type"].dropna()) <= set(_sim().config.technology.gpu_types)


def test_sim_same_seed_same_frames(sim_frames: dict[str, pd.DataFrame]) -> None:
    again = _sim()
    for fn in PER_SERVICE:
        pd.testing.assert_frame_equal(getattr(collect, fn)(again), sim_frames[fn], obj=fn)
    pd.testing.assert_frame_equal(collect.recommendations(again), sim_frames["recommendations"])


def test_sim_slo_history_covers_the_window(sim_frames: dict[str, pd.DataFrame]) -> None:
    df = sim_frames["slo_history"]
    assert not df.empty and set(df["metric"]) <= set(collect.HISTORY_METRICS)
    stamps = df["timestamp"]
    assert stamps.min() >= pd.Timestamp(START) - pd.Timedelta(minutes=30) and stamps.max() <= pd.Timestamp(START)


def test_sim_what_if_without_change_matches_the_model(sim_frames: dict[str, pd.DataFrame]) -> None:
    fleet = _sim()
    df = collect.what_if(fleet)
    current, same = df[df["scenario"] == "current"], df[df["scenario"] == "what_if"]
    assert len(current) == len(same) == len(sim_frames["services"])
    # Where every GPU the spec asks for is scheduled, the unchanged what-if costs what gpu_costs measured.
    costs = sim_frames["gpu_costs"].set_index(["namespace", "service"])
    spec = sim_frames["services"].set_index(["namespace", "name"])["gpus"]
    full = (costs["gpus"] == spec.to_numpy()).to_numpy()
    np.testing.assert_allclose(same["hourly_cost"].to_numpy()[full], costs["hourly_cost"].to_numpy()[full])
    with pytest.raises(ValueError, match="valid: amd-mi300x"):
        collect.what_if(fleet, gpu_type="nvidia-h1000")


def test_history_without_the_error_series_has_no_error_rate() -> None:
    pts = [[T0.timestamp(), "4"]]
    rows = {"resultType": "matrix", "result": [{"metric": {"namespace": "prod", "service": "chat"}, "values": pts}]}
    source = small_fleet(ranges={"request_rate": rows}, failing=["error_request_rate"])
    df = collect.slo_history(FakeFleet(source))
    assert "error_rate_percent" not in set(df["metric"]) and len(df.attrs["errors"]) == 1
    with pytest.raises(ValueError, match=r"^step: not a duration"):
        collect.slo_history(FakeFleet(source), step="often")
    with pytest.raises(ValueError, match=r"^rate_window: not a duration"):
        collect.slo_history(FakeFleet(source), rate_window="5 minutes")


def test_unknown_gpu_type_warns_once_per_collection() -> None:
    from mtop.cost import UnknownGPUTypeWarning

    source = FakeSource(
        {
            "llminferenceservices": [llmisvc("t4", replicas=2)],
            "pods": [pod("t4-1", "t4", node="t4-a"), pod("t4-2", "t4", node="t4-b")],
            "nodes": [node("t4-a", "Tesla-T4", 1), node("t4-b", "Tesla-T4", 1)],
        },
        {"generation_tokens_rate": svc_vector({("prod", "t4"): 100.0})},
    )
    with pytest.warns(UnknownGPUTypeWarning) as record:
        ov = collect.overview(FakeFleet(source))
    assert len(record) == 1
    row = ov.iloc[0]
    assert row["gpu_type"] == "Tesla-T4" and math.isnan(row["hourly_cost"])
    assert math.isnan(row["cost_per_million_tokens"]) and row["tokens_per_second"] == 100.0


def test_collection_pauses_the_garbage_collector_and_restores_its_state() -> None:
    import gc

    from mtop.gcpause import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pass is still running
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a user's choice to disable it is kept
    finally:
        gc.enable()
