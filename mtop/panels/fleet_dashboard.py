"""``dashboard()``: the htop of the fleet in JupyterLab, composed of the services, GPU, cost and SLO panels.

One :class:`~mtop.panels.live.RefreshLoop` feeds every panel: collection (and the recommendations)
runs in a worker thread, each good snapshot replaces the data, and the view (sort, namespace filter,
search, selected row) is applied again, so it survives every refresh. A failed refresh shows a banner
over the last good data; the next good one clears it.

>>> import mtop
>>> d = dashboard(mtop.connect(seed=1, clock="frozen"), static=True)
>>> "Services" in d.to_html(include_plotlyjs=False)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from mtop.async_cli import Collect
from mtop.panels.base import Panel, fleet_and_config
from mtop.panels.cost import CostPanel, collect_with_recommendations, cost_static_parts
from mtop.panels.gpu import GPUPanel, gpu_static_parts
from mtop.panels.services import ServicesPanel, services_static_parts
from mtop.panels.slo import SLOPanel, SLOTargets, slo_static_parts
from mtop.panels.static import StaticPanel, header_html, is_static_context
from mtop.panels.summary import summarize
from mtop.panels.trend import FleetHistory, history_from_slo
from mtop.panels.view import namespaces_of

if TYPE_CHECKING:
    from mtop.config import Config
    from mtop.context import Fleet

__all__ = ["Dashboard", "collect_dashboard", "dashboard", "dashboard_static_parts"]

_ALL = "All namespaces"
_ALL_VALUE = ""  # a Dropdown shows no selection for the value None


def collect_dashboard(fleet: Fleet) -> dict[str, pd.DataFrame]:
    """What a static dashboard collects once: the frames, recommendations and the last hour of history.

    >>> import mtop
    >>> sorted(collect_dashboard(mtop.connect(seed=1, clock="frozen")))[-3:]
    ['services', 'slo_history', 'slo_metrics']
    """
    from mtop.collect import slo_history

    frames = collect_with_recommendations(fleet)
    frames["slo_history"] = slo_history(fleet, window="1h", step="2m")
    return frames


def dashboard_static_parts(
    frames: Mapping[str, pd.DataFrame], config: Config, *, mode: str = "", namespace: str | None = None
) -> list[Any]:
    """The whole dashboard as static parts: header, services, GPUs, cost, SLOs.

    >>> import mtop
    >>> fleet = mtop.connect(seed=1, clock="frozen")
    >>> parts = dashboard_static_parts(collect_dashboard(fleet), fleet.config)
    >>> parts[0].startswith('<div class="mtop-header">')
    True
    """
    overview = frames.get("overview")
    updated = pd.Timestamp(overview.attrs["collected_at"]).to_pydatetime() if overview is not None else None
    history = history_from_slo(frames.get("slo_history"), overview, namespace=namespace)
    return [
        header_html(summarize(frames, namespace=namespace, mode=mode), sort="", updated=updated, state="static"),
        *services_static_parts(frames, config, namespace=namespace, history=history),
        *gpu_static_parts(frames, namespace=namespace),
        *cost_static_parts(frames, namespace=namespace),
        *slo_static_parts(frames, SLOTargets(config), namespace=namespace, history=history),
    ]


class Dashboard(Panel):
    """Header, controls, error banner, and the services, GPU, cost and SLO panels under one refresh."""

    title = "mtop dashboard"

    def __init__(
        self, config: Config, *, mode: str = "", interval: float = 2.0, history_points: int = 300, **kwargs: Any
    ) -> None:
        history = FleetHistory(history_points)
        self.mode = mode
        self.header = widgets.HTML(value="<i>waiting for the first refresh…</i>")
        self.header.add_class("mtop-dashboard-header")
        self.start_button = widgets.Button(description="Start", icon="play", layout=widgets.Layout(width="90px"))
        self.stop_button = widgets.Button(description="Stop", icon="stop", layout=widgets.Layout(width="90px"))
        self.interval_box = widgets.BoundedFloatText(
            value=interval,
            min=0.5,
            max=3600.0,
            step=0.5,
            description="Every (s)",
            layout=widgets.Layout(width="160px"),
            style={"description_width": "60px"},
        )
        self.namespace_box = widgets.Dropdown(
            options=[(_ALL, _ALL_VALUE)],
            value=_ALL_VALUE,
            description="Namespace",
            layout=widgets.Layout(width="260px"),
        )
        self.search_box = widgets.Text(
            placeholder="search model or service", continuous_update=True, layout=widgets.Layout(width="260px")
        )
        controls = widgets.HBox(
            [self.start_button, self.stop_button, self.interval_box, self.namespace_box, self.search_box]
        )
        self.services = ServicesPanel(config, history=history)
        self.gpus = GPUPanel(config, table=False, history=history)
        self.cost = CostPanel(config, history=history)
        self.slo = SLOPanel(config, history=history)
        self.panels: tuple[Panel, ...] = (self.services, self.gpus, self.cost, self.slo)
        half = widgets.Layout(width="50%")
        self.gpus.layout, self.cost.layout = half, widgets.Layout(width="50%")
        super().__init__(config, history=history, **kwargs)
        self.children = (
            self.header,
            controls,
            self.banner,
            self.services,
            widgets.HBox([self.gpus, self.cost]),
            self.slo,
        )
        self.add_class("mtop-dashboard")
        self.start_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        self.interval_box.observe(self._on_interval, names="value")
        self.namespace_box.observe(lambda ch: self.set_view(namespace=ch["new"] or None), names="value")
        self.search_box.observe(lambda ch: self.set_view(namespace=self.namespace, search=ch["new"]), names="value")
        self.services.table.listeners.append(self.render_header)
        self._sync_buttons()

    # --- drawing ---------------------------------------------------------------------------------

    def render(self) -> None:
        """Give every panel the data and the view, draw them, then the header."""
        self._sync_namespaces()
        for panel in self.panels:
            panel.frames, panel.meta, panel.updated = self.frames, self.meta, self.updated
            panel.namespace, panel.search = self.namespace, self.search
            panel.render()
        self.render_header()

    def render_header(self) -> None:
        """Redraw the header line (after a refresh, a sort, a selection, start or stop)."""
        table = self.services.table
        selected = "/".join(str(k) for k in table.selected) if table.selected else None
        sort = table.sort.describe(table.labels) if table.sort else ""
        cluster = str(self.meta.get("overview", {}).get("cluster", "") or "")
        summary = summarize(self.frames, namespace=self.namespace, mode=self.mode, cluster=cluster)
        self.header.value = header_html(
            summary, sort=sort, updated=self.updated, selected=selected, state=self._state()
        )

    def _state(self) -> str:
        if self.running:
            return f"every {self.interval_box.value:g} s"
        return "stopped"

    def _sync_namespaces(self) -> None:
        overview = self.frames.get("overview")
        names = namespaces_of(overview) if overview is not None else []
        options = [(_ALL, _ALL_VALUE), *((n, n) for n in names)]
        if list(self.namespace_box.options) != options:
            keep = self.namespace if self.namespace in names else _ALL_VALUE
            with self.namespace_box.hold_trait_notifications():
                self.namespace_box.options = options
                self.namespace_box.value = keep

    def _on_interval(self, change: Mapping[str, Any]) -> None:
        if self.refresher is not None:
            self.refresher.interval = float(change["new"])
        self.render_header()

    def status_changed(self) -> None:
        """Buttons and header follow the running state and the error."""
        if hasattr(self, "stop_button"):
            self._sync_buttons()
            if self.frames:
                self.render_header()

    def _sync_buttons(self) -> None:
        running = self.running
        self.start_button.disabled = running
        self.stop_button.disabled = not running

    def static_parts(self) -> list[Any]:
        """The current data and view as static parts (header first)."""
        history = self.history.series(self.namespace)
        table = self.services.table
        return [
            self.header.value,
            *services_static_parts(
                self.frames, self.config, namespace=self.namespace, search=self.search, sort=table.sort, history=history
            ),
            *gpu_static_parts(self.frames, namespace=self.namespace),
            *cost_static_parts(self.frames, namespace=self.namespace, search=self.search),
            *slo_static_parts(self.frames, self.slo.targets, namespace=self.namespace, history=history),
        ]


def dashboard(
    fleet: Fleet | None = None,
    interval: float = 2.0,
    *,
    namespace: str | None = None,
    static: bool | None = None,
    autostart: bool = True,
    collect: Collect | None = None,
    history_points: int = 300,
) -> Dashboard | StaticPanel:
    """The live fleet dashboard (an ipywidgets ``VBox``), refreshing every ``interval`` seconds.

    Where widgets cannot render (papermill, nbconvert, a plain console, ``static=True``; see
    :func:`mtop.panels.static.is_static_context`) it collects once and returns the same panels as static
    HTML (a :class:`~mtop.panels.static.StaticPanel`). ``collect`` replaces what a refresh collects (default:
    every frame plus recommendations); ``history_points`` bounds the tokens/s and SLO history.

    >>> import mtop
    >>> d = dashboard(mtop.connect(seed=1, clock="frozen"), static=False, autostart=False)
    >>> type(d).__name__, d.running
    ('Dashboard', False)
    """
    fleet, config = fleet_and_config(fleet)
    if is_static_context(static):
        frames = (collect or collect_dashboard)(fleet)
        return StaticPanel(
            "mtop dashboard", dashboard_static_parts(frames, config, mode=fleet.mode, namespace=namespace)
        )
    board = Dashboard(config, mode=fleet.mode, interval=interval, history_points=history_points, namespace=namespace)
    board.watch(fleet, interval=interval, collect=collect or collect_with_recommendations, autostart=autostart)
    board._sync_buttons()
    return board
