"""Kubernetes object dicts of the simulated fleet, shaped exactly as a list call's ``items`` holds them.

This module builds namespaces and nodes and holds what every builder shares (identifiers, timestamps,
container specs); :mod:`mtop.sources.pod_objects` builds pods and :mod:`mtop.sources.service_objects`
LLMInferenceServices. Core objects (nodes, pods, namespaces) carry no ``apiVersion``/``kind`` per item,
as the API server's list responses do not; LLMInferenceService items (custom resources) do. Sub-dicts
that are the same for many pods (container specs, tolerations, node selectors) are shared between
them: treat every returned object as read-only.

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
from mtop.sources.topology import REGION, NodeRec

__all__ = [
    "EPP_IMAGE",
    "GATEWAY",
    "IMAGE_IDS",
    "PART_OF",
    "STORAGE_INITIALIZER_IMAGE",
    "VLLM_IMAGE",
    "epp_container",
    "hex_id",
    "main_container",
    "model_label",
    "namespace_object",
    "node_object",
    "pod_template",
    "resource_version",
    "rfc3339",
    "stable_uuid",
]

VLLM_IMAGE = "ghcr.io/llm-d/llm-d-cuda:v0.9.0"
EPP_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"
STORAGE_INITIALIZER_IMAGE = "kserve/storage-initializer:v0.16.0"
GATEWAY = "kserve-ingress-gateway.kserve.svc.cluster.local"
PART_OF = "llminferenceservice"
GPU_TOLERATION = ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
IMAGE_IDS = {
    image: f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
    for image in (VLLM_IMAGE, EPP_IMAGE, STORAGE_INITIALIZER_IMAGE)
}


def rfc3339(dt: datetime) -> str:
    """A UTC timestamp as Kubernetes writes it (seconds, ``Z``).

    >>> rfc3339(datetime(2026, 8, 1, 10, 0, 5, 999, tzinfo=UTC))
    '2026-08-01T10:00:05Z'
    """
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


def hex_id(seed: int, n: int, *parts: str) -> str:
    """``n`` hex digits that depend only on ``seed`` and ``parts``.

    >>> len(hex_id(0, 10, "rs")), hex_id(0, 10, "rs") == hex_id(0, 10, "rs")
    (10, True)
    """
    return hashlib.blake2b("\x1f".join((str(seed), *parts)).encode(), digest_size=(n + 1) // 2).hexdigest()[:n]


def resource_version(seed: int, *parts: str) -> str:
    """A stable ``metadata.resourceVersion`` (a decimal string, as etcd revisions are).

    >>> resource_version(0, "pod", "a").isdigit()
    True
    """
    return str(100000 + int(hex_id(seed, 7, "rv", *parts), 16) % 9000000)


def model_label(model_name: str) -> str:
    """The ``llm-d.ai/model`` label value for a model name (last path part, label-safe).

    >>> model_label("Qwen/Qwen2.5-7B-Instruct")
    'Qwen2.5-7B-Instruct'
    """
    short = re.sub(r"[^A-Za-z0-9._-]", "-", model_name.rsplit("/", 1)[-1])[:63]
    return short.strip("-._") or "model"


def namespace_object(seed: int, name: str, start: datetime) -> dict[str, Any]:
    """A Namespace as a list item.

    >>> namespace_object(0, "staging", datetime(2026, 8, 1, tzinfo=UTC))["status"]
    {'phase': 'Active'}
    """
    return {
        "metadata": {
            "name": name,
            "uid": stable_uuid(seed, "namespace", name),
            "resourceVersion": resource_version(seed, "ns", name),
            "creationTimestamp": rfc3339(start - timedelta(days=400)),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def node_object(seed: int, node: NodeRec, start: datetime) -> dict[str, Any]:
    """A Node as a list item, with GPU Feature Discovery labels on GPU nodes.

    >>> node = NodeRec("ip-10-0-1-2.us-west-2.compute.internal", "H100", "us-west-2a", "10.0.1.2", 8, 191500, 30.0)
    >>> obj = node_object(0, node, datetime(2026, 8, 1, tzinfo=UTC))
    >>> obj["metadata"]["labels"]["nvidia.com/gpu.product"], obj["status"]["allocatable"]["nvidia.com/gpu"]
    ('NVIDIA-H100-80GB-HBM3', '8')
    """
    created = start - timedelta(days=node.age_days)
    labels: dict[str, str] = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": node.name,
        "topology.kubernetes.io/region": REGION,
        "topology.kubernetes.io/zone": node.zone,
    }
    spec: dict[str, Any] = {"providerID": f"aws:///{node.zone}/i-0{hex_id(seed, 16, 'i', node.name)}"}
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
            "resourceVersion": resource_version(seed, "node", node.name),
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


def main_container(spec: ServiceSpec, gpus: int, prefill: bool = False) -> dict[str, Any]:
    """The vLLM container ``main`` of a service's pods (a P/D side gets its NIXL KV-transfer role).

    >>> from mtop.sources.fleet_spec import DEFAULT_SERVICES
    >>> main_container(DEFAULT_SERVICES[2], 4)["resources"]["limits"]["nvidia.com/gpu"]
    '4'
    """
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


def epp_container() -> dict[str, Any]:
    """The endpoint picker's container ``main`` (metrics on port 9090).

    >>> [p["containerPort"] for p in epp_container()["ports"]]
    [9002, 9003, 9090, 5557]
    """
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


def pod_template(spec: ServiceSpec, prefill: bool = False) -> dict[str, Any]:
    """A service's ``spec.template`` PodSpec: the ``main`` container, pinned to its GPU type.

    >>> from mtop.sources.fleet_spec import DEFAULT_SERVICES
    >>> pod_template(DEFAULT_SERVICES[0])["nodeSelector"]
    {'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB'}
    """
    template: dict[str, Any] = {"containers": [main_container(spec, spec.gpus_per_pod, prefill)]}
    if spec.hardware:
        template["nodeSelector"] = {"nvidia.com/gpu.product": HARDWARE[spec.hardware].product}
        template["tolerations"] = [dict(t) for t in GPU_TOLERATION]
    return template
