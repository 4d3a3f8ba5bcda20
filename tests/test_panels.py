"""Widget state of the dashboard and panels across refreshes, on a frozen simulated fleet.

Refreshes are driven by hand (``await board.refresh()``) with the fleet's clock moved in between, so
every assertion is about state, never about time. A wrapped source fails, renames a service to a
hostile string, or holds a collection in flight (tests/panel_fakes.py).
"""

from __future__ import annotations

import asyncio
import html
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from panel_fakes import HOSTILE, FailingSource, GatedSource, HostileSource, slowest_service

from mtop.async_cli import Snapshot
from mtop.context import Fleet, connect
from mtop.errors import SourceUnavailable
from mtop.panels.base import Panel
from mtop.panels.cost import collect_with_recommendations
from mtop.panels.fleet_dashboard import Dashboard, dashboard
from mtop.panels.services import ServicesPanel, services_panel
from mtop.panels.slo import slo_panel
from mtop.panels.static import StaticPanel
from mtop.panels.view import SortState

START = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _fleet(source_wrapper: Any = None) -> Fleet:
    fleet = connect(seed=3, clock="frozen", start=START, env={})
    if source_wrapper is not None:
        fleet.source = source_wrapper(fleet.source)
    return fleet


def _board(fleet: Fleet, **kwargs: Any) -> Dashboard:
    board = dashboard(fleet, static=False, autostart=False, **kwargs)
    assert isinstance(board, Dashboard)
    return board


def _services(board: Dashboard) -> list[str]:
    return [str(s) for s in board.services.table.rows["service"]]


def _grid_column(board: Dashboard, label: str) -> list[Any]:
    """What the grid widget will draw in column ``label`` (its synced data), top to bottom."""
    return list(board.services.table.grid._data["data"][label])


async def test_sort_filter_and_selection_survive_refreshes() -> None:
    fleet = _fleet()
    board = _board(fleet)
    await board.refresh()
    table = board.services.table
    assert table.sort == SortState("hourly_cost", descending=True)  # config display.sorting.default_key

    table._on_click({"region": "column-header", "column": "Service"})  # what the grid sends on a header click
    assert table.sort == SortState("service", descending=False)
    table._on_click({"region": "column-header", "column": "Service"})  # again: reversed
    assert table.sort == SortState("service", descending=True)
    board.search_box.value = "instruct"  # the search box, as typed
    chosen = table.rows.iloc[2]
    table._on_click({"region": "body", "row": 2, "primary_key_row": 2, "column": "Service"})
    before = _services(board)

    fleet.advance(timedelta(hours=3))  # a later refresh: every figure moves, the view must not
    await board.refresh()
    after = _services(board)
    assert table.sort == SortState("service", descending=True)
    assert after == sorted(after, key=str.lower, reverse=True)
    assert after and all("instruct" in s for s in after)
    assert set(after) == set(before)  # same services pass the filter
    assert _grid_column(board, "Service") == after  # the grid got the sorted, filtered rows
    assert table.selected == (chosen["namespace"], chosen["service"])
    i = after.index(str(chosen["service"]))
    assert table.grid.selections == [{"r1": i, "c1": 0, "r2": i, "c2": len(table.columns) - 1}]
    assert "Sort</b> Service ↓" in board.header.value
    assert html.escape(f"{chosen['namespace']}/{chosen['service']}") in board.header.value


async def test_namespace_filter_survives_refresh_and_applies_to_every_panel() -> None:
    fleet = _fleet()
    board = _board(fleet)
    await board.refresh()
    board.namespace_box.value = "production"
    fleet.advance(timedelta(minutes=30))
    await board.refresh()
    assert set(board.services.table.rows["namespace"]) == {"production"}
    assert set(board.cost.table.rows["namespace"]) <= {"production"}
    assert board.namespace_box.value == "production"
    assert "Namespace</b> production" in board.header.value
    board.namespace_box.value = ""
    assert len(set(board.services.table.rows["namespace"])) > 1


async def test_failed_refresh_shows_the_banner_keeps_the_data_and_the_next_good_one_clears_it() -> None:
    fleet = _fleet(FailingSource)
    board = _board(fleet)
    await board.refresh()
    good_rows = board.services.table.rows.copy()
    good_updated = board.updated
    assert board.banner.layout.display == "none"

    fleet.source.failing = True
    fleet.advance(timedelta(minutes=5))
    snap = await board.refresh()
    assert snap is not None and isinstance(snap.error, SourceUnavailable)
    assert board.banner.layout.display is None  # shown
    assert "Refresh failed" in board.banner.value and "connection refused" in board.banner.value
    pd.testing.assert_frame_equal(board.services.table.rows, good_rows)  # last good data stays
    assert board.updated == good_updated
    assert good_updated is not None and good_updated.isoformat(sep=" ", timespec="seconds") in board.banner.value

    fleet.source.failing = False
    await board.refresh()
    assert board.banner.layout.display == "none" and board.banner.value == ""
    assert board.updated == START + timedelta(minutes=5)


async def test_figures_are_updated_in_place() -> None:
    fleet = _fleet()
    board = _board(fleet)
    await board.refresh()
    figures = [
        board.services.ttft,
        board.services.throughput,
        board.gpus.heatmap,
        board.cost.chart,
        board.slo.ttft_gauge,
        board.slo.cost_gauge,
    ]
    ids = [f.model_id for f in figures]
    ttft_before = list(board.services.ttft.data[0].x)
    heat_before = np.asarray(board.gpus.heatmap.data[0].z, dtype=float)
    gauge_before = board.slo.ttft_gauge.data[0].value

    fleet.advance(timedelta(hours=5))  # another time of day: load, latency and utilization differ
    await board.refresh()
    now = [
        board.services.ttft,
        board.services.throughput,
        board.gpus.heatmap,
        board.cost.chart,
        board.slo.ttft_gauge,
        board.slo.cost_gauge,
    ]
    assert all(a is b for a, b in zip(figures, now, strict=True))  # the same FigureWidget objects
    assert [f.model_id for f in now] == ids  # the same front-end models: nothing re-created
    assert list(board.services.ttft.data[0].x) != ttft_before
    heat_after = np.asarray(board.gpus.heatmap.data[0].z, dtype=float)
    assert heat_after.shape != heat_before.shape or not np.array_equal(heat_after, heat_before, equal_nan=True)
    assert board.slo.ttft_gauge.data[0].value != gauge_before
    assert len(board.services.throughput.data[0].x) == 2  # one history point per refresh


async def test_history_is_bounded() -> None:
    fleet = _fleet()
    board = _board(fleet, history_points=3)
    for _ in range(5):
        fleet.advance(timedelta(minutes=1))
        await board.refresh()
    assert len(board.history) == 3
    assert len(board.services.throughput.data[0].x) == 3


async def test_grid_menu_sort_is_adopted_and_kept() -> None:
    board = _board(_fleet())
    await board.refresh()
    grid = board.services.table.grid
    # The grid's column menu sets a sort transform: it becomes the table's own sort, the transform goes.
    grid._transforms = [{"type": "sort", "column": "GPUs", "desc": True}]
    assert board.services.table.sort == SortState("gpus", descending=True)
    assert grid._transforms == []
    gpus = list(board.services.table.rows["gpus"])
    assert gpus == sorted(gpus, reverse=True)


async def test_hostile_names_stay_text_in_table_header_and_static_html() -> None:
    fleet = _fleet()
    victim = slowest_service(fleet.source)
    fleet.source = HostileSource(fleet.source, victim)
    board = _board(fleet)
    await board.refresh()
    assert HOSTILE in _grid_column(board, "Service")  # data for a canvas: drawn as text, never parsed
    header = board.header.value
    assert "<img" not in header
    assert html.escape(HOSTILE) in header  # cluster name and worst-TTFT list
    static = board.to_html(include_plotlyjs=False)
    assert "<img" not in static
    assert static.count(html.escape(HOSTILE)) >= 3  # header, table, charts' labels
    page = dashboard(fleet, static=True)
    assert isinstance(page, StaticPanel)
    assert "<img" not in page.to_html(include_plotlyjs=False)


async def test_collection_runs_beside_the_loop_and_close_ends_the_refresh() -> None:
    fleet = _fleet(GatedSource)
    gate: GatedSource = fleet.source  # type: ignore[assignment]
    board = _board(fleet, interval=0.01)
    applied: list[Snapshot] = []
    real_apply = board.apply

    def apply(snap: Snapshot) -> None:
        applied.append(snap)
        real_apply(snap)

    assert board.refresher is not None
    board.refresher.deliver = apply
    loop_thread = threading.get_ident()
    before = set(asyncio.all_tasks())
    gate.close()
    assert board.start()
    assert board.running and board.stop_button.disabled is False
    # The collection is now blocked in its thread; this coroutine still runs: the loop is free.
    while not gate.in_flight.is_set():
        await asyncio.sleep(0.001)
    assert not gate.released and applied == []
    board.close()  # closing the widget ends the refresh
    gate.open()
    assert board.refresher.pending is not None
    await board.refresher.pending
    assert not board.running
    assert set(asyncio.all_tasks()) == before  # no task left behind
    await asyncio.sleep(0)
    assert applied == []  # the collection that was in flight is discarded
    assert threading.get_ident() == loop_thread


async def test_front_end_closing_the_comm_stops_the_refresh() -> None:
    board = _board(_fleet(), interval=0.01)
    before = set(asyncio.all_tasks())
    assert board.start()
    assert board.refresher is not None and board.refresher.pending is not None
    await board.refresher.pending
    assert board.running
    board.comm.handle_close({"content": {"comm_id": board.model_id, "data": {}}})  # the front end's comm_close
    assert not board.running
    await board.refresher.pending
    assert set(asyncio.all_tasks()) == before
    board.close()


async def test_start_stop_buttons_follow_the_state() -> None:
    board = _board(_fleet(), interval=0.01)
    assert board.start_button.disabled is False and board.stop_button.disabled is True
    board.start_button.click()
    assert board.running and board.start_button.disabled
    board.stop_button.click()
    assert not board.running and board.stop_button.disabled
    assert board.refresher is not None and board.refresher.pending is not None
    await board.refresher.pending
    board.interval_box.value = 7.5
    assert board.refresher.interval == 7.5
    board.close()


def test_start_without_an_event_loop_says_so() -> None:
    board = _board(_fleet())
    assert board.start() is False  # a plain script: nothing can run in the background
    assert not board.running
    board.close()


def test_panels_alone_live_and_static() -> None:
    fleet = _fleet()
    live = services_panel(fleet, static=False, autostart=False)
    assert isinstance(live, ServicesPanel)
    live.apply(Snapshot(1, START, collect_with_recommendations(fleet)))
    assert len(live.table.rows) == len(live.frames["overview"])
    assert "<table" in live.to_html(include_plotlyjs=False)
    live.close()
    page = slo_panel(fleet, static=True)
    assert isinstance(page, StaticPanel) and len(page.figures) == 4


def test_static_is_chosen_outside_a_kernel_and_under_papermill(monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = _fleet()
    assert isinstance(dashboard(fleet), StaticPanel)  # pytest is no kernel with a front end
    monkeypatch.setenv("PAPERMILL_EXECUTION", "1")
    assert isinstance(services_panel(fleet, static=None), StaticPanel)


def test_panel_error_before_any_data_keeps_empty_view() -> None:
    panel = Panel(_fleet().config)
    panel.apply(Snapshot(1, None, {}, error=RuntimeError("<b>down</b>"), stale=True))
    assert "&lt;b&gt;down&lt;/b&gt;" in panel.banner.value
    assert panel.frames == {}


@pytest.fixture(autouse=True)
def _close_widgets() -> Iterator[None]:
    yield
    import ipywidgets

    ipywidgets.Widget.close_all()


def test_rollout_player_steps_through_a_failing_canary() -> None:
    from mtop.panels.rollout import RolloutPanel, rollout_panel

    player = rollout_panel("canary", _fleet(), fail_at=2, static=False)
    assert isinstance(player, RolloutPanel)
    chart = player.chart
    assert [t.name for t in chart.data] == ["stable", "canary"]
    assert all(len(t.x) == 1 for t in chart.data)  # step 0 only
    steps = int(player.rollout["step"].max())
    for _ in range(steps + 3):  # the Step button stops at the last step
        player.step_button.click()
    assert player.step == steps
    assert player.chart is chart and all(len(t.x) == steps + 1 for t in chart.data)  # drawn in place
    assert "rolled back" in player.decision.value
    decisions = set(player.rollout["decision"])
    assert "rollback" in decisions and "promote" not in decisions
    player.slider.value = 1  # what the Play widget and the slider do
    assert all(len(t.x) == 2 for t in chart.data)
    page = rollout_panel("shadow", _fleet(), static=True)
    assert isinstance(page, StaticPanel) and "mirrored" in page.to_html(include_plotlyjs=False)
