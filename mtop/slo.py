"""SLO maths: the slo_metrics figures and their compliance flags against ``config.slo``; pure.

Flags are pandas' nullable ``boolean``: NA means "cannot tell" (no traffic, no data), which is not
a breach. ``slo_ok`` combines them with Kleene logic: any False makes it False, otherwise any NA
makes it NA.

>>> f = compliance(pd.DataFrame({"ttft_p95_ms": [200.0], "error_rate_percent": [0.0],
...     "tokens_per_second": [1500.0], "requests_per_second": [3.0]}), ttft_p95_ms=500,
...     error_rate_percent=0.1, tokens_per_second=1000)
>>> f["slo_ok"].tolist()
[True]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mtop import schema

if TYPE_CHECKING:
    from mtop.config import SLOConfig

__all__ = [
    "METRIC_QUERIES",
    "compliance",
    "error_rate_ok",
    "error_rate_percent",
    "has_traffic",
    "slo_frame",
    "throughput_ok",
    "ttft_ok",
]

METRIC_QUERIES: dict[str, tuple[str, dict[str, Any], float]] = {
    "ttft_p50_ms": ("ttft_quantile", {"q": 0.5}, 1000.0),
    "ttft_p95_ms": ("ttft_quantile", {"q": 0.95}, 1000.0),
    "ttft_p99_ms": ("ttft_quantile", {"q": 0.99}, 1000.0),
    "itl_p95_ms": ("itl_quantile", {"q": 0.95}, 1000.0),
    "e2e_p95_ms": ("e2e_quantile", {"q": 0.95}, 1000.0),
    "requests_per_second": ("request_rate", {}, 1.0),
    "error_requests_per_second": ("error_request_rate", {}, 1.0),
    "tokens_per_second": ("generation_tokens_rate", {}, 1.0),
    "prompt_tokens_per_second": ("prompt_tokens_rate", {}, 1.0),
    "queue_depth": ("queue_depth", {}, 1.0),
    "kv_cache_usage": ("kv_cache_usage", {}, 1.0),
}
"""slo_metrics column -> (catalogue query, its parameters besides ``window``, scale to the column's unit)."""


def _nullable(values: npt.ArrayLike, known: npt.ArrayLike) -> pd.Series:
    out = pd.Series(np.asarray(values, dtype=bool), dtype="boolean")
    out[~np.asarray(known, dtype=bool)] = pd.NA
    return out


def has_traffic(requests_per_second: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether a service finished any request in the window (False for 0 or NaN).

    >>> has_traffic([2.0, 0.0, float("nan")]).tolist()
    [True, False, False]
    """
    rps = np.asarray(requests_per_second, dtype=np.float64)
    return np.isfinite(rps) & (rps > 0)


def error_rate_percent(
    error_requests_per_second: npt.ArrayLike, requests_per_second: npt.ArrayLike, *, missing_is_zero: bool = True
) -> npt.NDArray[np.float64]:
    """``100 x errored / finished`` requests; NaN without traffic.

    With ``missing_is_zero`` a NaN error rate next to real traffic counts as no errors: Prometheus has
    no ``abort|error`` series for a service that never failed a request, which is not missing data.

    >>> error_rate_percent([0.5, float("nan"), 0.0], [100.0, 10.0, 0.0]).tolist()
    [0.5, 0.0, nan]
    """
    rps = np.asarray(requests_per_second, dtype=np.float64)
    err = np.asarray(error_requests_per_second, dtype=np.float64)
    if missing_is_zero:
        err = np.where(np.isnan(err), 0.0, err)
    out = np.full(np.broadcast(err, rps).shape, np.nan)
    np.divide(100.0 * err, rps, out=out, where=has_traffic(rps))
    return out


def ttft_ok(ttft_p95_ms: npt.ArrayLike, target_ms: float) -> pd.Series:
    """``p95 <= target``; NA when the p95 is unknown (no traffic in the window).

    >>> ttft_ok([400.0, 600.0, float("nan")], 500).tolist()
    [True, False, <NA>]
    """
    p95 = np.asarray(ttft_p95_ms, dtype=np.float64)
    return _nullable(p95 <= target_ms, ~np.isnan(p95))


def error_rate_ok(error_rate: npt.ArrayLike, target_percent: float) -> pd.Series:
    """``error rate <= target``; NA when unknown (no traffic).

    >>> error_rate_ok([0.05, 2.0, float("nan")], 0.1).tolist()
    [True, False, <NA>]
    """
    rate = np.asarray(error_rate, dtype=np.float64)
    return _nullable(rate <= target_percent, ~np.isnan(rate))


def throughput_ok(
    tokens_per_second: npt.ArrayLike, requests_per_second: npt.ArrayLike, target_tokens_per_second: float
) -> pd.Series:
    """``output tokens/s >= target``; NA (not False) for a service with no traffic or no token rate.

    >>> throughput_ok([1200.0, 10.0, 0.0], [5.0, 1.0, 0.0], 1000).tolist()
    [True, False, <NA>]
    """
    tps = np.asarray(tokens_per_second, dtype=np.float64)
    return _nullable(tps >= target_tokens_per_second, has_traffic(requests_per_second) & ~np.isnan(tps))


def compliance(
    metrics: pd.DataFrame, *, ttft_p95_ms: float, error_rate_percent: float, tokens_per_second: float
) -> pd.DataFrame:
    """The four flags (``ttft_ok``, ``error_rate_ok``, ``throughput_ok``, ``slo_ok``) for a metrics frame.

    ``metrics`` needs ``ttft_p95_ms``, ``error_rate_percent``, ``tokens_per_second`` and
    ``requests_per_second``. ``slo_ok`` is the Kleene AND of the three.

    >>> m = pd.DataFrame({"ttft_p95_ms": [900.0, float("nan")], "error_rate_percent": [0.0, float("nan")],
    ...                   "tokens_per_second": [2000.0, float("nan")], "requests_per_second": [4.0, 0.0]})
    >>> compliance(m, ttft_p95_ms=500, error_rate_percent=0.1, tokens_per_second=1000)["slo_ok"].tolist()
    [False, <NA>]
    """
    out = pd.DataFrame(index=metrics.index)
    out["ttft_ok"] = ttft_ok(metrics["ttft_p95_ms"], ttft_p95_ms).to_numpy()
    out["error_rate_ok"] = error_rate_ok(metrics["error_rate_percent"], error_rate_percent).to_numpy()
    out["throughput_ok"] = throughput_ok(
        metrics["tokens_per_second"], metrics["requests_per_second"], tokens_per_second
    ).to_numpy()
    for col in ("ttft_ok", "error_rate_ok", "throughput_ok"):
        out[col] = out[col].astype("boolean")
    out["slo_ok"] = out["ttft_ok"] & out["error_rate_ok"] & out["throughput_ok"]  # Kleene logic on "boolean"
    return out


def slo_frame(
    services: pd.DataFrame, metrics: pd.DataFrame, slo: SLOConfig, *, errors_known: bool = True
) -> pd.DataFrame:
    """Schema ``slo_metrics``: one row per service of ``services``, figures from ``metrics``, flags from ``slo``.

    ``metrics`` has ``namespace``, ``service`` and the :data:`METRIC_QUERIES` columns already in their
    units (a missing column or service is NaN). ``errors_known`` is False when the error query failed,
    so a missing error rate stays NaN instead of counting as zero.

    >>> class S:
    ...     ttft_p95_ms, error_rate_percent, tokens_per_second = 500.0, 0.1, 1000.0
    >>> slo_frame(schema.empty_frame("services"), schema.empty_frame("slo_metrics"), S()).shape
    (0, 18)
    """
    keys = pd.MultiIndex.from_arrays([services["namespace"], services["name"]])
    figures = metrics.drop_duplicates(["namespace", "service"]).set_index(["namespace", "service"]).reindex(keys)
    cols: dict[str, Any] = {
        "namespace": services["namespace"].to_numpy(),
        "service": services["name"].to_numpy(),
        "model": services["model"].to_numpy(),
    }
    for col in METRIC_QUERIES:
        cols[col] = _column(figures, col)
    cols["error_rate_percent"] = error_rate_percent(
        cols.pop("error_requests_per_second"), cols["requests_per_second"], missing_is_zero=errors_known
    )
    frame = schema.conform(cols, "slo_metrics")
    flags = compliance(
        frame,
        ttft_p95_ms=float(slo.ttft_p95_ms),
        error_rate_percent=float(slo.error_rate_percent),
        tokens_per_second=float(slo.tokens_per_second),
    )
    for col in flags.columns:
        frame[col] = flags[col].to_numpy()
    return schema.conform(frame, "slo_metrics")


def _column(figures: pd.DataFrame, col: str) -> npt.NDArray[np.float64]:
    if col not in figures.columns:
        return np.full(len(figures), np.nan)
    return figures[col].to_numpy(np.float64)


def tidy_history(series: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Schema ``slo_history`` from per-metric tidy frames (``timestamp``, ``namespace``, ``service``, ``value``).

    ``error_requests_per_second`` (if given with ``requests_per_second``) becomes ``error_rate_percent``
    point by point, like :func:`error_rate_percent`.

    >>> tidy_history({}).columns.tolist()
    ['timestamp', 'namespace', 'service', 'metric', 'value']
    """
    parts = dict(series)
    errors = parts.pop("error_requests_per_second", None)
    requests = parts.get("requests_per_second")
    if errors is not None and requests is not None:
        key = ["timestamp", "namespace", "service"]
        joined = requests.merge(errors, on=key, how="left", suffixes=("", "_err"))
        rate = error_rate_percent(joined["value_err"].to_numpy(np.float64), joined["value"].to_numpy(np.float64))
        parts["error_rate_percent"] = joined[key].assign(value=rate)
    frames = [frame.assign(metric=name) for name, frame in parts.items() if len(frame)]
    if not frames:
        return schema.empty_frame("slo_history")
    out = schema.conform(pd.concat(frames, ignore_index=True), "slo_history")
    out = out[list(schema.FRAMES["slo_history"].columns)]
    return out.sort_values(["metric", "namespace", "service", "timestamp"], kind="stable").reset_index(drop=True)
