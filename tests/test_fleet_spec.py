"""The static simulated fleet: services, nodes, pods and scheduling, read through list_objects."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from mtop.config import default_config
from mtop.sources.fleet_spec import DEFAULT_SERVICES, build_services, dns_label
from mtop.sources.simulated import SimulatedFleet

START = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

# The rich models of the earlier mtop (original-mtop.md 2.1): namespace, GPUs per replica, replicas, Ready.
LEGACY = {
    "claude-3-haiku": ("production", 1, 3, True),
    "claude-3-opus": ("production", 8, 2, False),
    "codellama-34b-instruct": ("development", 4, 2, True),
    "deepseek-r1-distill-llama-8b": ("production", 1, 6, True),
    "deepseek-r1-distill-qwen-1-5b": ("development", 1, 10, True),
    "gemini-pro": ("production", 2, 5, True),
    "gpt-4-turbo": ("production", 4, 8, True),
    "granite-3-2b-instruct": ("staging", 0, 15, True),
    "granite-3-8b-instruct": ("production", 1, 8, True),
    "llama-3-70b-instruct": ("staging", 8, 4, False),
    "llama-3-8b-instruct": ("production", 1, 12, True),
    "mixtral-8x7b-instruct": ("production", 2, 6, True),
    "phi-3-medium-instruct": ("staging", 1, 8, True),
    "stable-code-instruct-3b": ("development", 1, 6, True),
}


def _fleet(seed: int = 0, services: int | None = None) -> SimulatedFleet:
    return SimulatedFleet(default_config(), seed=seed, services=services, start=START, clock="frozen")


@pytest.fixture(scope="module")
def fleet() -> SimulatedFleet:
    return _fleet()


@pytest.fixture(scope="module")
def objects(fleet: SimulatedFleet) -> dict[str, list[dict[str, Any]]]:
    return {k: fleet.list_objects(k) for k in ("llminferenceservices", "pods", "nodes", "namespaces")}


def _svc(objects: dict[str, list[dict[str, Any]]], name: str) -> dict[str, Any]:
    return next(s for s in objects["llminferenceservices"] if s["metadata"]["name"] == name)


def _pods_of(objects: dict[str, list[dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [p for p in objects["pods"] if p["metadata"]["labels"].get("app.kubernetes.io/name") == name]


def _cond(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == kind)


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def _gpus(container: dict[str, Any]) -> int:
    return int(container["resources"]["limits"].get("nvidia.com/gpu", "0"))


def test_default_fleet_has_the_legacy_models_as_tabled(objects: dict[str, list[dict[str, Any]]]) -> None:
    for name, (ns, gpus, replicas, ready) in LEGACY.items():
        svc = _svc(objects, name)
        assert svc["metadata"]["namespace"] == ns, name
        main = next(c for c in svc["spec"]["template"]["containers"] if c["name"] == "main")
        assert _gpus(main) == gpus, name
        assert svc["spec"].get("replicas", replicas) == replicas, name
        assert (_cond(svc, "Ready")["status"] == "True") is ready, name
        decode = [p for p in _pods_of(objects, name) if p["metadata"]["labels"].get("kserve.io/component")]
        assert len(decode) == replicas, name
    assert len({s["metadata"]["namespace"] for s in objects["llminferenceservices"]}) >= 4


def test_names_are_dns_1123(objects: dict[str, list[dict[str, Any]]]) -> None:
    for svc in objects["llminferenceservices"]:
        assert dns_label(svc["metadata"]["name"]) and dns_label(svc["metadata"]["namespace"])
    for kind in ("pods", "nodes", "namespaces"):
        for obj in objects[kind]:
            name = obj["metadata"]["name"]
            assert len(name) <= 253 and DNS_SUBDOMAIN.match(name), name
    assert not dns_label("deepseek-r1-distill-qwen-1_5b")


def _allocation(objects: dict[str, list[dict[str, Any]]]) -> tuple[Counter[str], dict[str, int]]:
    used: Counter[str] = Counter()
    for pod in objects["pods"]:
        node = pod["spec"].get("nodeName")
        if node:
            used[node] += sum(_gpus(c) for c in pod["spec"]["containers"])
    alloc = {
        n["metadata"]["name"]: int(n["status"]["allocatable"].get("nvidia.com/gpu", "0")) for n in objects["nodes"]
    }
    return used, alloc


def test_no_node_is_over_allocated_and_some_capacity_is_idle(objects: dict[str, list[dict[str, Any]]]) -> None:
    used, alloc = _allocation(objects)
    assert all(used[n] <= alloc[n] for n in alloc)
    gpu_nodes = [n for n in alloc if alloc[n] > 0]
    assert any(used[n] == 0 for n in gpu_nodes), "no whole idle GPU node"
    assert any(0 < used[n] < alloc[n] for n in gpu_nodes), "no partially used GPU node"
    assert any(alloc[n] == 0 for n in alloc), "no CPU-only node"


def test_pods_land_on_nodes_matching_their_selector(objects: dict[str, list[dict[str, Any]]]) -> None:
    labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in objects["nodes"]}
    for pod in objects["pods"]:
        node = pod["spec"].get("nodeName")
        if node is None:
            continue
        for key, value in (pod["spec"].get("nodeSelector") or {}).items():
            assert labels[node].get(key) == value, pod["metadata"]["name"]
        if "nvidia.com/gpu.present" in labels[node]:
            # GPU nodes are tainted: only pods that tolerate nvidia.com/gpu land there.
            assert any(t["key"] == "nvidia.com/gpu" for t in pod["spec"].get("tolerations") or [])


def test_gpu_nodes_carry_real_labels(objects: dict[str, list[dict[str, Any]]]) -> None:
    products = Counter()
    for node in objects["nodes"]:
        labels = node["metadata"]["labels"]
        if "nvidia.com/gpu.product" not in labels:
            continue
        products[labels["nvidia.com/gpu.product"]] += 1
        assert labels["nvidia.com/gpu.count"] == node["status"]["capacity"]["nvidia.com/gpu"]
        assert int(labels["nvidia.com/gpu.memory"]) > 20000
        assert labels["topology.kubernetes.io/zone"].startswith("us-west-2")
        assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in node["spec"]["taints"]
        assert _cond(node, "Ready")["status"] == "True"
    assert len(products) >= 4
    assert {"NVIDIA-H100-80GB-HBM3", "NVIDIA-H200", "NVIDIA-A100-SXM4-80GB", "NVIDIA-L40S", "NVIDIA-L4"} <= set(
        products
    )
    instance = {
        n["metadata"]["labels"].get("nvidia.com/gpu.product"): n["metadata"]["labels"][
            "node.kubernetes.io/instance-type"
        ]
        for n in objects["nodes"]
    }
    assert instance["NVIDIA-H100-80GB-HBM3"] == "p5.48xlarge" and instance["NVIDIA-L4"] == "g6.12xlarge"


@pytest.mark.parametrize("name", ["claude-3-opus", "llama-3-70b-instruct"])
def test_unschedulable_services_are_not_ready(objects: dict[str, list[dict[str, Any]]], name: str) -> None:
    svc = _svc(objects, name)
    for kind in ("MainWorkloadReady", "WorkloadsReady", "Ready"):
        cond = _cond(svc, kind)
        assert cond["status"] == "False"
        assert cond["reason"] == "MinimumReplicasUnavailable"
        assert cond["message"] == "Deployment does not have minimum availability."
    assert svc["status"]["workloads"]["primary"]["readyReplicas"] == 0
    model_pods = [p for p in _pods_of(objects, name) if p["metadata"]["labels"].get("kserve.io/component")]
    assert model_pods
    for pod in model_pods:
        assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
        scheduled = _cond(pod, "PodScheduled")
        assert scheduled["status"] == "False" and scheduled["reason"] == "Unschedulable"
        assert re.match(r"^0/\d+ nodes are available: .*\d+ Insufficient nvidia\.com/gpu", scheduled["message"])


def test_disaggregated_service(objects: dict[str, list[dict[str, Any]]]) -> None:
    svc = _svc(objects, "qwen2-7b-instruct-pd")
    assert svc["metadata"]["namespace"] == "llm-d-prod"
    assert svc["spec"]["replicas"] == 2 and svc["spec"]["prefill"]["replicas"] == 2
    roles = Counter(p["metadata"]["labels"].get("llm-d.ai/role") for p in _pods_of(objects, svc["metadata"]["name"]))
    assert roles == Counter({"decode": 2, "prefill": 2, None: 1})  # None: the endpoint picker
    prefill = [p for p in _pods_of(objects, "qwen2-7b-instruct-pd") if "-prefill-" in p["metadata"]["name"]]
    assert {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in prefill} == {
        "llminferenceservice-workload-prefill"
    }
    assert svc["status"]["workloads"]["prefill"]["readyReplicas"] == 2
    assert _cond(svc, "PrefillWorkloadReady")["status"] == "True"


def test_multinode_service(objects: dict[str, list[dict[str, Any]]]) -> None:
    svc = _svc(objects, "deepseek-v3")
    spec = svc["spec"]
    assert "worker" in spec and spec["parallelism"] == {"data": 16, "dataLocal": 8, "tensor": 1, "expert": True}
    pods = sorted(
        (p for p in _pods_of(objects, "deepseek-v3") if p["metadata"]["labels"].get("kserve.io/component")),
        key=lambda p: p["metadata"]["name"],
    )
    assert [p["metadata"]["name"] for p in pods] == ["deepseek-v3-kserve-mn-0", "deepseek-v3-kserve-mn-0-1"]
    assert [p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods] == [
        "llminferenceservice-workload-leader",
        "llminferenceservice-workload-worker",
    ]
    assert sum(_gpus(p["spec"]["containers"][0]) for p in pods) == 16
    assert svc["status"]["workloads"]["primary"]["kind"] == "LeaderWorkerSet"
    assert _cond(svc, "WorkerWorkloadReady")["status"] == "True"
    product = {n["metadata"]["name"]: n["metadata"]["labels"].get("nvidia.com/gpu.product") for n in objects["nodes"]}
    assert {product[p["spec"]["nodeName"]] for p in pods} == {"NVIDIA-H200"}


def test_v1alpha1_and_scaling_shapes(objects: dict[str, list[dict[str, Any]]]) -> None:
    v1 = [s for s in objects["llminferenceservices"] if s["apiVersion"] == "serving.kserve.io/v1alpha1"]
    assert len(v1) >= 3
    for svc in v1:
        assert "workloads" not in svc["status"] and "appliedConfigs" not in svc["status"]
    assert any("criticality" in s["spec"]["model"] for s in v1)
    v2 = [s for s in objects["llminferenceservices"] if s["apiVersion"] == "serving.kserve.io/v1alpha2"]
    assert all("criticality" not in s["spec"]["model"] for s in v2)
    scaled = [s for s in objects["llminferenceservices"] if "scaling" in s["spec"]]
    assert scaled and all("replicas" not in s["spec"] for s in scaled)
    for svc in scaled:
        lo, hi = svc["spec"]["scaling"]["minReplicas"], svc["spec"]["scaling"]["maxReplicas"]
        assert lo <= svc["status"]["workloads"]["primary"]["readyReplicas"] <= hi


def test_model_uris_and_metadata(objects: dict[str, list[dict[str, Any]]]) -> None:
    uris = {s["metadata"]["name"]: s["spec"]["model"]["uri"] for s in objects["llminferenceservices"]}
    assert uris["gpt-4-turbo"].startswith("s3://") and uris["llama-3-8b-instruct"].startswith("hf://")
    for svc in objects["llminferenceservices"]:
        meta = svc["metadata"]
        assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", meta["uid"])
        created = datetime.strptime(meta["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert created < START
        assert meta["generation"] == svc["status"]["observedGeneration"] >= 1
        assert int(meta["resourceVersion"]) > 0


def test_pods_are_labelled_as_kserve_labels_them(objects: dict[str, list[dict[str, Any]]]) -> None:
    pattern = re.compile(r"^(?P<svc>.+)-kserve-(?:prefill-|router-scheduler-)?[0-9a-f]{10}-[a-z0-9]{5}$")
    for pod in objects["pods"]:
        labels = pod["metadata"]["labels"]
        name = pod["metadata"]["name"]
        svc = labels["app.kubernetes.io/name"]
        assert labels["app.kubernetes.io/part-of"] == "llminferenceservice"
        component = labels["app.kubernetes.io/component"]
        if component == "llminferenceservice-router-scheduler":
            assert "kserve.io/component" not in labels and pod["spec"]["containers"][0]["name"] == "main"
            assert _gpus(pod["spec"]["containers"][0]) == 0
        else:
            assert labels["kserve.io/component"] == "workload"
            assert labels["llm-d.ai/role"] in ("decode", "prefill", "both")
            assert labels["llm-d.ai/model"]
            main = pod["spec"]["containers"][0]
            assert main["name"] == "main" and main["image"] == "ghcr.io/llm-d/llm-d-cuda:v0.9.0"
            assert main["ports"][0]["containerPort"] == 8000
            assert main["resources"]["limits"].get("nvidia.com/gpu") == main["resources"]["requests"].get(
                "nvidia.com/gpu"
            )
        if component.endswith(("-leader", "-worker")):
            assert re.match(rf"^{re.escape(svc)}-kserve-mn-\d+(-\d+)?$", name)
        else:
            m = pattern.match(name)
            assert m and m.group("svc") == svc, name
        kinds = [c["type"] for c in pod["status"]["conditions"]]
        if pod["status"]["phase"] == "Running":
            assert {"PodScheduled", "Initialized", "ContainersReady", "Ready"} <= set(kinds)


def test_both_role_without_prefill_and_epp_per_scheduler(objects: dict[str, list[dict[str, Any]]]) -> None:
    for svc in objects["llminferenceservices"]:
        name = svc["metadata"]["name"]
        pods = _pods_of(objects, name)
        roles = {p["metadata"]["labels"].get("llm-d.ai/role") for p in pods} - {None}
        assert roles == ({"decode", "prefill"} if "prefill" in svc["spec"] else {"both"}), name
        epp = [p for p in pods if p["metadata"]["labels"]["app.kubernetes.io/component"].endswith("router-scheduler")]
        assert len(epp) == (1 if "scheduler" in svc["spec"]["router"] else 0)


def test_ready_replicas_in_status_match_ready_pods(objects: dict[str, list[dict[str, Any]]]) -> None:
    for svc in objects["llminferenceservices"]:
        workloads = svc["status"].get("workloads")
        if not workloads or svc["status"]["workloads"]["primary"]["kind"] != "Deployment":
            continue
        ready = sum(
            1
            for p in _pods_of(objects, svc["metadata"]["name"])
            if p["metadata"]["labels"].get("app.kubernetes.io/component") == "llminferenceservice-workload"
            and _ready(p)
        )
        assert workloads["primary"]["readyReplicas"] == ready, svc["metadata"]["name"]


def test_exactly_one_crash_loop_and_one_oom_restart(objects: dict[str, list[dict[str, Any]]]) -> None:
    statuses = [
        (p, p["status"]["containerStatuses"][0]) for p in objects["pods"] if p["status"].get("containerStatuses")
    ]
    crash = [(p, cs) for p, cs in statuses if (cs["state"].get("waiting") or {}).get("reason") == "CrashLoopBackOff"]
    assert len(crash) == 1
    pod, cs = crash[0]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "phi-3-medium-instruct"
    assert pod["status"]["phase"] == "Running" and cs["ready"] is False and cs["restartCount"] > 0
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    oom = [(p, cs) for p, cs in statuses if (cs["lastState"].get("terminated") or {}).get("reason") == "OOMKilled"]
    assert len(oom) == 1
    assert oom[0][1]["ready"] is True and "running" in oom[0][1]["state"] and oom[0][1]["restartCount"] >= 1
    # One replica of eight down is within maxUnavailable: the service stays Ready.
    assert _cond(_svc(objects, "phi-3-medium-instruct"), "Ready")["status"] == "True"


def test_namespaces_and_filters(fleet: SimulatedFleet) -> None:
    names = [n["metadata"]["name"] for n in fleet.list_objects("namespaces")]
    assert {"production", "staging", "development", "llm-d-prod"} <= set(names)
    staging = fleet.list_objects("pods", namespaces=["staging"])
    assert staging and {p["metadata"]["namespace"] for p in staging} == {"staging"}
    assert fleet.list_objects("llminferenceservices", namespaces=["nope"]) == []
    assert len(fleet.list_objects("nodes", namespaces=["staging"])) == len(fleet.list_objects("nodes"))
    with pytest.raises(ValueError, match="deployments"):
        fleet.list_objects("deployments")


def test_objects_are_built_once_and_shared(fleet: SimulatedFleet) -> None:
    first, second = fleet.list_objects("nodes"), fleet.list_objects("nodes")
    assert first is not second and all(a is b for a, b in zip(first, second, strict=True))


def test_same_seed_same_objects_other_seed_differs() -> None:
    a, b, c = _fleet(0), _fleet(0), _fleet(1)
    for kind in ("llminferenceservices", "pods", "nodes"):
        assert a.list_objects(kind) == b.list_objects(kind)

    def uids(f: SimulatedFleet) -> list[str]:
        return [s["metadata"]["uid"] for s in f.list_objects("llminferenceservices")]

    def placement(f: SimulatedFleet) -> list[str]:
        return sorted(p["spec"].get("nodeName", "") for p in f.list_objects("pods"))

    assert uids(a) != uids(c)
    assert placement(a) != placement(c)


def test_services_parameter_prefix_and_generated() -> None:
    assert [s.name for s in build_services(0, 3)] == [s.name for s in DEFAULT_SERVICES[:3]]
    small = _fleet(services=5)
    assert len(small.list_objects("llminferenceservices")) == 5
    grown = build_services(0, 60)
    assert len(grown) == 60 and len({(s.namespace, s.name) for s in grown}) == 60
    assert all(dns_label(s.name) and dns_label(s.namespace) for s in grown)
    assert grown[:16] == build_services(0, None)  # growing the fleet keeps the services it had
    with pytest.raises(ValueError, match="services"):
        build_services(0, -1)


def test_thousand_services_fleet() -> None:
    fleet = _fleet(services=1000)
    objects = {k: fleet.list_objects(k) for k in ("llminferenceservices", "pods", "nodes")}
    assert len(objects["llminferenceservices"]) >= 1000
    assert len(objects["pods"]) >= 10_000
    assert 40 <= len(fleet.list_objects("namespaces")) <= 60
    used, alloc = _allocation({**objects, "namespaces": []})
    assert all(used[n] <= alloc[n] for n in alloc)
    running = sum(1 for p in objects["pods"] if p["status"]["phase"] == "Running")
    assert running >= 0.95 * len(objects["pods"])
