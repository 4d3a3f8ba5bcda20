"""LLMInferenceService objects of the simulated fleet (``serving.kserve.io`` v1alpha2, some v1alpha1).

The spec carries the model (``uri``, ``name``; ``criticality`` in v1alpha1 only), ``replicas`` or
``scaling``, ``parallelism``, the ``template`` PodSpec pinned to a GPU type, ``worker`` (multi-node),
``prefill`` (P/D) and ``router``. The status follows the controller: conditions with transition
times (``Ready`` rolls up ``WorkloadsReady`` and ``RouterReady``), ``url``, ``addresses``, and in
v1alpha2 ``workloads.{primary,prefill,scheduler}.readyReplicas`` counted from ready pods. A workload
is ready while at most one replica is unavailable (and at least one is ready); otherwise it reports
``MinimumReplicasUnavailable``, as a Deployment does.

>>> from datetime import UTC, datetime
>>> from mtop.sources.topology import plan_fleet
>>> obj = service_object(plan_fleet(0, 2), 1, datetime(2026, 8, 1, tzinfo=UTC))
>>> [c["reason"] for c in obj["status"]["conditions"] if c["type"] == "Ready"]
['MinimumReplicasUnavailable']
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mtop.sources.objects import GATEWAY, pod_template, resource_version, rfc3339, stable_uuid
from mtop.sources.topology import FleetPlan

__all__ = ["service_object"]

_NOT_READY_REASON = "MinimumReplicasUnavailable"
_NOT_READY_MESSAGE = "Deployment does not have minimum availability."
_PRESETS = ("kserve-config-llm-template", "kserve-config-llm-scheduler", "kserve-config-llm-router-route")


def _min_available(replicas: int) -> int:
    # Ready while at most one replica is unavailable (maxUnavailable 1), but never with none ready.
    return 0 if replicas <= 0 else max(1, replicas - 1)


def service_object(plan: FleetPlan, index: int, start: datetime) -> dict[str, Any]:
    """LLMInferenceService ``index`` of ``plan`` as a list item (v1alpha2, or v1alpha1 where planned).

    >>> from datetime import UTC
    >>> from mtop.sources.topology import plan_fleet
    >>> obj = service_object(plan_fleet(0, 1), 0, datetime(2026, 8, 1, tzinfo=UTC))
    >>> obj["apiVersion"], obj["spec"]["scaling"], obj["status"]["workloads"]["primary"]["readyReplicas"]
    ('serving.kserve.io/v1alpha2', {'minReplicas': 2, 'maxReplicas': 10}, 2)
    """
    seed = plan.seed
    s = plan.services[index]
    created = start - timedelta(days=s.age_days)
    v1 = s.api_version == "v1alpha1"
    model: dict[str, Any] = {"uri": s.model_uri, "name": s.model_name}
    if v1 and s.criticality:
        model["criticality"] = s.criticality
    spec: dict[str, Any] = {"model": model}
    if s.scaling:
        spec["scaling"] = {"minReplicas": s.scaling[0], "maxReplicas": s.scaling[1]}
    else:
        spec["replicas"] = s.replicas
    if s.parallelism:
        spec["parallelism"] = dict(s.parallelism)
    spec["template"] = pod_template(s)
    if s.multinode:
        spec["worker"] = pod_template(s)
    if s.prefill_replicas:
        spec["prefill"] = {
            "replicas": s.prefill_replicas,
            "parallelism": dict(s.parallelism),
            "template": pod_template(s, prefill=True),
        }
    spec["router"] = {"route": {}, "gateway": {}, **({"scheduler": {}} if s.scheduler else {})}
    return {
        "apiVersion": f"serving.kserve.io/{s.api_version}",
        "kind": "LLMInferenceService",
        "metadata": {
            "name": s.name,
            "namespace": s.namespace,
            "uid": stable_uuid(seed, "llmisvc", s.namespace, s.name),
            "generation": s.generation,
            "resourceVersion": resource_version(seed, "llmisvc", s.namespace, s.name),
            "creationTimestamp": rfc3339(created),
        },
        "spec": spec,
        "status": _service_status(plan, index, created),
    }


def _service_status(plan: FleetPlan, index: int, created: datetime) -> dict[str, Any]:
    s = plan.services[index]
    main_ok = plan.ready_replicas[index] >= _min_available(s.replicas)
    prefill_ok = plan.ready_prefill[index] >= _min_available(s.prefill_replicas)
    router_ok = not s.scheduler or plan.scheduler_ready[index] > 0
    workloads_ok = main_ok and prefill_ok

    def at(minutes: float) -> str:
        return rfc3339(created + timedelta(minutes=minutes))

    def cond(kind: str, ok: bool, minutes: float) -> dict[str, Any]:
        c: dict[str, Any] = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": at(minutes)}
        if not ok:
            c["reason"] = _NOT_READY_REASON
            c["message"] = _NOT_READY_MESSAGE
        return c

    conditions = [cond("PresetsCombined", True, 0.0), cond("MainWorkloadReady", main_ok, 4.2)]
    if s.multinode:
        conditions.append(cond("WorkerWorkloadReady", main_ok, 4.3))
    if s.prefill_replicas:
        conditions.append(cond("PrefillWorkloadReady", prefill_ok, 4.0))
    if s.scaling:
        conditions.append(cond("ScalingReady", True, 0.5))
    conditions.append(cond("WorkloadsReady", workloads_ok, 4.2))
    conditions.append(cond("HTTPRoutesReady", True, 0.3))
    if s.scheduler:
        conditions.append(cond("InferencePoolReady", True, 0.4))
        conditions.append(cond("SchedulerWorkloadReady", router_ok, 1.0))
    conditions.append(cond("RouterReady", router_ok, 1.0))
    conditions.append(cond("Ready", workloads_ok and router_ok, 4.2))
    url = f"http://{GATEWAY}/{s.namespace}/{s.name}"
    origin = {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": "kserve-ingress-gateway",
        "namespace": "kserve",
    }
    status: dict[str, Any] = {"observedGeneration": s.generation, "conditions": conditions, "url": url}
    if s.api_version == "v1alpha1":
        status["addresses"] = [{"url": url}]
        return status
    status["addresses"] = [{"url": url, "origin": origin}]
    status["appliedConfigs"] = [
        {"name": p, "namespace": "kserve", "source": "Preset"} for p in _PRESETS if s.scheduler or "scheduler" not in p
    ]
    workloads: dict[str, Any] = {}
    if s.multinode:
        workloads["primary"] = {
            "apiGroup": "leaderworkerset.x-k8s.io",
            "kind": "LeaderWorkerSet",
            "name": f"{s.name}-kserve-mn",
            "readyReplicas": plan.ready_replicas[index],
        }
    else:
        workloads["primary"] = {
            "apiGroup": "apps",
            "kind": "Deployment",
            "name": f"{s.name}-kserve",
            "readyReplicas": plan.ready_replicas[index],
        }
    if s.prefill_replicas:
        workloads["prefill"] = {
            "apiGroup": "apps",
            "kind": "Deployment",
            "name": f"{s.name}-kserve-prefill",
            "readyReplicas": plan.ready_prefill[index],
        }
    if s.scheduler:
        workloads["scheduler"] = {
            "apiGroup": "apps",
            "kind": "Deployment",
            "name": f"{s.name}-kserve-router-scheduler",
            "readyReplicas": plan.scheduler_ready[index],
        }
        status["router"] = {
            "scheduler": {
                "inferencePool": {
                    "group": "inference.networking.k8s.io",
                    "kind": "InferencePool",
                    "name": f"{s.name}-inference-pool",
                }
            }
        }
    status["workloads"] = workloads
    return status
