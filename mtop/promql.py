"""PromQL semantics that mtop reproduces outside Prometheus: ``histogram_quantile`` and result shapes.

Pure functions: no I/O, no clock. The simulated fleet answers named queries with them, and tests use
them to check hand-computed cases. :func:`histogram_quantile` follows Prometheus's ``bucketQuantile``
(``promql/quantile.go``) rule for rule; :func:`histogram_quantile_many` is its vectorised twin for
well-formed (sorted, non-decreasing) buckets.

>>> histogram_quantile(0.5, [1.0, 2.0, float("inf")], [10.0, 20.0, 20.0])
1.0
>>> vector([({"service": "a"}, 0.25)], 1700000000.0)["result"]
[{'metric': {'service': 'a'}, 'value': [1700000000.0, '0.25']}]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["format_value", "histogram_quantile", "histogram_quantile_many", "matrix", "vector"]

_PRECISION_TOLERANCE = 1e-12  # Prometheus treats bucket counts this close as equal (float noise).


def histogram_quantile(q: float, uppers: Sequence[float], cumulative_counts: Sequence[float]) -> float:
    """The ``q``-quantile of classic histogram buckets, exactly as PromQL's ``histogram_quantile``.

    ``uppers`` are the ``le`` bounds (any order; the highest must be ``+Inf``), ``cumulative_counts``
    the bucket values (counts or rates). Linear interpolation inside the bucket holding the rank; the
    lowest bucket starts at 0 when its bound is positive; a rank in the ``+Inf`` bucket returns the
    highest finite bound. NaN for no observations, fewer than two buckets or no ``+Inf`` bucket;
    ``-Inf``/``+Inf`` for ``q`` below 0 / above 1.

    >>> histogram_quantile(0.25, [0.1, 1.0, float("inf")], [4.0, 8.0, 8.0])  # inside the first bucket
    0.05
    >>> histogram_quantile(0.99, [0.1, 1.0, float("inf")], [4.0, 8.0, 10.0])  # in the +Inf bucket
    1.0
    >>> histogram_quantile(0.5, [0.1, float("inf")], [0.0, 0.0])
    nan
    """
    if len(uppers) != len(cumulative_counts):
        raise ValueError(f"{len(uppers)} bucket bounds but {len(cumulative_counts)} counts")
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if not uppers:
        return math.nan
    pairs = sorted(zip((float(u) for u in uppers), (float(c) for c in cumulative_counts), strict=True))
    if not math.isinf(pairs[-1][0]) or pairs[-1][0] < 0:
        return math.nan
    buckets = _coalesce(pairs)
    _correct_precision(buckets)
    _force_monotonic(buckets)
    if len(buckets) < 2:
        return math.nan
    observations = buckets[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    # First finite bucket whose count reaches the rank; none -> the +Inf bucket.
    b = next((i for i in range(len(buckets) - 1) if buckets[i][1] >= rank), len(buckets) - 1)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[b][0], buckets[b][1]
    if b > 0:
        start = buckets[b - 1][0]
        count -= buckets[b - 1][1]
        rank -= buckets[b - 1][1]
    if count == 0:
        return math.nan  # 0/0 in Go: only when q == 0 and the lowest bucket is empty
    return start + (end - start) * (rank / count)


def _coalesce(pairs: list[tuple[float, float]]) -> list[list[float]]:
    # Buckets with the same bound (e.g. from two series) add up.
    out: list[list[float]] = []
    for upper, count in pairs:
        if out and out[-1][0] == upper:
            out[-1][1] += count
        else:
            out.append([upper, count])
    return out


def _correct_precision(buckets: list[list[float]]) -> None:
    prev = buckets[0][1]
    for b in buckets[1:]:
        delta = abs(b[1] - prev)
        if delta == 0:
            continue
        eps = delta / b[1] if b[1] != 0 else math.inf  # Go's float division: x/0 = +Inf
        if eps <= _PRECISION_TOLERANCE:
            b[1] = prev
        else:
            prev = b[1]


def _force_monotonic(buckets: list[list[float]]) -> None:
    highest = buckets[0][1]
    for b in buckets[1:]:
        if b[1] > highest:
            highest = b[1]
        elif b[1] < highest:
            b[1] = highest


def histogram_quantile_many(q: float, uppers: Sequence[float], cumulative_counts: ArrayLike) -> NDArray[np.float64]:
    """:func:`histogram_quantile` over many histograms at once (the last axis holds the buckets).

    ``uppers`` must be sorted, distinct and end with ``+Inf``; counts are made non-decreasing along
    the bucket axis, as PromQL does. Same results as the scalar function for such input.

    >>> histogram_quantile_many(0.5, [1.0, 2.0, float("inf")], [[10.0, 20.0, 20.0], [0.0, 0.0, 0.0]]).tolist()
    [1.0, nan]
    """
    bounds = np.asarray(uppers, dtype=np.float64)
    if bounds.ndim != 1 or len(bounds) < 2 or not np.isposinf(bounds[-1]) or np.any(np.diff(bounds) <= 0):
        raise ValueError("uppers must be sorted, distinct, at least two, and end with +Inf")
    counts = np.maximum.accumulate(np.asarray(cumulative_counts, dtype=np.float64), axis=-1)
    if counts.shape[-1] != len(bounds):
        raise ValueError(f"{len(bounds)} bucket bounds but {counts.shape[-1]} counts per histogram")
    shape = counts.shape[:-1]
    if math.isnan(q):
        return np.full(shape, math.nan)
    if q < 0 or q > 1:
        return np.full(shape, -math.inf if q < 0 else math.inf)
    n = len(bounds)
    observations = counts[..., -1]
    rank = q * observations
    reached = counts[..., :-1] >= rank[..., None]
    b = np.where(reached.any(axis=-1), reached.argmax(axis=-1), n - 1)
    finite_b = np.minimum(b, n - 2)
    end = bounds[finite_b]
    start = np.where(finite_b > 0, bounds[np.maximum(finite_b - 1, 0)], 0.0)
    below = np.where(finite_b > 0, np.take_along_axis(counts, np.maximum(finite_b - 1, 0)[..., None], -1)[..., 0], 0.0)
    inside = np.take_along_axis(counts, finite_b[..., None], -1)[..., 0] - below
    with np.errstate(divide="ignore", invalid="ignore"):
        out = start + (end - start) * ((rank - below) / inside)
    out = np.where(b == n - 1, bounds[n - 2], out)
    if bounds[0] <= 0:
        out = np.where(b == 0, bounds[0], out)
    return np.where(observations == 0, math.nan, out)


def format_value(value: float) -> str:
    """A sample value as the Prometheus HTTP API writes it (``"NaN"``, ``"+Inf"``, ``"3"``, ``"0.25"``).

    >>> [format_value(v) for v in (float("nan"), float("inf"), -float("inf"), 3.0, 0.25)]
    ['NaN', '+Inf', '-Inf', '3', '0.25']
    """
    v = float(value)
    if v - v != 0:  # NaN or an infinity (x - x is NaN for both); this runs per point of a range query
        return "NaN" if v != v else ("+Inf" if v > 0 else "-Inf")
    if v.is_integer() and -1e15 < v < 1e15:
        return str(int(v))
    return repr(v)


def format_values(values: Iterable[float]) -> list[str]:
    """``format_value`` over many values at once (the hot path of a large instant query).

    >>> format_values([1.0, 0.5, float("nan")])
    ['1', '0.5', 'NaN']
    """
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        plain = np.isfinite(arr) & (arr == np.trunc(arr)) & (np.abs(arr) < 1e15)
    return [
        str(int(v)) if p else (repr(v) if v - v == 0 else format_value(v))
        for v, p in zip(arr.tolist(), plain.tolist(), strict=True)
    ]


def vector(samples: Iterable[tuple[Mapping[str, str], float]], timestamp: float) -> dict[str, Any]:
    """A Prometheus instant-query ``data`` object from ``(labels, value)`` pairs.

    >>> vector([({"gpu": "0"}, float("nan"))], 0.0)
    {'resultType': 'vector', 'result': [{'metric': {'gpu': '0'}, 'value': [0.0, 'NaN']}]}
    """
    ts = float(timestamp)
    pairs = list(samples)
    texts = format_values([v for _, v in pairs])
    return {
        "resultType": "vector",
        # Label dicts are shared, not copied: results are read-only (interfaces.Source), and copying
        # 10,000+ DCGM label sets per refresh was the largest single cost of a big fleet's overview.
        "result": [
            {"metric": labels if isinstance(labels, dict) else dict(labels), "value": [ts, text]}
            for (labels, _), text in zip(pairs, texts, strict=True)
        ],
    }


def matrix(series: Iterable[tuple[Mapping[str, str], Sequence[tuple[float, float]]]]) -> dict[str, Any]:
    """A Prometheus range-query ``data`` object from ``(labels, [(timestamp, value), ...])`` pairs.

    >>> matrix([({"service": "a"}, [(0.0, 1.0), (60.0, 2.5)])])["result"][0]["values"]
    [[0.0, '1'], [60.0, '2.5']]
    """
    return {
        "resultType": "matrix",
        "result": [
            {"metric": dict(labels), "values": [[float(ts), format_value(v)] for ts, v in points]}
            for labels, points in series
        ],
    }
