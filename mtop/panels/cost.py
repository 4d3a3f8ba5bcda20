"""The cost panel: cost per hour and per million tokens by service, and right-sizing recommendations.

Recommendations come from :func:`mtop.recommend.recommend` over the same refresh's ``overview``,
computed in the collection thread (:func:`collect_with_recommendations`), never on the kernel's.

>>> import mtop
>>> p = cost_panel(mtop.connect(seed=1, clock="frozen"), static=True)
>>> "Saving/month" in p.to_html(include_plotlyjs=False)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from mtop.async_cli import Collect, collect_overview
from mtop.config import ColumnConfig, Threshold
from mtop.panels import charts
from mtop.panels.base import Panel, open_panel
from mtop.panels.figures import figure_widget, sync_figure
from mtop.panels.static import StaticPanel, table_html
from mtop.panels.table import FleetTable
from mtop.panels.view import SortState, filter_rows, sort_rows

if TYPE_CHECKING:
    from mtop.config import Config
    from mtop.context import Fleet

__all__ = [
    "RECOMMENDATION_COLUMNS",
    "CostPanel",
    "collect_with_recommendations",
    "cost_panel",
    "cost_static_parts",
    "savings_html",
]

RECOMMENDATION_COLUMNS: tuple[ColumnConfig, ...] = (
    ColumnConfig("Service", "service", 28, sortable=True),
    ColumnConfig("Namespace", "namespace", 14, sortable=True),
    ColumnConfig("Action", "action", 11, sortable=True),
    ColumnConfig("Current", "current", 12),
    ColumnConfig("Recommended", "recommended", 12),
    ColumnConfig(
        "Saving/month", "monthly_saving", 12, "right", "currency",
        (Threshold("green", min=0.0), Threshold("red", max=0.0)), sortable=True,
    ),
    ColumnConfig("Confidence", "confidence_percent", 10, "right", "percent", sortable=True),
    ColumnConfig("Reason", "reason", 60),
)  # fmt: skip
"""The recommendation table's columns (``confidence`` is shown as a percentage)."""

_KEY = ("namespace", "service", "action")
_SORT = SortState("monthly_saving", descending=True)
TOP = 20


def collect_with_recommendations(fleet: Fleet) -> dict[str, pd.DataFrame]:
    """One collection pass plus ``recommendations`` computed from its ``overview`` (run in a worker thread).

    >>> import mtop
    >>> "recommendations" in collect_with_recommendations(mtop.connect(seed=1, clock="frozen"))
    True
    """
    from mtop.recommend import recommend

    frames = collect_overview(fleet)
    frames["recommendations"] = recommend(frames["overview"], fleet.config)
    return frames


def _recommendation_rows(frames: Mapping[str, pd.DataFrame], namespace: str | None, search: str) -> pd.DataFrame:
    recs = frames.get("recommendations")
    if recs is None:
        return pd.DataFrame({c.field: [] for c in RECOMMENDATION_COLUMNS})
    rows = filter_rows(recs, namespace=namespace, search=search, fields=("service",))
    return rows.assign(confidence_percent=rows["confidence"].to_numpy(dtype=np.float64, na_value=np.nan) * 100.0)


def savings_html(recommendations: pd.DataFrame) -> str:
    """One line: possible monthly savings (positive actions) and the extra cost of the scale-ups.

    >>> print(savings_html(pd.DataFrame({"monthly_saving": [100.0, -40.0, float("nan")]})))
    <div class="mtop-savings">Possible savings: $100.00/month · scale-ups needed: $40.00/month · 3 recommendations</div>
    """
    saving = recommendations.get("monthly_saving", pd.Series(dtype=np.float64)).to_numpy(np.float64, na_value=np.nan)
    gain = float(np.nansum(np.where(saving > 0, saving, 0.0)))
    extra = float(-np.nansum(np.where(saving < 0, saving, 0.0)))
    return (
        f'<div class="mtop-savings">Possible savings: ${gain:,.2f}/month · scale-ups needed: ${extra:,.2f}/month · '
        f"{len(recommendations)} recommendations</div>"
    )


def cost_static_parts(
    frames: Mapping[str, pd.DataFrame], *, namespace: str | None = None, search: str = "", max_rows: int | None = 100
) -> list[Any]:
    """The cost chart, the savings line and the recommendation table as static parts.

    >>> [type(p).__name__ for p in cost_static_parts({})]
    ['Figure', 'str', 'str']
    """
    overview = filter_rows(frames.get("overview", pd.DataFrame()), namespace=namespace, search=search)
    recs = sort_rows(_recommendation_rows(frames, namespace, search), _SORT, key=_KEY)
    return [
        charts.cost_chart(overview, top=TOP),
        savings_html(recs),
        table_html(recs, RECOMMENDATION_COLUMNS, max_rows=max_rows),
    ]


class CostPanel(Panel):
    """Cost chart and recommendation table, updated in place on every refresh."""

    title = "Cost"

    def __init__(self, config: Config, *, table_height: str = "240px", **kwargs: Any) -> None:
        self.chart = figure_widget(charts.cost_chart(pd.DataFrame(), top=TOP))
        self.chart.layout.autosize = True
        self.savings = widgets.HTML()
        self.table = FleetTable(RECOMMENDATION_COLUMNS, sort=_SORT, key=_KEY, height=table_height)
        super().__init__(config, **kwargs)
        self.children = (self.banner, self.chart, self.savings, self.table.grid)

    def render(self) -> None:
        """Update the chart in place; push the recommendations (view kept)."""
        sync_figure(self.chart, charts.cost_chart(self.rows(), top=TOP, as_dict=True))
        recs = _recommendation_rows(self.frames, self.namespace, self.search)
        self.savings.value = savings_html(recs)
        self.table.set_rows(recs)

    def static_parts(self) -> list[Any]:
        """The current state as static parts."""
        return cost_static_parts(self.frames, namespace=self.namespace, search=self.search)


def cost_panel(
    fleet: Fleet | None = None,
    interval: float = 2.0,
    *,
    namespace: str | None = None,
    static: bool | None = None,
    autostart: bool = True,
    collect: Collect | None = None,
) -> CostPanel | StaticPanel:
    """The cost panel alone (live, or static HTML where widgets cannot render).

    >>> import mtop
    >>> cost_panel(mtop.connect(seed=1, clock="frozen"), static=False, autostart=False).title
    'Cost'
    """
    return open_panel(
        fleet,
        lambda config: CostPanel(config, namespace=namespace),
        lambda frames, config: cost_static_parts(frames, namespace=namespace),
        title="Cost",
        interval=interval,
        static=static,
        autostart=autostart,
        collect=collect or collect_with_recommendations,
    )
