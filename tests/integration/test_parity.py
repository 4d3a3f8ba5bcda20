"""Mock/live parity: the simulated fleet read directly (mock) equals the same fleet read back from a real
kube-apiserver and a real Prometheus (live), at the same instant.

The fleet is loaded into a private API server (``sim_cluster``) with ``mtop sim serve``'s writer and
scraped by Prometheus from ``mtop sim serve``'s metrics server (``sim_prometheus``, with 10 minutes of
backfilled history). Both
modes are evaluated at one instant ``at``: mock mode is the fleet frozen at ``at``; live mode asks
Prometheus for ``time=at`` (a pinned source). Object frames are compared with mock mode at the instant
the objects were written (a crash-looping pod's restart count moves with time).

What must be equal, and how closely:

- ``services``, ``pods``, ``nodes``: exactly, every schema column except ``created`` (the API server sets
  ``creationTimestamp`` when the object is written), ``api_version`` (``v1alpha1`` objects are read back
  through the storage version ``v1alpha2``) and ``cluster``.
- Gauges (``gpus``; queue depth and KV-cache usage in ``slo_metrics``; GPU counts, prices and utilisation
  in ``gpu_costs``): to floating-point rounding (``GAUGE_RTOL``; Prometheus adds in its own order). Each
  scraped sample carries the simulated instant it was computed for, and
  ``at`` is such an instant, chosen inside a 15-second tick (gauges change only on tick boundaries).
- Rates, the quantiles built from them and the error share: compared with mock mode *over the window's
  sampled span*, to ``RATE_RTOL`` (1e-4). Prometheus's ``rate(x[5m])`` at ``at`` takes the first and
  last samples in ``(at - 300 s, at]`` and extrapolates their increase to the 300 s with the same factor
  for every series (they share the scrape times): the last sample is at ``at`` itself, the first ``g``
  seconds after the window's start (``at`` is chosen with ``g <= 3 s``), so the rate Prometheus reports
  is exactly the increase over ``[at - 300 + g, at]`` divided by its length. Mock mode is asked for that
  window (``window=`` the span, in whole milliseconds like Prometheus's timestamps), so the two agree up
  to the exposition's printed digits (2e-6 relative seen); quantiles (``*_ms``, scale-free in the bucket
  rates) and the error share (a ratio of two rates) likewise. Compared with the full 5 minutes instead,
  one tick's share of the ``g`` seconds made up to 2.8 % (a p95) and 5.7 % (an error share) of
  difference for services near overload, depending on the hour the test ran.
- SLO flags (``ttft_ok``, ``error_rate_ok``, ``throughput_ok``, ``slo_ok``): equal, except for a row whose
  figure lies within the tolerance of its target (where either answer is right).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fixtures_kube import KubeCluster
from fixtures_prom import SimPrometheus, instant_in_tick, wait_for

import mtop
from mtop.config import default_config
from mtop.context import Fleet
from mtop.interfaces import JSONDict
from mtop.schema import FRAMES
from mtop.simulation.serve import serve
from mtop.simulation.serve_kube import KubeWriter

pytestmark = pytest.mark.slow

# Over the sampled span (module doc) only the exposition's printed digits separate the two modes: 2e-6
# relative was the largest difference seen; 1e-4 leaves room for Prometheus's own float arithmetic.
RATE_RTOL = 1e-4
QUANTILE_RTOL = 1e-4
RATIO_RTOL = 1e-4
RATIO_ATOL = 1e-6  # percentage points, for shares near zero
GAUGE_RTOL = 1e-12  # floating-point rounding only: Prometheus sums and averages in its own order
RATE_ATOL = 1e-9
EXCLUDED = ("created", "api_version", "cluster")
EXACT = {
    "gpus": None,  # every column
    "slo_metrics": ("namespace", "service", "model", "queue_depth", "kv_cache_usage"),
    "gpu_costs": ("namespace", "service", "gpu_type", "gpus", "hourly_cost", "idle_hourly_cost", "monthly_cost",
                  "utilization_percent"),
}  # fmt: skip
FLAGS = {"ttft_ok": "ttft_p95_ms", "error_rate_ok": "error_rate_percent", "throughput_ok": "tokens_per_second"}


class PinnedSource:
    """A live source whose queries are all evaluated at one instant (Prometheus's ``time=at``)."""

    def __init__(self, inner: Any, at: datetime) -> None:
        self.inner = inner
        self.at = at
        self.kind = inner.kind
        self.cluster = inner.cluster

    def now(self) -> datetime:
        return self.at

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[JSONDict]:
        return list(self.inner.list_objects(kind, namespaces))

    def query(self, name: str, params: Mapping[str, Any] | None = None, at: datetime | None = None) -> JSONDict:
        return dict(self.inner.query(name, params, self.at))

    def query_range(self, name: str, params: Mapping[str, Any] | None, start: datetime, end: datetime,
                    step: timedelta) -> JSONDict:  # fmt: skip
        return dict(self.inner.query_range(name, params, start, end, step))

    def query_many(self, requests: Sequence[Any], at: datetime | None = None) -> list[Any]:
        return list(self.inner.query_many(requests, self.at))

    def drain_errors(self) -> list[str]:
        return list(self.inner.drain_errors())

    def drain_stale(self) -> list[str]:
        return list(self.inner.drain_stale())


def _sorted(df: pd.DataFrame, kind: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    schema = FRAMES[kind]
    cols = [c for c in (columns or schema.columns) if c not in EXCLUDED]
    out = df[cols].sort_values(list(schema.key), kind="stable").reset_index(drop=True)
    out.attrs = {}
    return out


@pytest.fixture(scope="module")
def parity(sim_cluster: KubeCluster, sim_prometheus: SimPrometheus) -> dict[str, Any]:
    """Load the fleet into the API server, pick ``at``, and connect both modes."""
    cfg = default_config()
    written_at = datetime.now(UTC)
    writer = KubeWriter.from_kubeconfig(str(sim_cluster.kubeconfig), sim_cluster.context)
    try:
        report = serve(sim_prometheus.mock_fleet(written_at), writer=writer, say=lambda line: None)
    finally:
        writer.close()
    assert report is not None and report.counts["pods"] > 100
    sim_cluster.settle()  # live mode reads the watch cache: let it catch up with the writes
    # A scrape instant late in its tick, so the 5-minute window starts just before a backfilled tick boundary.
    series = 'vllm:num_requests_waiting{job="mtop-sim"}'
    probe = sim_prometheus.query(series)[0]["metric"]
    selector = "vllm:num_requests_waiting{" + ",".join(f'{k}="{v}"' for k, v in probe.items() if k != "__name__") + "}"
    at_ts = wait_for(lambda: instant_in_tick([t for t in sim_prometheus.sample_times(selector)
                                              if t > sim_prometheus.history_end]))  # fmt: skip
    assert at_ts - 300 >= sim_prometheus.history_start, "the rate window must lie within the backfilled history"
    at = datetime.fromtimestamp(at_ts, UTC)
    # The sampled span of a 5-minute window at `at`: from its first sample (all series share the scrape
    # times) to `at`, to the millisecond (Prometheus's timestamps are whole milliseconds).
    first = min(t for t in sim_prometheus.sample_times(selector, lookback="15m") if t > at_ts - 300)
    live = mtop.connect(mode="live", config=cfg, kubeconfig=str(sim_cluster.kubeconfig), context=sim_cluster.context,
                        prometheus_url=sim_prometheus.url, progress=False)  # fmt: skip
    return {
        "at": at,
        "span": f"{round((at_ts - first) * 1000)}ms",
        "objects_mock": mtop.connect(source=sim_prometheus.mock_fleet(report.at), config=cfg),
        "mock": mtop.connect(source=sim_prometheus.mock_fleet(at), config=cfg),
        "live": Fleet(source=PinnedSource(live.source, at), config=cfg),  # type: ignore[arg-type]
    }


@pytest.mark.parametrize("kind", ["services", "pods", "nodes"])
def test_objects_are_equal(parity: dict[str, Any], kind: str) -> None:
    collector = getattr(mtop, kind)
    mock, live = collector(parity["objects_mock"]), collector(parity["live"])
    assert live.attrs["source"] == "live" and not live.attrs.get("errors"), live.attrs.get("errors")
    assert len(mock) > 0
    pd.testing.assert_frame_equal(_sorted(live, kind), _sorted(mock, kind), check_exact=True)


@pytest.mark.parametrize("kind", ["gpus", "slo_metrics", "gpu_costs"])
def test_metrics_agree_within_rate_tolerance(parity: dict[str, Any], kind: str) -> None:
    collector = getattr(mtop, kind)
    # Rates over the window's sampled span: what Prometheus's extrapolated rate() equals (module doc).
    mock = collector(parity["mock"]) if kind == "gpus" else collector(parity["mock"], window=parity["span"])
    live = collector(parity["live"])
    assert not live.attrs.get("errors"), live.attrs.get("errors")
    columns = [c for c in FRAMES[kind].columns if c not in EXCLUDED]
    exact = list(EXACT[kind] or columns)
    m, lv = _sorted(mock, kind), _sorted(live, kind)
    assert len(m) > 0 and lv[list(FRAMES[kind].key)].equals(m[list(FRAMES[kind].key)])
    pd.testing.assert_frame_equal(lv[exact], m[exact], check_exact=False, rtol=GAUGE_RTOL, atol=0.0)
    flags = [c for c in columns if c in FLAGS or c == "slo_ok"]
    approx = [c for c in columns if c not in exact and c not in flags]
    ratios = [c for c in approx if c == "error_rate_percent"]
    quantiles = [c for c in approx if c.endswith("_ms")]
    rates = [c for c in approx if c not in quantiles and c not in ratios]
    if ratios:
        pd.testing.assert_frame_equal(lv[ratios], m[ratios], check_exact=False, rtol=RATIO_RTOL, atol=RATIO_ATOL)
    if rates:
        pd.testing.assert_frame_equal(lv[rates], m[rates], check_exact=False, rtol=RATE_RTOL, atol=RATE_ATOL)
    if quantiles:
        pd.testing.assert_frame_equal(
            lv[quantiles], m[quantiles], check_exact=False, rtol=QUANTILE_RTOL, atol=RATE_ATOL
        )
    if flags:
        _assert_flags_agree(lv, m, flags)


def _assert_flags_agree(live: pd.DataFrame, mock: pd.DataFrame, flags: Sequence[str]) -> None:
    cfg = default_config().slo
    targets = {"ttft_p95_ms": cfg.ttft_p95_ms, "error_rate_percent": cfg.error_rate_percent,
               "tokens_per_second": cfg.tokens_per_second}  # fmt: skip
    borderline = np.zeros(len(mock), dtype=bool)
    for flag in flags:
        if flag == "slo_ok":
            continue
        figure = FLAGS[flag]
        rtol, atol = (RATIO_RTOL, RATIO_ATOL) if figure == "error_rate_percent" else (RATE_RTOL, 0.0)
        near = (mock[figure] - targets[figure]).abs() <= max(rtol * abs(targets[figure]), atol)
        borderline |= near.fillna(False).to_numpy(dtype=bool)
        keep = ~near.fillna(False).to_numpy(dtype=bool)
        assert live[flag][keep].equals(mock[flag][keep]), flag
    if "slo_ok" in flags:
        assert live["slo_ok"][~borderline].equals(mock["slo_ok"][~borderline])


def test_rates_use_a_full_window(parity: dict[str, Any], sim_prometheus: SimPrometheus) -> None:
    """Without the backfill, a 5-minute rate would be a fraction of the truth: check it is whole."""
    at = parity["at"].timestamp()
    live = sim_prometheus.query('sum(rate(vllm:request_success_total{job="mtop-sim"}[5m]))', at)
    mock = parity["mock"].source.query("request_rate", {"window": "5m"})
    truth = sum(float(r["value"][1]) for r in mock["result"])
    assert truth > 0
    assert float(live[0]["value"][1]) == pytest.approx(truth, rel=RATE_RTOL)
