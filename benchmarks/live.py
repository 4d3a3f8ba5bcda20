"""Live mode against real servers, side by side: mtop vs the official client, and vs prometheus-api-client.

Run: `.venv/bin/python benchmarks/live.py [--runs 5]` (needs `scripts/install-test-deps.sh` and, for the
Prometheus part, `pip install prometheus-api-client`). Prints a markdown table of medians and ratios and
writes it to benchmarks/results/live.md. Every server is started here on 127.0.0.1 and stopped by its PID.

1. Kubernetes: a real kube-apiserver v1.20 (+ etcd) holding the simulated fleet with 1,000 services
   (10,000+ pods, 1,000 LLMInferenceService objects), loaded by `mtop sim serve`'s writer. The pods are
   the size of real ones (about 11 KB of JSON each, as the issue's baseline's 1,000 pods in 11 MB: KServe's
   rendered vLLM container with env and probes, the storage initializer, volumes, the service-account
   token volume, and the managedFields the API server adds; see mtop/sources/pod_specs.py). Pods to a
   DataFrame by (a) the official client's default `list_pod_for_all_namespaces()` (model objects), then
   rows, and (a') the same from the watch cache (`resource_version="0"`, the read mtop makes);
   (b) `_preload_content=False` + `json.loads` + `pd.json_normalize`; (c) mtop's live path: the source's
   list + `frames.pods_frame`, and `mtop.pods(fleet)` (pods and nodes listed, typed frame with GPU types);
   (d) the HTTP GET alone, bytes read and not parsed (the floor), as the official client sends it by
   default and (d') as mtop sends it (from the watch cache); (e) mtop's GET decoded whole by `orjson`
   (what projecting pods with msgspec saves).
2. Prometheus: a real Prometheus holding 30 minutes of the simulated fleet with 100 services (1,424
   GPUs: 1,000+ series of `DCGM_FI_DEV_GPU_UTIL`, backfilled with promtool; the simulator's metrics
   server, in this process, is stopped before timing so that scrapes do not compete with it). A range
   query over those 30 minutes at a 15 s step to a tidy DataFrame: mtop (`PromSource.query_range` +
   `promframes.matrix_frame`) vs prometheus-api-client (`custom_query_range` + `MetricRangeDataFrame`).

Wall and CPU time are medians of --runs runs; peak memory is tracemalloc's peak over one more run
(Python allocations only; measured apart from the timed runs, which it would slow down).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

import mtop  # noqa: E402
from mtop import frames, promframes  # noqa: E402
from mtop.catalogue import spec  # noqa: E402
from mtop.config import default_config  # noqa: E402
from mtop.simulation.serve import MetricsServer, history_times  # noqa: E402
from mtop.simulation.serve_exposition import SeriesKey, write_history  # noqa: E402
from mtop.simulation.serve_kube import KubeWriter  # noqa: E402
from mtop.sources.simulated import SimulatedFleet  # noqa: E402
from mtop.sources.workload import TICK  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "live.md"
START = datetime(2026, 11, 28, 12, tzinfo=UTC)


@dataclass
class Row:
    """One measured path."""

    part: str
    path: str
    wall: float
    cpu: float
    peak_mib: float
    note: str = ""


def measure_all(part: str, paths: list[tuple[str, Callable[[], Any], int]]) -> list[Row]:
    """Time every path, round-robin (run 1 of each path, then run 2, ...), so that drift in the servers'
    speed and the order of paths touch every path alike; then one more run each under tracemalloc.

    Each path is ``(label, fn, runs)``; a row holds the median wall and CPU seconds and the peak MiB.
    """
    walls: dict[str, list[float]] = {label: [] for label, _, _ in paths}
    cpus: dict[str, list[float]] = {label: [] for label, _, _ in paths}
    for i in range(max(n for _, _, n in paths)):
        for label, fn, n in paths:
            if i >= n:
                continue
            gc.collect()
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls[label].append(time.perf_counter() - w0)
            cpus[label].append(time.process_time() - c0)
    rows = []
    for label, fn, n in paths:
        gc.collect()
        tracemalloc.start()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        shape = f"{result.shape[0]} rows x {result.shape[1]} cols" if isinstance(result, pd.DataFrame) else ""
        del result
        wall, cpu = statistics.median(walls[label]), statistics.median(cpus[label])
        rows.append(Row(part, label, wall, cpu, peak / 2**20, f"{n} runs; {shape}".rstrip("; ")))
        print(f"{part}: {label}: {wall:.3f} s wall, {cpu:.3f} s CPU, {peak / 2**20:.0f} MiB", flush=True)
    return rows


# ------------------------------------------------------------------------------------------- Kubernetes
def _official_rows(items: list[Any]) -> pd.DataFrame:
    """The official client's model objects to the columns of mtop's pods frame, row by row (what users write)."""
    rows = []
    for pod in items:
        meta, spec_, status = pod.metadata, pod.spec, pod.status
        labels = meta.labels or {}
        ready = next((c.status == "True" for c in status.conditions or [] if c.type == "Ready"), False)
        statuses = status.container_statuses or []
        reason = None
        for cs in statuses:
            state = cs.state
            if state is not None and state.waiting is not None:
                reason = state.waiting.reason
        gpus = 0
        for c in spec_.containers:
            limits = (c.resources.limits or {}) if c.resources else {}
            gpus += int(limits.get("nvidia.com/gpu", 0))
        rows.append(
            {
                "namespace": meta.namespace,
                "name": meta.name,
                "service": labels.get("app.kubernetes.io/name"),
                "role": labels.get("llm-d.ai/role"),
                "component": labels.get("app.kubernetes.io/component"),
                "node": spec_.node_name,
                "phase": status.phase,
                "ready": ready,
                "restarts": sum(cs.restart_count or 0 for cs in statuses),
                "gpus": gpus,
                "reason": reason,
                "created": meta.creation_timestamp,
            }
        )
    return pd.DataFrame(rows)


def bench_kube(runs: int, services: int, work: Path) -> tuple[list[Row], dict[str, Any]]:
    from fixtures_kube import start_cluster
    from kubernetes import client, config

    cluster = start_cluster(work / "kube", "bench")
    rows: list[Row] = []
    info: dict[str, Any] = {}
    try:
        fleet = SimulatedFleet(default_config(), seed=7, services=services, start=START, clock="frozen")
        writer = KubeWriter.from_kubeconfig(str(cluster.kubeconfig), cluster.context, workers=16)
        try:
            report = writer.load(fleet)
        finally:
            writer.close()
        info["load"] = report.summary()
        print(f"kube: {info['load']}", flush=True)

        configuration = client.Configuration()
        config.load_kube_config(str(cluster.kubeconfig), cluster.context, client_configuration=configuration)
        api = client.CoreV1Api(client.ApiClient(configuration))
        raw = api.list_pod_for_all_namespaces(_preload_content=False).data
        info["pods"] = len(json.loads(raw)["items"])
        info["bytes"] = len(raw)
        del raw
        live = mtop.connect(mode="live", kubeconfig=str(cluster.kubeconfig), context=cluster.context,
                            progress=False)  # fmt: skip

        def floor() -> int:
            return len(api.list_pod_for_all_namespaces(_preload_content=False).data)

        def cache_floor() -> int:
            return len(api.list_pod_for_all_namespaces(resource_version="0", _preload_content=False).data)

        def official() -> pd.DataFrame:
            return _official_rows(api.list_pod_for_all_namespaces().items)

        def official_cache() -> pd.DataFrame:
            return _official_rows(api.list_pod_for_all_namespaces(resource_version="0").items)

        def normalize() -> pd.DataFrame:
            items = json.loads(api.list_pod_for_all_namespaces(_preload_content=False).data)["items"]
            return pd.json_normalize(items)

        def mtop_pods() -> pd.DataFrame:
            return mtop.pods(live)

        def mtop_list_frame() -> pd.DataFrame:
            return frames.pods_frame(live.source.list_objects("pods"))

        def whole_decode_frame() -> pd.DataFrame:
            import orjson

            raw = api.list_pod_for_all_namespaces(resource_version="0", _preload_content=False).data
            return frames.pods_frame(orjson.loads(raw)["items"])

        slow_runs = max(3, runs // 2)  # (a) takes seconds per run
        paths: list[tuple[str, Callable[[], Any], int]] = [
            ("(d) HTTP GET alone, bytes read, no parsing (the floor), the official client's default read", floor,
             runs),
            ("(d') HTTP GET alone, no parsing, from the watch cache (`resourceVersion=0`, the read mtop makes)",
             cache_floor, runs),
            ("(a) official client `list_pod_for_all_namespaces()` model objects, then rows", official, slow_runs),
            ("(a') official client, the same from the watch cache (`resource_version=\"0\"`)", official_cache,
             slow_runs),
            ("(b) `_preload_content=False` + `json.loads` + `pd.json_normalize`", normalize, runs),
            ("(c) mtop source `list_objects('pods')` + `frames.pods_frame` (pods to a DataFrame)", mtop_list_frame,
             runs),
            ("(c') mtop `mtop.pods(fleet)` (pods + nodes listed, typed frame with GPU types)", mtop_pods, runs),
            ("(e) mtop's GET decoded whole by `orjson` + `frames.pods_frame` (no projection)", whole_decode_frame,
             runs),
        ]  # fmt: skip
        rows = measure_all("kube", paths)
        live.source.close()
    finally:
        cluster.stop()
    return rows, info


# ------------------------------------------------------------------------------------------- Prometheus
def bench_prometheus(runs: int, services: int, work: Path) -> tuple[list[Row], dict[str, Any]]:
    from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect
    from servers import ManagedProcess, free_port, require

    from mtop.sources.prom import PromSource

    now = datetime.now(UTC)
    started = now.replace(microsecond=0) - timedelta(hours=1)
    fleet = SimulatedFleet(default_config(), seed=7, services=services, start=started, clock=lambda: datetime.now(UTC))
    floors: dict[SeriesKey, float] = {}
    metrics = MetricsServer(fleet, port=0, floors=floors).start()
    process = None
    rows: list[Row] = []
    info: dict[str, Any] = {}
    try:
        instance = f"127.0.0.1:{metrics.port}"
        times = history_times(now.timestamp(), 30 * 60, 15.0)
        t0 = time.perf_counter()
        # Only the queried family, computed for every instant at once (samples() would compute all 86k series
        # at each instant): the same values, as Telemetry.samples takes them from gpu_gauges.
        telemetry = fleet.telemetry
        ticks = np.floor(np.array(times) / TICK).astype(np.int64)
        util = telemetry.gpu_gauges(fleet.model.state(ticks))["util"]
        column = {t: i for i, t in enumerate(times)}

        def dcgm_util(t: float) -> list[tuple[str, dict[str, str], float]]:
            i = column[t]
            return [("DCGM_FI_DEV_GPU_UTIL", lab, float(util[g, i])) for g, lab in enumerate(telemetry.gpu_labels)]

        with (work / "history.om").open("w") as out:
            write_history(out, dcgm_util, times, {"job": "mtop-sim", "instance": instance}, floors=floors)
        data_dir = work / "prom-data"
        subprocess.run([require("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(work / "history.om"),
                        str(data_dir)], check=True, capture_output=True)  # fmt: skip
        (work / "history.om").unlink()
        info["backfill_s"] = time.perf_counter() - t0
        cfg = {"global": {"scrape_interval": "5s"}, "scrape_configs": [
            {"job_name": "mtop-sim", "honor_labels": True, "static_configs": [{"targets": [instance]}]}]}  # fmt: skip
        (work / "prometheus.yml").write_text(json.dumps(cfg))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = ManagedProcess(
            "prometheus",
            [require("prometheus"), f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={data_dir}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            work / "prometheus.log",
        ).start()  # fmt: skip
        process.wait_until(lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=2).status == 200, timeout=30)
        # Nothing in this process may serve scrapes while paths are timed: exposing the fleet's 86k series
        # takes CPU, the GIL and allocations (tracemalloc counts every thread) from the path measured. The
        # range queried is the backfilled history, which ends before Prometheus started.
        metrics.stop()
        start, end = datetime.fromtimestamp(times[0], UTC), datetime.fromtimestamp(times[-1], UTC)
        step = timedelta(seconds=15)
        query = spec("gpu_utilization").promql
        labels = list(spec("gpu_utilization").labels)
        source = PromSource(url)
        pac = PrometheusConnect(url=url, disable_ssl=True)

        def mtop_path() -> pd.DataFrame:
            return promframes.matrix_frame(source.query_range("gpu_utilization", None, start, end, step), labels)

        def floor() -> int:
            body = urllib.parse.urlencode({"query": query, "start": start.timestamp(), "end": end.timestamp(),
                                           "step": "15"}).encode()  # fmt: skip
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            request = urllib.request.Request(f"{url}/api/v1/query_range", data=body, headers=headers)
            with urllib.request.urlopen(request, timeout=30) as resp:
                return len(resp.read())

        def pac_path() -> pd.DataFrame:
            result = pac.custom_query_range(query, start_time=start, end_time=end, step="15")
            return MetricRangeDataFrame(result)

        data = source.query_range("gpu_utilization", None, start, end, step)
        result = pac.custom_query_range(query, start_time=start, end_time=end, step="15")
        info["series"] = len(data["result"])
        info["points"] = sum(len(s["values"]) for s in data["result"])
        paths: list[tuple[str, Callable[[], Any], int]] = [
            ("mtop `PromSource.query_range` + `promframes.matrix_frame` (HTTP + parse)", mtop_path, runs),
            ("HTTP POST alone, bytes read, no parsing (the floor: Prometheus's own time)", floor, runs),
            ("prometheus-api-client `custom_query_range` + `MetricRangeDataFrame` (HTTP + parse)", pac_path, runs),
            ("mtop `matrix_frame` only (on mtop's decoded response)", lambda: promframes.matrix_frame(data, labels),
             runs),
            ("prometheus-api-client `MetricRangeDataFrame` only (on its parsed JSON)",
             lambda: MetricRangeDataFrame(result), runs),
        ]  # fmt: skip
        rows = measure_all("prom", paths)
        source.close()
    finally:
        if process is not None:
            process.stop()
        metrics.stop()
    return rows, info


# ----------------------------------------------------------------------------------------------- report
def table(rows: list[Row], baseline: str, title: str) -> list[str]:
    base = next(r for r in rows if r.path.startswith(baseline))
    out = [f"### {title}", "", "| path | wall s (median) | CPU s (median) | peak MiB | wall: x faster | CPU: x less "
           "| notes |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        wall = base.wall / r.wall if r.wall else float("inf")
        cpu = base.cpu / r.cpu if r.cpu else float("inf")
        out.append(
            f"| {r.path} | {r.wall:.3f} | {r.cpu:.3f} | {r.peak_mib:.1f} | {wall:.1f}x | {cpu:.1f}x | {r.note} |"
        )
    return [*out, ""]


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def kube_goals(rows: list[Row]) -> list[str]:
    """The issue's three goals for pods, checked against this run's medians."""
    by = {r.path[: r.path.index(")") + 1]: r for r in rows}
    a, a2, d, d2, c, c2 = by["(a)"], by["(a')"], by["(d)"], by["(d')"], by["(c)"], by["(c')"]
    least = min(by[k].peak_mib for k in ("(a)", "(a')", "(b)", "(e)"))
    return [
        f"- Goal: mtop at least 10x faster than (a): {a.wall / c.wall:.1f}x wall, {a.cpu / c.cpu:.1f}x CPU "
        f"({_met(a.wall / c.wall >= 10)}); `mtop.pods` (also lists nodes) {a.wall / c2.wall:.1f}x. "
        f"Against the official client given the same cache read (a'): {a2.wall / c.wall:.1f}x wall. "
        f"The GET mtop makes (d') is itself {a.wall / d2.wall:.1f}x faster than (a): at 10x, reading, decoding and "
        f"framing the whole list would have to fit in {max(a.wall / 10 - d2.wall, 0):.3f} s.",
        f"- Goal: within 1.5x of the GET alone: {c.wall / d2.wall:.2f}x the same GET (d') "
        f"({_met(c.wall / d2.wall <= 1.5)}), {c.wall / d.wall:.2f}x the official client's default GET (d).",
        f"- Goal: less peak memory than any other parsing path: mtop {c.peak_mib:.0f} MiB (pods), "
        f"{c2.peak_mib:.0f} MiB (`mtop.pods`, pods + nodes) vs {least:.0f} MiB at best among (a), (a'), (b), (e) "
        f"({_met(c.peak_mib < least)}).",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per path (median; default 5)")
    parser.add_argument("--kube-services", type=int, default=1000, help="services in the API server (default 1000)")
    parser.add_argument("--prom-services", type=int, default=100, help="services behind Prometheus (default 100)")
    parser.add_argument("--skip-kube", action="store_true")
    parser.add_argument("--skip-prom", action="store_true")
    args = parser.parse_args(argv)
    import kubernetes

    lines = [
        "# Live mode benchmark",
        "",
        f"Command: `python benchmarks/live.py --runs {args.runs}` on {datetime.now(UTC):%Y-%m-%d}, "
        f"Python {platform.python_version()}, pandas {pd.__version__}, kubernetes {kubernetes.__version__}, "
        f"{_pac_version()}; kube-apiserver v1.20.2 + etcd, Prometheus 2.42, all on 127.0.0.1, "
        f"{_cpus()} CPU cores shared with other work.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="mtop-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_kube:
            kube_rows, info = bench_kube(args.runs, args.kube_services, work)
            per_pod = info["bytes"] / info["pods"] / 1000
            lines += [f"Kubernetes: {args.kube_services} services, {info['pods']} pods "
                      f"({info['bytes'] / 2**20:.1f} MiB of JSON in one list, {per_pod:.1f} KB a pod); "
                      f"load: {info['load']}.", ""]  # fmt: skip
            lines += table(kube_rows, "(a)", "Pods to a DataFrame (ratios against (a), the official client's default)")
            lines += kube_goals(kube_rows)
        if not args.skip_prom:
            prom_rows, info = bench_prometheus(args.runs, args.prom_services, work)
            lines += [f"Prometheus: {args.prom_services} services behind Prometheus; range query "
                      f"`{spec('gpu_utilization').promql}` over 30 minutes at a 15 s step: {info['series']} series, "
                      f"{info['points']} points (history backfilled in {info['backfill_s']:.0f} s).", ""]  # fmt: skip
            lines += table(prom_rows, "prometheus-api-client `custom", "Range query to a tidy DataFrame "
                           "(ratios against prometheus-api-client end to end)")  # fmt: skip
            ours, post, theirs = prom_rows[0], prom_rows[1], prom_rows[2]
            lines += [f"- Goal: at least 10x faster than prometheus-api-client: {theirs.wall / ours.wall:.1f}x "
                      f"({_met(theirs.wall / ours.wall >= 10)}); Prometheus's own answer (the floor) is "
                      f"{theirs.wall / post.wall:.1f}x faster than prometheus-api-client, mtop "
                      f"{ours.wall / post.wall:.2f}x the floor.", ""]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")
    return 0


def _pac_version() -> str:
    try:
        from importlib.metadata import version

        return f"prometheus-api-client {version('prometheus-api-client')}"
    except Exception:
        return "prometheus-api-client (not installed)"


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
