"""``mtop sim serve``: the simulated fleet as a real cluster would show it, to a real API server and Prometheus.

Two halves, usable together or alone:

- :class:`~mtop.simulation.serve_kube.KubeWriter` writes the fleet's objects into a Kubernetes API server
  (the CRD, namespaces, nodes, LLMInferenceServices, pods, status through the status subresources);
- :class:`MetricsServer` serves the fleet's exporters (vLLM, endpoint picker, DCGM) in the Prometheus text
  format at ``http://127.0.0.1:<port>/metrics``, computed from ``SimulatedFleet.samples(now)``. The samples
  carry ``namespace``/``pod`` labels (one endpoint stands for every pod), so Prometheus must scrape it
  with ``honor_labels: true`` (:func:`scrape_config`). Each sample carries the simulated instant it
  describes as its timestamp, and a scrape is cached for ``cache_ttl`` seconds.

Simulated time is wall time (``clock="wall"``): what Prometheus stores at ``t`` is the fleet at ``t``, so
mock mode evaluated at the same instant gives the same figures. :func:`write_backfill` writes the same
series for past instants, for ``promtool tsdb create-blocks-from openmetrics``.

>>> print(scrape_config("127.0.0.1:9400", job="mtop-sim", interval="5s"), end="")
scrape_configs:
- job_name: mtop-sim
  honor_labels: true
  scrape_interval: 5s
  static_configs:
  - targets:
    - 127.0.0.1:9400
"""

from __future__ import annotations

import http.server
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Protocol

import yaml

from mtop.simulation.serve_exposition import CONTENT_TYPE, Exposition, Sample, SeriesKey, write_history
from mtop.simulation.serve_kube import FleetObjects, KubeWriter, LoadReport

if TYPE_CHECKING:
    from mtop.sources.simulated import FleetConfig, SimulatedFleet

__all__ = [
    "DEFAULT_JOB",
    "DEFAULT_METRICS_PORT",
    "MetricsServer",
    "SampleSource",
    "ServedFleet",
    "history_times",
    "scrape_config",
    "serve",
    "served_fleet",
    "write_backfill",
]

DEFAULT_METRICS_PORT = 9400
"""``mtop sim serve``'s metrics port (the DCGM exporter's usual port)."""
DEFAULT_JOB = "mtop-sim"
"""The scrape job name used in :func:`scrape_config` and for backfilled history."""


class SampleSource(Protocol):
    """What the metrics server reads: ``mtop.sources.simulated.SimulatedFleet`` has it.

    >>> from mtop.sources.simulated import SimulatedFleet
    >>> isinstance(SimulatedFleet(services=1, clock="frozen").samples(), list)
    True
    """

    def now(self) -> datetime:
        """Simulated now."""
        ...

    def samples(self, at: datetime | None = None) -> Sequence[Sample]:
        """Every raw series at ``at``."""
        ...


class ServedFleet(FleetObjects, SampleSource, Protocol):
    """A fleet ``serve`` can write and serve: objects and samples (``SimulatedFleet``).

    >>> from mtop.sources.simulated import SimulatedFleet
    >>> hasattr(SimulatedFleet, "samples") and hasattr(SimulatedFleet, "list_objects")
    True
    """


def scrape_config(target: str, *, job: str = DEFAULT_JOB, interval: str = "5s") -> str:
    """The Prometheus ``scrape_configs`` YAML that scrapes ``mtop sim serve`` (``honor_labels: true``).

    >>> "honor_labels: true" in scrape_config("127.0.0.1:9400")
    True
    """
    config = {
        "scrape_configs": [
            {
                "job_name": job,
                "honor_labels": True,
                "scrape_interval": interval,
                "static_configs": [{"targets": [target]}],
            }
        ]
    }
    return yaml.safe_dump(config, sort_keys=False)


class MetricsServer:
    """``/metrics`` of a simulated fleet on ``host:port`` (``port=0``: a free port), in a daemon thread.

    A scrape renders ``fleet.samples(fleet.now())`` once per ``cache_ttl`` seconds (``clock`` is the
    monotonic clock that measures it); every sample is stamped with the simulated instant it was
    computed for, so a cached answer is never mislabelled. ``lock`` serialises access to the fleet;
    ``floors`` (shared with a backfill written just before) keeps counters from ever going down.

    >>> from mtop.sources.simulated import SimulatedFleet
    >>> server = MetricsServer(SimulatedFleet(services=1, clock="frozen"))
    >>> server.render().startswith(b"# HELP ")
    True
    """

    def __init__(
        self,
        fleet: SampleSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cache_ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        lock: threading.Lock | None = None,
        floors: dict[SeriesKey, float] | None = None,
    ) -> None:
        self.fleet = fleet
        self.host = host
        self.requested_port = int(port)
        self.cache_ttl = float(cache_ttl)
        self.clock = clock
        self.lock = lock or threading.Lock()
        self.exposition = Exposition(floors=floors)
        self.renders = 0
        self._cached: tuple[float, bytes] | None = None
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------------------------------- content
    def render(self) -> bytes:
        """The current scrape body (cached for ``cache_ttl`` seconds).

        >>> from mtop.sources.simulated import SimulatedFleet
        >>> ticks = iter([0.0, 0.5, 2.0])
        >>> server = MetricsServer(SimulatedFleet(services=1, clock="frozen"), clock=lambda: next(ticks))
        >>> _ = server.render(); _ = server.render(); _ = server.render(); server.renders
        2
        """
        with self.lock:
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < self.cache_ttl:
                return self._cached[1]
            at = self.fleet.now()
            stamp = math.floor(at.timestamp() * 1000)
            body = self.exposition.render(self.fleet.samples(at), stamp).encode("utf-8")
            self._cached = (now, body)
            self.renders += 1
            return body

    # ------------------------------------------------------------------------------------------ server
    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`), else the requested one.

        >>> MetricsServer.__name__ and MetricsServer(None, port=9400).port  # type: ignore[arg-type]
        9400
        """
        if self._httpd is not None:
            return int(self._httpd.server_address[1])
        return self.requested_port

    @property
    def url(self) -> str:
        """``http://host:port/metrics``.

        >>> MetricsServer(None, port=9400).url  # type: ignore[arg-type]
        'http://127.0.0.1:9400/metrics'
        """
        return f"http://{self.host}:{self.port}/metrics"

    def start(self) -> MetricsServer:
        """Bind and serve in a daemon thread; returns self (the example binds a port, so it is skipped).

        >>> MetricsServer(SimulatedFleet()).start()  # doctest: +SKIP
        """
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self.requested_port), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="mtop-sim-metrics", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (safe to call twice).

        >>> MetricsServer(None).stop()  # type: ignore[arg-type]
        """
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], owner: MetricsServer) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scraper that hung up (its scrape timeout passed) is not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, self.server.owner.render(), CONTENT_TYPE)
        elif path in ("/", "/healthz"):
            self._send(200, b'mtop sim serve: the simulated fleet\'s metrics are at <a href="/metrics">/metrics</a>\n',
                       "text/html; charset=utf-8")  # fmt: skip
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a 1-second scrape would flood the terminal."""


# ---------------------------------------------------------------------------------------------- history
def history_times(end: float, span: float, step: float) -> list[float]:
    """Unix times at multiples of ``step`` within ``[end - span, end]``, oldest first.

    Multiples of 15 s fall on the simulated fleet's tick boundaries, where its rates change.

    >>> history_times(100.0, 30.0, 15.0)
    [75.0, 90.0]
    """
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    last = math.floor(end / step) * step
    first = math.ceil((end - span) / step) * step
    n = round((last - first) / step) + 1
    return [first + i * step for i in range(max(n, 0))]


def write_backfill(
    out: IO[str],
    fleet: Any,
    times: Sequence[float],
    *,
    job: str = DEFAULT_JOB,
    instance: str,
    include: Callable[[str], bool] | None = None,
    floors: dict[SeriesKey, float] | None = None,
) -> int:
    """Write ``fleet``'s series at unix ``times`` as OpenMetrics with the scrape's ``job``/``instance``; lines written.

    ``fleet`` is a ``SimulatedFleet``; the output feeds ``promtool tsdb create-blocks-from openmetrics``.

    >>> import io
    >>> from datetime import UTC
    >>> from mtop.sources.simulated import SimulatedFleet
    >>> fleet = SimulatedFleet(services=1, start=datetime(2026, 8, 3, tzinfo=UTC), clock="frozen")
    >>> buf = io.StringIO()
    >>> t = fleet.now().timestamp()
    >>> util = lambda name: name == "DCGM_FI_DEV_GPU_UTIL"
    >>> n = write_backfill(buf, fleet, [t - 15, t], instance="127.0.0.1:9400", include=util)
    >>> text = buf.getvalue()
    >>> 'job="mtop-sim",instance="127.0.0.1:9400"} ' in text, text.splitlines()[-1], text.count("UTIL{") == n
    (True, '# EOF', True)
    """
    from mtop.sources.simulated import SimulatedFleet

    if not isinstance(fleet, SimulatedFleet):
        raise TypeError(f"write_backfill needs a SimulatedFleet, got {type(fleet).__name__}")
    labels = {"job": job, "instance": instance}
    return write_history(out, fleet.telemetry.samples, times, labels, include, floors)


# ------------------------------------------------------------------------------------------------ serve
def served_fleet(config: FleetConfig | None = None, *, seed: int = 0, services: int | None = None) -> SimulatedFleet:
    """The simulated fleet ``mtop sim serve`` serves: simulated time is wall time from now.

    (Here so the command line, which may not import the data layer, can make one.)

    >>> fleet = served_fleet(seed=2, services=1); abs((fleet.now() - fleet.start).total_seconds()) < 60
    True
    """
    from mtop.sources.simulated import SimulatedFleet

    return SimulatedFleet(config, seed=seed, services=services, clock="wall")


def serve(
    fleet: ServedFleet,
    *,
    writer: KubeWriter | None = None,
    metrics: MetricsServer | None = None,
    stop: threading.Event | None = None,
    resync: float = 30.0,
    say: Callable[[str], None] = print,
) -> LoadReport | None:
    """Load ``fleet`` into the API server of ``writer`` (if any), serve ``metrics`` (if any) until ``stop`` is set.

    Every ``resync`` seconds the pod statuses that changed (a crash-looping pod's restarts) are written
    again. With no ``metrics`` server it returns right after the load (``mtop sim serve --once``).

    >>> from mtop.sources.simulated import SimulatedFleet
    >>> serve(SimulatedFleet(services=1, clock="frozen"), say=lambda line: None) is None
    True
    """
    lock = metrics.lock if metrics is not None else threading.Lock()
    report: LoadReport | None = None
    if writer is not None:
        with lock:
            report = writer.load(fleet)
        say(f"mtop sim serve: {report.summary()} to {writer.host}")
    if metrics is None:
        return report
    stop = stop or threading.Event()
    metrics.start()
    say(f"mtop sim serve: metrics at {metrics.url} (scrape with honor_labels: true)")
    try:
        while not stop.wait(resync):
            if writer is not None:
                with lock:
                    writer.sync_pod_statuses(fleet)
    finally:
        metrics.stop()
    return report
