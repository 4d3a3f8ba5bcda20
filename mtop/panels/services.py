"""The services panel: the fleet table (the ``overview`` frame) with TTFT and throughput charts.

>>> import mtop
>>> p = services_panel(mtop.connect(seed=1, clock="frozen"), static=True)
>>> type(p).__name__, "<table" in p.to_html(include_plotlyjs=False)
('StaticPanel', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from mtop.async_cli import Collect, collect_overview
from mtop.panels import charts
from mtop.panels.base import Panel, open_panel
from mtop.panels.figures import figure_widget, sync_figure
from mtop.panels.static import StaticPanel, table_html
from mtop.panels.table import FleetTable
from mtop.panels.trend import FleetHistory, history_from_slo
from mtop.panels.view import SortState, default_sort, filter_rows, sort_rows, table_columns

if TYPE_CHECKING:
    from mtop.config import Config
    from mtop.context import Fleet

__all__ = ["ServicesPanel", "collect_with_history", "services_panel", "services_static_parts"]

TOP = 20
"""Services drawn in the per-service charts (the slowest / the most expensive)."""


def collect_with_history(fleet: Fleet) -> dict[str, pd.DataFrame]:
    """One collection pass plus the last hour of SLO history (``slo_history``): what a static render uses.

    >>> import mtop
    >>> "slo_history" in collect_with_history(mtop.connect(seed=1, clock="frozen"))
    True
    """
    from mtop.collect import slo_history

    frames = collect_overview(fleet)
    frames["slo_history"] = slo_history(fleet, window="1h", step="2m")
    return frames


def services_static_parts(
    frames: Mapping[str, pd.DataFrame],
    config: Config,
    *,
    namespace: str | None = None,
    search: str = "",
    sort: SortState | None = None,
    history: pd.DataFrame | None = None,
    max_rows: int | None = 200,
) -> list[Any]:
    """The services panel as static parts: the sorted, escaped table, then the TTFT and throughput charts.

    ``history`` is a :meth:`FleetHistory.series`-shaped frame; without it, ``frames["slo_history"]`` is
    used when present.

    >>> import mtop
    >>> from mtop.async_cli import collect_overview
    >>> fleet = mtop.connect(seed=1, clock="frozen")
    >>> [type(p).__name__ for p in services_static_parts(collect_overview(fleet), fleet.config)]
    ['str', 'Figure', 'Figure']
    """
    overview = frames.get("overview", pd.DataFrame())
    rows = filter_rows(overview, namespace=namespace, search=search)
    cols = table_columns(config.display, rows.columns)
    ordered = sort_rows(rows, sort or default_sort(config.display, cols))
    if history is None:
        history = history_from_slo(frames.get("slo_history"), frames.get("overview"), namespace=namespace)
    caption = f"{len(rows):,} services" + (f" in {namespace}" if namespace else "")
    return [
        table_html(ordered, cols, max_rows=max_rows, caption=caption, color=config.display.color_enabled),
        charts.ttft_chart(rows, config.slo.ttft_p95_ms, top=TOP),
        charts.throughput_chart(history),
    ]


class ServicesPanel(Panel):
    """The fleet table (sortable, selectable) and two charts, updated in place on every refresh."""

    title = "Services"

    def __init__(self, config: Config, *, table_height: str = "380px", **kwargs: Any) -> None:
        cols = table_columns(config.display, _overview_fields())
        self.table = FleetTable(cols, sort=default_sort(config.display, cols), height=table_height)
        self.ttft = figure_widget(charts.ttft_chart(pd.DataFrame(), config.slo.ttft_p95_ms, top=TOP))
        self.throughput = figure_widget(charts.throughput_chart(FleetHistory().series()))
        self.charts = widgets.HBox([self.ttft, self.throughput], layout=widgets.Layout(width="100%", grid_gap="8px"))
        for fig in (self.ttft, self.throughput):
            fig.layout.autosize = True
        super().__init__(config, **kwargs)
        self.children = (self.banner, self.table.grid, self.charts)

    def render(self) -> None:
        """Push the rows to the table (view kept) and update both charts in place."""
        rows = self.rows()
        self.table.set_rows(rows)
        sync_figure(self.ttft, charts.ttft_chart(rows, self.config.slo.ttft_p95_ms, top=TOP, as_dict=True))
        sync_figure(self.throughput, charts.throughput_chart(self.history.series(self.namespace), as_dict=True))

    def static_parts(self) -> list[Any]:
        """The current view as static parts (see :func:`services_static_parts`)."""
        return services_static_parts(
            self.frames,
            self.config,
            namespace=self.namespace,
            search=self.search,
            sort=self.table.sort,
            history=self.history.series(self.namespace),
        )


def _overview_fields() -> list[str]:
    from mtop.schema import FRAMES

    return list(FRAMES["overview"].columns)


def services_panel(
    fleet: Fleet | None = None,
    interval: float = 2.0,
    *,
    namespace: str | None = None,
    static: bool | None = None,
    autostart: bool = True,
    collect: Collect | None = None,
) -> ServicesPanel | StaticPanel:
    """The services panel alone: a live widget refreshing every ``interval`` s, or static HTML.

    Static HTML where widgets cannot render (see :func:`mtop.panels.static.is_static_context`).

    >>> import mtop
    >>> services_panel(mtop.connect(seed=1, clock="frozen"), static=False, autostart=False).title
    'Services'
    """
    return open_panel(
        fleet,
        lambda config: ServicesPanel(config, namespace=namespace),
        lambda frames, config: services_static_parts(frames, config, namespace=namespace),
        title="Services",
        interval=interval,
        static=static,
        autostart=autostart,
        collect=collect or collect_overview,
        static_collect=collect or collect_with_history,
    )
