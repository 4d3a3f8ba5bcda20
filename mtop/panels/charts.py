"""Pure plotly figure builders: frames in, ``plotly.graph_objects.Figure`` out (no widgets, no I/O).

Every builder also takes ``as_dict=True``: it then returns plotly's JSON form (``{"data", "layout"}``)
without the template, which the live panels copy into their widgets (building a ``Figure`` re-validates
the template and costs more than the whole update).

The live panels build a figure with these functions on every refresh and copy it into their
``FigureWidget`` in place (:func:`mtop.panels.figures.sync_figure`); static reports render the same
figures to HTML (:mod:`mtop.panels.static`). Names and labels are untrusted: plotly interprets a few
HTML tags in text, so every label goes through :func:`label` first and shows verbatim.

>>> import pandas as pd
>>> ov = pd.DataFrame({"namespace": ["p"], "service": ["a"], "ttft_p95_ms": [700.0]})
>>> fig = ttft_chart(ov, slo_ms=500)
>>> fig.data[0].x.tolist(), fig.layout.shapes[0].x0
([700.0], 500)
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "COLORS",
    "cost_chart",
    "gauge_chart",
    "gpu_heatmap",
    "label",
    "service_labels",
    "sparkline_chart",
    "throughput_chart",
    "traffic_share_chart",
    "ttft_chart",
]

COLORS: dict[str, str] = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828", "blue": "#1565c0"}
"""The status palette shared by charts, gauges and the static table."""

_TEMPLATE = "plotly_white"
_LAYOUT: dict[str, Any] = {
    "margin": {"l": 10, "r": 10, "t": 40, "b": 30},
    # A constant uirevision keeps the user's zoom and pan across in-place updates.
    "uirevision": "mtop",
    "font": {"size": 11},
}


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def label(text: Any) -> str:
    """``text`` made safe for a plotly label: ``<``, ``>`` and ``&`` escaped, so tags show as text.

    >>> label("<img src=x onerror=alert(1)>")
    '&lt;img src=x onerror=alert(1)&gt;'
    """
    return html.escape("" if text is None or text is pd.NA else str(text), quote=False)


def service_labels(df: pd.DataFrame) -> list[str]:
    """``namespace/service`` per row, escaped with :func:`label`.

    >>> service_labels(pd.DataFrame({"namespace": ["p"], "service": ["a<b"]}))
    ['p/a&lt;b']
    """
    ns = df["namespace"].astype("string").fillna("") if "namespace" in df.columns else pd.Series([""] * len(df))
    svc = df["service"].astype("string").fillna("")
    return [label(f"{n}/{s}" if n else s) for n, s in zip(ns.tolist(), svc.tolist(), strict=True)]


def _status_colors(values: np.ndarray, target: float, critical: float) -> list[str]:
    return [
        COLORS["green"] if v <= target else COLORS["yellow"] if v <= critical else COLORS["red"]
        for v in values.tolist()
    ]


def _trace(kind: str, **props: Any) -> dict[str, Any]:
    return {"type": kind, **props}


def _figure(traces: Sequence[dict[str, Any]], title: str, height: int, as_dict: bool, **layout: Any) -> Any:
    """A figure from trace dicts, or with ``as_dict`` plotly's JSON form without the template.

    The JSON form is cheap: it is what a live panel copies into its widget on every refresh.
    """
    spec_layout = {**_LAYOUT, "title": {"text": label(title), "x": 0.01}, "height": height, **layout}
    if as_dict:
        return {"data": list(traces), "layout": spec_layout}
    return _go().Figure(data=list(traces), layout={**spec_layout, "template": _TEMPLATE})


def ttft_chart(
    overview: pd.DataFrame,
    slo_ms: float,
    *,
    top: int = 20,
    critical_factor: float = 2.0,
    height: int = 360,
    as_dict: bool = False,
) -> go.Figure:
    """Horizontal bars of TTFT p95 per service (the ``top`` slowest, slowest on top) against the SLO line.

    Bars are green within the SLO, yellow up to ``critical_factor`` x the SLO, red above.

    >>> ov = pd.DataFrame({"namespace": ["p", "p"], "service": ["a", "b"], "ttft_p95_ms": [100.0, 900.0]})
    >>> ttft_chart(ov, 500).data[0].y
    ('p/a', 'p/b')
    """
    rows = overview.dropna(subset=["ttft_p95_ms"]) if "ttft_p95_ms" in overview.columns else overview.iloc[:0]
    rows = rows.nlargest(top, "ttft_p95_ms").iloc[::-1] if len(rows) else rows
    values = rows["ttft_p95_ms"].to_numpy(dtype=np.float64) if len(rows) else np.zeros(0)
    bar = _trace(
        "bar",
        x=values,
        y=service_labels(rows) if len(rows) else [],
        orientation="h",
        marker={"color": _status_colors(values, slo_ms, slo_ms * critical_factor)},
        hovertemplate="%{y}: %{x:,.0f} ms<extra></extra>",
        name="TTFT p95",
    )
    shown = f"{len(rows)} of {len(overview)}" if len(overview) > len(rows) else f"{len(rows)}"
    return _figure(
        [bar],
        f"TTFT p95 per service (slowest {shown}) vs SLO {slo_ms:,.0f} ms",
        height,
        as_dict,
        shapes=[_vline(slo_ms)],
        xaxis={"title": {"text": "ms"}},
        yaxis={"automargin": True},
        showlegend=False,
    )


def _vline(x: float) -> dict[str, Any]:
    return {
        "type": "line",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "yref": "paper",
        "line": {"color": COLORS["red"], "dash": "dash", "width": 2},
    }


def _hline(y: float, width: int = 2) -> dict[str, Any]:
    return {
        "type": "line",
        "x0": 0,
        "x1": 1,
        "xref": "paper",
        "y0": y,
        "y1": y,
        "line": {"color": COLORS["red"], "dash": "dot", "width": width},
    }


def throughput_chart(
    history: pd.DataFrame, *, target: float | None = None, height: int = 300, as_dict: bool = False
) -> go.Figure:
    """Tokens per second over time, from a history frame (``timestamp``, ``tokens_per_second``).

    >>> from mtop.panels.trend import FleetHistory
    >>> throughput_chart(FleetHistory().series()).data[0].name
    'tokens/s'
    """
    line = _trace(
        "scatter",
        x=history["timestamp"].tolist() if len(history) else [],
        y=history["tokens_per_second"].to_numpy(dtype=np.float64) if len(history) else [],
        mode="lines+markers",
        name="tokens/s",
        line={"color": COLORS["blue"]},
        hovertemplate="%{x}: %{y:,.0f} tokens/s<extra></extra>",
    )
    layout: dict[str, Any] = {"yaxis": {"title": {"text": "tokens/s"}, "rangemode": "tozero"}, "showlegend": False}
    if target is not None:
        layout["shapes"] = [_hline(target)]
    return _figure([line], "Output tokens per second (fleet)", height, as_dict, **layout)


def gpu_heatmap(
    gpus: pd.DataFrame, *, max_nodes: int | None = 40, height: int = 360, as_dict: bool = False
) -> go.Figure:
    """GPU utilization (%) by node (rows) and GPU index (columns); NaN where DCGM is silent.

    With more than ``max_nodes`` nodes, the idlest ``max_nodes`` (lowest mean utilization) are shown:
    idle GPUs are where money goes.

    >>> g = pd.DataFrame({"node": ["n1", "n1", "n2"], "gpu": [0, 1, 0], "utilization_percent": [10.0, 20.0, 90.0]})
    >>> fig = gpu_heatmap(g); fig.data[0].y, fig.data[0].z
    (('n1', 'n2'), ([10.0, 20.0], [90.0, None]))
    """
    if len(gpus) and {"node", "gpu", "utilization_percent"} <= set(gpus.columns):
        # One cell per (node, GPU index): a scatter into a matrix (pivot_table is 10x slower at 10k GPUs).
        rows, names = pd.factorize(gpus["node"].astype("string").fillna("?").to_numpy(dtype=object), sort=True)
        columns, gpu_ids = pd.factorize(gpus["gpu"].to_numpy(), sort=True)
        util = gpus["utilization_percent"].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = ~np.isnan(util)
        sums = np.zeros((len(names), len(gpu_ids)))
        counts = np.zeros((len(names), len(gpu_ids)))
        np.add.at(sums, (rows[ok], columns[ok]), util[ok])
        np.add.at(counts, (rows[ok], columns[ok]), 1.0)
        values = np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)
        total = len(names)
        if max_nodes is not None and total > max_nodes:
            seen = counts.sum(axis=1)
            means = np.where(seen > 0, sums.sum(axis=1) / np.maximum(seen, 1.0), np.nan)  # NaN sorts last
            keep = np.sort(np.argsort(means, kind="stable")[:max_nodes])
            values, names = values[keep], names[keep]
        # None, not NaN, for a GPU without a reading: NaN is not valid JSON in a widget message.
        z = [[None if math.isnan(v) else v for v in row] for row in values.tolist()]
        nodes = [label(n) for n in names]
        cols = [f"GPU {c}" for c in gpu_ids]
    else:
        total, z, nodes, cols = 0, [], [], []
    heat = _trace(
        "heatmap",
        z=z,
        x=cols,
        y=nodes,
        zmin=0,
        zmax=100,
        colorscale="RdYlGn_r",
        colorbar={"title": {"text": "%"}},
        hovertemplate="%{y} %{x}: %{z:.0f}%<extra></extra>",
        hoverongaps=False,
    )
    title = "GPU utilization by node and GPU"
    if total > len(nodes):
        title += f" (idlest {len(nodes)} of {total} nodes)"
    return _figure([heat], title, height, as_dict, yaxis={"automargin": True, "type": "category"})


def cost_chart(overview: pd.DataFrame, *, top: int = 20, height: int = 360, as_dict: bool = False) -> go.Figure:
    """Cost per hour (bars, left axis) and per million output tokens (markers, right axis), by service.

    The ``top`` most expensive services per hour are shown, most expensive first.

    >>> ov = pd.DataFrame({"namespace": ["p"], "service": ["a"], "hourly_cost": [5.0],
    ...                    "cost_per_million_tokens": [2.0]})
    >>> [t.name for t in cost_chart(ov).data]
    ['$/hour', '$/1M tokens']
    """
    have = {"hourly_cost", "cost_per_million_tokens"} <= set(overview.columns)
    rows = overview.dropna(subset=["hourly_cost"]).nlargest(top, "hourly_cost") if have else overview.iloc[:0]
    names = service_labels(rows) if len(rows) else []
    hourly = _trace(
        "bar",
        x=names,
        y=rows["hourly_cost"].to_numpy(dtype=np.float64) if len(rows) else [],
        name="$/hour",
        marker={"color": COLORS["blue"]},
        hovertemplate="%{x}: $%{y:,.2f}/h<extra></extra>",
    )
    per_m = _trace(
        "scatter",
        x=names,
        y=rows["cost_per_million_tokens"].to_numpy(dtype=np.float64) if len(rows) else [],
        name="$/1M tokens",
        mode="markers",
        yaxis="y2",
        marker={"color": COLORS["red"], "size": 9, "symbol": "diamond"},
        hovertemplate="%{x}: $%{y:,.2f} per 1M tokens<extra></extra>",
    )
    shown = f"top {len(rows)} of {len(overview)}" if len(overview) > len(rows) else "all"
    return _figure(
        [hourly, per_m],
        f"Cost by service ({shown})",
        height,
        as_dict,
        yaxis={"title": {"text": "$/hour"}, "rangemode": "tozero"},
        yaxis2={"title": {"text": "$/1M tokens"}, "overlaying": "y", "side": "right", "rangemode": "tozero"},
        xaxis={"tickangle": -30, "automargin": True},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    )


def gauge_chart(
    value: float,
    *,
    target: float,
    critical: float,
    title: str,
    prefix: str = "",
    suffix: str = "",
    maximum: float | None = None,
    height: int = 240,
    as_dict: bool = False,
) -> go.Figure:
    """A lower-is-better gauge: green up to ``target``, yellow up to ``critical``, red beyond.

    The axis runs to ``maximum`` (default: 1.5 x ``critical``, or the value if higher); a missing
    value shows an empty gauge.

    >>> fig = gauge_chart(300.0, target=500, critical=1000, title="TTFT p95", suffix=" ms")
    >>> [s.range for s in fig.data[0].gauge.steps]
    [(0, 500), (500, 1000), (1000, 1500.0)]
    """
    top = maximum if maximum is not None else max(1.5 * critical, value if math.isfinite(value) else 0.0)
    bar = COLORS["green"] if value <= target else COLORS["yellow"] if value <= critical else COLORS["red"]
    indicator = _trace(
        "indicator",
        mode="gauge+number",
        value=value if math.isfinite(value) else None,
        number={"prefix": prefix, "suffix": suffix, "valueformat": ",.2f" if prefix == "$" else ",.0f"},
        title={"text": label(title)},
        gauge={
            "axis": {"range": [0, top]},
            "bar": {"color": bar if math.isfinite(value) else "rgba(0,0,0,0)", "thickness": 0.3},
            "steps": [
                {"range": [0, target], "color": "#e8f5e9"},
                {"range": [target, critical], "color": "#fff8e1"},
                {"range": [critical, top], "color": "#ffebee"},
            ],
            "threshold": {"line": {"color": COLORS["red"], "width": 3}, "thickness": 0.8, "value": target},
        },
    )
    return _figure([indicator], "", height, as_dict, margin={"l": 20, "r": 20, "t": 50, "b": 10})


def sparkline_chart(
    history: pd.DataFrame,
    column: str,
    *,
    threshold: float | None = None,
    title: str = "",
    height: int = 120,
    as_dict: bool = False,
) -> go.Figure:
    """A small line of ``column`` over ``timestamp`` (the last points of a history), with the threshold.

    >>> from mtop.panels.trend import FleetHistory
    >>> sparkline_chart(FleetHistory().series(), "ttft_p95_ms", threshold=500).data[0].mode
    'lines'
    """
    line = _trace(
        "scatter",
        x=history["timestamp"].tolist() if len(history) else [],
        y=history[column].to_numpy(dtype=np.float64) if len(history) else [],
        mode="lines",
        line={"color": COLORS["blue"], "width": 2},
        hoverinfo="x+y",
        showlegend=False,
    )
    layout: dict[str, Any] = {
        "margin": {"l": 30, "r": 10, "t": 24 if title else 4, "b": 20},
        "xaxis": {"showgrid": False, "tickfont": {"size": 9}},
        "yaxis": {"showgrid": False, "tickfont": {"size": 9}},
    }
    if threshold is not None:
        layout["shapes"] = [_hline(threshold, width=1)]
    return _figure([line], title, height, as_dict, **layout)


def traffic_share_chart(
    rollout: pd.DataFrame, *, upto_step: int | None = None, height: int = 320, as_dict: bool = False
) -> go.Figure:
    """Stacked traffic share (%) per version over the steps of a rollout, up to ``upto_step``.

    ``rollout`` has the columns of :func:`mtop.simulation.simulate` (``step``, ``version``,
    ``traffic_percent``, ...). One stacked trace per version, in order of first appearance; a version
    that receives mirrored traffic (``mirrored_percent``, shadow rollouts) also gets a dashed line.

    >>> r = pd.DataFrame({"step": [0, 0, 1, 1], "version": ["v1", "v2", "v1", "v2"],
    ...                   "traffic_percent": [90.0, 10.0, 50.0, 50.0]})
    >>> [(t.name, t.y.tolist()) for t in traffic_share_chart(r, upto_step=0).data]
    [('v1', [90.0]), ('v2', [10.0])]
    """
    rows = rollout if upto_step is None else rollout[rollout["step"] <= upto_step]
    steps = sorted(int(s) for s in rollout["step"].unique()) if len(rollout) else []
    traces = []
    mirrors = []
    palette = [COLORS["blue"], COLORS["green"], COLORS["yellow"], COLORS["red"], "#6a1b9a", "#00838f"]
    versions = rollout["version"].astype("string").fillna("?") if len(rollout) else pd.Series([], dtype="string")
    shown = rows["version"].astype("string").fillna("?") if len(rows) else pd.Series([], dtype="string")
    for i, version in enumerate(pd.unique(versions)):
        mine = rows[(shown == version).to_numpy(dtype=bool)].sort_values("step")
        if (
            "mirrored_percent" in rollout.columns
            and (rollout.loc[(versions == version).to_numpy(bool), "mirrored_percent"] > 0).any()
        ):
            mirrors.append(
                _trace(
                    "scatter",
                    x=mine["step"].to_numpy(),
                    y=mine["mirrored_percent"].to_numpy(dtype=np.float64),
                    name=label(f"{version} (mirrored)"),
                    mode="lines",
                    line={"color": palette[i % len(palette)], "dash": "dash"},
                    hovertemplate="step %{x}: %{y:.0f}% mirrored<extra>" + label(version) + "</extra>",
                )
            )
        traces.append(
            _trace(
                "scatter",
                x=mine["step"].to_numpy(),
                y=mine["traffic_percent"].to_numpy(dtype=np.float64),
                name=label(version),
                mode="lines",
                stackgroup="traffic",
                line={"color": palette[i % len(palette)]},
                hovertemplate="step %{x}: %{y:.0f}%<extra>" + label(version) + "</extra>",
            )
        )
    return _figure(
        traces + mirrors,
        "Traffic share by version",
        height,
        as_dict,
        xaxis={"title": {"text": "step"}, "range": [steps[0], steps[-1]] if steps else None, "dtick": 1},
        yaxis={"title": {"text": "% of traffic"}, "range": [0, 100]},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    )
