"""The GPU panel: utilization heatmap by node and GPU, and the node table (allocation, price, idle cost).

With a namespace filter, only the nodes running that namespace's pods are shown.

>>> import mtop
>>> p = gpu_panel(mtop.connect(seed=1, clock="frozen"), static=True)
>>> "Idle $/h" in p.to_html(include_plotlyjs=False)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mtop.async_cli import Collect, collect_overview
from mtop.config import ColumnConfig, Threshold
from mtop.panels import charts
from mtop.panels.base import Panel, open_panel
from mtop.panels.figures import figure_widget, sync_figure
from mtop.panels.static import StaticPanel, table_html
from mtop.panels.table import FleetTable
from mtop.panels.view import SortState, sort_rows

if TYPE_CHECKING:
    from mtop.config import Config
    from mtop.context import Fleet

__all__ = ["NODE_COLUMNS", "GPUPanel", "gpu_panel", "gpu_static_parts", "node_rows"]

NODE_COLUMNS: tuple[ColumnConfig, ...] = (
    ColumnConfig("Node", "name", 40, sortable=True),
    ColumnConfig("GPU type", "gpu_type", 16, sortable=True),
    ColumnConfig("GPUs", "gpus_allocatable", 5, "right", "int", sortable=True),
    ColumnConfig("Allocated", "gpus_allocated", 9, "right", "int", sortable=True),
    ColumnConfig("Free", "gpus_free", 5, "right", "int", sortable=True),
    # Low utilization is money spent on idle GPUs: red under 30 %, yellow under 60 % (panel defaults).
    ColumnConfig(
        "Util", "utilization_percent", 7, "right", "percent",
        (Threshold("red", max=30.0), Threshold("yellow", min=30.0, max=60.0), Threshold("green", min=60.0)),
        sortable=True,
    ),
    ColumnConfig("$/GPU-h", "gpu_hourly_cost", 8, "right", "currency", sortable=True),
    ColumnConfig("Cost/h", "hourly_cost", 9, "right", "currency", sortable=True),
    ColumnConfig("Idle $/h", "idle_hourly_cost", 9, "right", "currency", sortable=True),
)  # fmt: skip
"""The node table's columns (not in ``display.columns``, which describes the services table)."""

_SORT = SortState("idle_hourly_cost", descending=True)


def node_rows(frames: Mapping[str, pd.DataFrame], namespace: str | None = None) -> pd.DataFrame:
    """The ``nodes`` frame with each node's mean GPU utilization, limited to ``namespace``'s nodes.

    >>> nodes = pd.DataFrame({"name": ["n1", "n2"]})
    >>> gpus = pd.DataFrame({"node": ["n1", "n1", "n2"], "utilization_percent": [10.0, 30.0, 50.0],
    ...                      "namespace": ["a", "a", "b"]})
    >>> node_rows({"nodes": nodes, "gpus": gpus}, namespace="a")[["name", "utilization_percent"]].values.tolist()
    [['n1', 20.0]]
    """
    nodes = frames.get("nodes", pd.DataFrame({"name": pd.Series([], dtype="string")}))
    gpus = frames.get("gpus", pd.DataFrame())
    out = nodes.copy()
    if {"node", "utilization_percent"} <= set(gpus.columns) and len(gpus):
        util = gpus.groupby("node")["utilization_percent"].mean()
        out["utilization_percent"] = out["name"].map(util).astype(np.float64)
    else:
        out["utilization_percent"] = np.nan
    if namespace is not None and "namespace" in gpus.columns:
        used = set(gpus.loc[(gpus["namespace"] == namespace).fillna(False).to_numpy(dtype=bool), "node"].dropna())
        out = out[out["name"].isin(used).to_numpy(dtype=bool)]
    return out.reset_index(drop=True)


def _gpus(frames: Mapping[str, pd.DataFrame], namespace: str | None) -> pd.DataFrame:
    gpus = frames.get("gpus", pd.DataFrame())
    if namespace is None or "node" not in gpus.columns:
        return gpus
    nodes = set(node_rows(frames, namespace)["name"])
    return gpus[gpus["node"].isin(nodes).to_numpy(dtype=bool)]


def gpu_static_parts(
    frames: Mapping[str, pd.DataFrame], *, namespace: str | None = None, max_rows: int | None = 200
) -> list[Any]:
    """The heatmap and the node table (idlest cost first) as static parts.

    >>> [type(p).__name__ for p in gpu_static_parts({})]
    ['Figure', 'str']
    """
    rows = sort_rows(node_rows(frames, namespace), _SORT, key=("name",))
    return [charts.gpu_heatmap(_gpus(frames, namespace)), table_html(rows, NODE_COLUMNS, max_rows=max_rows)]


class GPUPanel(Panel):
    """Heatmap and node table, updated in place on every refresh."""

    title = "GPUs"

    def __init__(self, config: Config, *, table: bool = True, table_height: str = "260px", **kwargs: Any) -> None:
        self.heatmap = figure_widget(charts.gpu_heatmap(pd.DataFrame()))
        self.heatmap.layout.autosize = True
        self.table = FleetTable(NODE_COLUMNS, sort=_SORT, key=("name",), height=table_height) if table else None
        super().__init__(config, **kwargs)
        parts: list[Any] = [self.banner, self.heatmap]
        if self.table is not None:
            parts.append(self.table.grid)
        self.children = tuple(parts)

    def render(self) -> None:
        """Update the heatmap in place and push the node rows to the table."""
        sync_figure(self.heatmap, charts.gpu_heatmap(_gpus(self.frames, self.namespace), as_dict=True))
        if self.table is not None:
            self.table.set_rows(node_rows(self.frames, self.namespace))

    def static_parts(self) -> list[Any]:
        """The current state as static parts."""
        return gpu_static_parts(self.frames, namespace=self.namespace)


def gpu_panel(
    fleet: Fleet | None = None,
    interval: float = 2.0,
    *,
    namespace: str | None = None,
    static: bool | None = None,
    autostart: bool = True,
    collect: Collect | None = None,
) -> GPUPanel | StaticPanel:
    """The GPU panel alone (live, or static HTML where widgets cannot render).

    >>> import mtop
    >>> gpu_panel(mtop.connect(seed=1, clock="frozen"), static=False, autostart=False).title
    'GPUs'
    """
    return open_panel(
        fleet,
        lambda config: GPUPanel(config, namespace=namespace),
        lambda frames, config: gpu_static_parts(frames, namespace=namespace),
        title="GPUs",
        interval=interval,
        static=static,
        autostart=autostart,
        collect=collect or collect_overview,
    )
