"""LiveSource and the collectors over fake wires: parity with mock mode, partial data, stale data, clusters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from live_fakes import ApiServer, FakePool, PromServer, kube_source
from urllib3.exceptions import NewConnectionError

import mtop
from mtop import collect
from mtop.config import default_config
from mtop.context import Fleet
from mtop.errors import SourceUnavailable
from mtop.sources.kube import CRD_MISSING, KubeSource
from mtop.sources.live import NO_PROMETHEUS, LiveSource, MultiClusterSource, connect_live
from mtop.sources.prom import PromSource
from mtop.sources.simulated import SimulatedFleet

START = datetime(2026, 11, 28, 12, tzinfo=UTC)
FRAMES = ("services", "pods", "nodes", "gpus", "slo_metrics", "gpu_costs", "overview")
REFUSED = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]


def sim(seed: int = 1) -> SimulatedFleet:
    return SimulatedFleet(default_config(), seed=seed, start=START, clock="frozen")


def live(
    fleet: SimulatedFleet,
    *,
    prometheus: bool = True,
    api: Callable[..., Any] | None = None,
    cluster: str = "test",
    **options: Any,
) -> LiveSource:
    kube, _ = kube_source(api or ApiServer(fleet, page_size_cap=7), cluster=cluster, page_size=5)
    prom = None
    if prometheus:
        prom = PromSource(
            "http://prom.test:9090", http=FakePool(PromServer(fleet)), cluster=cluster, sleep=lambda s: None
        )
    return LiveSource(kube, prom, now=fleet.now, **options)


def fleet_of(source: Any) -> Fleet:
    return Fleet(source=source, config=default_config())


def test_live_over_fake_wires_equals_mock_mode() -> None:
    mock = sim()
    expected = collect.collect_all(fleet_of(mock))
    got = collect.collect_all(fleet_of(live(sim())))
    for name in FRAMES:
        pd.testing.assert_frame_equal(got[name], expected[name], check_exact=False, rtol=1e-12, obj=name)
        assert got[name].attrs["errors"] == [] and got[name].attrs["source"] == "live"
        assert "cluster" not in got[name].columns  # one cluster: no cluster column
    # Every query the pass used is recorded with its PromQL, once.
    names = [q["name"] for q in got["overview"].attrs["queries"]]
    assert len(names) == len({(q["name"], str(q["params"])) for q in got["overview"].attrs["queries"]})
    assert {"ttft_quantile", "gpu_utilization", "request_rate"} <= set(names)


def test_queries_of_a_pass_run_concurrently() -> None:
    fleet = sim()
    serve = PromServer(fleet)
    barrier = threading.Barrier(2, timeout=10)
    calls = {"n": 0}
    lock = threading.Lock()

    def handler(*args: Any) -> Any:
        with lock:
            calls["n"] += 1
            first_two = calls["n"] <= 2
        if first_two:
            barrier.wait()  # raises BrokenBarrierError unless a second query is in flight at the same time
        return serve(*args)

    kube, _ = kube_source(ApiServer(fleet))
    src = LiveSource(kube, PromSource("http://p.test", http=FakePool(handler), sleep=lambda s: None), now=fleet.now)
    df = collect.slo_metrics(fleet_of(src))
    assert df.attrs["errors"] == [] and df["ttft_p95_ms"].notna().any()


def test_without_prometheus_slo_columns_are_nan_and_one_error_is_recorded() -> None:
    frames = collect.collect_all(fleet_of(live(sim(), prometheus=False)))
    slo = frames["slo_metrics"]
    assert len(slo) == len(frames["services"]) > 0
    assert slo["ttft_p95_ms"].isna().all() and slo["requests_per_second"].isna().all()
    assert slo.attrs["errors"] == [NO_PROMETHEUS]
    # GPU allocation still comes from the API: nodes have allocated GPUs, DCGM columns are NaN.
    assert frames["nodes"]["gpus_allocated"].sum() > 0 and frames["gpus"]["utilization_percent"].isna().all()


def test_forbidden_namespaces_are_listed_in_errors_and_the_rest_returned() -> None:
    fleet = sim()
    api = ApiServer(fleet)
    api.forbidden = {"production"}
    namespaces = sorted({s["metadata"]["namespace"] for s in fleet.list_objects("llminferenceservices")})
    assert "production" in namespaces
    df = collect.services(fleet_of(live(fleet, api=api)), namespaces=namespaces)
    assert "production" not in set(df["namespace"]) and len(df) > 0
    assert any("namespace production" in e and "403" in e for e in df.attrs["errors"])


def test_missing_crd_gives_an_empty_services_frame_and_a_message() -> None:
    fleet = sim()
    src = live(fleet, api=ApiServer(fleet, versions=()))
    frames = collect.collect_all(fleet_of(src))
    assert frames["services"].empty and list(frames["services"].columns)[:2] == ["namespace", "name"]
    assert CRD_MISSING in frames["services"].attrs["errors"]
    assert len(frames["nodes"]) > 0  # everything else is still collected


def _switchable(fleet: SimulatedFleet) -> tuple[Callable[..., Any], dict[str, bool]]:
    serve = ApiServer(fleet)
    state = {"down": False}

    def handler(*args: Any) -> Any:
        return REFUSED if state["down"] else serve(*args)

    return handler, state


def test_apiserver_down_raises_unless_stale_data_was_asked_for() -> None:
    fleet = sim()
    handler, state = _switchable(fleet)
    now = [0.0]
    kube, _ = kube_source(handler, cluster="east", retries=1)
    src = LiveSource(kube, None, now=fleet.now, allow_stale=True, cache_ttl=60, clock=lambda: now[0])
    before = collect.services(fleet_of(src))
    assert "stale" not in before.attrs
    state["down"], now[0] = True, 30.0
    after = collect.services(fleet_of(src))
    pd.testing.assert_frame_equal(after, before)
    assert after.attrs["stale"] == ["llminferenceservices", "pods", "nodes"]
    assert any("serving the last good list (30s old)" in e and "cluster east" in e for e in after.attrs["errors"])
    now[0] = 100.0  # older than cache_ttl: nothing to serve
    with pytest.raises(SourceUnavailable, match=r"cluster east at https://kube\.test:6443"):
        collect.services(fleet_of(src))

    kube, _ = kube_source(handler, cluster="east", retries=0)
    with pytest.raises(SourceUnavailable, match="connection refused"):
        collect.services(fleet_of(LiveSource(kube, None, now=fleet.now)))  # allow_stale=False (default)


def test_several_clusters_are_collected_concurrently_with_a_cluster_column() -> None:
    barrier = threading.Barrier(2, timeout=10)
    met: set[str] = set()

    def meeting(name: str, fleet: SimulatedFleet) -> Callable[..., Any]:
        serve = ApiServer(fleet)

        def handler(*args: Any) -> Any:
            if name not in met:
                met.add(name)
                barrier.wait()  # both clusters' first requests are in flight together, or this breaks
            return serve(*args)

        return handler

    a, b = sim(1), sim(2)
    sources = [live(a, api=meeting("a", a), cluster="a"), live(b, api=meeting("b", b), cluster="b")]
    multi = fleet_of(MultiClusterSource(sources))
    df = collect.services(multi)
    assert df.columns[0] == "cluster" and str(df["cluster"].dtype) == "string"
    assert (df["cluster"] == "a").sum() == len(collect.services(fleet_of(sim(1))))
    assert (df["cluster"] == "b").sum() == len(collect.services(fleet_of(sim(2))))
    assert df.attrs["clusters"] == ["a", "b"] and df.attrs["cluster"] == "a, b"
    frames = collect.collect_all(multi)
    assert all(f.columns[0] == "cluster" and set(f["cluster"]) <= {"a", "b"} for f in frames.values())


def test_one_cluster_down_is_an_error_of_the_others_frames() -> None:
    a, b = sim(1), sim(2)
    down, state = _switchable(b)
    state["down"] = True
    kube_b, _ = kube_source(down, cluster="b", retries=0)
    multi = fleet_of(MultiClusterSource([live(a, cluster="a"), LiveSource(kube_b, None, now=b.now)]))
    df = collect.pods(multi)
    assert set(df["cluster"]) == {"a"} and len(df) > 0
    assert any(e.startswith("b: ") and "connection refused" in e for e in df.attrs["errors"])
    kube_a, _ = kube_source(down, cluster="a", retries=0)
    with pytest.raises(SourceUnavailable):
        collect.pods(fleet_of(MultiClusterSource([LiveSource(kube_a, None), LiveSource(kube_b, None)])))


def test_errors_are_kept_per_thread_until_drained() -> None:
    src = live(sim(), prometheus=False)
    src.query("request_rate")
    seen: list[list[str]] = []
    worker = threading.Thread(target=lambda: seen.append(src.drain_errors()))
    worker.start()
    worker.join()
    assert seen == [[]]  # another thread's calls recorded nothing
    assert src.drain_errors() == [NO_PROMETHEUS] and src.drain_errors() == []


def _kubeconfig(path: Path) -> Path:
    cluster = {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": "t0k"}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in ("east", "west")],
        "current-context": "east",
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_connect_live_builds_sources_from_config_and_options(tmp_path: Path) -> None:
    kubeconfig = str(_kubeconfig(tmp_path / "kubeconfig"))
    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    fleet = mtop.connect(
        mode="live", kubeconfig=kubeconfig, context="west", prometheus_url="https://prom.test/prom",
        prometheus_token_file=str(token_file), namespaces="team-a", page_size=50, env={},
    )  # fmt: skip
    src = fleet.source
    assert fleet.mode == "live" and isinstance(src, LiveSource)
    assert (src.cluster, src.namespaces, src.kube.page_size) == ("west", ("team-a",), 50)
    assert src.prom is not None and src.prom.headers["Authorization"] == "Bearer file-token"
    assert src.prom.endpoint == "https://prom.test/prom"

    multi = connect_live(
        default_config(), kubeconfig=kubeconfig, contexts=["east", "west"],
        prometheus_url={"east": "http://prom-east:9090"},
    )  # fmt: skip
    assert isinstance(multi, MultiClusterSource) and multi.cluster == "east, west"
    east, west = multi.clusters()
    assert east.prom is not None and east.prom.endpoint == "http://prom-east:9090" and west.prom is None


def test_connect_live_reads_the_live_config_section(tmp_path: Path) -> None:
    kubeconfig = str(_kubeconfig(tmp_path / "kubeconfig"))
    cfg = mtop.config.load_config(
        env={
            "MTOP_LIVE_KUBECONFIG": kubeconfig,
            "MTOP_LIVE_NAMESPACE": "prod",
            "MTOP_PROMETHEUS_URL": "http://prom.test:9090",
            "MTOP_LIVE_PROMETHEUS_USERNAME": "bob",
            "MTOP_LIVE_PROMETHEUS_PASSWORD": "pw-123",
            "MTOP_LIVE_RETRIES": "0",
            "MTOP_LIVE_ALLOW_STALE": "true",
        }
    )
    src = connect_live(cfg)
    assert isinstance(src, LiveSource) and src.cluster == "east" and src.namespaces == ("prod",)
    assert src.kube.retries == 0 and src.allow_stale is True
    assert src.prom is not None and src.prom.headers["Authorization"].startswith("Basic ")
    with pytest.raises(mtop.errors.ConfigError, match="token file"):
        connect_live(cfg, prometheus_token_file=str(tmp_path / "missing"))


def test_kube_source_type_is_what_connect_live_builds(tmp_path: Path) -> None:
    src = connect_live(default_config(), kubeconfig=str(_kubeconfig(tmp_path / "k")))
    assert isinstance(src, LiveSource) and isinstance(src.kube, KubeSource) and src.prom is None


def test_the_lists_of_a_pass_run_concurrently() -> None:
    fleet = sim()
    serve = ApiServer(fleet, page_size_cap=7)
    barrier = threading.Barrier(3, timeout=10)  # services, pods and nodes must all be in flight at once

    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        if path.endswith(("/llminferenceservices", "/pods", "/nodes")) and "continue" not in query:
            barrier.wait()
        return serve(method, path, query, headers, body)

    got = collect.services(fleet_of(live(fleet, api=handler)))
    pd.testing.assert_frame_equal(got, collect.services(fleet_of(sim())), check_exact=False, rtol=1e-12)


def test_what_concurrent_lists_could_not_get_reaches_the_frames_attrs() -> None:
    fleet = sim()
    serve = ApiServer(fleet, page_size_cap=7)
    namespaces = sorted({s["metadata"]["namespace"] for s in fleet.list_objects("llminferenceservices")})
    serve.forbidden = {namespaces[0]}
    df = collect.services(fleet_of(live(fleet, api=serve)), namespaces=namespaces)
    assert any(f"namespace {namespaces[0]}" in e and "forbidden (403)" in e for e in df.attrs["errors"])
    assert set(df["namespace"]) == set(namespaces[1:])  # the rest is there
