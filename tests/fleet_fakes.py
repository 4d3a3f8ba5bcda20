"""Hand-made Kubernetes objects, Prometheus results and a canned Source for the collector tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from mtop.errors import QueryError

T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)
CREATED = "2026-11-01T00:00:00Z"


def main_container(gpus: int | None) -> dict[str, Any]:
    limits = {"cpu": "4"} if gpus is None else {"cpu": "4", "nvidia.com/gpu": str(gpus)}
    return {"name": "main", "resources": {"limits": limits, "requests": dict(limits)}}


def llmisvc(
    name: str,
    namespace: str = "prod",
    *,
    replicas: int | None = 1,
    gpus: int | None = 1,
    product: str | None = None,
    scaling: dict[str, Any] | None = None,
    parallelism: dict[str, Any] | None = None,
    worker_gpus: int | None = None,
    prefill: dict[str, Any] | None = None,
    ready: bool = True,
    reason: str | None = None,
    ready_replicas: int | None = None,
    api_version: str = "v1alpha2",
    model: str | None = None,
) -> dict[str, Any]:
    template: dict[str, Any] = {"containers": [main_container(gpus)]}
    if product:
        template["nodeSelector"] = {"nvidia.com/gpu.product": product}
    spec: dict[str, Any] = {"model": {"uri": f"hf://org/{name}", "name": model or f"org/{name}"}, "template": template}
    if replicas is not None:
        spec["replicas"] = replicas
    if scaling is not None:
        spec["scaling"] = scaling
    if parallelism is not None:
        spec["parallelism"] = parallelism
    if worker_gpus is not None:
        spec["worker"] = {"containers": [main_container(worker_gpus)]}
    if prefill is not None:
        spec["prefill"] = prefill
    cond: dict[str, Any] = {"type": "Ready", "status": "True" if ready else "False"}
    if reason:
        cond["reason"] = reason
    status: dict[str, Any] = {"conditions": [{"type": "WorkloadsReady", "status": "True"}, cond]}
    if ready_replicas is not None:
        status["workloads"] = {"primary": {"kind": "Deployment", "readyReplicas": ready_replicas}}
    return {
        "apiVersion": f"serving.kserve.io/{api_version}",
        "kind": "LLMInferenceService",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": CREATED},
        "spec": spec,
        "status": status,
    }


def pod(
    name: str,
    service: str | None,
    namespace: str = "prod",
    *,
    node: str | None = "node-a",
    gpus: int = 1,
    phase: str = "Running",
    ready: bool = True,
    component: str = "llminferenceservice-workload",
    role: str | None = "both",
    restarts: int = 0,
    waiting: str | None = None,
) -> dict[str, Any]:
    labels: dict[str, str] = {}
    if service is not None:
        labels = {
            "app.kubernetes.io/name": service,
            "app.kubernetes.io/part-of": "llminferenceservice",
            "app.kubernetes.io/component": component,
        }
        if role:
            labels["llm-d.ai/role"] = role
    spec: dict[str, Any] = {"containers": [main_container(gpus if gpus else None)]}
    if node:
        spec["nodeName"] = node
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "creationTimestamp": CREATED},
        "spec": spec,
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "main", "restartCount": restarts, "state": state}],
        },
    }


def node(name: str, product: str | None = "NVIDIA-H100-80GB-HBM3", gpus: int = 8, ready: bool = True) -> dict[str, Any]:
    labels = {"node.kubernetes.io/instance-type": "p5.48xlarge", "topology.kubernetes.io/zone": "us-east-1a"}
    if product:
        labels["nvidia.com/gpu.product"] = product
    allocatable = {"cpu": "192"}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def vector(rows: Sequence[tuple[Mapping[str, str], float | str]]) -> dict[str, Any]:
    return {
        "resultType": "vector",
        "result": [
            {"metric": dict(m), "value": [T0.timestamp(), v if isinstance(v, str) else repr(float(v))]} for m, v in rows
        ],
    }


def svc_vector(values: Mapping[tuple[str, str], float | str]) -> dict[str, Any]:
    return vector([({"namespace": ns, "service": s}, v) for (ns, s), v in values.items()])


def dcgm(
    rows: Sequence[tuple[str, int, float, str | None, str | None]], model: str = "NVIDIA H100 80GB HBM3"
) -> dict[str, Any]:
    """rows: (host, gpu, value, namespace, pod)."""
    out = []
    for host, gpu, value, ns, pod_name in rows:
        metric = {"Hostname": host, "gpu": str(gpu), "UUID": f"GPU-{host}-{gpu}", "modelName": model}
        if pod_name:
            metric.update({"namespace": ns or "", "pod": pod_name})
        out.append((metric, value))
    return vector(out)


class FakeSource:
    """A Source with canned objects and query results; records every call; can fail chosen queries."""

    kind = "fake"
    cluster = "test-cluster"

    def __init__(
        self,
        objects: Mapping[str, list[dict[str, Any]]] | None = None,
        results: Mapping[str, Any] | None = None,
        ranges: Mapping[str, Any] | None = None,
        failing: Sequence[str] = (),
    ) -> None:
        self.objects = dict(objects or {})
        self.results = dict(results or {})
        self.ranges = dict(ranges or {})
        self.failing = set(failing)
        self.calls: list[tuple[Any, ...]] = []

    def now(self) -> datetime:
        return T0

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[dict[str, Any]]:
        self.calls.append(("list", kind, None if namespaces is None else tuple(namespaces)))
        return list(self.objects.get(kind, []))

    def query(self, name: str, params: Mapping[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
        self.calls.append(("query", name, tuple(sorted((params or {}).items()))))
        if name in self.failing:
            raise QueryError("boom", source="fake", query=name, status=500)
        result = self.results.get(name)
        if callable(result):
            result = result(dict(params or {}))
        return result or {"resultType": "vector", "result": []}

    def query_range(
        self, name: str, params: Mapping[str, Any] | None, start: datetime, end: datetime, step: timedelta
    ) -> dict[str, Any]:
        self.calls.append(("range", name, tuple(sorted((params or {}).items())), start, end, step))
        if name in self.failing:
            raise QueryError("boom", source="fake", query=name, status=500)
        result = self.ranges.get(name)
        if callable(result):
            result = result(dict(params or {}))
        return result or {"resultType": "matrix", "result": []}


class FakeFleet:
    """What collectors receive: a source and a config (duck-typed mtop.context.Fleet)."""

    def __init__(self, source: FakeSource, config: Any = None) -> None:
        from mtop.config import default_config

        self.source = source
        self.config = config if config is not None else default_config()

    def now(self) -> datetime:
        return self.source.now()
