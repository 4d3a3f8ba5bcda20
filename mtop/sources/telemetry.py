"""What the simulated fleet's exporters expose, and the catalogue's named queries computed from it.

Three exporters, with the real metric names and labels (``reference/domain.md`` sections 2-4):

- vLLM, on every ready model pod: ``vllm:num_requests_running``/``_waiting``, ``vllm:kv_cache_usage_perc``,
  ``vllm:request_success_total{finished_reason}``, ``vllm:prompt_tokens_total``,
  ``vllm:generation_tokens_total`` and the TTFT / inter-token / end-to-end latency histograms.
  Labels: ``model_name`` (``spec.model.name``), ``engine="0"``, plus ``namespace``, ``pod`` and
  ``container="main"`` (the target labels Prometheus's pod discovery would add, carried in the
  series so one endpoint can expose the whole fleet with ``honor_labels``).
- DCGM, on every GPU of every GPU node: ``DCGM_FI_DEV_GPU_UTIL``, ``_FB_USED``, ``_FB_FREE``,
  ``_FB_RESERVED``, ``_POWER_USAGE``, ``DCGM_FI_PROF_GR_ENGINE_ACTIVE``; labels ``gpu``, ``UUID``,
  ``pci_bus_id``, ``device``, ``modelName``, ``Hostname``, ``DCGM_FI_DRIVER_VERSION``, and ``namespace``,
  ``pod``, ``container`` only while a pod holds the GPU.
- The endpoint picker (EPP), one per service with ``router.scheduler``:
  ``inference_objective_request_total`` and ``inference_objective_request_error_total{error_code}``
  with ``model_name``/``target_model_name``, plus pool gauges ``inference_pool_average_kv_cache_utilization``,
  ``inference_pool_average_queue_size`` and ``inference_pool_ready_pods`` (label ``name``, the pool).

Prefill pods of a P/D service process the prompts (``vllm:prompt_tokens_total``); only decode/both pods
finish requests and generate tokens. A service's pods share its traffic equally. Queries read the same
numbers: a window rate is ``(C(t) - C(t - w)) / w`` of these counters, summed per service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mtop.catalogue import parse_duration
from mtop.promql import histogram_quantile_many
from mtop.sources.hardware import HARDWARE
from mtop.sources.mathx import hash_u64, unit_float
from mtop.sources.objects import stable_uuid
from mtop.sources.topology import FleetPlan
from mtop.sources.workload import HISTOGRAMS, SIGMA, TICK, TickState, WorkloadModel

__all__ = ["Telemetry"]

Labels = dict[str, str]
_FINISHED = ("stop", "length", "abort", "error")
_HIST_METRIC = {
    "ttft": "vllm:time_to_first_token_seconds",
    "itl": "vllm:inter_token_latency_seconds",
    "e2e": "vllm:e2e_request_latency_seconds",
}
_RATE_QUERIES: dict[str, tuple[str, tuple[int, ...]]] = {
    # query -> (counter family, columns summed)
    "request_rate": ("finished", (0, 1, 2, 3)),
    "error_request_rate": ("finished", (2, 3)),
    "prompt_tokens_rate": ("tokens", (0,)),
    "generation_tokens_rate": ("tokens", (1,)),
    "epp_request_rate": ("finished", (0, 1, 2, 3)),
    "epp_error_rate": ("finished", (2, 3)),
}
_QUANTILE_QUERIES = {"ttft_quantile": "ttft", "itl_quantile": "itl", "e2e_quantile": "e2e"}
_GPU_QUERIES = {
    "gpu_utilization": "util",
    "gpu_memory_used": "used",
    "gpu_memory_total": "total",
    "gpu_power": "power",
}
_QUEUE_K = 1.0
_RESERVED_FRACTION = 0.01
_IDLE_FB_MIB = 300.0


def _le(bound: float) -> str:
    # Bucket bounds as prometheus_client writes them: 1.0 -> "1.0", inf -> "+Inf".
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Telemetry:
    """Series tables of one fleet plan and the evaluation of queries and raw samples over its model.

    >>> from mtop.sources.topology import plan_fleet
    >>> plan = plan_fleet(0, 3)
    >>> model = WorkloadModel(plan, baseline_qps=10.0, spike_multiplier=2.0)
    >>> t = Telemetry(plan, model)
    >>> labels, values = t.evaluate("request_rate", {"window": "5m"}, np.array([86400.0]))
    >>> [lab["service"] for lab in labels], values.shape
    (['codellama-34b-instruct', 'claude-3-haiku'], (2, 1))
    """

    def __init__(self, plan: FleetPlan, model: WorkloadModel) -> None:
        self.plan = plan
        self.model = model
        seed = plan.seed
        specs = plan.services
        self._counter_cache: dict[str, tuple[int, NDArray[np.float64]]] = {}

        # vLLM pods: ready model pods, with their share of the service's requests and prompts.
        serving = [k for k, p in enumerate(plan.pods) if p.serves]
        self.pod_index = np.array(serving, dtype=np.int64)
        self.pod_service = np.array([plan.pods[k].service for k in serving], dtype=np.int64)
        prefill = np.array([plan.pods[k].kind == "prefill" for k in serving], dtype=bool)
        n_svc = len(specs)
        n_decode = np.bincount(self.pod_service[~prefill], minlength=n_svc).astype(np.float64)
        n_prefill = np.bincount(self.pod_service[prefill], minlength=n_svc).astype(np.float64)
        svc = self.pod_service
        self.req_share = np.where(prefill, 0.0, 1.0 / np.maximum(n_decode[svc], 1.0))
        has_prefill = n_prefill[svc] > 0
        self.prompt_share = np.where(
            has_prefill, np.where(prefill, 1.0 / np.maximum(n_prefill[svc], 1.0), 0.0), self.req_share
        )
        self.pod_is_prefill = prefill
        self.kv_offset = 0.04 * unit_float(hash_u64(seed, self.pod_index, salt=21)) - 0.02
        self.pod_labels: list[Labels] = [
            {
                "model_name": specs[plan.pods[k].service].model_name,
                "engine": "0",
                "namespace": plan.pods[k].namespace,
                "pod": plan.pods[k].name,
                "container": "main",
            }
            for k in serving
        ]
        emitting = np.bincount(svc, minlength=n_svc) > 0
        self.emitting = emitting
        """Services with at least one ready model pod: only they have vLLM series."""
        self.service_labels: list[Labels] = [{"namespace": s.namespace, "service": s.name} for s in specs]
        self.shown = np.array(
            sorted(np.flatnonzero(emitting).tolist(), key=lambda i: (specs[i].namespace, specs[i].name)), dtype=np.int64
        )
        """Indexes of the emitting services, in (namespace, service) order: the rows of per-service results."""

        # EPP pods (ready), one per service with a scheduler.
        epp = [k for k, p in enumerate(plan.pods) if p.kind == "epp" and p.ready]
        self.epp_service = np.array([plan.pods[k].service for k in epp], dtype=np.int64)
        self.epp_labels: list[Labels] = [
            {
                "model_name": specs[plan.pods[k].service].model_name,
                "target_model_name": specs[plan.pods[k].service].model_name,
                "namespace": plan.pods[k].namespace,
                "pod": plan.pods[k].name,
            }
            for k in epp
        ]
        self._build_gpus()

    def _build_gpus(self) -> None:
        plan, seed = self.plan, self.plan.seed
        holder: dict[tuple[int, int], int] = {}
        for k, p in enumerate(plan.pods):
            if p.node >= 0 and p.gpus > 0:
                for g in range(p.gpu_start, p.gpu_start + p.gpus):
                    holder[(p.node, g)] = k
        labels: list[Labels] = []
        pods: list[int] = []
        hw_keys: list[str] = []
        for n in sorted(range(len(plan.nodes)), key=lambda i: plan.nodes[i].name):
            node = plan.nodes[n]
            if node.hardware is None:
                continue
            hw = HARDWARE[node.hardware]
            for g in range(node.gpus):
                lab = {
                    "gpu": str(g),
                    "UUID": "GPU-" + stable_uuid(seed, "gpu", node.name, str(g)),
                    "pci_bus_id": f"00000000:{0x18 + 0x11 * g:02X}:00.0",
                    "device": f"nvidia{g}",
                    "modelName": hw.dcgm_name,
                    "Hostname": node.name,
                    "DCGM_FI_DRIVER_VERSION": ".".join(str(v) for v in hw.driver),
                }
                k = holder.get((n, g), -1)
                if k >= 0:
                    lab.update({"namespace": plan.pods[k].namespace, "pod": plan.pods[k].name, "container": "main"})
                labels.append(lab)
                pods.append(k)
                hw_keys.append(node.hardware)
        self.gpu_labels = labels
        self.gpu_pod = np.array(pods, dtype=np.int64)
        held = self.gpu_pod >= 0
        self.gpu_service = np.where(held, np.array([plan.pods[k].service if k >= 0 else 0 for k in pods]), -1)
        self.gpu_serving = np.array([k >= 0 and plan.pods[k].serves for k in pods], dtype=bool)
        self.gpu_total = np.array([HARDWARE[h].memory_mib for h in hw_keys], dtype=np.float64)
        self.gpu_idle_w = np.array([HARDWARE[h].idle_w for h in hw_keys], dtype=np.float64)
        self.gpu_tdp_w = np.array([HARDWARE[h].tdp_w for h in hw_keys], dtype=np.float64)
        gid = np.arange(len(pods))
        self.gpu_util_offset = 4.0 * unit_float(hash_u64(seed, gid, salt=31)) - 2.0
        self.gpu_mem_offset = np.round(400.0 * unit_float(hash_u64(seed, gid, salt=32)) - 200.0)

    # ----------------------------------------------------------------------------------------- gauges
    def pod_gauges(self, st: TickState) -> dict[str, NDArray[np.float64]]:
        """The vLLM gauges of every ready model pod (rows) at the state's ticks (columns).

        >>> from mtop.sources.topology import plan_fleet
        >>> plan = plan_fleet(0, 3)
        >>> model = WorkloadModel(plan, baseline_qps=10.0, spike_multiplier=2.0)
        >>> t = Telemetry(plan, model)
        >>> sorted(t.pod_gauges(t.model.state([5000]))), t.pod_gauges(t.model.state([5000]))["kv"].shape
        (['kv', 'running', 'waiting'], (4, 1))
        """
        svc = self.pod_service
        rate = st.rate[svc]
        rho = st.rho[svc]
        busy = rate > 0
        waiting = np.where(busy, np.round(_QUEUE_K * rho * rho / (1.0 - np.minimum(rho, 0.97))), 0.0)
        e2e_mean = st.e2e_median[svc] * math.exp(SIGMA["e2e"] ** 2 / 2.0)
        ttft_mean = st.ttft_median[svc] * math.exp(SIGMA["ttft"] ** 2 / 2.0)
        in_flight = np.where(
            self.pod_is_prefill[:, None],
            rate * self.prompt_share[:, None] * ttft_mean,
            rate * self.req_share[:, None] * e2e_mean,
        )
        kv = np.where(busy, np.clip(0.1 + 0.85 * rho + self.kv_offset[:, None], 0.0, 0.99), 0.0)
        return {"waiting": waiting, "running": np.round(in_flight), "kv": kv}

    def gpu_gauges(self, st: TickState) -> dict[str, NDArray[np.float64]]:
        """DCGM gauges of every GPU (rows) at the state's ticks (columns).

        >>> from mtop.sources.topology import plan_fleet
        >>> plan = plan_fleet(0, 3)
        >>> model = WorkloadModel(plan, baseline_qps=10.0, spike_multiplier=2.0)
        >>> t = Telemetry(plan, model)
        >>> g = t.gpu_gauges(t.model.state([5000]))
        >>> bool(np.all(g["used"] + g["free"] + g["reserved"] == g["total"]))
        True
        """
        # Unheld GPUs read an extra all-zero row (also keeps a fleet with no services indexable).
        padded = np.vstack([st.rho, np.zeros((1, st.rho.shape[1]))])
        rho = padded[np.where(self.gpu_service >= 0, self.gpu_service, len(st.rho))]
        serving = self.gpu_serving[:, None]
        util = np.where(serving, np.clip(np.round(5.0 + 90.0 * rho + self.gpu_util_offset[:, None]), 0, 100), 0.0)
        total = np.repeat(self.gpu_total[:, None], rho.shape[1], axis=1)
        reserved = np.round(total * _RESERVED_FRACTION)
        used = np.where(serving, np.round(0.9 * total + self.gpu_mem_offset[:, None]), _IDLE_FB_MIB)
        power = self.gpu_idle_w[:, None] + (self.gpu_tdp_w - self.gpu_idle_w)[:, None] * util / 100.0
        return {
            "util": util,
            "used": used,
            "free": total - used - reserved,
            "reserved": reserved,
            "total": total,
            "power": np.round(power, 2),
        }

    # ---------------------------------------------------------------------------------------- queries
    def evaluate(
        self, name: str, params: Mapping[str, Any], times: NDArray[np.float64]
    ) -> tuple[list[Labels], NDArray[np.float64]]:
        """Series labels and their values (``[series, times]``) of a named query at unix ``times``.

        >>> from mtop.sources.topology import plan_fleet
        >>> plan = plan_fleet(0, 3)
        >>> model = WorkloadModel(plan, baseline_qps=10.0, spike_multiplier=2.0)
        >>> t = Telemetry(plan, model)
        >>> labels, values = t.evaluate("gpu_power", {}, np.array([0.0, 60.0]))
        >>> len(labels) == values.shape[0], values.shape[1]
        (True, 2)
        """
        if name in _GPU_QUERIES:
            st = self.model.state(np.floor(times / TICK).astype(np.int64))
            return self.gpu_labels, self.gpu_gauges(st)[_GPU_QUERIES[name]]
        if name in ("queue_depth", "requests_running", "kv_cache_usage"):
            return self._service_gauge(name, times)
        window = parse_duration(str(params.get("window", "5m")))
        if name in _QUANTILE_QUERIES:
            family = _QUANTILE_QUERIES[name]
            inc = self.model.increase(family, times - window, times)
            n_buckets = len(HISTOGRAMS[family]) + 1
            buckets = np.transpose(inc[:, :n_buckets, :], (0, 2, 1))
            uppers = (*HISTOGRAMS[family], math.inf)
            values = histogram_quantile_many(float(params.get("q", 0.95)), uppers, buckets / window)
            return [self.service_labels[i] for i in self.shown], values[self.shown]
        if name in _RATE_QUERIES:
            family, columns = _RATE_QUERIES[name]
            inc = self.model.increase(family, times - window, times)
            per_service = inc[:, list(columns), :].sum(axis=1) / window
            if name.startswith("epp_"):
                return self._by_model(per_service)
            return [self.service_labels[i] for i in self.shown], per_service[self.shown]
        raise KeyError(name)

    def _service_gauge(self, name: str, times: NDArray[np.float64]) -> tuple[list[Labels], NDArray[np.float64]]:
        st = self.model.state(np.floor(times / TICK).astype(np.int64))
        gauges = self.pod_gauges(st)
        key = {"queue_depth": "waiting", "requests_running": "running", "kv_cache_usage": "kv"}[name]
        total = np.zeros((len(self.plan.services), times.size))
        np.add.at(total, self.pod_service, gauges[key])
        if name == "kv_cache_usage":
            counts = np.bincount(self.pod_service, minlength=len(self.plan.services))
            total = total / np.maximum(counts, 1)[:, None]
        return [self.service_labels[i] for i in self.shown], total[self.shown]

    def _by_model(self, per_service: NDArray[np.float64]) -> tuple[list[Labels], NDArray[np.float64]]:
        # sum by (namespace, model_name) over the EPP series of services that have vLLM series.
        groups: dict[tuple[str, str], list[int]] = {}
        for s in self.epp_service:
            if self.emitting[s]:
                spec = self.plan.services[int(s)]
                groups.setdefault((spec.namespace, spec.model_name), []).append(int(s))
        keys = sorted(groups)
        values = np.zeros((len(keys), per_service.shape[1]))
        for row, k in enumerate(keys):
            values[row] = per_service[groups[k]].sum(axis=0)
        return [{"namespace": ns, "model_name": m} for ns, m in keys], values

    # ---------------------------------------------------------------------------------------- samples
    def counters_at(self, family: str, t: float) -> NDArray[np.float64]:
        """Every service's counters of ``family`` at unix time ``t``, integrated from the fleet epoch.

        Integrals up to whole ticks are cached and extended forward, so a scrape every tick costs one tick.

        >>> from mtop.sources.topology import plan_fleet
        >>> plan = plan_fleet(0, 3)
        >>> model = WorkloadModel(plan, baseline_qps=10.0, spike_multiplier=2.0)
        >>> t = Telemetry(plan, model)
        >>> bool(np.all(t.counters_at("finished", 7200.0) >= t.counters_at("finished", 3600.0)))
        True
        """
        model = self.model
        k_t = int(np.floor(t / TICK))
        zero = np.zeros((len(self.plan.services), model.width(family)))
        if k_t < model.epoch_tick:
            return zero  # the fleet's counters start at its epoch
        cached = self._counter_cache.get(family)
        k_from, base = (model.epoch_tick, zero) if cached is None or cached[0] > k_t else cached
        # Accumulated onto the cached base tick by tick: the same floats as from the epoch (see counters).
        values = model.counters(family, k_from, [k_t * TICK, t], initial=base)
        self._counter_cache[family] = (k_t, values[:, :, 0])
        return values[:, :, 1]

    def samples(self, t: float) -> list[tuple[str, Labels, float]]:
        """Every raw series at unix time ``t``: ``(metric name, labels, value)``.

        >>> from mtop.sources.topology import plan_fleet
        >>> plan = plan_fleet(0, 3)
        >>> model = WorkloadModel(plan, baseline_qps=10.0, spike_multiplier=2.0)
        >>> t = Telemetry(plan, model)
        >>> sorted({name for name, _, _ in t.samples(3600.0)})[:2]
        ['DCGM_FI_DEV_FB_FREE', 'DCGM_FI_DEV_FB_RESERVED']
        """
        out: list[tuple[str, Labels, float]] = []
        k = np.array([int(np.floor(t / TICK))])
        st = self.model.state(k)
        self._vllm_samples(out, st, t)
        self._epp_samples(out, st, t)
        gauges = self.gpu_gauges(st)
        for metric, key, scale in (
            ("DCGM_FI_DEV_GPU_UTIL", "util", 1.0),
            ("DCGM_FI_DEV_FB_USED", "used", 1.0),
            ("DCGM_FI_DEV_FB_FREE", "free", 1.0),
            ("DCGM_FI_DEV_FB_RESERVED", "reserved", 1.0),
            ("DCGM_FI_DEV_POWER_USAGE", "power", 1.0),
            ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "util", 0.01),
        ):
            column = gauges[key][:, 0] * scale
            out.extend((metric, lab, float(v)) for lab, v in zip(self.gpu_labels, column, strict=True))
        return out

    def _vllm_samples(self, out: list[tuple[str, Labels, float]], st: TickState, t: float) -> None:
        gauges = self.pod_gauges(st)
        finished = self.counters_at("finished", t)
        tokens = self.counters_at("tokens", t)
        hists = {h: self.counters_at(h, t) for h in HISTOGRAMS}
        for row, labels in enumerate(self.pod_labels):
            s = int(self.pod_service[row])
            share, prompt_share = float(self.req_share[row]), float(self.prompt_share[row])
            out.append(("vllm:num_requests_running", labels, float(gauges["running"][row, 0])))
            out.append(("vllm:num_requests_waiting", labels, float(gauges["waiting"][row, 0])))
            out.append(("vllm:kv_cache_usage_perc", labels, float(gauges["kv"][row, 0])))
            for j, reason in enumerate(_FINISHED):
                out.append(
                    ("vllm:request_success_total", {**labels, "finished_reason": reason}, finished[s, j] * share)
                )
            out.append(("vllm:prompt_tokens_total", labels, tokens[s, 0] * prompt_share))
            out.append(("vllm:generation_tokens_total", labels, tokens[s, 1] * share))
            for family, values in hists.items():
                metric = _HIST_METRIC[family]
                bounds = (*HISTOGRAMS[family], math.inf)
                for b, bound in enumerate(bounds):
                    out.append((metric + "_bucket", {**labels, "le": _le(bound)}, values[s, b] * share))
                out.append((metric + "_sum", labels, values[s, len(bounds)] * share))
                out.append((metric + "_count", labels, values[s, len(bounds) - 1] * share))

    def _epp_samples(self, out: list[tuple[str, Labels, float]], st: TickState, t: float) -> None:
        if not self.epp_labels:
            return
        finished = self.counters_at("finished", t)
        gauges = self.pod_gauges(st)
        n = len(self.plan.services)
        counts = np.maximum(np.bincount(self.pod_service, minlength=n), 1)
        kv = np.zeros(n)
        np.add.at(kv, self.pod_service, gauges["kv"][:, 0])
        queue = np.zeros(n)
        np.add.at(queue, self.pod_service, gauges["waiting"][:, 0])
        for row, labels in enumerate(self.epp_labels):
            s = int(self.epp_service[row])
            if not self.emitting[s]:
                continue
            out.append(("inference_objective_request_total", labels, float(finished[s].sum())))
            errors = float(finished[s, 2] + finished[s, 3])
            out.append(("inference_objective_request_error_total", {**labels, "error_code": "Internal"}, errors))
            pool = {"name": f"{self.plan.services[s].name}-inference-pool", "namespace": labels["namespace"]}
            out.append(("inference_pool_average_kv_cache_utilization", pool, float(kv[s] / counts[s])))
            out.append(("inference_pool_average_queue_size", pool, float(queue[s] / counts[s])))
            out.append(("inference_pool_ready_pods", pool, float(counts[s])))
