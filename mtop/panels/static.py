"""Static HTML renderers: the panels where widgets cannot render (papermill, nbconvert, a console, reports).

Every function here is pure: frames and figures in, an HTML string out. Every text that comes from the
fleet (service, model, namespace, node and cluster names, error messages) is escaped with
``html.escape``: names and labels are untrusted. Plotly figures are embedded with their JavaScript
(``include_plotlyjs=True``, once per document) so a report works offline.

>>> import pandas as pd
>>> table_html(pd.DataFrame({"service": ["<b>x</b>"]})).split("<tbody>")[1]
'<tr><td>&lt;b&gt;x&lt;/b&gt;</td></tr></tbody></table>'
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from mtop.output import ColumnFormatter

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from mtop.config import ColumnConfig
    from mtop.panels.summary import FleetSummary

__all__ = [
    "CELL_STYLES",
    "StaticPanel",
    "banner_html",
    "figure_html",
    "header_html",
    "is_static_context",
    "table_html",
]

CELL_STYLES: dict[str, str] = {
    "green": "background:#e8f5e9;color:#1b5e20",
    "yellow": "background:#fff8e1;color:#8d6e00",
    "red": "background:#ffebee;color:#b71c1c",
    "blue": "background:#e3f2fd;color:#0d47a1",
    "cyan": "background:#e0f7fa;color:#006064",
}
"""Threshold colour name -> cell style; a colour not listed gets no style (config text never reaches CSS)."""

_CSS = (
    "<style>.mtop-table{border-collapse:collapse;font:12px/1.4 sans-serif}"
    ".mtop-table th,.mtop-table td{padding:2px 8px;border-bottom:1px solid #ddd;white-space:nowrap}"
    ".mtop-table th{text-align:left;background:#f5f5f5}.mtop-table td.num{text-align:right}"
    ".mtop-header{font:13px/1.5 sans-serif;margin:4px 0}.mtop-header b{font-weight:600}"
    ".mtop-banner{font:13px sans-serif;padding:6px 10px;border-radius:4px;background:#ffebee;color:#b71c1c;"
    "border:1px solid #ef9a9a}</style>"
)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


def is_static_context(static: bool | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether panels must render as static HTML rather than live widgets.

    True when ``static`` says so; else when ``PAPERMILL_EXECUTION`` or ``MTOP_STATIC`` is set (non-empty,
    not 0/false); else when not running inside an IPython kernel (a plain console or script, where widgets
    have nowhere to render); else when the running cell was sent without stdin, as headless executors
    (papermill, nbconvert, nbclient) send it, while JupyterLab, Notebook and VS Code allow stdin. Pass
    ``static=False`` to force widgets (e.g. under Voila, which executes like nbclient).

    >>> is_static_context(None, env={"MTOP_STATIC": "1"}), is_static_context(False, env={"MTOP_STATIC": "1"})
    (True, False)
    """
    if static is not None:
        return static
    environ = os.environ if env is None else env
    if _truthy(environ.get("PAPERMILL_EXECUTION")) or _truthy(environ.get("MTOP_STATIC")):
        return True
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook extra
        return True
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell" or kernel is None:
        return True
    return not bool(getattr(kernel, "_allow_stdin", True))


def _cell(text: str, style: str | None, numeric: bool) -> str:
    attrs = ' class="num"' if numeric else ""
    if style:
        attrs += f' style="{style}"'
    return f"<td{attrs}>{html.escape(text)}</td>"


def table_html(
    df: pd.DataFrame,
    columns: Sequence[ColumnConfig] | None = None,
    *,
    max_rows: int | None = None,
    caption: str = "",
    color: bool = True,
) -> str:
    """An escaped HTML table of ``df`` in the configured ``columns`` (None: every column, as text).

    Formats and threshold colours come from the ``display.columns`` entries; ``max_rows`` cuts long
    tables (and says so).

    >>> from mtop.config import ColumnConfig, Threshold
    >>> col = ColumnConfig("TTFT", "ttft_p95_ms", 8, "right", "duration", (Threshold("red", min=500),))
    >>> table_html(pd.DataFrame({"ttft_p95_ms": [900.0]}), [col]).count("background:#ffebee")
    1
    """
    if columns is None:
        from mtop.config import ColumnConfig

        columns = [ColumnConfig(name=str(c), field=str(c), width=max(len(str(c)), 1)) for c in df.columns]
    cols = [c for c in columns if c.field in df.columns]
    shown = df if max_rows is None else df.head(max_rows)
    formatters = [ColumnFormatter(c) for c in cols]
    data = {c.field: shown[c.field].tolist() for c in cols}
    head = "".join(f"<th>{html.escape(c.name)}</th>" for c in cols)
    body: list[str] = []
    for i in range(len(shown)):
        cells = []
        for c, f in zip(cols, formatters, strict=True):
            value = data[c.field][i]
            style = CELL_STYLES.get(f.color(value) or "") if color else None
            cells.append(_cell(f.format(value), style, c.format != "string"))
        body.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    more = ""
    if max_rows is not None and len(df) > max_rows:
        more = f'<p class="mtop-more">{len(df) - max_rows:,} more rows not shown ({len(df):,} in all)</p>'
    return f'<table class="mtop-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{more}'


def _when(at: datetime | None) -> str:
    return at.isoformat(sep=" ", timespec="seconds") if at is not None else "never"


def _money(value: float, unit: str = "/h") -> str:
    return "-" if not math.isfinite(value) else f"${value:,.2f}{unit}"


def header_html(
    summary: FleetSummary,
    *,
    sort: str = "",
    updated: datetime | None = None,
    selected: str | None = None,
    state: str = "",
) -> str:
    """The dashboard header line (services, GPUs, cost, tokens/s, SLO breaches, mode, cluster, sort, time).

    >>> from mtop.panels.summary import FleetSummary
    >>> "&lt;x&gt;" in header_html(FleetSummary(cluster="<x>"))
    True
    """
    e = html.escape
    ns = summary.namespace if summary.namespace is not None else "all namespaces"
    parts = [
        f"<b>Services</b> {summary.ready}/{summary.services} ready",
        f"<b>GPUs</b> {summary.gpus_allocated:,} allocated / {summary.gpus_free:,} free",
        f"<b>Fleet</b> {_money(summary.fleet_hourly_cost)} (services {_money(summary.services_hourly_cost)})",
        f"<b>Tokens/s</b> {summary.tokens_per_second:,.0f}",
        f"<b>SLO breaches</b> {summary.slo_breaches}"
        + (f" (worst: {e(', '.join(summary.worst))})" if summary.worst else ""),
    ]
    where = [
        f"<b>Mode</b> {e(summary.mode or '-')}",
        f"<b>Cluster</b> {e(summary.cluster or '-')}",
        f"<b>Namespace</b> {e(ns)}",
        f"<b>Sort</b> {e(sort or '-')}",
        f'<b>Last updated</b> <span class="mtop-updated">{e(_when(updated))}</span>',
    ]
    if state:
        where.append(f"<b>Refresh</b> {e(state)}")
    if selected:
        where.append(f'<b>Selected</b> <span class="mtop-selected">{e(selected)}</span>')
    return f'<div class="mtop-header">{" · ".join(parts)}<br>{" · ".join(where)}</div>'


def banner_html(
    error: BaseException | str | None, last_good: datetime | None = None, warnings: Iterable[str] = ()
) -> str:
    """The refresh-failure banner (empty string when there is nothing to say).

    >>> banner_html(None)
    ''
    >>> "&lt;script&gt;" in banner_html(RuntimeError("<script>"))
    True
    """
    notes = [html.escape(str(w)) for w in warnings]
    if error is None and not notes:
        return ""
    if error is None:
        return f'<div class="mtop-banner mtop-warning">Partial data: {"; ".join(notes)}</div>'
    kind = type(error).__name__ if isinstance(error, BaseException) else "Error"
    since = f" Showing the last good data, from {_when(last_good)}." if last_good else ""
    return (
        f'<div class="mtop-banner mtop-error"><b>Refresh failed</b> ({html.escape(kind)}): '
        f"{html.escape(str(error))}.{html.escape(since)}</div>"
    )


def figure_html(fig: go.Figure, include_plotlyjs: bool | str = True) -> str:
    """A figure as an HTML fragment; ``include_plotlyjs`` as in plotly (True embeds plotly.js: offline-safe).

    >>> from mtop.panels.charts import gauge_chart
    >>> html_text = figure_html(gauge_chart(1.0, target=2, critical=3, title="t"), include_plotlyjs=False)
    >>> html_text.startswith("<div") and "Plotly.newPlot" in html_text
    True
    """
    text: str = fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs, config={"displaylogo": False})
    return text


@dataclass
class StaticPanel:
    """A panel rendered once, as HTML: headings, tables and figures in order; plotly.js embedded once.

    >>> p = StaticPanel("Fleet <1>", ["<p>hello</p>"])
    >>> p.to_html(include_plotlyjs=False).startswith('<div class="mtop-static"><style>')
    True
    >>> "Fleet &lt;1&gt;" in p._repr_html_()
    True
    """

    title: str
    parts: list[Any] = field(default_factory=list)
    """HTML strings (already escaped) and plotly figures."""

    def to_html(self, include_plotlyjs: bool | str = True, full_html: bool = False) -> str:
        """The panel as HTML; plotly.js goes with the first figure (``include_plotlyjs``), then is reused."""
        out = [f'<div class="mtop-static">{_CSS}<h3>{html.escape(self.title)}</h3>']
        include = include_plotlyjs
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(figure_html(part, include_plotlyjs=include))
                if include is True:
                    include = False  # loaded once per document
        out.append("</div>")
        body = "".join(out)
        if full_html:
            head = f'<head><meta charset="utf-8"><title>{html.escape(self.title)}</title></head>'
            return f"<!DOCTYPE html><html>{head}<body>{body}</body></html>"
        return body

    def _repr_html_(self) -> str:
        return self.to_html()

    @property
    def figures(self) -> list[go.Figure]:
        """The plotly figures of the panel, in order."""
        return [p for p in self.parts if not isinstance(p, str)]
