"""KubeSource over a fake wire: the official client builds the requests and raises its errors for real."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from live_fakes import TOKEN, api_groups, kube_source, page, status_body
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from mtop.errors import AuthError, ConfigError, SourceError, SourceUnavailable
from mtop.sources.kube import CRD_MISSING, POD_SELECTORS, KubeSource
from mtop.sources.transport import fan_out, progress_wanted

KSERVE = POD_SELECTORS[0]


def pod(name: str, ns: str = "a", uid: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{ns}-{name}"}, "spec": {}, "status": {}}


def paged(items: list[dict[str, Any]], kind: str = "PodList") -> Any:
    """A handler serving ``items`` in pages of ``limit``; continue tokens are offsets."""

    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        if query.get("labelSelector") not in (None, KSERVE):
            return 200, page([], kind)
        start, limit = int(query.get("continue", "0")), int(query["limit"])
        nxt = str(start + limit) if start + limit < len(items) else None
        return 200, page(items[start : start + limit], kind, token=nxt)

    return handler


def test_pagination_follows_continue_tokens_and_fills_kind() -> None:
    items = [pod(f"p{i}") for i in range(7)]
    src, pool = kube_source(paged(items), page_size=3, pod_selectors=(KSERVE,), consistent_reads=True)
    out = src.list_kind("pods")
    assert [o["metadata"]["name"] for o in out.items] == [f"p{i}" for i in range(7)]
    assert out.errors == []
    assert [(r[1], r[2].get("limit"), r[2].get("continue")) for r in pool.requests] == [
        ("/api/v1/pods", "3", None),
        ("/api/v1/pods", "3", "3"),
        ("/api/v1/pods", "3", "6"),
    ]
    assert all(r[2]["labelSelector"] == KSERVE for r in pool.requests)
    # Items of built-in kinds come without apiVersion/kind; the source fills them in as kubectl does.
    assert {(o["apiVersion"], o["kind"]) for o in out.items} == {("v1", "Pod")}
    # The official client sent our bearer token and asked for raw JSON (no model objects).
    headers = {k.lower(): v for k, v in pool.requests[0][3].items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"


def test_a_410_gone_on_a_continue_token_restarts_the_list() -> None:
    items = [pod(f"p{i}") for i in range(5)]
    serve = paged(items)
    gone = {"count": 0}

    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        if query.get("continue") == "2" and gone["count"] == 0:
            gone["count"] += 1
            return 410, status_body(410, "The provided continue parameter is too old", "Expired")
        return serve(method, path, query, headers, body)

    src, pool = kube_source(handler, page_size=2, pod_selectors=(KSERVE,), consistent_reads=True)
    out = src.list_kind("pods")
    assert [o["metadata"]["name"] for o in out.items] == [f"p{i}" for i in range(5)]  # no duplicate page 1
    assert [r[2].get("continue") for r in pool.requests] == [None, "2", None, "2", "4"]


def test_default_reads_are_one_unselected_list_from_the_watch_cache() -> None:
    items = [pod(f"p{i}") for i in range(4)]

    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        if "continue" in query:  # a server that pages even from its cache (newer releases may): followed
            return 200, page(items[2:], "PodList")
        return 200, page(items[:2], "PodList", token="2")

    src, pool = kube_source(handler)
    out = src.list_kind("pods")
    assert [o["metadata"]["name"] for o in out.items] == [f"p{i}" for i in range(4)]
    first, second = (r[2] for r in pool.requests)
    # The first request asks the watch cache (resourceVersion=0) for every pod (no selector), with a limit.
    assert (first.get("resourceVersion"), "labelSelector" in first, first.get("limit")) == ("0", False, "500")
    # A continue token carries its own resourceVersion: sending one too would be refused by the server.
    assert (second.get("continue"), "resourceVersion" in second) == ("2", False)


def test_pods_and_nodes_are_decoded_to_the_fields_mtop_reads() -> None:
    fat = {
        "metadata": {"name": "p", "namespace": "a", "labels": {"x": "y"}, "managedFields": [{"manager": "m"}]},
        "spec": {"nodeName": "n1", "volumes": [{"name": "v"}], "containers": [
            {"name": "main", "image": "vllm", "env": [{"name": "E"}],
             "resources": {"limits": {"nvidia.com/gpu": "2"}}}]},
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    }  # fmt: skip
    src, _ = kube_source(lambda *a: (200, page([fat], "PodList")))
    (got,) = src.list_kind("pods").items
    assert got == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "a", "labels": {"x": "y"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]},
        "status": {"phase": "Running"},
    }


def test_a_kept_field_of_the_wrong_type_is_a_source_error_naming_the_field() -> None:
    bad = {"metadata": {"name": "n1", "labels": {"nvidia.com/gpu.count": 8}}}  # label values are strings
    src, _ = kube_source(lambda *a: (200, page([bad], "NodeList")), cluster="prod-east")
    with pytest.raises(SourceError) as caught:
        src.list_kind("nodes")
    message = str(caught.value)
    assert "listing nodes" in message and "prod-east" in message
    assert "$.items[0].metadata.labels" in message and "Expected `str`, got `int`" in message


def test_endless_410s_give_up_with_an_error_not_a_loop() -> None:
    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        if "continue" in query:
            return 410, status_body(410, "too old", "Expired")
        return 200, page([pod("p0")], "PodList", token="1")

    src, pool = kube_source(handler, page_size=1, pod_selectors=(KSERVE,), consistent_reads=True)
    out = src.list_kind("pods")
    assert out.items == [] and len(out.errors) == 1 and "gone (410)" in out.errors[0]
    assert len(pool.requests) == 8  # first try plus 3 restarts, two pages each


@pytest.mark.parametrize(
    ("served", "expected"),
    [(("v1alpha1", "v1alpha2"), "v1alpha2"), (("v1alpha1",), "v1alpha1"), (("v1alpha2",), "v1alpha2")],
)
def test_version_discovery_prefers_v1alpha2(served: tuple[str, ...], expected: str) -> None:
    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        if path == "/apis/":
            return 200, api_groups(*served)
        return 200, page([{"apiVersion": f"serving.kserve.io/{expected}", "metadata": {"name": "s"}}], "List")

    src, pool = kube_source(handler)
    out = src.list_kind("llminferenceservices")
    assert out.errors == [] and len(out.items) == 1
    assert pool.requests[-1][1] == f"/apis/serving.kserve.io/{expected}/llminferenceservices"
    src.list_kind("llminferenceservices")
    assert [r[1] for r in pool.requests].count("/apis/") == 1  # discovered once


def test_missing_crd_is_an_empty_list_and_a_message() -> None:
    src, pool = kube_source(lambda *a: (200, api_groups()))
    out = src.list_kind("llminferenceservices", ["a"])
    assert out.items == [] and out.errors == [CRD_MISSING]
    assert [r[1] for r in pool.requests] == ["/apis/"]  # nothing listed


def test_a_version_that_disappears_is_discovered_again() -> None:
    served = ["v1alpha2"]

    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        if path == "/apis/":
            return 200, api_groups(*served)
        version = path.split("/")[3]
        if version not in served:
            return 404, status_body(404, "the server could not find the requested resource")
        return 200, page([{"metadata": {"name": version}}], "List")

    src, pool = kube_source(handler)
    assert src.list_kind("llminferenceservices").items[0]["metadata"]["name"] == "v1alpha2"
    served[:] = ["v1alpha1"]  # the CRD was replaced by one serving only v1alpha1: 404, discover, list again
    assert src.list_kind("llminferenceservices").items[0]["metadata"]["name"] == "v1alpha1"
    served[:] = []  # the CRD was deleted
    out = src.list_kind("llminferenceservices")
    assert (out.items, out.errors) == ([], [CRD_MISSING])
    assert [r[1] for r in pool.requests].count("/apis/") == 3


def test_rbac_403_in_one_namespace_keeps_the_others() -> None:
    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        ns = path.split("/")[4]
        if ns == "b":
            return 403, status_body(
                403, f'pods is forbidden: User "viewer" cannot list resource "pods" in the namespace "{ns}"'
            )
        return 200, page([pod("p1", ns)], "PodList")

    src, _ = kube_source(handler, pod_selectors=(KSERVE,))
    out = src.list_kind("pods", ["b", "a", "c"])
    assert [o["metadata"]["namespace"] for o in out.items] == ["a", "c"]
    assert len(out.errors) == 1 and "namespace b" in out.errors[0] and "forbidden (403)" in out.errors[0]


def test_cluster_wide_403_falls_back_to_the_namespaces_the_user_may_list() -> None:
    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        if path == "/api/v1/pods":
            return 403, status_body(403, "pods is forbidden at the cluster scope")
        if path == "/api/v1/namespaces":
            return 200, page([{"metadata": {"name": n}} for n in ("a", "b")], "NamespaceList")
        ns = path.split("/")[4]
        return (403, status_body(403, "forbidden in b")) if ns == "b" else (200, page([pod("p", ns)], "PodList"))

    src, _ = kube_source(handler, pod_selectors=(KSERVE,))
    out = src.list_kind("pods")
    assert [o["metadata"]["namespace"] for o in out.items] == ["a"]
    assert out.errors == ["pods in namespace b: forbidden (403): forbidden in b"]


def test_two_selectors_are_merged_once_each_and_sorted() -> None:
    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: Any) -> Any:
        if query["labelSelector"] == KSERVE:
            return 200, page([pod("b", "x"), pod("d", "x")], "PodList")
        return 200, page([pod("a", "x"), pod("d", "x")], "PodList")  # d carries both labels

    src, pool = kube_source(handler, pod_selectors=POD_SELECTORS)
    out = src.list_kind("pods")
    assert [o["metadata"]["name"] for o in out.items] == ["a", "b", "d"]
    assert {r[2]["labelSelector"] for r in pool.requests} == set(POD_SELECTORS)


def test_transient_errors_are_retried_with_backoff() -> None:
    answers: list[Any] = [
        (503, status_body(503, "etcd leader changed")),
        (429, status_body(429, "slow down"), {"Retry-After": "3"}),
        ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer")),
        (200, page([pod("p")], "PodList")),
    ]
    slept: list[float] = []
    src, _ = kube_source(lambda *a: answers.pop(0), sleep=slept.append, pod_selectors=(KSERVE,), retries=3)
    assert len(src.list_kind("pods").items) == 1
    assert slept == [0.5, 3.0, 2.0]  # 0.5, then Retry-After beats 1.0, then 2.0


def test_an_unreachable_server_is_source_unavailable_naming_cluster_and_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    slept: list[float] = []
    src, pool = kube_source(
        lambda *a: refused, cluster="prod-east", sleep=slept.append, retries=2, pod_selectors=(KSERVE,)
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceUnavailable) as info:
        src.list_kind("pods")
    message = str(info.value)
    assert "cluster prod-east" in message and "https://kube.test:6443" in message and "connection refused" in message
    assert (info.value.source, info.value.target) == ("cluster prod-east", "https://kube.test:6443")
    assert slept == [0.5, 1.0] and len(pool.requests) == 3
    assert TOKEN not in message and TOKEN not in caplog.text


def test_a_timeout_is_not_retried() -> None:
    slept: list[float] = []
    timeout = ReadTimeoutError(None, "/api/v1/nodes", "Read timed out.")  # type: ignore[arg-type]
    src, pool = kube_source(lambda *a: timeout, sleep=slept.append, timeout=2.0)
    with pytest.raises(SourceUnavailable, match=r"no answer within 2s"):
        src.list_kind("nodes")
    assert slept == [] and len(pool.requests) == 1


def test_401_is_an_auth_error_without_the_token() -> None:
    src, _ = kube_source(lambda *a: (401, status_body(401, f"Unauthorized: token {TOKEN} is not valid")))
    with pytest.raises(AuthError) as info:
        src.list_kind("nodes")
    assert "401" in str(info.value) and TOKEN not in str(info.value)


def test_other_statuses_are_source_errors_and_redacted(caplog: pytest.LogCaptureFixture) -> None:
    echo = (500, status_body(500, f"internal error; request had Authorization: Bearer {TOKEN}"))
    src, _ = kube_source(lambda *a: echo, retries=1)
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as info:
        src.list_kind("nodes")
    assert not isinstance(info.value, SourceUnavailable)
    assert "HTTP 500" in str(info.value) and TOKEN not in str(info.value) and TOKEN not in caplog.text


def test_unknown_kind_is_a_value_error() -> None:
    src, _ = kube_source(lambda *a: (200, page([], "List")))
    with pytest.raises(ValueError, match="deployments"):
        src.list_kind("deployments")


def _kubeconfig(path: Path, token: str = TOKEN) -> Path:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [
            {"name": "east", "context": {"cluster": "c", "user": "u"}},
            {"name": "west", "context": {"cluster": "c", "user": "u"}},
        ],
        "current-context": "west",
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_from_kubeconfig_names_the_cluster_after_the_context(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kubeconfig")
    current = KubeSource.from_kubeconfig(str(path))
    chosen = KubeSource.from_kubeconfig(str(path), "east")
    assert (current.cluster, chosen.cluster, chosen.endpoint) == ("west", "east", "https://127.0.0.1:1")
    assert chosen.api_client.configuration.retries == 0  # our retries, not urllib3's instant ones
    assert chosen._scrub(f"x {TOKEN} y") == "x [REDACTED] y"


def test_from_kubeconfig_errors_name_the_context_and_file(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kubeconfig")
    with pytest.raises(ConfigError, match=r"context 'north' of .*kubeconfig") as info:
        KubeSource.from_kubeconfig(str(path), "north")
    assert info.value.key == "live.context"
    with pytest.raises(ConfigError, match="not inside a cluster"):
        KubeSource.from_kubeconfig(str(tmp_path / "none"), in_cluster=True)


def test_fan_out_keeps_order_raises_the_first_error_and_counts_progress() -> None:
    updates: list[int] = []

    class Bar:
        def update(self, n: int = 1) -> None:
            updates.append(n)

        def close(self) -> None:
            updates.append(0)

    assert fan_out(lambda n: -n, [3, 1, 2], progress=True, bar=lambda total, desc, show: Bar()) == [-3, -1, -2]
    assert updates == [1, 1, 1, 0]

    def boom(n: int) -> int:
        if n == 2:
            raise SourceUnavailable("down")
        return n

    with pytest.raises(SourceUnavailable):
        fan_out(boom, [1, 2, 3])


def test_progress_is_off_outside_terminals_and_kernels() -> None:
    assert progress_wanted(None, env={}, isatty=lambda: False, in_kernel=lambda: False) is False
    assert progress_wanted(None, env={}, isatty=lambda: True, in_kernel=lambda: False) is True
    assert (
        progress_wanted(None, env={"PAPERMILL_EXECUTION": "1"}, isatty=lambda: False, in_kernel=lambda: True) is False
    )
    assert progress_wanted(False, env={}, isatty=lambda: True) is False


def test_lists_are_decoded_with_the_garbage_collector_paused_then_restored() -> None:
    import gc

    seen: list[bool] = []

    def handler(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return 200, page([pod("p")], "PodList")

    src, _ = kube_source(handler, pod_selectors=(KSERVE,))
    was = gc.isenabled()
    src.list_kind("pods", ["a", "b"])  # two namespaces: two worker threads, one pause
    assert seen == [False, False] and gc.isenabled() == was
