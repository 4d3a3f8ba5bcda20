"""Live mode against a real kube-apiserver v1.20: objects, pages, versions, RBAC, several contexts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from fixtures_kube import KubeCluster, minimal_crd

import mtop
from mtop import collect
from mtop.errors import AuthError
from mtop.sources.kube import POD_SELECTORS
from mtop.sources.live import NO_PROMETHEUS, LiveSource

NOT_COMPARED = ("created", "api_version")  # set by the API server / the version read, not by the fleet


def live_fleet(cluster: KubeCluster, context: str | None = None, **options: Any) -> mtop.Fleet:
    options.setdefault("sleep", lambda s: None)
    return mtop.connect(
        mode="live", kubeconfig=str(cluster.kubeconfig), context=context or cluster.context, env={}, **options
    )


def same(got: pd.DataFrame, expected: pd.DataFrame, name: str) -> None:
    cols = [c for c in expected.columns if c not in NOT_COMPARED]
    pd.testing.assert_frame_equal(got[cols], expected[cols], obj=name)


def namespaces_of(fleet: Any) -> list[str]:
    return sorted({s["metadata"]["namespace"] for s in fleet.list_objects("llminferenceservices")})


def test_resources_through_the_real_api_server_equal_mock_mode(kube_fleet_cluster: tuple[KubeCluster, Any]) -> None:
    cluster, fleet = kube_fleet_cluster
    mock = mtop.connect(source=fleet)
    live = live_fleet(cluster, page_size=4)  # several pages per list
    for name in ("services", "pods", "nodes"):
        got, expected = getattr(collect, name)(live), getattr(collect, name)(mock)
        assert len(got) > 0
        same(got, expected, name)
        assert got.attrs["errors"] == [] and got.attrs["cluster"] == cluster.context and got.attrs["source"] == "live"
    assert set(collect.services(live)["api_version"]) == {"v1alpha2"}  # the preferred version


def test_without_prometheus_the_slo_columns_are_nan_and_say_why(kube_fleet_cluster: tuple[KubeCluster, Any]) -> None:
    cluster, fleet = kube_fleet_cluster
    df = collect.slo_metrics(live_fleet(cluster))
    assert len(df) == len(fleet.list_objects("llminferenceservices"))
    assert df["ttft_p95_ms"].isna().all() and df.attrs["errors"] == [NO_PROMETHEUS]


def _spy_requests(src: LiveSource) -> list[dict[str, Any]]:
    """Record the paging arguments of every list request ``src`` sends."""
    sent: list[dict[str, Any]] = []
    real_get = src.kube._get

    def spy(call: Any, what: str, **kwargs: Any) -> Any:
        sent.append({k: v for k, v in kwargs.items() if k in ("_continue", "limit", "resource_version")})
        return real_get(call, what, **kwargs)

    src.kube._get = spy  # type: ignore[method-assign]
    return sent


def test_by_default_every_pod_comes_in_one_read_from_the_watch_cache(
    kube_fleet_cluster: tuple[KubeCluster, Any],
) -> None:
    cluster, fleet = kube_fleet_cluster
    src = live_fleet(cluster).source
    assert isinstance(src, LiveSource)
    sent = _spy_requests(src)
    pods = src.list_objects("pods")
    assert sorted(p["metadata"]["name"] for p in pods) == sorted(
        p["metadata"]["name"] for p in fleet.list_objects("pods")
    )
    # kube-apiserver v1.20 answers a cache read whole, in one page, whatever the limit.
    assert sent == [{"resource_version": "0", "limit": 500}]


def test_pages_and_namespaces(kube_fleet_cluster: tuple[KubeCluster, Any]) -> None:
    cluster, fleet = kube_fleet_cluster
    live = live_fleet(cluster, page_size=3, pod_selectors=POD_SELECTORS[:1], consistent_reads=True)
    src = live.source
    assert isinstance(src, LiveSource)
    sent = _spy_requests(src)
    pods = src.list_objects("pods")
    expected = fleet.list_objects("pods")
    assert [p["metadata"]["name"] for p in pods] == [p["metadata"]["name"] for p in expected]
    tokens = [s.get("_continue") for s in sent]
    assert len(tokens) == -(-len(expected) // 3) and tokens[0] is None and all(tokens[1:])
    assert all(s["limit"] == 3 and "resource_version" not in s for s in sent)  # quorum reads, paged
    ns = namespaces_of(fleet)[0]
    same(collect.pods(live, namespaces=[ns]), collect.pods(mtop.connect(source=fleet), namespaces=[ns]), "pods")


def test_a_cluster_serving_only_v1alpha1_is_read_through_it(kube_cluster_factory: Any) -> None:
    cluster = kube_cluster_factory("v1alpha1")
    cluster.apply_crd(minimal_crd(("v1alpha1",), storage="v1alpha1"))
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy"}})
    svc = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "LLMInferenceService",
        "metadata": {"name": "old-model", "namespace": "legacy"},
        "spec": {"model": {"uri": "hf://org/old", "name": "org/old", "criticality": "Critical"}, "replicas": 1},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    cluster.create(svc)
    df = collect.services(live_fleet(cluster))
    assert df["name"].tolist() == ["old-model"] and df.attrs["errors"] == []
    assert df["api_version"].tolist() == ["v1alpha1"]


def _grant(cluster: KubeCluster, fleet: Any) -> tuple[str, str]:
    allowed, denied = namespaces_of(fleet)[:2]
    cluster.grant_viewer([allowed])  # idempotent: the objects may exist already
    return allowed, denied


def test_rbac_some_namespaces_only(kube_fleet_cluster: tuple[KubeCluster, Any]) -> None:
    cluster, fleet = kube_fleet_cluster
    allowed, denied = _grant(cluster, fleet)
    viewer = live_fleet(cluster, cluster.viewer_context)
    frames = collect.collect_all(viewer, namespaces=[allowed, denied])
    for name in ("services", "pods"):
        assert set(frames[name]["namespace"]) == {allowed}, name
        errors = frames[name].attrs["errors"]
        assert any(f"namespace {denied}" in e and "forbidden (403)" in e for e in errors), errors
        assert not any(f"namespace {allowed}" in e for e in errors)
    mock = mtop.connect(source=fleet)
    same(frames["services"], collect.services(mock, namespaces=[allowed]), "services")
    # Without namespaces, the cluster-wide list and the namespace list are both forbidden: say so.
    everywhere = collect.services(viewer)
    assert everywhere.empty and any("all namespaces" in e and "403" in e for e in everywhere.attrs["errors"])


def test_several_contexts_get_a_cluster_column(kube_fleet_cluster: tuple[KubeCluster, Any]) -> None:
    cluster, fleet = kube_fleet_cluster
    allowed, denied = _grant(cluster, fleet)
    both = mtop.connect(
        mode="live", kubeconfig=str(cluster.kubeconfig), contexts=[cluster.context, cluster.viewer_context], env={}
    )
    df = collect.pods(both, namespaces=[allowed, denied])
    assert df.columns[0] == "cluster" and df.attrs["clusters"] == [cluster.context, cluster.viewer_context]
    admin_rows = df[df["cluster"] == cluster.context]
    viewer_rows = df[df["cluster"] == cluster.viewer_context]
    assert set(admin_rows["namespace"]) == {allowed, denied} and set(viewer_rows["namespace"]) == {allowed}
    assert any(e.startswith(f"{cluster.viewer_context}: ") and denied in e for e in df.attrs["errors"])


def test_a_refused_token_is_an_auth_error_without_the_token(
    kube_fleet_cluster: tuple[KubeCluster, Any], tmp_path: Path
) -> None:
    cluster, _ = kube_fleet_cluster
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    bad = "not-a-valid-token-4242"
    for user in config["users"]:
        user["user"]["token"] = bad
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    fleet = mtop.connect(mode="live", kubeconfig=str(path), context=cluster.context, env={})
    with pytest.raises(AuthError) as info:
        collect.nodes(fleet)
    assert "401" in str(info.value) and cluster.url in str(info.value) and bad not in str(info.value)


def test_the_shared_cluster_answers(kube_cluster: KubeCluster) -> None:
    live = live_fleet(kube_cluster)
    names = [n["metadata"]["name"] for n in live.source.list_objects("namespaces")]
    assert "kube-system" in names  # (no controller-manager: "default" may not exist)
    nodes = collect.nodes(live)
    assert list(nodes.columns)[:2] == ["name", "gpu_type"] and nodes.attrs["errors"] == []
