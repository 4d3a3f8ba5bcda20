"""The dashboard header's figures, computed from one refresh's frames (pure).

>>> import mtop
>>> from mtop.collect import collect_all
>>> s = summarize(collect_all(mtop.connect(seed=1, clock="frozen")), mode="mock")
>>> s.ready <= s.services and s.gpus_allocated + s.gpus_free == s.gpus_total
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mtop.panels.view import filter_rows

__all__ = ["FleetSummary", "summarize"]


@dataclass(frozen=True)
class FleetSummary:
    """Header figures. Service figures follow the namespace filter; GPU and fleet cost are cluster-wide."""

    services: int = 0
    ready: int = 0
    gpus_allocated: int = 0
    gpus_free: int = 0
    gpus_total: int = 0
    fleet_hourly_cost: float = float("nan")
    """Every GPU node's cost per hour, idle GPUs included (what the cluster bills)."""
    services_hourly_cost: float = float("nan")
    """The shown services' GPUs per hour (OpenCost allocation)."""
    tokens_per_second: float = 0.0
    slo_breaches: int = 0
    worst: tuple[str, ...] = ()
    """``namespace/service`` of up to three breaching services, slowest TTFT first."""
    mode: str = ""
    cluster: str = ""
    namespace: str | None = None


def _sum(df: pd.DataFrame, col: str) -> float:
    if col not in df.columns or df.empty:
        return 0.0
    return float(np.nansum(df[col].to_numpy(dtype=np.float64, na_value=np.nan)))


def summarize(
    frames: Mapping[str, pd.DataFrame],
    *,
    namespace: str | None = None,
    mode: str = "",
    cluster: str | None = None,
    worst: int = 3,
) -> FleetSummary:
    """The header figures of one refresh (``overview`` and ``nodes`` frames), for ``namespace`` (None: all).

    ``cluster`` defaults to the overview's ``attrs["cluster"]``.

    >>> summarize({}).services
    0
    """
    overview = frames.get("overview")
    nodes = frames.get("nodes")
    ov = filter_rows(overview, namespace=namespace) if overview is not None else pd.DataFrame()
    breaching = pd.DataFrame()
    if "slo_ok" in ov.columns:
        breaching = ov[(ov["slo_ok"] == False).fillna(False).to_numpy(dtype=bool)]  # noqa: E712 (NA-aware)
    names: tuple[str, ...] = ()
    if len(breaching) and "ttft_p95_ms" in breaching.columns:
        slow = breaching.sort_values("ttft_p95_ms", ascending=False, na_position="last", kind="stable").head(worst)
        names = tuple(f"{n}/{s}" for n, s in zip(slow["namespace"].tolist(), slow["service"].tolist(), strict=True))
    alloc = _sum(nodes, "gpus_allocated") if nodes is not None else 0.0
    free = _sum(nodes, "gpus_free") if nodes is not None else 0.0
    total = _sum(nodes, "gpus_allocatable") if nodes is not None else 0.0
    if cluster is None:
        cluster = str(overview.attrs.get("cluster", "") or "") if overview is not None else ""
    return FleetSummary(
        services=len(ov),
        ready=int(ov["ready"].fillna(False).astype(bool).sum()) if "ready" in ov.columns else 0,
        gpus_allocated=int(alloc),
        gpus_free=int(free),
        gpus_total=int(total),
        fleet_hourly_cost=_sum(nodes, "hourly_cost") if nodes is not None and len(nodes) else float("nan"),
        services_hourly_cost=_sum(ov, "hourly_cost") if len(ov) else float("nan"),
        tokens_per_second=_sum(ov, "tokens_per_second"),
        slo_breaches=len(breaching),
        worst=names,
        mode=mode,
        cluster=cluster,
        namespace=namespace,
    )
