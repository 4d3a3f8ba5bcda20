"""Session fixtures of ``mtop sim serve``'s servers: ``sim_prometheus`` and ``sim_cluster``.

``sim_cluster`` is a private kube-apiserver (``fixtures_kube.start_cluster``) that the simulated fleet is
written into: the fleet's nodes and namespaces would disturb tests that share ``kube_cluster``, and the
parity test needs a cluster that holds the fleet and nothing else.

``sim_prometheus`` is a real Prometheus scraping ``mtop sim serve``'s metrics, with history.

The simulated fleet (seed ``SEED``, the default 16 services) started ``STARTED_BEFORE`` ago and its time is
the wall clock, so what Prometheus stores at ``t`` is the fleet at ``t``. Before Prometheus starts, the
last ``HISTORY`` of the fleet's series is backfilled at 15 s steps (``promtool tsdb create-blocks-from
openmetrics``) with the ``job``/``instance`` labels of the live scrape, so they are the same series and a
5-minute ``rate()`` has a full window from the first query on (a fresh Prometheus under-reports until it
holds one). Then the metrics server (a thread in this process, no cache) is scraped every second
(``honor_labels: true``: the samples carry ``namespace``/``pod``). Everything binds 127.0.0.1 and is
stopped at teardown, Prometheus by its PID (waited for: SIGTERM takes more than a second).
"""

from __future__ import annotations

import json
import math
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures_kube import KubeCluster, start_cluster
from servers import ManagedProcess, free_port, require

from mtop.config import default_config
from mtop.simulation.serve import DEFAULT_JOB, MetricsServer, history_times, write_backfill
from mtop.simulation.serve_exposition import SeriesKey
from mtop.sources.simulated import SimulatedFleet

SEED = 11
SERVICES: int | None = None  # the default 16-service fleet: P/D, multi-node, pending and crash-looping pods
STARTED_BEFORE = timedelta(minutes=15)
HISTORY = timedelta(minutes=10)
HISTORY_STEP = 15.0  # the simulator's tick: rates change only on these boundaries
SCRAPE_INTERVAL = "1s"


@dataclass
class SimPrometheus:
    """A running Prometheus that scrapes a served simulated fleet (what the ``sim_prometheus`` fixture yields)."""

    url: str
    """Prometheus's base URL (``http://127.0.0.1:PORT``)."""
    seed: int
    services: int | None
    start: datetime
    """The fleet's ``start``: a mock fleet with the same seed, services and start is the same fleet."""
    history_start: float
    history_end: float
    """Unix times of the first and last backfilled instants."""
    metrics: MetricsServer
    process: ManagedProcess
    job: str = DEFAULT_JOB

    @property
    def instance(self) -> str:
        """The scrape target's ``instance`` label."""
        return f"127.0.0.1:{self.metrics.port}"

    def api(self, path: str, **params: Any) -> Any:
        """``GET /api/v1/<path>``'s ``data`` (raises on an error answer)."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:  # an error answer still holds a connection: close it
                detail = exc.read().decode(errors="replace")[:500]
            raise RuntimeError(f"Prometheus {path} {params}: HTTP {exc.code} {detail}") from None
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus {path} {params}: {body}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result list."""
        return list(self.api("query", query=promql, time=at)["result"])

    def sample_times(self, selector: str, lookback: str = "2m") -> list[float]:
        """Timestamps of the raw samples of ``selector`` (one series) in the last ``lookback``, oldest first."""
        result = self.query(f"{selector}[{lookback}]")
        if not result:
            return []
        return [float(t) for t, _ in result[0]["values"]]

    def mock_fleet(self, at: datetime) -> SimulatedFleet:
        """The same simulated fleet, frozen at ``at`` (what mock mode reads at that instant)."""
        return SimulatedFleet(default_config(), seed=self.seed, services=self.services, start=self.start,
                              clock=lambda: at)  # fmt: skip


def _write_history(
    fleet: SimulatedFleet, path: Path, end: float, instance: str, floors: dict[SeriesKey, float]
) -> tuple[float, float]:
    times = history_times(end, HISTORY.total_seconds(), HISTORY_STEP)
    with path.open("w", encoding="utf-8") as out:
        write_backfill(out, fleet, times, job=DEFAULT_JOB, instance=instance, floors=floors)
    return times[0], times[-1]


@pytest.fixture(scope="session")
def sim_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimPrometheus]:
    """A real Prometheus holding ``HISTORY`` of the simulated fleet and scraping it live every second."""
    prometheus = require("prometheus")
    promtool = require("promtool")
    work = tmp_path_factory.mktemp("sim-prometheus")
    now = datetime.now(UTC)
    start = now.replace(microsecond=0) - STARTED_BEFORE
    fleet = SimulatedFleet(default_config(), seed=SEED, services=SERVICES, start=start,
                           clock=lambda: datetime.now(UTC))  # fmt: skip
    # No cache: every scrape is computed for its own instant (the samples carry it as their timestamp).
    # One set of counter floors for the backfill and the scrapes: counters never go down across the switch.
    floors: dict[SeriesKey, float] = {}
    metrics = MetricsServer(fleet, port=0, cache_ttl=0.0, floors=floors).start()
    process: ManagedProcess | None = None
    try:
        instance = f"127.0.0.1:{metrics.port}"
        data = work / "data"
        first, last = _write_history(fleet, work / "history.om", now.timestamp(), instance, floors)
        subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(work / "history.om"), str(data)],
                       check=True, capture_output=True, timeout=300)  # fmt: skip
        (work / "history.om").unlink()  # ~100 MB
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "1m"},
            "scrape_configs": [
                {
                    "job_name": DEFAULT_JOB,
                    "honor_labels": True,
                    "scrape_interval": SCRAPE_INTERVAL,
                    "scrape_timeout": SCRAPE_INTERVAL,
                    "static_configs": [{"targets": [instance]}],
                }
            ],
        }
        (work / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        argv = [
            prometheus,
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        process = ManagedProcess("prometheus", argv, work / "prometheus.log").start()
        handle = SimPrometheus(f"http://127.0.0.1:{port}", SEED, SERVICES, start, first, last, metrics, process)

        def ready() -> bool:
            with urllib.request.urlopen(f"{handle.url}/-/ready", timeout=2) as response:
                return response.status == 200

        def scraped() -> bool:
            # A live sample newer than the backfill: the first scrape lands ~5 s after start.
            stamps = handle.query("max(timestamp(vllm:num_requests_waiting))")
            return bool(stamps) and float(stamps[0]["value"][1]) > last

        process.wait_until(ready, timeout=30)
        process.wait_until(scraped, timeout=60, interval=0.25)
        yield handle
    finally:
        if process is not None:
            process.stop()
        metrics.stop()


@pytest.fixture(scope="session")
def sim_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """A private etcd + kube-apiserver for the simulated fleet (``.kubeconfig``, ``.context``), stopped by PID."""
    cluster = start_cluster(tmp_path_factory.mktemp("kube-sim"), "mtop-sim")
    try:
        yield cluster
    finally:
        cluster.stop()


def instant_in_tick(times: list[float], low: float = 12.0, high: float = 14.5) -> float | None:
    """The latest of ``times`` whose position in its 15-second tick is within ``[low, high]``, if any.

    Such an instant is late in its tick (a 5-minute window then starts just before a backfilled tick
    boundary, so Prometheus extrapolates its start by at most ``15 - low`` seconds) but not at its end
    (the sample's value belongs to the same tick as the instant).
    """
    for t in reversed(times):
        if low <= math.fmod(t, HISTORY_STEP) <= high:
            return t
    return None


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Poll ``predicate()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met after {timeout:.0f}s", pytrace=False)
        time.sleep(interval)
