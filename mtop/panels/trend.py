"""Bounded history of fleet figures per refresh, and the least-squares trend used by the SLO gauges (pure).

Each refresh adds one point per namespace (request rate, request-weighted TTFT, tokens/s, cost), kept
in a ``deque`` of at most ``maxlen`` points: memory does not grow with the number of refreshes.

>>> from datetime import UTC, datetime, timedelta
>>> import pandas as pd
>>> h = FleetHistory(maxlen=2)
>>> ov = pd.DataFrame({"namespace": ["a"], "requests_per_second": [2.0], "ttft_p95_ms": [300.0],
...                    "tokens_per_second": [100.0], "hourly_cost": [3.6]})
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> for i in range(3):
...     h.add(t0 + timedelta(seconds=i), ov)
>>> len(h), h.series()["cost_per_million_tokens"].round(2).tolist()
(2, [10.0, 10.0])
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

__all__ = ["FleetHistory", "Trend", "fit_trend", "history_from_slo", "namespace_totals", "seconds_since_first"]

_TOTALS = ("requests_per_second", "ttft_weighted", "tokens_per_second", "hourly_cost")


def namespace_totals(overview: pd.DataFrame) -> dict[str, tuple[float, float, float, float]]:
    """Per namespace: (requests/s, sum of requests/s x TTFT p95, tokens/s, $/h); NaN counts as 0.

    >>> df = pd.DataFrame({"namespace": ["a", "a"], "requests_per_second": [1.0, 3.0], "ttft_p95_ms": [100.0, 200.0],
    ...                    "tokens_per_second": [5.0, float("nan")], "hourly_cost": [1.0, 2.0]})
    >>> namespace_totals(df)
    {'a': (4.0, 700.0, 5.0, 3.0)}
    """
    if overview.empty or "namespace" not in overview.columns:
        return {}

    def col(name: str) -> np.ndarray:
        if name not in overview.columns:
            return np.zeros(len(overview))
        values: np.ndarray = np.nan_to_num(overview[name].to_numpy(dtype=np.float64, na_value=np.nan))
        return values

    rps, ttft = col("requests_per_second"), col("ttft_p95_ms")
    frame = pd.DataFrame(
        {
            "namespace": overview["namespace"].astype("string").fillna("").to_numpy(dtype=object),
            "requests_per_second": rps,
            "ttft_weighted": rps * ttft,
            "tokens_per_second": col("tokens_per_second"),
            "hourly_cost": col("hourly_cost"),
        }
    )
    sums = frame.groupby("namespace", sort=True)[list(_TOTALS)].sum()
    return {
        str(ns): (float(r[0]), float(r[1]), float(r[2]), float(r[3]))
        for ns, r in zip(sums.index, sums.to_numpy(), strict=True)
    }


class FleetHistory:
    """The last ``maxlen`` refreshes' per-namespace totals; :meth:`series` aggregates them for a view."""

    def __init__(self, maxlen: int = 300) -> None:
        self.maxlen = maxlen
        self._points: deque[tuple[datetime, dict[str, tuple[float, float, float, float]]]] = deque(maxlen=maxlen)

    def __len__(self) -> int:
        return len(self._points)

    def add(self, at: datetime, overview: pd.DataFrame) -> None:
        """Record one refresh (the oldest point drops out when full)."""
        self._points.append((at, namespace_totals(overview)))

    def clear(self) -> None:
        """Forget every point."""
        self._points.clear()

    def series(self, namespace: str | None = None) -> pd.DataFrame:
        """One row per recorded refresh for ``namespace`` (None: the whole fleet).

        Columns ``timestamp``, ``tokens_per_second``, ``ttft_p95_ms`` (the request-weighted mean of the
        services' p95) and ``cost_per_million_tokens``.

        >>> FleetHistory().series().columns.tolist()
        ['timestamp', 'tokens_per_second', 'ttft_p95_ms', 'cost_per_million_tokens']
        """
        times: list[datetime] = []
        rows = np.zeros((len(self._points), 4))
        for i, (at, by_ns) in enumerate(self._points):
            times.append(at)
            for ns, values in by_ns.items():
                if namespace is None or ns == namespace:
                    rows[i] += values
        rps, weighted, tps, cost = rows.T
        with np.errstate(divide="ignore", invalid="ignore"):
            ttft = np.where(rps > 0, weighted / np.where(rps > 0, rps, 1.0), np.nan)
            per_m = np.where(tps > 0, cost / (np.where(tps > 0, tps, 1.0) * 3600.0) * 1e6, np.nan)
        return pd.DataFrame(
            {
                "timestamp": pd.to_datetime(pd.Series(times, dtype=object), utc=True)
                if times
                else pd.Series([], dtype="datetime64[ns, UTC]"),
                "tokens_per_second": tps,
                "ttft_p95_ms": ttft,
                "cost_per_million_tokens": per_m,
            }
        )


@dataclass(frozen=True)
class Trend:
    """A least-squares line through recent points of a lower-is-better figure.

    ``direction`` is ``"stable"``, ``"improving"`` (falling) or ``"degrading"`` (rising), or ``"unknown"``
    with too few points; ``seconds_to_breach`` is 0 when the fitted value is already over the threshold,
    the time until the line crosses it when degrading, else None.
    """

    slope_per_second: float
    direction: str
    seconds_to_breach: float | None
    points: int

    def describe(self) -> str:
        """One line for a panel: direction and predicted time to breach.

        >>> Trend(0.5, "degrading", 600.0, 10).describe()
        'degrading; breach in ~10 min'
        """
        if self.direction == "unknown":
            return f"trend: needs 5 points ({self.points} so far)"
        if self.seconds_to_breach == 0:
            return f"{self.direction}; in breach now"
        if self.seconds_to_breach is None:
            return f"{self.direction}; no breach predicted"
        minutes = self.seconds_to_breach / 60.0
        when = f"~{minutes:.0f} min" if minutes >= 1 else f"~{self.seconds_to_breach:.0f} s"
        return f"{self.direction}; breach in {when}"


def fit_trend(
    seconds: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    threshold: float,
    *,
    min_points: int = 5,
    tolerance: float = 0.01,
) -> Trend:
    """Fit ``values`` against ``seconds`` by least squares and predict when they cross ``threshold``.

    "Stable" means the line moves less than ``tolerance`` x ``threshold`` per minute (1 % of the target
    by default); NaN points are ignored; fewer than ``min_points`` points give ``"unknown"``.

    >>> fit_trend([0, 60, 120, 180, 240], [100, 110, 120, 130, 140], threshold=200)
    Trend(slope_per_second=0.16666666666666666, direction='degrading', seconds_to_breach=360.0, points=5)
    >>> fit_trend([0, 1, 2, 3, 4], [300, 300, 300, 300, 300], threshold=200).seconds_to_breach
    0.0
    """
    x = np.asarray(seconds, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    if n < max(min_points, 2) or float(np.ptp(x)) == 0.0:
        return Trend(math.nan, "unknown", None, n)
    xm, ym = x.mean(), y.mean()
    slope = float(((x - xm) * (y - ym)).sum() / ((x - xm) ** 2).sum())
    now = float(ym + slope * (x[-1] - xm))  # the fitted value at the latest point
    if abs(slope) * 60.0 < tolerance * abs(threshold):
        direction = "stable"
    else:
        direction = "degrading" if slope > 0 else "improving"
    if now >= threshold:
        breach: float | None = 0.0
    elif direction == "degrading":
        breach = (threshold - now) / slope
    else:
        breach = None
    return Trend(slope, direction, breach, n)


def seconds_since_first(times: Sequence[datetime] | pd.Series) -> np.ndarray:
    """Seconds from the first timestamp (for :func:`fit_trend`).

    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> seconds_since_first([t0, t0 + timedelta(minutes=1)]).tolist()
    [0.0, 60.0]
    """
    stamps = pd.to_datetime(pd.Series(list(times), dtype=object), utc=True)
    if stamps.empty:
        return np.zeros(0)
    return np.asarray((stamps - stamps.iloc[0]).dt.total_seconds(), dtype=np.float64)


def history_from_slo(
    slo_history: pd.DataFrame | None, overview: pd.DataFrame | None = None, *, namespace: str | None = None
) -> pd.DataFrame:
    """A :meth:`FleetHistory.series`-shaped frame from an ``slo_history`` frame (a static render's history).

    Tokens/s are summed over services; TTFT is the request-weighted mean of the services' p95; cost per
    million tokens uses each service's current ``hourly_cost`` from ``overview`` (prices do not move
    within the window), NaN without it.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> h = pd.DataFrame({"timestamp": [t] * 4, "namespace": ["a"] * 4, "service": ["s", "s", "u", "u"],
    ...                   "metric": ["tokens_per_second", "requests_per_second"] * 2, "value": [10.0, 1.0, 30.0, 3.0]})
    >>> history_from_slo(h)["tokens_per_second"].tolist()
    [40.0]
    """
    empty = FleetHistory().series()
    if slo_history is None or slo_history.empty:
        return empty
    df = slo_history if namespace is None else slo_history[(slo_history["namespace"] == namespace).fillna(False)]
    if df.empty:
        return empty
    wide = df.pivot_table(
        index=["timestamp", "namespace", "service"], columns="metric", values="value", aggfunc="mean"
    ).reset_index()

    def col(name: str) -> np.ndarray:
        if name not in wide.columns:
            return np.full(len(wide), np.nan)
        return wide[name].to_numpy(dtype=np.float64, na_value=np.nan)

    rps, tps = np.nan_to_num(col("requests_per_second")), np.nan_to_num(col("tokens_per_second"))
    cost = np.zeros(len(wide))
    have_cost = overview is not None and "hourly_cost" in overview.columns
    if have_cost and overview is not None:
        prices = overview.set_index(["namespace", "service"])["hourly_cost"]
        keys = pd.MultiIndex.from_arrays([wide["namespace"], wide["service"]])
        cost = np.nan_to_num(prices.reindex(keys).to_numpy(dtype=np.float64, na_value=np.nan))
    parts = pd.DataFrame(
        {
            "timestamp": wide["timestamp"],
            "rps": rps,
            "weighted": rps * np.nan_to_num(col("ttft_p95_ms")),
            "tps": tps,
            "cost": cost,
        }
    )
    sums = parts.groupby("timestamp", sort=True)[["rps", "weighted", "tps", "cost"]].sum()
    r, w, t, c = (sums[k].to_numpy(dtype=np.float64) for k in ("rps", "weighted", "tps", "cost"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ttft = np.where(r > 0, w / np.where(r > 0, r, 1.0), np.nan)
        per_m = np.where((t > 0) & have_cost, c / (np.where(t > 0, t, 1.0) * 3600.0) * 1e6, np.nan)
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(sums.index, utc=True),
            "tokens_per_second": t,
            "ttft_p95_ms": ttft,
            "cost_per_million_tokens": per_m,
        }
    ).reset_index(drop=True)
