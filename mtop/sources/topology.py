"""Nodes and pods of the simulated fleet, and where each pod runs (deterministic first-fit).

GPU pools are sized from the services that should fit: ``ceil(demand / GPUs per node)`` nodes, so a
pool that also hosts a deliberately unschedulable service never has a whole node free for it, plus
one idle node (and a little headroom for large fleets) in every other pool. Pods are placed in
service order, pending-by-design services last, each on the first node of its pool with enough free
``nvidia.com/gpu`` (or CPU, for CPU-only pods); nothing is ever over-allocated. A pod's GPUs are
consecutive device indexes on its node.

>>> plan = plan_fleet(0, None)
>>> sorted({p.state for p in plan.pods})
['crashloop', 'oomkilled', 'pending', 'running']
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from mtop.sources.fleet_spec import DEFAULT_SERVICES, ServiceSpec, build_services, rng_for
from mtop.sources.hardware import CPU_NODE, HARDWARE

__all__ = ["EPP_CPU_M", "ZONES", "FleetPlan", "NodeRec", "PodRec", "cpu_millis", "plan_fleet"]

ZONES = ("us-west-2a", "us-west-2b", "us-west-2c")
REGION = "us-west-2"
EPP_CPU_M = 500
_CPU_ALLOCATABLE_M = CPU_NODE.cpu * 1000 - 250  # what kubelet reserves on a node of that size
_HEX = "0123456789abcdef"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' alphabet for generated name suffixes
CRASHLOOP_SERVICE = "phi-3-medium-instruct"
OOM_SERVICE = "llama-3-8b-instruct"


@dataclass
class NodeRec:
    """One node: a GPU node of a hardware pool, or a CPU node (``hardware`` None).

    >>> NodeRec("n1", "L4", "us-west-2a", "10.0.1.2", 4, 47500, 30.0).used_gpus
    0
    """

    name: str
    hardware: str | None
    zone: str
    ip: str
    gpus: int
    cpu_m: int
    age_days: float
    used_gpus: int = 0
    used_cpu_m: int = 0


@dataclass
class PodRec:
    """One pod: which service and part of it, its resources, placement and health.

    >>> p = PodRec("s-kserve-abc-x", "ns", 0, "main", "both", "llminferenceservice-workload", 0, 0, 1, 4000, "s", 60.0)
    >>> p.ready, p.serves, p.node
    (True, True, -1)
    """

    name: str
    namespace: str
    service: int
    kind: str
    """``main`` (Deployment), ``leader``/``worker`` (LeaderWorkerSet), ``prefill`` or ``epp``."""
    role: str
    """``llm-d.ai/role``: decode, prefill or both; ``""`` for the endpoint picker."""
    component: str
    replica: int
    worker: int
    gpus: int
    cpu_m: int
    owner: str
    """Name of the owning ReplicaSet / LeaderWorkerSet group."""
    age_s: float
    node: int = -1
    gpu_start: int = -1
    state: str = "running"
    """``running``, ``pending`` (unschedulable), ``crashloop`` or ``oomkilled`` (restarted, now running)."""
    restarts: int = 0
    event_age_s: float = 0.0
    """Seconds before start of the last termination (OOM kill) or of the first crash (crash loop)."""

    @property
    def ready(self) -> bool:
        """Whether the pod's Ready condition is True (running, or restarted after an OOM kill).

        >>> sorted({p.state: p.ready for p in plan_fleet(0, None).pods}.items())
        [('crashloop', False), ('oomkilled', True), ('pending', False), ('running', True)]
        """
        return self.state in ("running", "oomkilled")

    @property
    def serves(self) -> bool:
        """Whether it is a ready vLLM pod (it exposes vLLM metrics and takes traffic).

        >>> [(p.state, p.kind, p.serves) for p in plan_fleet(0, 1).pods][:2]
        [('crashloop', 'main', False), ('running', 'main', True)]
        """
        return self.ready and self.kind != "epp"


@dataclass
class FleetPlan:
    """The static fleet: services, nodes and placed pods, with readiness facts per service.

    >>> plan = plan_fleet(0, 2)  # so small a fleet's one crash-looping pod is one of claude-3-haiku's 3
    >>> [s.name for s in plan.services], plan.ready_replicas
    (['claude-3-haiku', 'claude-3-opus'], [2, 0])
    """

    seed: int
    services: list[ServiceSpec]
    nodes: list[NodeRec]
    pods: list[PodRec]
    pods_of: list[list[int]] = field(default_factory=list)
    """Pod indexes of each service."""
    ready_replicas: list[int] = field(default_factory=list)
    ready_prefill: list[int] = field(default_factory=list)
    scheduler_ready: list[int] = field(default_factory=list)

    def unschedulable_message(self, pod: PodRec) -> str:
        """The scheduler's ``PodScheduled`` message for a pending pod, as kube-scheduler words it.

        >>> plan = plan_fleet(0, 2)
        >>> plan.unschedulable_message(next(p for p in plan.pods if p.state == "pending"))
        "0/7 nodes are available: 7 node(s) didn't match Pod's node affinity/selector."
        """
        spec = self.services[pod.service]
        pool = spec.hardware if pod.kind != "epp" else None
        matching = sum(1 for n in self.nodes if n.hardware == pool)
        total = len(self.nodes)
        resource = "nvidia.com/gpu" if pod.gpus else "cpu"
        reasons = [f"{matching} Insufficient {resource}"] if matching else []
        if total - matching:
            reasons.append(f"{total - matching} node(s) didn't match Pod's node affinity/selector")
        return f"0/{total} nodes are available: {', '.join(sorted(reasons))}."


def cpu_millis(quantity: str) -> int:
    """Millicores of a Kubernetes CPU quantity.

    >>> cpu_millis("500m"), cpu_millis("4")
    (500, 4000)
    """
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def plan_fleet(seed: int, services: int | None) -> FleetPlan:
    """Build the whole static fleet for ``seed`` (``services`` as in :func:`build_services`).

    >>> plan = plan_fleet(0, None)
    >>> all(n.used_gpus <= n.gpus for n in plan.nodes)
    True
    """
    specs = build_services(seed, services)
    pods = _make_pods(seed, specs)
    nodes = _make_nodes(seed, specs, pods)
    _schedule(specs, pods, nodes)
    plan = FleetPlan(seed, specs, nodes, pods)
    _mark_failures(seed, plan)
    _summarise(plan)
    return plan


def _suffix(rng: np.random.Generator, alphabet: str, n: int) -> str:
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=n))


def _make_pods(seed: int, specs: list[ServiceSpec]) -> list[PodRec]:
    rng = rng_for(seed, "pods")
    order = [i for i, s in enumerate(specs) if not s.pending] + [i for i, s in enumerate(specs) if s.pending]
    pods: list[PodRec] = []
    for i in order:
        pods.extend(_service_pods(rng, i, specs[i]))
    return pods


def _service_pods(rng: np.random.Generator, i: int, s: ServiceSpec) -> list[PodRec]:
    age_s = s.age_days * 86400.0
    used: set[str] = set()
    pods: list[PodRec] = []

    def name_for(prefix: str) -> str:
        while True:
            candidate = f"{prefix}-{_suffix(rng, _SAFE, 5)}"
            if candidate not in used:
                used.add(candidate)
                return candidate

    def pod_age() -> float:
        # Pending-by-design pods were created with their service; others were (re)started since.
        return age_s - 30.0 if s.pending else max(300.0, age_s * float(rng.uniform(0.05, 1.0)) - 60.0)

    def add(name: str, kind: str, role: str, component: str, replica: int, worker: int, owner: str) -> None:
        gpus, cpu = (0, EPP_CPU_M) if kind == "epp" else (s.gpus_per_pod, cpu_millis(s.cpu))
        age = max(300.0, age_s - 90.0) if kind == "epp" else pod_age()
        pods.append(PodRec(name, s.namespace, i, kind, role, component, replica, worker, gpus, cpu, owner, age))

    workload = "llminferenceservice-workload"
    if s.multinode:
        for r in range(s.replicas):
            group = f"{s.name}-kserve-mn-{r}"
            add(group, "leader", s.role, workload + "-leader", r, 0, group)
            for w in range(1, s.pods_per_replica):
                add(f"{group}-{w}", "worker", s.role, workload + "-worker", r, w, group)
    else:
        rs = f"{s.name}-kserve-{_suffix(rng, _HEX, 10)}"
        for r in range(s.replicas):
            add(name_for(rs), "main", s.role, workload, r, 0, rs)
    if s.prefill_replicas:
        rs = f"{s.name}-kserve-prefill-{_suffix(rng, _HEX, 10)}"
        for r in range(s.prefill_replicas):
            add(name_for(rs), "prefill", "prefill", workload + "-prefill", r, 0, rs)
    if s.scheduler:
        rs = f"{s.name}-kserve-router-scheduler-{_suffix(rng, _HEX, 10)}"
        add(name_for(rs), "epp", "", "llminferenceservice-router-scheduler", 0, 0, rs)
    return pods


def _pool_of(spec: ServiceSpec, pod: PodRec) -> str | None:
    return None if pod.kind == "epp" or pod.gpus == 0 else spec.hardware


def _make_nodes(seed: int, specs: list[ServiceSpec], pods: list[PodRec]) -> list[NodeRec]:
    rng = rng_for(seed, "nodes")
    gpu_demand: Counter[str] = Counter()
    cpu_demand = 0
    pending_pools = {s.hardware for s in specs if s.pending}
    for p in pods:
        spec = specs[p.service]
        pool = _pool_of(spec, p)
        if pool is None:
            cpu_demand += p.cpu_m
        elif not spec.pending:
            gpu_demand[pool] += p.gpus
    grown = len(specs) > len(DEFAULT_SERVICES)
    counts: list[tuple[str | None, int]] = []
    for key, hw in HARDWARE.items():
        need = math.ceil(gpu_demand[key] / hw.gpus_per_node)
        if key not in pending_pools:
            need += 1 + (math.ceil(need * 0.03) if grown else 0)  # one idle node; headroom for fragmentation
        counts.append((key, need))
    counts.append((None, math.ceil(cpu_demand / _CPU_ALLOCATABLE_M) + 1))
    total = sum(n for _, n in counts)
    # Unique private addresses, one subnet per zone: the node names EKS would give.
    hosts = rng.choice(np.arange(256, 65280), size=total, replace=False) if total < 60000 else np.arange(total) + 256
    zones = rng.integers(0, len(ZONES), size=total)
    ages = rng.uniform(20.0, 400.0, size=total)
    nodes: list[NodeRec] = []
    k = 0
    for pool, n in counts:
        for _ in range(n):
            z, h = int(zones[k]), int(hosts[k])
            ip = f"10.{z}.{h >> 8}.{h & 255}"
            name = f"ip-{ip.replace('.', '-')}.{REGION}.compute.internal"
            if pool is None:
                nodes.append(NodeRec(name, None, ZONES[z], ip, 0, _CPU_ALLOCATABLE_M, round(float(ages[k]), 3)))
            else:
                hw = HARDWARE[pool]
                cpu = hw.cpu * 1000 - 500
                nodes.append(NodeRec(name, pool, ZONES[z], ip, hw.gpus_per_node, cpu, round(float(ages[k]), 3)))
            k += 1
    return nodes


def _schedule(specs: list[ServiceSpec], pods: list[PodRec], nodes: list[NodeRec]) -> None:
    pools: dict[str | None, list[NodeRec]] = {}
    for n in nodes:
        pools.setdefault(n.hardware, []).append(n)
    index = {id(n): i for i, n in enumerate(nodes)}
    first_open: dict[str | None, int] = dict.fromkeys(pools, 0)
    for p in pods:
        key = _pool_of(specs[p.service], p)
        pool = pools.get(key, [])
        start = first_open.get(key, 0)
        # Nodes before `start` are full: skipping them keeps first-fit linear for 10,000 pods.
        while start < len(pool) and _full(pool[start]):
            start += 1
        first_open[key] = start
        for node in pool[start:]:
            if key is None:
                if node.cpu_m - node.used_cpu_m >= p.cpu_m:
                    node.used_cpu_m += p.cpu_m
                    p.node = index[id(node)]
                    break
            elif node.gpus - node.used_gpus >= p.gpus:
                p.gpu_start = node.used_gpus
                node.used_gpus += p.gpus
                p.node = index[id(node)]
                break
        if p.node < 0:
            p.state = "pending"


def _full(node: NodeRec) -> bool:
    if node.hardware is None:
        return node.cpu_m - node.used_cpu_m < EPP_CPU_M
    return node.used_gpus >= node.gpus


def _mark_failures(seed: int, plan: FleetPlan) -> None:
    """Exactly one crash-looping pod and one OOM-killed-then-restarted pod, on distinct services."""
    rng = rng_for(seed, "failures")
    candidates = [
        i
        for i, s in enumerate(plan.services)
        if s.hardware and not s.pending and not s.multinode and s.replicas >= 3 and s.prefill_replicas == 0
    ]
    names = [plan.services[i].name for i in candidates]
    crash = candidates[names.index(CRASHLOOP_SERVICE)] if CRASHLOOP_SERVICE in names else None
    oom = candidates[names.index(OOM_SERVICE)] if OOM_SERVICE in names else None
    rest = [i for i in candidates if i not in (crash, oom)]
    if crash is None and rest:
        crash = rest.pop(0)
    if oom is None and rest:
        oom = rest.pop(0)
    for svc, state in ((crash, "crashloop"), (oom, "oomkilled")):
        if svc is None:
            continue
        running = [p for p in plan.pods if p.service == svc and p.kind == "main" and p.state == "running"]
        if not running:
            continue
        pod = running[int(rng.integers(0, len(running)))]
        pod.state = state
        if state == "crashloop":
            pod.restarts = int(rng.integers(12, 60))
            pod.event_age_s = float(rng.uniform(2.0, 6.0)) * 3600.0
        else:
            pod.restarts = int(rng.integers(1, 4))
            pod.event_age_s = float(rng.uniform(600.0, 10800.0))


def _summarise(plan: FleetPlan) -> None:
    n = len(plan.services)
    plan.pods_of = [[] for _ in range(n)]
    for k, p in enumerate(plan.pods):
        plan.pods_of[p.service].append(k)
    plan.ready_replicas = [0] * n
    plan.ready_prefill = [0] * n
    plan.scheduler_ready = [0] * n
    for i, members in enumerate(plan.pods_of):
        groups: dict[int, bool] = {}
        for k in members:
            p = plan.pods[k]
            if p.kind in ("main", "leader", "worker"):
                groups[p.replica] = groups.get(p.replica, True) and p.ready
            elif p.kind == "prefill":
                plan.ready_prefill[i] += int(p.ready)
            else:
                plan.scheduler_ready[i] += int(p.ready)
        plan.ready_replicas[i] = sum(groups.values())
