"""Fake wires for the live sources: the official client and urllib3 run for real above them.

``FakePool`` stands in for a ``urllib3.PoolManager``: a handler ``(method, path, query, headers, body)``
returns ``(status, json_body)``, ``(status, json_body, headers)`` or an exception to raise. ``kube_source``
builds a real ``kubernetes.client.ApiClient`` whose REST client uses a ``FakePool``; ``ApiServer`` and
``PromServer`` are handlers that serve a ``SimulatedFleet``'s objects (paginated) and named queries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mtop.catalogue import CATALOGUE, render
from mtop.slo import METRIC_QUERIES
from mtop.sources.kube import KubeSource
from mtop.sources.simulated import SimulatedFleet

HOST = "https://kube.test:6443"
TOKEN = "sekret-token-0123456789"
Handler = Callable[[str, str, dict[str, str], Mapping[str, str], bytes | None], Any]


class FakeResponse:
    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.reason = {200: "OK", 403: "Forbidden", 404: "Not Found", 410: "Gone"}.get(status, "Status")
        self.data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = dict(headers or {})
        self.released = False

    def release_conn(self) -> None:
        self.released = True

    def getheaders(self) -> dict[str, str]:
        return self.headers

    def close(self) -> None:
        pass


@dataclass
class FakePool:
    handler: Handler
    requests: list[tuple[str, str, dict[str, str], dict[str, str], bytes | None]] = field(default_factory=list)

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        headers = dict(kwargs.get("headers") or {})
        body = kwargs.get("body")
        body = body.encode() if isinstance(body, str) else body
        self.requests.append((method, parts.path, query, headers, body))
        out = self.handler(method, parts.path, query, headers, body)
        if isinstance(out, BaseException):
            raise out
        return FakeResponse(*out)

    def clear(self) -> None:
        pass


def status_body(code: int, message: str, reason: str = "") -> dict[str, Any]:
    """A Kubernetes ``Status`` object, as the API server sends with an error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def api_groups(*versions: str) -> dict[str, Any]:
    groups: list[dict[str, Any]] = [{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]}]
    if versions:
        groups.append(
            {
                "name": "serving.kserve.io",
                "versions": [{"groupVersion": f"serving.kserve.io/{v}", "version": v} for v in versions],
            }
        )
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def kube_source(handler: Handler, *, cluster: str = "test", **options: Any) -> tuple[KubeSource, FakePool]:
    """A KubeSource over a real ApiClient whose connection pool is a FakePool."""
    from kubernetes.client import ApiClient, Configuration

    cfg = Configuration(host=HOST, api_key={"authorization": f"Bearer {TOKEN}"})
    cfg.retries = 0
    api = ApiClient(cfg)
    pool = FakePool(handler)
    api.rest_client.pool_manager = pool
    options.setdefault("sleep", lambda s: None)
    return KubeSource(api, cluster=cluster, secrets=(TOKEN,), **options), pool


def page(
    items: Sequence[dict[str, Any]], kind: str, api_version: str = "v1", token: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": "100"}
    if token:
        meta["continue"] = token
    return {"kind": kind, "apiVersion": api_version, "metadata": meta, "items": list(items)}


def strip_kind(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A list item as the API server sends it for built-in kinds: no apiVersion/kind."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


class ApiServer:
    """Serves a SimulatedFleet's objects like kube-apiserver: label selectors, namespaces, pagination."""

    def __init__(
        self, fleet: SimulatedFleet, *, page_size_cap: int = 1000, versions: Sequence[str] = ("v1alpha1", "v1alpha2")
    ):
        self.fleet = fleet
        self.versions = tuple(versions)
        self.cap = page_size_cap
        self.forbidden: set[str] = set()

    def __call__(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes | None
    ) -> Any:
        if path in ("/apis", "/apis/"):
            return 200, api_groups(*self.versions)
        parts = path.strip("/").split("/")
        ns = parts[parts.index("namespaces") + 1] if "namespaces" in parts and parts[-1] != "namespaces" else None
        if ns in self.forbidden:
            return 403, status_body(
                403, f'pods is forbidden: User "viewer" cannot list resource in the namespace "{ns}"'
            )
        kind = parts[-1]
        items = self.fleet.list_objects(kind, [ns] if ns else None)
        selector = query.get("labelSelector")
        if selector:
            key, _, value = selector.partition("=")
            items = [o for o in items if (o["metadata"].get("labels") or {}).get(key) == value]
        api_version = "/".join(parts[1:3]) if parts[0] == "apis" else "v1"
        if kind != "llminferenceservices":
            items = [strip_kind(o) for o in items]
        limit = min(int(query.get("limit", self.cap)), self.cap)
        start = int(query.get("continue", "0"))
        chunk = items[start : start + limit]
        nxt = str(start + limit) if start + limit < len(items) else None
        list_kind = {"pods": "PodList", "nodes": "NodeList", "namespaces": "NamespaceList"}.get(
            kind, "LLMInferenceServiceList"
        )
        return 200, page(chunk, list_kind, api_version, nxt)


def _promql_index() -> dict[str, tuple[str, dict[str, Any]]]:
    """PromQL text -> (name, params) for every query the collectors send (default window)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, params, _ in METRIC_QUERIES.values():
        for window in ("5m", "1m", "15m"):
            full = dict(params)
            if "window" in CATALOGUE[name].params:
                full["window"] = window
            out[render(name, full)] = (name, full)
    for name in CATALOGUE:
        if not CATALOGUE[name].params:
            out[render(name, {})] = (name, {})
    return out


class PromServer:
    """Answers /api/v1/query by evaluating the catalogue query the PromQL came from on a SimulatedFleet."""

    def __init__(self, fleet: SimulatedFleet) -> None:
        self.fleet = fleet
        self.index = _promql_index()
        self.queries: list[str] = []

    def __call__(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes | None
    ) -> Any:
        form = {k: v[0] for k, v in parse_qs((body or b"").decode()).items()}
        promql = form["query"]
        self.queries.append(promql)
        if promql not in self.index:
            return 400, {"status": "error", "errorType": "bad_data", "error": f"unknown query {promql[:40]}"}
        name, params = self.index[promql]
        return 200, {"status": "success", "data": self.fleet.query(name, params)}
