"""The SLO panel: gauges for TTFT p95 and cost per million tokens, their trends and predicted breach.

Targets come from the configuration. TTFT: target ``slo.ttft_p95_ms``, critical ``critical_factor`` x
target (2 x by default). Cost: the config has no cost SLO, so the default target is derived from it:
what one GPU of the reference type (``nvidia-h100``, else the median configured price) costs per
million tokens when it delivers exactly the throughput SLO (``slo.tokens_per_second``):
``hourly_cost / (tokens_per_second x 3600) x 1e6`` ($1.39 with the packaged defaults); critical is
``critical_factor`` x that. Both can be given instead (``cost_target``, ``cost_critical``).

The fleet figures are request-weighted over services (TTFT: the mean of the services' p95 weighted by
their request rate; cost: total $/h over total output tokens), for the namespace filter or one
``service``. The trend is a least-squares line over the last ``trend_points`` refreshes
(:func:`mtop.panels.trend.fit_trend`): stable, improving or degrading, and the time until it crosses the
target.

>>> from mtop.config import default_config
>>> round(cost_targets(default_config())[0], 2)
1.39
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from mtop.async_cli import Collect, collect_overview
from mtop.panels import charts
from mtop.panels.base import Panel, open_panel
from mtop.panels.figures import figure_widget, sync_figure
from mtop.panels.static import StaticPanel
from mtop.panels.trend import FleetHistory, Trend, fit_trend, history_from_slo, seconds_since_first
from mtop.panels.view import filter_rows

if TYPE_CHECKING:
    from mtop.config import Config
    from mtop.context import Fleet

__all__ = ["SLOPanel", "SLOTargets", "cost_targets", "fleet_figures", "slo_panel", "slo_static_parts"]

REFERENCE_GPU = "nvidia-h100"


def cost_targets(config: Config, critical_factor: float = 2.0) -> tuple[float, float]:
    """The default cost-per-million-tokens (target, critical), derived from the config (see the module doc).

    >>> from mtop.config import default_config
    >>> t, c = cost_targets(default_config()); round(c / t, 1)
    2.0
    """
    types = config.technology.gpu_types
    if REFERENCE_GPU in types:
        price = types[REFERENCE_GPU].hourly_cost
    else:
        price = statistics.median(t.hourly_cost for t in types.values()) if types else 0.0
    target = price / (config.slo.tokens_per_second * 3600.0) * 1e6
    return target, target * critical_factor


class SLOTargets:
    """Target and critical values for the two gauges."""

    def __init__(
        self,
        config: Config,
        *,
        critical_factor: float = 2.0,
        cost_target: float | None = None,
        cost_critical: float | None = None,
    ) -> None:
        self.ttft = config.slo.ttft_p95_ms
        self.ttft_critical = self.ttft * critical_factor
        derived = cost_targets(config, critical_factor)
        self.cost = cost_target if cost_target is not None else derived[0]
        self.cost_critical = cost_critical if cost_critical is not None else max(self.cost * critical_factor, self.cost)


def fleet_figures(overview: pd.DataFrame) -> tuple[float, float]:
    """(request-weighted TTFT p95 in ms, $ per million output tokens) over the rows given; NaN without traffic.

    >>> df = pd.DataFrame({"requests_per_second": [1.0, 3.0], "ttft_p95_ms": [100.0, 300.0],
    ...                    "tokens_per_second": [500.0, 500.0], "hourly_cost": [1.8, 1.8]})
    >>> [round(v, 2) for v in fleet_figures(df)]
    [250.0, 1.0]
    """

    def col(name: str) -> np.ndarray:
        if name not in overview.columns:
            return np.zeros(len(overview))
        values: np.ndarray = np.nan_to_num(overview[name].to_numpy(dtype=np.float64, na_value=np.nan))
        return values

    rps, tps = col("requests_per_second"), col("tokens_per_second")
    ttft = float((rps * col("ttft_p95_ms")).sum() / rps.sum()) if rps.sum() > 0 else float("nan")
    cost = float(col("hourly_cost").sum() / (tps.sum() * 3600.0) * 1e6) if tps.sum() > 0 else float("nan")
    return ttft, cost


def _compliance_html(rows: pd.DataFrame) -> str:
    def count(flag: str) -> str:
        if flag not in rows.columns:
            return "-"
        known = rows[flag].dropna()
        return f"{int(known.astype(bool).sum())}/{len(known)}"

    return (
        '<div class="mtop-compliance">SLO compliance (services meeting it / with traffic): '
        f"TTFT {count('ttft_ok')} · errors {count('error_rate_ok')} · throughput {count('throughput_ok')} · "
        f"all {count('slo_ok')}</div>"
    )


def _trend_html(name: str, trend: Trend) -> str:
    return f'<div class="mtop-trend">{html.escape(name)}: {html.escape(trend.describe())}</div>'


def slo_static_parts(
    frames: Mapping[str, pd.DataFrame],
    targets: SLOTargets,
    *,
    namespace: str | None = None,
    service: str | None = None,
    history: pd.DataFrame | None = None,
    trend_points: int = 30,
) -> list[Any]:
    """Gauges, sparklines, trend lines and the compliance line as static parts.

    >>> import mtop
    >>> from mtop.async_cli import collect_overview
    >>> fleet = mtop.connect(seed=1, clock="frozen")
    >>> parts = slo_static_parts(collect_overview(fleet), SLOTargets(fleet.config))
    >>> sum(not isinstance(p, str) for p in parts)
    4
    """
    rows = _rows(frames.get("overview", pd.DataFrame()), namespace, service)
    ttft, cost = fleet_figures(rows)
    if history is None:
        history = history_from_slo(frames.get("slo_history"), frames.get("overview"), namespace=namespace)
    recent = history.tail(trend_points)
    return [
        charts.gauge_chart(
            ttft, target=targets.ttft, critical=targets.ttft_critical, title=_ttft_title(service), suffix=" ms"
        ),
        charts.sparkline_chart(recent, "ttft_p95_ms", threshold=targets.ttft),
        _trend_html("TTFT", _trend(recent, "ttft_p95_ms", targets.ttft)),
        charts.gauge_chart(
            cost, target=targets.cost, critical=targets.cost_critical, title="$ per 1M output tokens", prefix="$"
        ),
        charts.sparkline_chart(recent, "cost_per_million_tokens", threshold=targets.cost),
        _trend_html("Cost", _trend(recent, "cost_per_million_tokens", targets.cost)),
        _compliance_html(rows),
    ]


def _ttft_title(service: str | None) -> str:
    return f"TTFT p95 of {service}" if service else "TTFT p95 (request-weighted)"


def _rows(overview: pd.DataFrame, namespace: str | None, service: str | None) -> pd.DataFrame:
    rows = filter_rows(overview, namespace=namespace)
    if service is not None and "service" in rows.columns:
        rows = rows[(rows["service"] == service).fillna(False).to_numpy(dtype=bool)]
    return rows


def _trend(history: pd.DataFrame, column: str, threshold: float) -> Trend:
    if history.empty:
        return fit_trend([], [], threshold)
    return fit_trend(seconds_since_first(history["timestamp"]), history[column].to_numpy(np.float64), threshold)


class SLOPanel(Panel):
    """Two gauges with sparklines and trend lines, and the compliance line, updated in place."""

    title = "SLOs"

    def __init__(
        self,
        config: Config,
        *,
        targets: SLOTargets | None = None,
        service: str | None = None,
        trend_points: int = 30,
        **kwargs: Any,
    ) -> None:
        self.targets = targets or SLOTargets(config)
        self.service = service
        self.trend_points = trend_points
        t = self.targets
        nan = float("nan")
        self.ttft_gauge = figure_widget(
            charts.gauge_chart(nan, target=t.ttft, critical=t.ttft_critical, title=_ttft_title(service), suffix=" ms")
        )
        self.cost_gauge = figure_widget(
            charts.gauge_chart(nan, target=t.cost, critical=t.cost_critical, title="$ per 1M output tokens", prefix="$")
        )
        empty = FleetHistory().series()
        self.ttft_spark = figure_widget(charts.sparkline_chart(empty, "ttft_p95_ms", threshold=t.ttft))
        self.cost_spark = figure_widget(charts.sparkline_chart(empty, "cost_per_million_tokens", threshold=t.cost))
        self.ttft_trend = widgets.HTML()
        self.cost_trend = widgets.HTML()
        self.compliance = widgets.HTML()
        column = widgets.Layout(width="50%")
        gauges = widgets.HBox(
            [
                widgets.VBox([self.ttft_gauge, self.ttft_spark, self.ttft_trend], layout=column),
                widgets.VBox([self.cost_gauge, self.cost_spark, self.cost_trend], layout=column),
            ]
        )
        super().__init__(config, **kwargs)
        self.children = (self.banner, gauges, self.compliance)

    def _series(self) -> pd.DataFrame:
        return self.history.series(self.namespace).tail(self.trend_points)

    def render(self) -> None:
        """Update gauges, sparklines, trends and compliance from the frames and the history."""
        t = self.targets
        rows = _rows(self.frames.get("overview", pd.DataFrame()), self.namespace, self.service)
        ttft, cost = fleet_figures(rows)
        recent = self._series()
        sync_figure(
            self.ttft_gauge,
            charts.gauge_chart(
                ttft,
                target=t.ttft,
                critical=t.ttft_critical,
                title=_ttft_title(self.service),
                suffix=" ms",
                as_dict=True,
            ),
        )
        sync_figure(
            self.cost_gauge,
            charts.gauge_chart(
                cost, target=t.cost, critical=t.cost_critical, title="$ per 1M output tokens", prefix="$", as_dict=True
            ),
        )
        sync_figure(self.ttft_spark, charts.sparkline_chart(recent, "ttft_p95_ms", threshold=t.ttft, as_dict=True))
        sync_figure(
            self.cost_spark, charts.sparkline_chart(recent, "cost_per_million_tokens", threshold=t.cost, as_dict=True)
        )
        self.ttft_trend.value = _trend_html("TTFT", _trend(recent, "ttft_p95_ms", t.ttft))
        self.cost_trend.value = _trend_html("Cost", _trend(recent, "cost_per_million_tokens", t.cost))
        self.compliance.value = _compliance_html(rows)

    def static_parts(self) -> list[Any]:
        """The current state as static parts (see :func:`slo_static_parts`)."""
        return slo_static_parts(
            self.frames,
            self.targets,
            namespace=self.namespace,
            service=self.service,
            history=self.history.series(self.namespace),
            trend_points=self.trend_points,
        )


def slo_panel(
    fleet: Fleet | None = None,
    interval: float = 2.0,
    *,
    namespace: str | None = None,
    service: str | None = None,
    critical_factor: float = 2.0,
    cost_target: float | None = None,
    cost_critical: float | None = None,
    static: bool | None = None,
    autostart: bool = True,
    collect: Collect | None = None,
) -> SLOPanel | StaticPanel:
    """The SLO panel alone (live, or static HTML where widgets cannot render). Targets: see the module doc.

    >>> import mtop
    >>> slo_panel(mtop.connect(seed=1, clock="frozen"), static=False, autostart=False).targets.ttft_critical
    1000.0
    """
    from mtop.panels.services import collect_with_history

    def targets(config: Config) -> SLOTargets:
        return SLOTargets(config, critical_factor=critical_factor, cost_target=cost_target, cost_critical=cost_critical)

    return open_panel(
        fleet,
        lambda config: SLOPanel(config, targets=targets(config), service=service, namespace=namespace),
        lambda frames, config: slo_static_parts(frames, targets(config), namespace=namespace, service=service),
        title="SLOs",
        interval=interval,
        static=static,
        autostart=autostart,
        collect=collect or collect_overview,
        static_collect=collect or collect_with_history,
    )
