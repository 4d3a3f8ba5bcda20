"""Kubernetes object dicts of the simulated fleet, shaped exactly as a list call's ``items`` holds them.

Core objects (nodes, pods, namespaces) carry no ``apiVersion``/``kind`` per item, as the API server's
list responses do not; LLMInferenceService items (custom resources) do. Sub-dicts that are the same
for many pods (container specs, tolerations, node selectors) are shared between them: treat every
returned object as read-only.

>>> rfc3339(datetime(2026, 8, 1, 10, 0, tzinfo=UTC))
'2026-08-01T10:00:00Z'
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from mtop.sources.fleet_spec import ServiceSpec
from mtop.sources.hardware import CPU_NODE, HARDWARE
from mtop.sources.topology import REGION, FleetPlan, NodeRec, PodRec

__all__ = [
    "CRASH_BACKOFF_S",
    "EPP_IMAGE",
    "VLLM_IMAGE",
    "crashloop_restarts",
    "model_label",
    "namespace_object",
    "node_object",
    "pod_object",
    "rfc3339",
    "service_object",
    "stable_uuid",
]

VLLM_IMAGE = "ghcr.io/llm-d/llm-d-cuda:v0.9.0"
EPP_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"
GATEWAY = "kserve-ingress-gateway.kserve.svc.cluster.local"
CRASH_BACKOFF_S = 300.0
"""A crash-looping container restarts about every 5 minutes (the kubelet's maximum back-off)."""
PART_OF = "llminferenceservice"
_GPU_TOLERATION = ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
_NOT_READY_REASON = "MinimumReplicasUnavailable"
_NOT_READY_MESSAGE = "Deployment does not have minimum availability."
_IMAGE_IDS = {
    image: f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
    for image in (VLLM_IMAGE, EPP_IMAGE)
}
_PRESETS = ("kserve-config-llm-template", "kserve-config-llm-scheduler", "kserve-config-llm-router-route")


def rfc3339(dt: datetime) -> str:
    """A UTC timestamp as Kubernetes writes it (seconds, ``Z``)."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def stable_uuid(seed: int, *parts: str) -> str:
    """A version-4-shaped UUID that depends only on ``seed`` and ``parts``.

    >>> stable_uuid(0, "pod", "ns", "a") == stable_uuid(0, "pod", "ns", "a") != stable_uuid(1, "pod", "ns", "a")
    True
    """
    digest = hashlib.blake2b("\x1f".join((str(seed), *parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def _hex(seed: int, n: int, *parts: str) -> str:
    return hashlib.blake2b("\x1f".join((str(seed), *parts)).encode(), digest_size=(n + 1) // 2).hexdigest()[:n]


def _version(seed: int, *parts: str) -> str:
    return str(100000 + int(_hex(seed, 7, "rv", *parts), 16) % 9000000)


class _PodIds:
    """Every per-pod identifier from one hash (10,000 pods: one digest each, not five)."""

    __slots__ = ("container", "ip", "uid", "version")

    def __init__(self, seed: int, namespace: str, name: str) -> None:
        d = hashlib.blake2b(f"{seed}\x1fpod\x1f{namespace}\x1f{name}".encode(), digest_size=64).digest()
        self.uid = str(uuid.UUID(bytes=d[:16], version=4))
        self.version = str(100000 + int.from_bytes(d[16:20]) % 9000000)
        self.container = "containerd://" + d[20:52].hex()
        self.ip = f"10.{64 + d[52] % 64}.{d[53]}.{d[54] or 1}"


def model_label(model_name: str) -> str:
    """The ``llm-d.ai/model`` label value for a model name (last path part, label-safe).

    >>> model_label("Qwen/Qwen2.5-7B-Instruct")
    'Qwen2.5-7B-Instruct'
    """
    short = re.sub(r"[^A-Za-z0-9._-]", "-", model_name.rsplit("/", 1)[-1])[:63]
    return short.strip("-._") or "model"


def crashloop_restarts(pod: PodRec, start: datetime, now: datetime) -> int:
    """Restarts of a crash-looping pod at ``now``: its count at ``start`` plus one per back-off period."""
    elapsed = (now - start).total_seconds()
    return pod.restarts + (int(elapsed // CRASH_BACKOFF_S) if elapsed > 0 else 0)


def namespace_object(seed: int, name: str, start: datetime) -> dict[str, Any]:
    """A Namespace as a list item."""
    return {
        "metadata": {
            "name": name,
            "uid": stable_uuid(seed, "namespace", name),
            "resourceVersion": _version(seed, "ns", name),
            "creationTimestamp": rfc3339(start - timedelta(days=400)),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def node_object(seed: int, node: NodeRec, start: datetime) -> dict[str, Any]:
    """A Node as a list item, with GPU Feature Discovery labels on GPU nodes."""
    created = start - timedelta(days=node.age_days)
    labels: dict[str, str] = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": node.name,
        "topology.kubernetes.io/region": REGION,
        "topology.kubernetes.io/zone": node.zone,
    }
    spec: dict[str, Any] = {"providerID": f"aws:///{node.zone}/i-0{_hex(seed, 16, 'i', node.name)}"}
    if node.hardware is None:
        instance, cpu, mem_gi = CPU_NODE.instance_type, CPU_NODE.cpu, CPU_NODE.memory_gi
        labels["eks.amazonaws.com/nodegroup"] = "cpu-general"
        gpu_res: dict[str, str] = {}
    else:
        hw = HARDWARE[node.hardware]
        instance, cpu, mem_gi = hw.instance_type, hw.cpu, hw.memory_gi
        labels.update(
            {
                "eks.amazonaws.com/nodegroup": f"gpu-{hw.key.lower()}",
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": hw.product,
                "nvidia.com/gpu.count": str(hw.gpus_per_node),
                "nvidia.com/gpu.memory": str(hw.memory_mib),
                "nvidia.com/gpu.family": hw.family,
                "nvidia.com/gpu.machine": hw.instance_type,
                "nvidia.com/gpu.compute.major": str(hw.compute[0]),
                "nvidia.com/gpu.compute.minor": str(hw.compute[1]),
                "nvidia.com/cuda.driver.major": str(hw.driver[0]),
                "nvidia.com/cuda.driver.minor": str(hw.driver[1]),
                "nvidia.com/cuda.driver.rev": str(hw.driver[2]),
                "nvidia.com/cuda.runtime.major": str(hw.cuda_runtime[0]),
                "nvidia.com/cuda.runtime.minor": str(hw.cuda_runtime[1]),
                "nvidia.com/gpu.replicas": "1",
                "nvidia.com/gpu.sharing-strategy": "none",
                "nvidia.com/mig.capable": "true" if hw.family in ("hopper", "ampere") else "false",
                "nvidia.com/gpu.deploy.device-plugin": "true",
                "nvidia.com/gpu.deploy.dcgm-exporter": "true",
            }
        )
        spec["taints"] = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
        gpu_res = {"nvidia.com/gpu": str(node.gpus)}
    labels["node.kubernetes.io/instance-type"] = instance
    mem_ki = mem_gi * 1024 * 1024
    ready_since = rfc3339(created + timedelta(minutes=2))
    conditions = [
        _node_condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            ready_since,
        ),
        _node_condition(
            "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", ready_since
        ),
        _node_condition(
            "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", ready_since
        ),
        _node_condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", ready_since),
    ]
    return {
        "metadata": {
            "name": node.name,
            "uid": stable_uuid(seed, "node", node.name),
            "resourceVersion": _version(seed, "node", node.name),
            "creationTimestamp": rfc3339(created),
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": spec,
        "status": {
            "capacity": {"cpu": str(cpu), "memory": f"{mem_ki}Ki", "pods": "110", **gpu_res},
            "allocatable": {
                "cpu": f"{node.cpu_m}m",
                "memory": f"{mem_ki - 2 * 1024 * 1024}Ki",
                "pods": "110",
                **gpu_res,
            },
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": node.ip},
                {"type": "Hostname", "address": node.name},
                {"type": "InternalDNS", "address": node.name},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2023.6.20250107",
                "kernelVersion": "6.1.119-129.201.amzn2023.x86_64",
                "containerRuntimeVersion": "containerd://1.7.25",
                "kubeletVersion": "v1.31.4-eks-aeac579",
            },
        },
    }


def _node_condition(kind: str, status: str, reason: str, message: str, since: str) -> dict[str, str]:
    return {
        "type": kind,
        "status": status,
        "lastHeartbeatTime": since,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def _resources(spec: ServiceSpec, gpus: int) -> dict[str, Any]:
    res: dict[str, str] = {"cpu": spec.cpu, "memory": spec.memory}
    if gpus:
        res["nvidia.com/gpu"] = str(gpus)
    return {"limits": res, "requests": dict(res)}


def _main_container(spec: ServiceSpec, gpus: int, prefill: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": VLLM_IMAGE,
        "command": ["vllm", "serve", "/mnt/models"],
        "args": [
            "--served-model-name",
            spec.model_name,
            f"publishers/{spec.namespace}/models/{spec.name}",
            "--port",
            "8000",
        ],
        "ports": [{"name": "https", "containerPort": 8000, "protocol": "TCP"}],
        "resources": _resources(spec, gpus),
    }
    if spec.prefill_replicas:
        role = "kv_producer" if prefill else "kv_consumer"
        kv = f'--kv_transfer_config \'{{"kv_connector":"NixlConnector","kv_role":"{role}"}}\''
        container["env"] = [{"name": "VLLM_ADDITIONAL_ARGS", "value": kv}]
    return container


def _epp_container() -> dict[str, Any]:
    return {
        "name": "main",
        "image": EPP_IMAGE,
        "ports": [
            {"name": "grpc", "containerPort": 9002, "protocol": "TCP"},
            {"name": "grpc-health", "containerPort": 9003, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
            {"name": "zmq", "containerPort": 5557, "protocol": "TCP"},
        ],
        "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
    }


def _pod_template(spec: ServiceSpec, prefill: bool = False) -> dict[str, Any]:
    template: dict[str, Any] = {"containers": [_main_container(spec, spec.gpus_per_pod, prefill)]}
    if spec.hardware:
        template["nodeSelector"] = {"nvidia.com/gpu.product": HARDWARE[spec.hardware].product}
        template["tolerations"] = [dict(t) for t in _GPU_TOLERATION]
    return template


class PodParts:
    """The sub-dicts one service's pods share (built once per service, reused by every pod)."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.main = [_main_container(spec, spec.gpus_per_pod)]
        self.prefill = [_main_container(spec, spec.gpus_per_pod, prefill=True)] if spec.prefill_replicas else []
        self.epp = [_epp_container()]
        self.selector = {"nvidia.com/gpu.product": HARDWARE[spec.hardware].product} if spec.hardware else None
        self.tolerations = [dict(t) for t in _GPU_TOLERATION] if spec.hardware else None
        self.model = model_label(spec.model_name)
        self._owners: dict[str, str] = {}

    def owner_uid(self, seed: int, kind: str, namespace: str, name: str) -> str:
        """The uid of an owning ReplicaSet/StatefulSet (cached: many pods share one owner)."""
        uid = self._owners.get(name)
        if uid is None:
            uid = self._owners[name] = stable_uuid(seed, kind, namespace, name)
        return uid


def pod_object(
    plan: FleetPlan, index: int, parts: PodParts, start: datetime, now: datetime | None = None
) -> dict[str, Any]:
    """Pod ``index`` of ``plan`` as a list item (``now`` sets a crash-looping pod's restart count)."""
    seed = plan.seed
    pod = plan.pods[index]
    spec = plan.services[pod.service]
    created = start - timedelta(seconds=pod.age_s)
    ids = _PodIds(seed, pod.namespace, pod.name)
    labels = {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/part-of": PART_OF}
    labels["app.kubernetes.io/component"] = pod.component
    if pod.kind == "epp":
        labels["pod-template-hash"] = pod.owner.rsplit("-", 1)[1]
        owner = ("apps/v1", "ReplicaSet", pod.owner)
        containers, port = parts.epp, "9090"
    else:
        labels.update({"kserve.io/component": "workload", "llm-d.ai/role": pod.role, "llm-d.ai/model": parts.model})
        containers, port = (parts.prefill if pod.kind == "prefill" else parts.main), "8000"
        if pod.kind in ("leader", "worker"):
            lws = f"{spec.name}-kserve-mn"
            labels["leaderworkerset.sigs.k8s.io/name"] = lws
            labels["leaderworkerset.sigs.k8s.io/group-index"] = str(pod.replica)
            labels["leaderworkerset.sigs.k8s.io/worker-index"] = str(pod.worker)
            owner = ("apps/v1", "StatefulSet", lws if pod.kind == "leader" else pod.owner)
        else:
            labels["pod-template-hash"] = pod.owner.rsplit("-", 1)[1]
            owner = ("apps/v1", "ReplicaSet", pod.owner)
    meta: dict[str, Any] = {
        "name": pod.name,
        "namespace": pod.namespace,
        "uid": ids.uid,
        "resourceVersion": ids.version,
        "creationTimestamp": rfc3339(created),
        "labels": labels,
        "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics"},
        "ownerReferences": [
            {
                "apiVersion": owner[0],
                "kind": owner[1],
                "name": owner[2],
                "uid": parts.owner_uid(seed, owner[1], pod.namespace, owner[2]),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if owner[1] == "ReplicaSet":
        meta["generateName"] = pod.owner + "-"
    pod_spec: dict[str, Any] = {
        "containers": containers,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": f"{spec.name}-kserve" if pod.kind != "epp" else f"{spec.name}-epp-sa",
        "terminationGracePeriodSeconds": 30,
    }
    if pod.kind != "epp" and parts.selector is not None:
        pod_spec["nodeSelector"] = parts.selector
        pod_spec["tolerations"] = parts.tolerations
    if pod.node >= 0:
        pod_spec["nodeName"] = plan.nodes[pod.node].name
    return {"metadata": meta, "spec": pod_spec, "status": _pod_status(plan, pod, ids, created, start, now or start)}


def _pod_status(
    plan: FleetPlan, pod: PodRec, ids: _PodIds, created: datetime, start: datetime, now: datetime
) -> dict[str, Any]:
    since = rfc3339(created)
    if pod.node < 0:
        message = plan.unschedulable_message(pod)
        return {
            "phase": "Pending",
            "conditions": [_pod_condition("PodScheduled", "False", since, "Unschedulable", message)],
            "qosClass": "Guaranteed",
        }
    node = plan.nodes[pod.node]
    image = EPP_IMAGE if pod.kind == "epp" else VLLM_IMAGE
    seed = plan.seed
    cs: dict[str, Any] = {
        "name": "main",
        "image": image,
        "imageID": _IMAGE_IDS[image],
        "containerID": ids.container,
        "restartCount": pod.restarts,
        "ready": pod.ready,
        "started": pod.ready,
    }
    started = created + timedelta(seconds=40 if pod.kind == "epp" else 150)
    ready = "True" if pod.ready else "False"
    not_ready = (None, None) if pod.ready else ("ContainersNotReady", "containers with unready status: [main]")
    if pod.state == "crashloop":
        restarts = crashloop_restarts(pod, start, now)
        elapsed = max(0.0, (now - start).total_seconds())
        last_death = start + timedelta(seconds=elapsed - elapsed % CRASH_BACKOFF_S) - timedelta(seconds=5)
        cs["restartCount"] = restarts
        cs["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 5m0s restarting failed container=main pod={pod.name}_{pod.namespace}({ids.uid})",
            }
        }
        cs["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": rfc3339(last_death - timedelta(seconds=25)),
                "finishedAt": rfc3339(last_death),
                "containerID": cs["containerID"],
            }
        }
    elif pod.state == "oomkilled":
        killed = start - timedelta(seconds=pod.event_age_s)
        cs["state"] = {"running": {"startedAt": rfc3339(killed + timedelta(seconds=10))}}
        cs["lastState"] = {
            "terminated": {
                "exitCode": 137,
                "reason": "OOMKilled",
                "startedAt": rfc3339(started),
                "finishedAt": rfc3339(killed),
                "containerID": f"containerd://{_hex(seed, 64, 'old', pod.namespace, pod.name)}",
            }
        }
    else:
        cs["state"] = {"running": {"startedAt": rfc3339(started)}}
        cs["lastState"] = {}
    ready_at = rfc3339(started + timedelta(seconds=60))
    if pod.state == "crashloop":
        ready_at = rfc3339(start - timedelta(seconds=pod.event_age_s))  # when it first crashed
    return {
        "phase": "Running",
        "conditions": [
            _pod_condition("PodReadyToStartContainers", "True", since),
            _pod_condition("Initialized", "True", since),
            _pod_condition("Ready", ready, ready_at, *not_ready),
            _pod_condition("ContainersReady", ready, ready_at, *not_ready),
            _pod_condition("PodScheduled", "True", since),
        ],
        "hostIP": node.ip,
        "hostIPs": [{"ip": node.ip}],
        "podIP": ids.ip,
        "podIPs": [{"ip": ids.ip}],
        "startTime": since,
        "containerStatuses": [cs],
        "qosClass": "Guaranteed",
    }


def _pod_condition(
    kind: str, status: str, since: str, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _min_available(replicas: int) -> int:
    # Ready while at most one replica is unavailable (maxUnavailable 1), but never with none ready.
    return 0 if replicas <= 0 else max(1, replicas - 1)


def service_object(plan: FleetPlan, index: int, start: datetime) -> dict[str, Any]:
    """LLMInferenceService ``index`` of ``plan`` as a list item (v1alpha2, or v1alpha1 where planned)."""
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
    spec["template"] = _pod_template(s)
    if s.multinode:
        spec["worker"] = _pod_template(s)
    if s.prefill_replicas:
        spec["prefill"] = {
            "replicas": s.prefill_replicas,
            "parallelism": dict(s.parallelism),
            "template": _pod_template(s, prefill=True),
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
            "resourceVersion": _version(seed, "llmisvc", s.namespace, s.name),
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
