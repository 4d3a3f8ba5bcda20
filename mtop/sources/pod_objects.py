"""Pod objects of the simulated fleet, as a pod list's ``items`` holds them.

Model pods are labelled as KServe labels them (``app.kubernetes.io/{name,part-of,component}``,
``kserve.io/component: workload``, ``llm-d.ai/role``, ``llm-d.ai/model``) and named after their
owner (ReplicaSet ``<svc>-kserve-<hash>``, ``<svc>-kserve-prefill-<hash>``, LeaderWorkerSet
``<svc>-kserve-mn-<group>[-<worker>]``); the endpoint picker is ``<svc>-kserve-router-scheduler-<hash>-<x>``.
Statuses: Running and Ready; Pending and Unschedulable; the one crash-looping pod (restarts grow
with time); the one pod restarted after an OOM kill.

>>> from datetime import UTC, datetime
>>> from mtop.sources.topology import plan_fleet
>>> plan = plan_fleet(0, 2)
>>> pod = pod_object(plan, 0, PodParts(plan.services[0]), datetime(2026, 8, 1, tzinfo=UTC))
>>> pod["metadata"]["labels"]["app.kubernetes.io/component"]
'llminferenceservice-workload'
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

from mtop.sources.fleet_spec import ServiceSpec
from mtop.sources.hardware import HARDWARE
from mtop.sources.objects import (
    EPP_IMAGE,
    GPU_TOLERATION,
    IMAGE_IDS,
    PART_OF,
    STORAGE_INITIALIZER_IMAGE,
    VLLM_IMAGE,
    epp_container,
    hex_id,
    main_container,
    model_label,
    rfc3339,
    stable_uuid,
)
from mtop.sources.pod_specs import (
    DEFAULT_TOLERATIONS,
    RuntimeParts,
    token_mount,
    token_volume,
    token_volume_name,
)
from mtop.sources.topology import FleetPlan, PodRec

__all__ = ["CRASH_BACKOFF_S", "PodParts", "crashloop_restarts", "pod_object"]

CRASH_BACKOFF_S = 300.0
"""A crash-looping container restarts about every 5 minutes (the kubelet's maximum back-off)."""


_POD_DEFAULTS = {
    "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst",
    "securityContext": {},
    "enableServiceLinks": True,
    "priority": 0,
    "preemptionPolicy": "PreemptLowerPriority",
}
"""What the API server's defaulting and the Priority admission plugin write into every pod spec."""


class _PodIds:
    """Every per-pod identifier from one hash (10,000 pods: one digest each, not five)."""

    __slots__ = ("container", "init_container", "ip", "token_volume", "uid", "version")

    def __init__(self, seed: int, namespace: str, name: str) -> None:
        d = hashlib.blake2b(f"{seed}\x1fpod\x1f{namespace}\x1f{name}".encode(), digest_size=64).digest()
        self.uid = str(uuid.UUID(bytes=d[:16], version=4))
        self.version = str(100000 + int.from_bytes(d[16:20]) % 9000000)
        self.container = "containerd://" + d[20:52].hex()
        self.ip = f"10.{64 + d[52] % 64}.{d[53]}.{d[54] or 1}"
        self.token_volume = token_volume_name(d[55:60])
        self.init_container = "containerd://" + hashlib.blake2b(d, digest_size=32).hexdigest()


def crashloop_restarts(pod: PodRec, start: datetime, now: datetime) -> int:
    """Restarts of a crash-looping pod at ``now``: its count at ``start`` plus one per back-off period.

    >>> from datetime import UTC, timedelta
    >>> from mtop.sources.topology import plan_fleet
    >>> pod = next(p for p in plan_fleet(0, None).pods if p.state == "crashloop")
    >>> t0 = datetime(2026, 8, 1, tzinfo=UTC)
    >>> crashloop_restarts(pod, t0, t0 + timedelta(minutes=16)) - crashloop_restarts(pod, t0, t0)
    3
    """
    elapsed = (now - start).total_seconds()
    return pod.restarts + (int(elapsed // CRASH_BACKOFF_S) if elapsed > 0 else 0)


class PodParts:
    """The sub-dicts one service's pods share (built once per service, reused by every pod).

    >>> from mtop.sources.fleet_spec import DEFAULT_SERVICES
    >>> PodParts(DEFAULT_SERVICES[14]).model
    'Qwen2.5-7B-Instruct'
    """

    def __init__(self, spec: ServiceSpec) -> None:
        self.runtime = RuntimeParts(spec)
        self.main = [self.runtime.render(main_container(spec, spec.gpus_per_pod))]
        self.prefill = (
            [self.runtime.render(main_container(spec, spec.gpus_per_pod, True))] if spec.prefill_replicas else []
        )
        self.epp = [epp_container()]
        self.selector = {"nvidia.com/gpu.product": HARDWARE[spec.hardware].product} if spec.hardware else None
        gpu = [dict(t) for t in GPU_TOLERATION] if spec.hardware else []
        self.tolerations = [*gpu, *DEFAULT_TOLERATIONS]
        self.epp_tolerations = list(DEFAULT_TOLERATIONS)
        self.model = model_label(spec.model_name)
        self._owners: dict[str, str] = {}

    def owner_uid(self, seed: int, kind: str, namespace: str, name: str) -> str:
        """The uid of an owning ReplicaSet/StatefulSet (cached: many pods share one owner).

        >>> from mtop.sources.fleet_spec import DEFAULT_SERVICES
        >>> parts = PodParts(DEFAULT_SERVICES[0])
        >>> parts.owner_uid(0, "ReplicaSet", "ns", "rs") == parts.owner_uid(0, "ReplicaSet", "ns", "rs")
        True
        """
        uid = self._owners.get(name)
        if uid is None:
            uid = self._owners[name] = stable_uuid(seed, kind, namespace, name)
        return uid


def pod_object(
    plan: FleetPlan, index: int, parts: PodParts, start: datetime, now: datetime | None = None
) -> dict[str, Any]:
    """Pod ``index`` of ``plan`` as a list item (``now`` sets a crash-looping pod's restart count).

    >>> from datetime import UTC
    >>> from mtop.sources.topology import plan_fleet
    >>> plan = plan_fleet(0, 2)
    >>> pending = next(k for k, p in enumerate(plan.pods) if p.state == "pending")
    >>> pod = pod_object(plan, pending, PodParts(plan.services[1]), datetime(2026, 8, 1, tzinfo=UTC))
    >>> pod["status"]["phase"], pod["status"]["conditions"][0]["reason"]
    ('Pending', 'Unschedulable')
    """
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
    token = ids.token_volume
    pod_spec: dict[str, Any] = {"restartPolicy": "Always", "schedulerName": "default-scheduler"}
    if pod.kind == "epp":
        pod_spec["containers"] = [{**c, "volumeMounts": [token_mount(token)]} for c in containers]
        pod_spec["volumes"] = [token_volume(token)]
        pod_spec["serviceAccountName"] = f"{spec.name}-epp-sa"
        pod_spec["tolerations"] = parts.epp_tolerations
    else:
        pod_spec["initContainers"] = parts.runtime.init_containers(token)
        pod_spec["containers"] = parts.runtime.mount(containers, token)
        pod_spec["volumes"] = parts.runtime.volumes(token)
        pod_spec["serviceAccountName"] = f"{spec.name}-kserve"
        if parts.selector is not None:
            pod_spec["nodeSelector"] = parts.selector
        pod_spec["tolerations"] = parts.tolerations
    pod_spec.update(_POD_DEFAULTS)
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
        "imageID": IMAGE_IDS[image],
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
                "containerID": f"containerd://{hex_id(seed, 64, 'old', pod.namespace, pod.name)}",
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
        **({} if pod.kind == "epp" else {"initContainerStatuses": [_storage_initializer_status(ids, created)]}),
        "containerStatuses": [cs],
        "qosClass": "Guaranteed",
    }


def _storage_initializer_status(ids: _PodIds, created: datetime) -> dict[str, Any]:
    """The storage initializer, done: it downloaded the model before vLLM started."""
    return {
        "name": "storage-initializer",
        "state": {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": rfc3339(created + timedelta(seconds=5)),
                "finishedAt": rfc3339(created + timedelta(seconds=140)),
                "containerID": ids.init_container,
            }
        },
        "lastState": {},
        "ready": True,
        "restartCount": 0,
        "image": STORAGE_INITIALIZER_IMAGE,
        "imageID": IMAGE_IDS[STORAGE_INITIALIZER_IMAGE],
        "containerID": ids.init_container,
        "started": False,
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
