"""``mtop sim serve`` against the real servers: what it writes into kube-apiserver and what Prometheus scrapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fixtures_kube import KubeCluster
from fixtures_prom import SimPrometheus
from servers import ManagedProcess, free_port, require

from mtop.cli import main
from mtop.config import default_config
from mtop.simulation.serve import MetricsServer, serve
from mtop.simulation.serve_kube import CRD_NAME, MANAGED_BY, KubeWriter
from mtop.sources.simulated import SimulatedFleet

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 28, 12, tzinfo=UTC)
TABLE = "application/json;as=Table;g=meta.k8s.io;v=v1"


def _fleet(seed: int = 3, services: int | None = None, at: datetime = START) -> SimulatedFleet:
    return SimulatedFleet(default_config(), seed=seed, services=services, start=START, clock=lambda: at)


def _get(cluster: KubeCluster, path: str, accept: str = "application/json") -> Any:
    resp = cluster._http.request(
        "GET", cluster.url + path, headers={"Authorization": f"Bearer {cluster.admin_token}", "Accept": accept}
    )
    assert resp.status == 200, (path, resp.status, resp.data[:300])
    return json.loads(resp.data)


def _quantity(text: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "m": 1e-3}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


@pytest.fixture
def writer(sim_cluster: KubeCluster) -> Any:
    w = KubeWriter.from_kubeconfig(str(sim_cluster.kubeconfig), sim_cluster.context, workers=4)
    try:
        yield w
    finally:
        w.close()


def test_load_writes_the_fleet_with_status_and_is_idempotent(sim_cluster: KubeCluster, writer: KubeWriter) -> None:
    fleet = _fleet()
    first = writer.load(fleet)
    expected = {k: len(fleet.list_objects(k)) for k in ("namespaces", "nodes", "llminferenceservices", "pods")}
    assert first.counts == expected
    pods = _get(sim_cluster, "/api/v1/pods")["items"]
    mine = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
    for pod in fleet.list_objects("pods"):
        got = mine[(pod["metadata"]["namespace"], pod["metadata"]["name"])]
        # Status went through pods/status: phase, conditions and restart counts as simulated.
        assert got["status"]["phase"] == pod["status"]["phase"]
        assert [c["type"] for c in got["status"]["conditions"]] == [c["type"] for c in pod["status"]["conditions"]]
        restarts = [cs["restartCount"] for cs in got["status"].get("containerStatuses", [])]
        assert restarts == [cs["restartCount"] for cs in pod["status"].get("containerStatuses", [])]
        assert got["metadata"]["labels"].items() >= MANAGED_BY.items()
    node = fleet.list_objects("nodes")[0]
    got_node = _get(sim_cluster, f"/api/v1/nodes/{node['metadata']['name']}")
    # The server writes quantities in canonical form (2145386496Ki -> 2046Gi): compare their values.
    got_alloc = {k: _quantity(v) for k, v in got_node["status"]["allocatable"].items()}
    assert got_alloc == {k: _quantity(v) for k, v in node["status"]["allocatable"].items()}
    assert got_node["status"]["conditions"][-1]["type"] == "Ready"

    again = writer.load(fleet)
    assert again.counts == expected and again.created == 0 and again.replaced == sum(expected.values())
    assert len(_get(sim_cluster, "/api/v1/pods")["items"]) == len(pods)


def test_v1alpha1_objects_keep_their_fields_through_the_storage_version(
    sim_cluster: KubeCluster, writer: KubeWriter
) -> None:
    fleet = _fleet()
    writer.load(fleet)
    v1 = [s for s in fleet.list_objects("llminferenceservices") if s["apiVersion"].endswith("/v1alpha1")]
    assert v1, "the default fleet has v1alpha1 services"
    svc = v1[0]
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    stored = _get(sim_cluster, f"/apis/serving.kserve.io/v1alpha2/namespaces/{ns}/llminferenceservices/{name}")
    assert stored["apiVersion"] == "serving.kserve.io/v1alpha2"
    assert stored["spec"] == svc["spec"]  # nothing pruned, nothing converted (strategy None)
    assert stored["status"] == svc["status"]  # written through the status subresource


def test_crd_printer_columns_show_readiness(sim_cluster: KubeCluster, writer: KubeWriter) -> None:
    fleet = _fleet()
    writer.load(fleet)
    crd = _get(sim_cluster, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}")
    assert {v["name"]: v["storage"] for v in crd["spec"]["versions"]} == {"v1alpha1": False, "v1alpha2": True}
    table = _get(sim_cluster, "/apis/serving.kserve.io/v1alpha2/llminferenceservices", accept=TABLE)
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns == ["Name", "URL", "Ready", "Reason", "Age", "URLs"]
    rows = {r["object"]["metadata"]["name"]: r["cells"] for r in table["rows"]}
    for svc in fleet.list_objects("llminferenceservices"):
        ready = next(c for c in svc["status"]["conditions"] if c["type"] == "Ready")
        cells = rows[svc["metadata"]["name"]]
        assert cells[1] == svc["status"]["url"] and cells[2] == ready["status"]
        assert cells[3] == ready.get("reason")  # None when Ready has no reason


def test_prune_removes_what_another_fleet_left(sim_cluster: KubeCluster, writer: KubeWriter) -> None:
    writer.load(_fleet(seed=3, services=6))
    small = _fleet(seed=3, services=2)
    report = writer.load(small)
    assert report.pruned > 0
    names = {p["metadata"]["name"] for p in _get(sim_cluster, "/api/v1/pods")["items"]
             if p["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "mtop-sim"}  # fmt: skip
    assert names == {p["metadata"]["name"] for p in small.list_objects("pods")}
    svcs = _get(sim_cluster, "/apis/serving.kserve.io/v1alpha2/llminferenceservices")["items"]
    assert {s["metadata"]["name"] for s in svcs} == {
        s["metadata"]["name"] for s in small.list_objects("llminferenceservices")
    }
    nodes = {n["metadata"]["name"] for n in _get(sim_cluster, "/api/v1/nodes")["items"]}
    assert nodes == {n["metadata"]["name"] for n in small.list_objects("nodes")}


def test_a_crash_looping_pod_restarts_as_time_passes(sim_cluster: KubeCluster, writer: KubeWriter) -> None:
    clock = {"now": START}
    fleet = SimulatedFleet(default_config(), seed=3, start=START, clock=lambda: clock["now"])
    writer.load(fleet)
    crashing = next(p for p in fleet.list_objects("pods") if p["status"].get("containerStatuses")
                    and "waiting" in p["status"]["containerStatuses"][0]["state"])  # fmt: skip
    path = f"/api/v1/namespaces/{crashing['metadata']['namespace']}/pods/{crashing['metadata']['name']}"
    before = _get(sim_cluster, path)["status"]["containerStatuses"][0]["restartCount"]
    assert writer.sync_pod_statuses(fleet) == 0  # nothing moved yet
    clock["now"] = START + timedelta(minutes=16)  # three 5-minute back-offs later
    assert writer.sync_pod_statuses(fleet) == 1
    assert _get(sim_cluster, path)["status"]["containerStatuses"][0]["restartCount"] == before + 3


def test_cli_once_loads_the_fleet(sim_cluster: KubeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "serve", "--once", "--kubeconfig", str(sim_cluster.kubeconfig), "--context", sim_cluster.context,
            "--seed", "5", "--services", "3"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "seed 5, 3 services" in out and "wrote " in out
    fleet = SimulatedFleet(default_config(), seed=5, services=3)
    svcs = _get(sim_cluster, "/apis/serving.kserve.io/v1alpha2/llminferenceservices")["items"]
    assert sorted(s["metadata"]["name"] for s in svcs) == sorted(
        s["metadata"]["name"] for s in fleet.list_objects("llminferenceservices")
    )


def test_cli_serves_metrics_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "mtop", "sim", "serve", "--no-kube", "--metrics-port", str(port), "--seed", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = ManagedProcess("mtop-sim-serve", argv, tmp_path / "serve.log", env=env).start()
    try:
        url = f"http://127.0.0.1:{port}/metrics"

        def up() -> bool:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status == 200

        proc.wait_until(up, timeout=60)
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "# TYPE vllm:time_to_first_token_seconds histogram" in body
    finally:
        proc.stop()
    assert proc.proc is not None and proc.proc.returncode == 0  # SIGTERM is a clean stop
    log = (tmp_path / "serve.log").read_text()
    assert "seed 2," in log and f"http://127.0.0.1:{port}/metrics" in log


def test_exposition_passes_promtool(tmp_path: Path) -> None:
    """promtool parses the scrape; its only lint remarks are about the real exporters' own names."""
    promtool = require("promtool")
    body = MetricsServer(_fleet()).render()
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    remarks = {
        line.split(" ", 1)[1]
        for line in result.stderr.decode().splitlines() + result.stdout.decode().splitlines()
        if " " in line
    }
    known = {"label names should be written in 'snake_case' not 'camelCase'",  # DCGM's modelName, UUID, Hostname
             "metric names should not contain ':'"}  # vLLM's vllm: prefix  # fmt: skip
    assert result.returncode in (0, 3), result.stderr[-500:]  # 3: lint remarks only; 1 would be a parse error
    assert remarks <= known


def test_prometheus_holds_the_backfill_and_the_live_scrape_as_one_series(sim_prometheus: SimPrometheus) -> None:
    selector = f'vllm:num_requests_waiting{{job="mtop-sim",instance="{sim_prometheus.instance}"}}'
    fleet = sim_prometheus.mock_fleet(datetime.now(UTC))
    pods = sum(1 for name, _, _ in fleet.samples() if name == "vllm:num_requests_waiting")
    history = sim_prometheus.query(f"count({selector})", sim_prometheus.history_start)
    live = sim_prometheus.query(f"count({selector})")
    assert float(history[0]["value"][1]) == float(live[0]["value"][1]) == pods
    # Same series before and after the switch from backfill to scrape: no duplicates over the whole span.
    span = int(datetime.now(UTC).timestamp() - sim_prometheus.history_start) + 60
    series = sim_prometheus.query(f"count(count_over_time({selector}[{span}s]))")
    assert float(series[0]["value"][1]) == pods
    up = sim_prometheus.query(f'up{{job="mtop-sim",instance="{sim_prometheus.instance}"}}')
    assert up and up[0]["value"][1] == "1"


def test_counters_never_reset(sim_prometheus: SimPrometheus) -> None:
    """No counter goes down, across the backfill, the switch to scraping, and every scrape since.

    (A decrease by one unit in the last place reads as a reset to Prometheus: a rate as large as the counter.)
    """
    span = int(datetime.now(UTC).timestamp() - sim_prometheus.history_start) + 60
    fleet = sim_prometheus.mock_fleet(datetime.now(UTC))
    names = sorted({name for name, _, _ in fleet.samples() if name.endswith(("_total", "_bucket", "_sum", "_count"))})
    assert len(names) >= 10
    for name in names:  # one name at a time: resets() drops the name, so _sum and _count would collide
        assert sim_prometheus.query(f'resets({name}{{job="mtop-sim"}}[{span}s]) > 0') == [], name


def test_served_fleet_reads_through_live_mode(sim_cluster: KubeCluster, sim_prometheus: SimPrometheus) -> None:
    """``serve`` with both halves, then ``mtop.connect(mode="live")``: the demo path end to end."""
    import mtop

    fleet = sim_prometheus.mock_fleet(datetime.now(UTC))
    w = KubeWriter.from_kubeconfig(str(sim_cluster.kubeconfig), sim_cluster.context)
    try:
        serve(fleet, writer=w, say=lambda line: None)
    finally:
        w.close()
    sim_cluster.settle()  # live mode reads the watch cache: let it catch up with the writes
    live = mtop.connect(mode="live", kubeconfig=str(sim_cluster.kubeconfig), context=sim_cluster.context,
                        prometheus_url=sim_prometheus.url, progress=False)  # fmt: skip
    overview = mtop.overview(live)
    assert len(overview) == len(fleet.list_objects("llminferenceservices"))
    assert overview["ttft_p95_ms"].notna().sum() > 0 and not overview.attrs.get("errors")
