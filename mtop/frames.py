"""Records -> DataFrames: Kubernetes object dicts (pods, nodes, LLMInferenceServices) into mtop's frames.

Pure: no I/O, no clock, no source (Prometheus results are parsed by :mod:`mtop.promframes`). The
same code parses the simulated fleet and a live cluster, because both hand over the same live-shaped
records. Frames are built column-wise (one list per
column), and every builder returns the full :mod:`mtop.schema` column set, even for no records.

>>> pod = {"metadata": {"name": "p", "namespace": "ns", "labels": {
...     "app.kubernetes.io/name": "svc", "app.kubernetes.io/part-of": "llminferenceservice",
...     "llm-d.ai/role": "both"}}, "spec": {"nodeName": "n1", "containers": [
...     {"name": "main", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]},
...     "status": {"phase": "Running"}}
>>> pods_frame([pod])[["service", "role", "node", "gpus"]].values.tolist()
[['svc', 'both', 'n1', 2]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mtop import schema
from mtop.interfaces import JSONDict

if TYPE_CHECKING:
    from mtop.config import TechnologyConfig

__all__ = [
    "GPU_RESOURCES",
    "PRODUCT_LABELS",
    "container_gpus",
    "gpu_count",
    "gpu_type_of_product",
    "gpus_per_replica",
    "nodes_frame",
    "pods_frame",
    "replicas_of",
    "service_pods",
    "services_frame",
    "with_node_gpu_type",
]

GPU_RESOURCES: tuple[str, ...] = ("nvidia.com/gpu", "amd.com/gpu")
"""Extended resources that count as GPUs (device plugins of NVIDIA and AMD)."""
PRODUCT_LABELS: tuple[str, ...] = ("nvidia.com/gpu.product", "amd.com/gpu.product-name", "amd.com/gpu.product")
"""Node labels naming the GPU product (GPU Feature Discovery, AMD's labeller), first found wins."""
PART_OF = "llminferenceservice"
SCHEDULER_COMPONENT = "llminferenceservice-router-scheduler"
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
"""Pods in these phases hold no GPUs (the kubelet releases their devices)."""


def gpu_count(resources: Mapping[str, Any] | None) -> int:
    """GPUs in a ``limits``/``requests`` mapping (quantities are strings in the API).

    >>> gpu_count({"cpu": "4", "nvidia.com/gpu": "8"}), gpu_count(None)
    (8, 0)
    """
    if not resources:
        return 0
    total = 0
    for name in GPU_RESOURCES:
        value = resources.get(name)
        if value is not None:
            total += _quantity(value)
    return total


def _quantity(value: Any) -> int:
    # GPU counts are plain integers ("8"); anything unparsable counts as none rather than failing the frame.
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in status.get("conditions") or ():
        if cond.get("type") == kind:
            return cond  # type: ignore[no-any-return]
    return None


def _is_true(cond: Mapping[str, Any] | None) -> bool:
    return cond is not None and str(cond.get("status")) == "True"


def container_gpus(containers: Iterable[Mapping[str, Any]] | None, only: str | None = None) -> int:
    """GPUs asked for by containers (limits, else requests), optionally only the one named ``only``.

    >>> container_gpus([{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "4"}}}], only="main")
    4
    """
    total = 0
    for c in containers or ():
        if only is not None and c.get("name") != only:
            continue
        res = c.get("resources") or {}
        total += gpu_count(res.get("limits")) or gpu_count(res.get("requests"))
    return total


def _pod_reason(status: Mapping[str, Any]) -> str | None:
    # Most telling first: a container stuck waiting (CrashLoopBackOff, ImagePullBackOff), then one that
    # just died (OOMKilled), then the pod's own reason (Evicted), then why it is not scheduled.
    statuses = status.get("containerStatuses") or ()
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
    for cs in statuses:
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated and terminated.get("reason"):
            return str(terminated["reason"])
    if status.get("reason"):
        return str(status["reason"])
    scheduled = _condition(status, "PodScheduled")
    if scheduled is not None and str(scheduled.get("status")) == "False" and scheduled.get("reason"):
        return str(scheduled["reason"])
    return None


_POD_COLUMNS = ("namespace", "name", "service", "role", "component", "node", "phase", "ready", "restarts", "gpus")


def pods_frame(items: Sequence[JSONDict]) -> pd.DataFrame:
    """Every pod as a row of schema ``pods``, plus ``component`` (the KServe component label).

    ``service`` is the ``app.kubernetes.io/name`` label of pods that are ``part-of`` an
    LLMInferenceService, else NA (such pods still hold GPUs on nodes; :func:`service_pods` drops
    them). ``role`` is ``llm-d.ai/role``, or ``scheduler`` for the router-scheduler (EPP) pod.
    ``gpu_type`` is left NA here: see :func:`with_node_gpu_type`.

    >>> pods_frame([]).columns.tolist()[:4]
    ['namespace', 'name', 'service', 'role']
    """
    cols: dict[str, list[Any]] = {c: [] for c in (*_POD_COLUMNS, "reason", "created")}
    for pod in items:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        component = labels.get("app.kubernetes.io/component")
        part_of = labels.get("app.kubernetes.io/part-of") == PART_OF
        cols["namespace"].append(meta.get("namespace"))
        cols["name"].append(meta.get("name"))
        cols["service"].append(labels.get("app.kubernetes.io/name") if part_of else None)
        cols["role"].append("scheduler" if component == SCHEDULER_COMPONENT else labels.get("llm-d.ai/role"))
        cols["component"].append(component)
        cols["node"].append(spec.get("nodeName"))
        cols["phase"].append(status.get("phase"))
        cols["ready"].append(_is_true(_condition(status, "Ready")))
        cols["restarts"].append(sum(int(cs.get("restartCount") or 0) for cs in status.get("containerStatuses") or ()))
        cols["gpus"].append(container_gpus(spec.get("containers")))
        cols["reason"].append(_pod_reason(status))
        cols["created"].append(meta.get("creationTimestamp"))
    out = schema.conform(cols, "pods")
    out["component"] = out["component"].astype("string")
    return out


def service_pods(pods: pd.DataFrame) -> pd.DataFrame:
    """Only the pods that belong to an LLMInferenceService, sorted by key.

    >>> service_pods(pods_frame([])).empty
    True
    """
    out = pods[pods["service"].notna()]
    return out.sort_values(["namespace", "name"], kind="stable").reset_index(drop=True)


def with_node_gpu_type(pods: pd.DataFrame, nodes: pd.DataFrame) -> pd.DataFrame:
    """``pods`` with ``gpu_type`` taken from the node each pod runs on (NA when unscheduled or CPU-only).

    >>> p = pods_frame([{"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}}])
    >>> n = schema.conform({"name": ["n1"], "gpu_type": ["nvidia-h100"]}, "nodes")
    >>> with_node_gpu_type(p, n)["gpu_type"].tolist()
    ['nvidia-h100']
    """
    out = pods.copy()
    types = pd.Series(nodes["gpu_type"].to_numpy(), index=nodes["name"].to_numpy())
    out["gpu_type"] = out["node"].map(types).astype("string")
    return out


def gpu_type_of_product(product: str | None, technology: TechnologyConfig, cache: dict[str, str] | None = None) -> Any:
    """The configured type key of a product label; the raw product when unmatched; NA when ``None``.

    >>> class T:
    ...     def match_product(self, p): return "nvidia-h100" if p.startswith("NVIDIA-H100") else None
    >>> gpu_type_of_product("NVIDIA-H100-80GB-HBM3", T()), gpu_type_of_product("Tesla-T4", T())
    ('nvidia-h100', 'Tesla-T4')
    """
    if product is None or product == "":
        return pd.NA
    if cache is not None and product in cache:
        return cache[product]
    key = technology.match_product(product) or product
    if cache is not None:
        cache[product] = key
    return key


def _node_product(labels: Mapping[str, Any]) -> str | None:
    for name in PRODUCT_LABELS:
        if labels.get(name):
            return str(labels[name])
    return None


def nodes_frame(items: Sequence[JSONDict], pods: pd.DataFrame, technology: TechnologyConfig) -> pd.DataFrame:
    """GPU nodes as schema ``nodes``, with allocation from ``pods`` (cost columns left NaN: see ``cost``).

    A node is a GPU node when it has allocatable GPUs or a GPU product label. ``gpus_allocated`` sums
    the GPUs of the pods on the node that are not Succeeded/Failed; ``gpus_free`` is what is left, never
    below zero (a node that lost GPUs while pods still hold them has none free).

    >>> node = {"metadata": {"name": "n1", "labels": {"nvidia.com/gpu.product": "X"}},
    ...         "status": {"allocatable": {"nvidia.com/gpu": "8"}}}
    >>> class T:
    ...     def match_product(self, p): return None
    >>> nodes_frame([node], pods_frame([]), T())[["gpu_type", "gpus_allocatable", "gpus_free"]].values.tolist()
    [['X', 8, 8]]
    """
    live = pods[pods["node"].notna() & ~pods["phase"].isin(TERMINAL_PHASES).fillna(False).astype(bool)]
    allocated = live.groupby("node", sort=False)["gpus"].sum().to_dict()
    cache: dict[str, str] = {}
    cols: dict[str, list[Any]] = {
        c: [] for c in ("name", "gpu_type", "gpu_product", "instance_type", "zone", "gpus_allocatable", "ready")
    }
    for node in items:
        meta = node.get("metadata") or {}
        labels = meta.get("labels") or {}
        status = node.get("status") or {}
        product = _node_product(labels)
        allocatable = gpu_count(status.get("allocatable"))
        if allocatable == 0 and product is None:
            continue
        cols["name"].append(meta.get("name"))
        cols["gpu_type"].append(gpu_type_of_product(product, technology, cache))
        cols["gpu_product"].append(product)
        cols["instance_type"].append(labels.get("node.kubernetes.io/instance-type"))
        cols["zone"].append(labels.get("topology.kubernetes.io/zone"))
        cols["gpus_allocatable"].append(allocatable)
        cols["ready"].append(_is_true(_condition(status, "Ready")))
    alloc = np.array([int(allocated.get(n, 0)) for n in cols["name"]], dtype=np.int64)
    free = np.maximum(np.array(cols["gpus_allocatable"], dtype=np.int64) - alloc, 0)
    out = schema.conform({**cols, "gpus_allocated": alloc, "gpus_free": free}, "nodes")
    return out.sort_values("name", kind="stable").reset_index(drop=True)


_DECODE = frozenset({"llminferenceservice-workload", "llminferenceservice-workload-leader"})
_PREFILL = frozenset({"llminferenceservice-workload-prefill", "llminferenceservice-workload-leader-prefill"})
_DECODE_ALL = _DECODE | {"llminferenceservice-workload-worker"}
_PREFILL_ALL = _PREFILL | {"llminferenceservice-workload-worker-prefill"}
PRODUCT_SELECTOR = "nvidia.com/gpu.product"


def _pod_summary(pods: pd.DataFrame) -> dict[tuple[Any, Any], dict[str, Any]]:
    """Per (namespace, service): replica pods present and ready, GPUs per pod, and the nodes' GPU type."""
    live = pods[pods["service"].notna() & ~pods["phase"].isin(TERMINAL_PHASES).fillna(False).astype(bool)]
    comp = live["component"].fillna("")
    flags = pd.DataFrame(
        {
            "namespace": live["namespace"],
            "service": live["service"],
            "decode": comp.isin(_DECODE).astype(np.int64),
            "prefill": comp.isin(_PREFILL).astype(np.int64),
            "decode_gpus": live["gpus"].where(comp.isin(_DECODE_ALL), 0),
            "prefill_gpus": live["gpus"].where(comp.isin(_PREFILL_ALL), 0),
        }
    )
    flags["decode_ready"] = flags["decode"] * live["ready"].astype(np.int64)
    flags["prefill_ready"] = flags["prefill"] * live["ready"].astype(np.int64)
    agg = flags.groupby(["namespace", "service"], sort=False).agg(
        decode=("decode", "sum"),
        decode_ready=("decode_ready", "sum"),
        prefill=("prefill", "sum"),
        prefill_ready=("prefill_ready", "sum"),
        decode_gpus=("decode_gpus", "max"),
        prefill_gpus=("prefill_gpus", "max"),
    )
    records = agg.to_dict("records")
    summary: dict[tuple[Any, Any], dict[str, Any]] = {
        key: {str(c): v for c, v in row.items()} for key, row in zip(agg.index.tolist(), records, strict=True)
    }
    typed = live[(live["gpus"] > 0) & live["gpu_type"].notna()] if "gpu_type" in live else live.iloc[0:0]
    if len(typed):
        # The most common type among the service's GPU pods; ties go to the first name alphabetically.
        counts = typed.groupby(["namespace", "service", "gpu_type"]).size().reset_index(name="n")
        counts = counts.sort_values(["n", "gpu_type"], ascending=[False, True], kind="stable")
        for ns, svc, gtype in counts.drop_duplicates(["namespace", "service"])[
            ["namespace", "service", "gpu_type"]
        ].itertuples(index=False):
            summary.setdefault((ns, svc), {})["gpu_type"] = gtype
    return summary


def gpus_per_replica(workload: Mapping[str, Any], fallback: int = 0) -> int:
    """GPUs of one replica of a workload spec (the decode spec, or ``spec.prefill``).

    Single-node: the ``main`` container's GPU limit. Multi-node (``worker`` present, a LeaderWorkerSet):
    ``data / dataLocal`` pods, the leader with the template's GPUs and each worker with the worker's.
    ``fallback`` (the GPUs seen on the service's pods) stands in when a spec names none, as when the
    resources come from a preset (``baseRefs``).

    >>> gpus_per_replica({"parallelism": {"data": 16, "dataLocal": 8},
    ...     "template": {"containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "8"}}}]},
    ...     "worker": {"containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "8"}}}]}})
    16
    """
    leader = container_gpus((workload.get("template") or {}).get("containers"), only="main")
    worker = workload.get("worker")
    if worker is None:
        return leader or fallback
    parallelism = workload.get("parallelism") or {}
    pods = max(1, _quantity(parallelism.get("data") or 1) // max(1, _quantity(parallelism.get("dataLocal") or 1)))
    per_worker = container_gpus(worker.get("containers"), only="main") or leader or fallback
    return (leader or per_worker) + (pods - 1) * per_worker


def replicas_of(workload: Mapping[str, Any] | None, present: int) -> int:
    """Replicas of a workload spec: ``replicas``; under ``scaling`` the replicas present (else ``minReplicas``).

    An autoscaled workload has no desired count in its spec, so the count of its replica pods (the
    Deployment's pods, or the leaders of a LeaderWorkerSet) that are not Succeeded/Failed stands for
    the autoscaler's current choice; with none, ``minReplicas`` (default 1). With neither ``replicas``
    nor ``scaling`` (a preset may set the count), the replica pods present, else the controller's
    default of 1. No spec at all (no ``prefill``) means 0 replicas.

    >>> replicas_of({"replicas": 3}, 1), replicas_of({"scaling": {"minReplicas": 2}}, 5)
    (3, 5)
    >>> replicas_of({"scaling": {"minReplicas": 2, "maxReplicas": 8}}, 0), replicas_of(None, 4)
    (2, 0)
    """
    if workload is None:
        return 0
    if workload.get("replicas") is not None:
        return _quantity(workload["replicas"])
    if workload.get("scaling") is not None:
        return present if present > 0 else _quantity(workload["scaling"].get("minReplicas") or 1)
    return present if present > 0 else 1  # the controller's default: one replica


_SERVICE_COLUMNS = (
    "namespace", "name", "model", "model_uri", "api_version", "ready", "reason", "replicas", "ready_replicas",
    "prefill_replicas", "gpus_per_replica", "prefill_gpus_per_replica", "gpus", "gpu_type", "created",
)  # fmt: skip


def services_frame(items: Sequence[JSONDict], pods: pd.DataFrame, technology: TechnologyConfig) -> pd.DataFrame:
    """LLMInferenceService objects as schema ``services``, with replica facts from their ``pods``.

    ``pods`` is a :func:`pods_frame` (with ``gpu_type`` from :func:`with_node_gpu_type` for the type
    fallback). ``replicas`` follows :func:`replicas_of`; ``ready_replicas`` is
    ``status.workloads.primary.readyReplicas`` (v1alpha2) when present, else the ready replica pods;
    ``gpus = replicas x gpus_per_replica + prefill_replicas x prefill_gpus_per_replica``; ``gpu_type``
    is the type matching the template's ``nvidia.com/gpu.product`` node selector (the raw product when
    none matches), else the most common type of the nodes its GPU pods run on, else NA.

    >>> class T:
    ...     def match_product(self, p): return "nvidia-h100"
    >>> svc = {"apiVersion": "serving.kserve.io/v1alpha2", "metadata": {"name": "s", "namespace": "n"},
    ...        "spec": {"replicas": 2, "template": {"nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100"},
    ...        "containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]}}}
    >>> services_frame([svc], pods_frame([]), T())[["replicas", "gpus", "gpu_type"]].values.tolist()
    [[2, 4, 'nvidia-h100']]
    """
    summary = _pod_summary(pods)
    cache: dict[str, str] = {}
    cols: dict[str, list[Any]] = {c: [] for c in _SERVICE_COLUMNS}
    for obj in items:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        name = meta.get("name")
        facts = summary.get((meta.get("namespace"), name), {})
        prefill = spec.get("prefill")
        replicas = replicas_of(spec, int(facts.get("decode", 0)))
        prefill_replicas = replicas_of(prefill, int(facts.get("prefill", 0)))
        per_replica = gpus_per_replica(spec, int(facts.get("decode_gpus", 0)))
        per_prefill = gpus_per_replica(prefill, int(facts.get("prefill_gpus", 0)) or per_replica) if prefill else 0
        ready = _condition(status, "Ready")
        primary = ((status.get("workloads") or {}).get("primary") or {}).get("readyReplicas")
        cols["namespace"].append(meta.get("namespace"))
        cols["name"].append(name)
        cols["model"].append((spec.get("model") or {}).get("name") or name)
        cols["model_uri"].append((spec.get("model") or {}).get("uri"))
        cols["api_version"].append(str(obj.get("apiVersion") or "").rpartition("/")[2] or None)
        cols["ready"].append(_is_true(ready))
        cols["reason"].append((ready or {}).get("reason") or None)
        cols["replicas"].append(replicas)
        cols["ready_replicas"].append(_quantity(primary) if primary is not None else int(facts.get("decode_ready", 0)))
        cols["prefill_replicas"].append(prefill_replicas)
        cols["gpus_per_replica"].append(per_replica)
        cols["prefill_gpus_per_replica"].append(per_prefill)
        cols["gpus"].append(replicas * per_replica + prefill_replicas * per_prefill)
        cols["gpu_type"].append(_service_gpu_type(spec, facts, technology, cache))
        cols["created"].append(meta.get("creationTimestamp"))
    out = schema.conform(cols, "services")
    return out.sort_values(["namespace", "name"], kind="stable").reset_index(drop=True)


def _service_gpu_type(
    spec: Mapping[str, Any], facts: Mapping[str, Any], technology: TechnologyConfig, cache: dict[str, str]
) -> Any:
    for workload in (spec, spec.get("prefill") or {}):
        selector = (workload.get("template") or {}).get("nodeSelector") or {}
        if selector.get(PRODUCT_SELECTOR):
            return gpu_type_of_product(str(selector[PRODUCT_SELECTOR]), technology, cache)
    return facts.get("gpu_type", pd.NA)
