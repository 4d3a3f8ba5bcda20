"""The pure parts of the panels: figure builders, static HTML, trends, history, view state, table helpers."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from mtop.config import ColumnConfig, Threshold, default_config
from mtop.panels import charts
from mtop.panels.figures import figure_widget, sync_figure
from mtop.panels.static import StaticPanel, banner_html, header_html, is_static_context, table_html
from mtop.panels.summary import FleetSummary, summarize
from mtop.panels.table import display_frame, threshold_expr
from mtop.panels.trend import FleetHistory, fit_trend, history_from_slo
from mtop.panels.view import SortState, filter_rows, sort_rows, toggle_sort

HOSTILE = "<img src=x onerror=alert(1)>"
T0 = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _overview(n: int = 30) -> pd.DataFrame:
    i = np.arange(n, dtype=np.float64)
    return pd.DataFrame(
        {
            "namespace": pd.array(["prod" if k % 2 else "dev" for k in range(n)], dtype="string"),
            "service": pd.array([f"svc-{k:02d}" for k in range(n)], dtype="string"),
            "ttft_p95_ms": 100.0 * i,  # svc-29 is the slowest
            "hourly_cost": 2.0 * (n - i),  # svc-00 is the most expensive
            "cost_per_million_tokens": i / 10.0,
            "requests_per_second": np.ones(n),
            "tokens_per_second": np.full(n, 100.0),
        }
    )


def test_ttft_chart_keeps_the_slowest_colours_by_slo_and_draws_the_slo_line() -> None:
    fig = charts.ttft_chart(_overview(), slo_ms=500.0, top=5)
    bar = fig.data[0]
    assert list(bar.y) == [f"dev/svc-{k:02d}" if k % 2 == 0 else f"prod/svc-{k:02d}" for k in range(25, 30)]
    assert list(bar.x) == [2500.0, 2600.0, 2700.0, 2800.0, 2900.0]  # slowest last = drawn on top
    assert set(bar.marker.color) == {charts.COLORS["red"]}  # all above 2 x 500
    small = charts.ttft_chart(_overview(8), slo_ms=500.0)
    colors = dict(zip(small.data[0].x, small.data[0].marker.color, strict=True))
    assert colors[500.0] == charts.COLORS["green"]  # inclusive target
    assert colors[600.0] == charts.COLORS["yellow"] and colors[700.0] == charts.COLORS["yellow"]
    assert fig.layout.shapes[0].x0 == 500.0 and "slowest 5 of 30" in fig.layout.title.text


def test_labels_are_escaped_for_plotly() -> None:
    df = _overview(2)
    df.loc[1, "service"] = HOSTILE
    labels = list(charts.ttft_chart(df, 500.0).data[0].y)
    assert f"prod/{html.escape(HOSTILE, quote=False)}" in labels
    assert not any("<" in label for label in labels)


def test_heatmap_pivots_nodes_by_gpu_and_keeps_the_idlest() -> None:
    gpus = pd.DataFrame(
        {
            "node": ["a", "a", "b", "b", "c"],
            "gpu": [0, 1, 0, 1, 0],
            "utilization_percent": [90.0, 80.0, 5.0, float("nan"), 50.0],
        }
    )
    fig = charts.gpu_heatmap(gpus, max_nodes=2)
    heat = fig.data[0]
    assert list(heat.y) == ["b", "c"]  # the two lowest means (a: 85)
    z = np.asarray(heat.z, dtype=float)
    assert z[0, 0] == 5.0 and math.isnan(z[0, 1]) and z[1, 0] == 50.0 and math.isnan(z[1, 1])
    assert "idlest 2 of 3" in fig.layout.title.text
    assert (heat.zmin, heat.zmax) == (0, 100)


def test_cost_chart_uses_two_axes_for_hourly_and_per_million() -> None:
    fig = charts.cost_chart(_overview(), top=3)
    bars, markers = fig.data
    assert list(bars.y) == [60.0, 58.0, 56.0]  # most expensive first
    assert markers.yaxis == "y2" and fig.layout.yaxis2.overlaying == "y"


def test_gauge_zones_come_from_target_and_critical() -> None:
    fig = charts.gauge_chart(750.0, target=500.0, critical=1000.0, title="TTFT")
    gauge = fig.data[0].gauge
    assert [tuple(s.range) for s in gauge.steps] == [(0, 500.0), (500.0, 1000.0), (1000.0, 1500.0)]
    assert gauge.bar.color == charts.COLORS["yellow"] and gauge.threshold.value == 500.0
    empty = charts.gauge_chart(float("nan"), target=1.0, critical=2.0, title="cost")
    assert empty.data[0].value is None


def test_traffic_share_stacks_versions_up_to_the_step() -> None:
    r = pd.DataFrame(
        {
            "step": [0, 0, 1, 1, 2, 2],
            "version": ["stable", "canary"] * 3,
            "traffic_percent": [100.0, 0.0, 80.0, 20.0, 0.0, 100.0],
            "mirrored_percent": [0.0] * 6,
        }
    )
    fig = charts.traffic_share_chart(r, upto_step=1)
    assert [t.name for t in fig.data] == ["stable", "canary"]
    assert [list(t.y) for t in fig.data] == [[100.0, 80.0], [0.0, 20.0]]
    assert {t.stackgroup for t in fig.data} == {"traffic"}
    assert list(fig.layout.xaxis.range) == [0, 2]  # the axis shows the whole rollout from the start


def test_as_dict_is_the_same_figure_without_template() -> None:
    spec = charts.cost_chart(_overview(), top=3, as_dict=True)
    fig = charts.cost_chart(_overview(), top=3)
    assert "template" not in spec["layout"] and fig.layout.template.layout.plot_bgcolor is not None
    assert list(spec["data"][0]["y"]) == list(fig.data[0].y)


def test_sync_figure_updates_the_same_widget_and_handles_trace_count_changes() -> None:
    r = pd.DataFrame({"step": [0, 1], "version": ["v1", "v1"], "traffic_percent": [100.0, 100.0]})
    widget = figure_widget(charts.traffic_share_chart(r, upto_step=0))
    two = pd.DataFrame({"step": [0, 0], "version": ["v1", "v2"], "traffic_percent": [60.0, 40.0]})
    same = sync_figure(widget, charts.traffic_share_chart(two, as_dict=True))
    assert same is widget and [t.name for t in widget.data] == ["v1", "v2"]
    assert list(widget.data[1].y) == [40.0]
    sync_figure(widget, charts.traffic_share_chart(r, as_dict=True))
    assert [t.name for t in widget.data] == ["v1"] and list(widget.data[0].y) == [100.0, 100.0]


def test_static_table_escapes_formats_and_colours() -> None:
    col_ttft = ColumnConfig(
        "TTFT", "ttft_p95_ms", 8, "right", "duration", (Threshold("green", max=500.0), Threshold("red", min=500.0))
    )
    col_name = ColumnConfig("Service", "service", 10)
    df = pd.DataFrame({"service": [HOSTILE, "ok"], "ttft_p95_ms": [900.0, float("nan")]})
    out = table_html(df, [col_name, col_ttft], caption="<x>")
    assert "<img" not in out and html.escape(HOSTILE) in out
    assert "&lt;x&gt;" in out
    assert '<td class="num" style="background:#ffebee;color:#b71c1c">900ms</td>' in out
    assert '<td class="num">-</td>' in out  # NaN: no colour, a dash
    assert "1 more rows" in table_html(df, [col_name], max_rows=1)


def test_unknown_threshold_colour_never_reaches_css() -> None:
    col = ColumnConfig("X", "x", 3, format="float", thresholds=(Threshold("red;x:expression(1)", min=0.0),))
    assert "expression" not in table_html(pd.DataFrame({"x": [1.0]}), [col])
    assert "expression" not in (threshold_expr(col) or "")


def test_threshold_expression_follows_the_config_order() -> None:
    ttft = next(c for c in default_config().display.columns if c.field == "ttft_p95_ms")
    expr = threshold_expr(ttft)
    assert expr is not None
    # first match wins, bounds inclusive: green (<= 500), then yellow [500, 1000], then red (>= 1000)
    assert expr.index("cell.value <= 500.0) ? '#e8f5e9'") < expr.index("cell.value >= 500.0 && cell.value <= 1000.0)")
    assert expr.index("'#fff8e1'") < expr.index("(cell.value >= 1000.0) ? '#ffebee'")
    assert ttft.color_for(500.0) == "green" and ttft.color_for(1000.0) == "yellow"


def test_header_and_banner_escape_everything() -> None:
    summary = FleetSummary(services=2, ready=1, cluster=HOSTILE, worst=(f"prod/{HOSTILE}",), mode="mock")
    out = header_html(summary, sort="Service ↑", updated=T0, selected=HOSTILE)
    assert "<img" not in out and out.count(html.escape(HOSTILE)) == 3
    assert "2026-11-28 12:00:00+00:00" in out
    assert "<img" not in banner_html(ValueError(HOSTILE), T0)
    assert banner_html(None, T0, warnings=["query x failed"]).startswith('<div class="mtop-banner mtop-warning">')


def test_summary_counts_breaches_and_cluster_gpus() -> None:
    ov = _overview(4).assign(ready=[True, False, True, True], slo_ok=pd.array([True, False, None, False], "boolean"))
    nodes = pd.DataFrame(
        {"gpus_allocated": [6, 2], "gpus_free": [2, 6], "gpus_allocatable": [8, 8], "hourly_cost": [10.0, 5.0]}
    )
    s = summarize({"overview": ov, "nodes": nodes})
    assert (s.services, s.ready, s.slo_breaches) == (4, 3, 2)
    assert s.worst == ("prod/svc-03", "prod/svc-01")  # slowest first; NA is not a breach
    assert (s.gpus_allocated, s.gpus_free, s.gpus_total, s.fleet_hourly_cost) == (8, 8, 16, 15.0)
    assert summarize({"overview": ov}, namespace="dev").services == 2


def test_static_panel_embeds_plotly_once() -> None:
    figs = [charts.gauge_chart(1.0, target=2.0, critical=3.0, title=str(k)) for k in range(2)]
    one = StaticPanel("t", figs[:1]).to_html(include_plotlyjs=True)
    out = StaticPanel("t", figs).to_html(include_plotlyjs=True)
    assert len(one) > 1_000_000  # plotly.js itself is embedded: works offline
    assert out.count("Plotly.newPlot") == 2
    assert len(out) < 1.1 * len(one)  # the second figure reuses it


def test_static_context_detection() -> None:
    assert is_static_context(None, env={}) is True  # no kernel here
    assert is_static_context(None, env={"PAPERMILL_EXECUTION": "true"}) is True
    assert is_static_context(False, env={"MTOP_STATIC": "1"}) is False


def test_sort_rows_puts_missing_last_both_ways_and_breaks_ties_by_key() -> None:
    df = pd.DataFrame(
        {"namespace": ["b", "a", "a", "c"], "service": ["x", "y", "x", "z"], "v": [1.0, 1.0, float("nan"), 2.0]}
    )
    assert sort_rows(df, SortState("v", False))["service"].tolist() == ["y", "x", "z", "x"]
    assert sort_rows(df, SortState("v", True))["service"].tolist() == ["z", "y", "x", "x"]
    names = pd.DataFrame({"namespace": ["n"] * 3, "service": ["b", "A", "c"]})
    assert sort_rows(names, SortState("service", False))["service"].tolist() == ["A", "b", "c"]


def test_toggle_and_filter() -> None:
    cols = default_config().display.columns
    state = toggle_sort(None, "ttft_p95_ms", cols)
    assert state == SortState("ttft_p95_ms", True)
    assert toggle_sort(state, "ttft_p95_ms", cols) == SortState("ttft_p95_ms", False)
    df = pd.DataFrame({"namespace": ["p", "q"], "service": ["a.b", "axb"], "model": ["m", "n"]})
    assert filter_rows(df, search="a.b")["service"].tolist() == ["a.b"]  # literal, not a regex


def test_display_frame_types() -> None:
    cols = [ColumnConfig("Ready", "ready", 5), ColumnConfig("Q", "queue_depth", 5, format="int")]
    out = display_frame(pd.DataFrame({"ready": [True, False], "queue_depth": [1.0, float("nan")]}), cols)
    assert out["Ready"].tolist() == ["True", "False"]
    assert out["Q"].dtype == np.float64 and math.isnan(out["Q"].iloc[1])


def test_trend_prediction() -> None:
    t = fit_trend([0, 60, 120, 180, 240, 300], [100, 120, 140, 160, 180, 200], threshold=500)
    assert t.direction == "degrading" and t.seconds_to_breach == pytest.approx(900.0)  # 300 more at 1/3 per s
    assert fit_trend([0, 1, 2, 3, 4], [500, 400, 300, 200, 100], threshold=1000).direction == "improving"
    assert fit_trend([0, 60, 120, 180, 240], [100, 100.5, 100, 100.5, 100], threshold=500).direction == "stable"
    assert fit_trend([0, 1, 2], [1, 2, 3], threshold=5).direction == "unknown"
    assert fit_trend([0, 1, 2, 3, 4, 5], [1, 2, math.nan, 4, 5, 6], threshold=5).points == 5


def test_history_series_and_bound() -> None:
    h = FleetHistory(maxlen=4)
    for k in range(6):
        ov = _overview(4).assign(tokens_per_second=float(k), ttft_p95_ms=[100.0, 200.0, 300.0, 400.0])
        h.add(T0 + timedelta(seconds=k), ov)
    s = h.series()
    assert len(h) == 4 and s["tokens_per_second"].tolist() == [8.0, 12.0, 16.0, 20.0]  # 4 services x k
    assert s["ttft_p95_ms"].iloc[-1] == pytest.approx(250.0)  # equal request rates: plain mean
    assert h.series("dev")["tokens_per_second"].iloc[-1] == 10.0


def test_history_from_slo_history_weights_by_requests() -> None:
    rows = []
    for svc, rps, ttft in (("a", 1.0, 100.0), ("b", 3.0, 300.0)):
        for metric, value in (("requests_per_second", rps), ("ttft_p95_ms", ttft), ("tokens_per_second", 10.0)):
            rows.append({"timestamp": T0, "namespace": "p", "service": svc, "metric": metric, "value": value})
    out = history_from_slo(pd.DataFrame(rows))
    assert out["ttft_p95_ms"].tolist() == [250.0] and out["tokens_per_second"].tolist() == [20.0]
    assert math.isnan(out["cost_per_million_tokens"].iloc[0])  # no overview: no prices
