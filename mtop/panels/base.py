"""What every panel shares: snapshot handling (error banner, last good data), the view, and the lifecycle.

A :class:`Panel` is an ipywidgets ``VBox``. It renders from ``frames`` (the last good refresh) and its
view (namespace filter, search). Standing alone it owns a :class:`~mtop.panels.live.RefreshLoop`
(:meth:`Panel.watch`); inside the dashboard it is fed by the dashboard's loop instead. Closing the
widget, or the front end closing its comm, stops its refresh.

>>> from mtop.async_cli import Snapshot
>>> from mtop.config import default_config
>>> p = Panel(default_config())
>>> p.apply(Snapshot(1, None, {}, error=RuntimeError("boom"), stale=True)); "boom" in p.banner.value
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as widgets
import pandas as pd

from mtop.panels.live import RefreshLoop
from mtop.panels.static import StaticPanel, banner_html, is_static_context
from mtop.panels.trend import FleetHistory
from mtop.panels.view import filter_rows

if TYPE_CHECKING:
    from mtop.async_cli import Collect, Snapshot
    from mtop.config import Config
    from mtop.context import Fleet

__all__ = ["Panel", "fleet_and_config", "open_panel", "without_attrs"]

P = TypeVar("P", bound="Panel")

_HIDDEN = "none"


def fleet_and_config(fleet: Fleet | None) -> tuple[Fleet, Config]:
    """The fleet to watch (None: the default fleet) and its configuration.

    >>> import mtop
    >>> fleet_and_config(mtop.connect(seed=1, clock="frozen"))[1].slo.ttft_p95_ms > 0
    True
    """
    if fleet is None:
        from mtop.context import default_fleet

        fleet = default_fleet()
    return fleet, fleet.config


def open_panel(
    fleet: Fleet | None,
    make: Callable[[Config], P],
    static_parts: Callable[[Mapping[str, pd.DataFrame], Config], list[Any]],
    *,
    title: str,
    interval: float,
    static: bool | None,
    autostart: bool,
    collect: Collect,
    static_collect: Collect | None = None,
) -> P | StaticPanel:
    """A panel watching ``fleet`` every ``interval`` s, or its static parts where widgets cannot render.

    ``make`` builds the live panel from the fleet's configuration; ``static_parts`` draws one
    collection (``static_collect``, default ``collect``) as static HTML parts.

    >>> import mtop
    >>> p = open_panel(mtop.connect(seed=1, clock="frozen"), Panel, lambda frames, cfg: [], title="T",
    ...                interval=2.0, static=True, autostart=False, collect=lambda fleet: {})
    >>> type(p).__name__, p.title
    ('StaticPanel', 'T')
    """
    fleet, config = fleet_and_config(fleet)
    if is_static_context(static):
        return StaticPanel(title, static_parts((static_collect or collect)(fleet), config))
    panel = make(config)
    panel.watch(fleet, interval=interval, collect=collect, autostart=autostart)
    return panel


def without_attrs(
    frames: Mapping[str, pd.DataFrame],
) -> tuple[dict[str, pd.DataFrame], dict[str, Mapping[Any, Any]]]:
    """Shallow copies of ``frames`` without ``attrs``, and the attrs apart.

    pandas deep-copies ``attrs`` (a collection records every query it ran) into the result of every
    operation; drawing a panel does dozens of them, so the panels work on attr-less frames.

    >>> df = pd.DataFrame({"a": [1]}); df.attrs["cluster"] = "c"
    >>> frames, meta = without_attrs({"overview": df})
    >>> frames["overview"].attrs, meta["overview"]["cluster"], df.attrs["cluster"]
    ({}, 'c', 'c')
    """
    bare: dict[str, pd.DataFrame] = {}
    meta: dict[str, Mapping[Any, Any]] = {}
    for name, df in frames.items():
        meta[name] = dict(df.attrs)
        copy = df.copy(deep=False)
        copy.attrs = {}
        bare[name] = copy
    return bare, meta


class Panel(widgets.VBox):  # type: ignore[misc]
    """A live panel: ``render()`` draws ``frames`` under the current view; subclasses fill it in."""

    title = "mtop"

    def __init__(
        self,
        config: Config,
        *,
        namespace: str | None = None,
        search: str = "",
        history: FleetHistory | None = None,
        children: tuple[Any, ...] = (),
        **kwargs: Any,
    ) -> None:
        self.config = config
        self.namespace = namespace
        self.search = search
        self.history = history if history is not None else FleetHistory()
        self.frames: Mapping[str, pd.DataFrame] = {}
        self.meta: Mapping[str, Mapping[Any, Any]] = {}
        """Each frame's ``attrs`` (source, cluster, queries, errors), kept apart from ``frames``."""
        self.updated: datetime | None = None
        self.error: BaseException | None = None
        self.refresher: RefreshLoop | None = None
        self.banner = widgets.HTML(value="", layout=widgets.Layout(display=_HIDDEN))
        self.banner.add_class("mtop-banner-widget")
        super().__init__(children=children, **kwargs)
        self.observe(self._on_comm, names="comm")
        if self.comm is not None:
            self._on_comm({"new": self.comm})

    # --- what subclasses provide ----------------------------------------------------------------

    def render(self) -> None:
        """Draw the widgets from ``frames`` (called after each good refresh and each view change)."""

    def static_parts(self) -> list[Any]:
        """The panel's content as HTML strings and plotly figures (for :meth:`to_html`)."""
        return []

    # --- data ------------------------------------------------------------------------------------

    def apply(self, snap: Snapshot) -> None:
        """Take one refresh: on error show the banner and keep the last good data; else record and draw."""
        if snap.error is not None:
            self.error = snap.error
            self._show_banner()
            self.status_changed()
            return
        self.error = None
        self.show(snap.frames, snap.collected_at)
        self._show_banner()

    def show(self, frames: Mapping[str, pd.DataFrame], updated: datetime | None) -> None:
        """Replace the data with a good refresh's frames, record its history point, and draw."""
        self.frames, self.meta = without_attrs(frames)
        self.updated = updated
        if updated is not None and "overview" in frames:
            self.history.add(updated, frames["overview"])
        self.render()

    def rows(self, name: str = "overview", *, search: bool = True) -> pd.DataFrame:
        """Frame ``name`` under the current view (namespace, and the search unless ``search=False``)."""
        df = self.frames.get(name)
        if df is None:
            return pd.DataFrame()
        return filter_rows(df, namespace=self.namespace, search=self.search if search else "")

    def set_view(self, *, namespace: str | None = None, search: str | None = None) -> None:
        """Change the namespace filter and/or the search, and draw again (no collection)."""
        self.namespace = namespace
        if search is not None:
            self.search = search
        if self.frames:
            self.render()

    def status_changed(self) -> None:
        """Hook: called when the error or the running state changes (headers redraw)."""

    def _warnings(self) -> list[str]:
        errors: list[str] = []
        errors = [str(e) for e in self.meta.get("overview", {}).get("errors", []) or []]
        return errors[:3] + ([f"... and {len(errors) - 3} more"] if len(errors) > 3 else [])

    def _show_banner(self) -> None:
        text = banner_html(self.error, self.updated, self._warnings())
        self.banner.value = text
        self.banner.layout.display = None if text else _HIDDEN

    # --- lifecycle -------------------------------------------------------------------------------

    def watch(self, fleet: Fleet | None, *, interval: float, collect: Collect, autostart: bool = True) -> Panel:
        """Own a refresh loop over ``fleet`` (a standalone panel, or the dashboard); start it if asked."""
        self.refresher = RefreshLoop(fleet, interval=interval, collect=collect, deliver=self.apply)
        self.refresher.on_stop.append(self.status_changed)
        if autostart:
            self.start()
        return self

    def start(self) -> bool:
        """Start refreshing in the background (needs a running event loop: a Jupyter kernel)."""
        started = self.refresher is not None and self.refresher.start()
        self.status_changed()
        return started

    def stop(self) -> None:
        """Stop refreshing; the last data stays on screen."""
        if self.refresher is not None:
            self.refresher.stop()
        self.status_changed()

    async def refresh(self) -> Snapshot | None:
        """Collect once now (in a worker thread) and apply it; None without a refresh loop."""
        return await self.refresher.refresh() if self.refresher is not None else None

    @property
    def running(self) -> bool:
        """Whether this panel's refresh loop is on."""
        return self.refresher is not None and self.refresher.running

    def close(self) -> None:
        """Stop refreshing and close the widget (and its children)."""
        refresher = getattr(self, "refresher", None)  # close() also runs from __del__ of a half-built panel
        if refresher is not None and refresher.active:
            refresher.stop()
        for child in self._descendants():
            child.close()
        super().close()

    def _descendants(self) -> list[Any]:
        out: list[Any] = []
        stack = list(self.children)
        while stack:
            w = stack.pop()
            out.append(w)
            stack.extend(getattr(w, "children", ()) or ())
        return out

    def _on_comm(self, change: Mapping[str, Any]) -> None:
        comm = change.get("new")
        if comm is not None and hasattr(comm, "on_close"):
            # The front end closing the widget (or the kernel dropping it) ends the refresh too.
            comm.on_close(lambda _msg: self.stop())

    # --- static ----------------------------------------------------------------------------------

    def to_html(self, include_plotlyjs: bool | str = True, full_html: bool = False) -> str:
        """The panel's current data as static HTML (escaped tables, plotly figures): for reports."""
        return StaticPanel(self.title, self.static_parts()).to_html(include_plotlyjs, full_html)
