"""notebooks/dashboard.ipynb in a real JupyterLab, driven by headless Chromium; and a real kernel's shutdown.

The notebook is run as shipped, with two cells added after the fleet is connected: the source is
wrapped so the slowest service (the first one the header names) and the cluster carry a hostile name,
and so a collection can be held in flight (tests/panel_fakes.py). The table is an ipydatagrid canvas:
its rows are read from the grid's front-end data model, which is what the canvas draws.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from fixtures_jupyter import ROOT, JupyterLab
from panel_fakes import HOSTILE

NOTEBOOK = "dashboard_under_test.ipynb"
SCREENSHOT = ROOT / "build" / "dashboard.png"
WAIT_MS = 180_000  # a loaded 2-core machine can be slow to start a kernel; nothing here is a timing assertion

SETUP = """\
from panel_fakes import GatedSource, HostileSource, slowest_service
fleet.source = HostileSource(fleet.source, slowest_service(fleet.source))
gate = fleet.source = GatedSource(fleet.source)"""

# The rows the services grid holds in the browser, from its front-end data model (what the canvas draws).
GRID_JS = """
async () => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  for (let i = 0; i < nb.model.cells.length; i++) {
    const outputs = nb.model.cells.get(i).outputs;
    for (let k = 0; outputs && k < outputs.length; k++) {
      const view = outputs.get(k).data['application/vnd.jupyter.widget-view+json'];
      if (!view) continue;
      const renderer = nb.widgets[i].outputArea.widgets[k].widgets[1];
      const manager = renderer._manager.promise ? await renderer._manager.promise : renderer._manager;
      const grids = [];
      const walk = async (model) => {
        if (model.get('_model_name') === 'DataGridModel') grids.push(model);
        for (const child of model.get('children') || []) await walk(child);
      };
      await walk(await manager.get_model(view.model_id));
      if (!grids.length) continue;
      const dm = grids[0].data_model;
      const n = dm.rowCount('body');
      const service = [];
      for (let r = 0; r < n; r++) service.push(dm.data('body', r, 0));
      return {n, service, header: dm.data('column-header', 0, 0)};
    }
  }
  return null;
}
"""

APPEND_AND_RUN_JS = """
async (code) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  nb.activeCellIndex = nb.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  await app.commands.execute('notebook:change-cell-to-code');
  nb.activeCell.model.sharedModel.setSource(code);
  const index = nb.activeCellIndex;
  await app.commands.execute('notebook:run-cell');
  return index;
}
"""

CELL_TEXT_JS = """
(i) => {
  const cell = window.jupyterapp.shell.currentWidget.content.model.cells.get(i);
  return cell.outputs.toJSON().map(o => o.text || (o.data && o.data['text/plain']) || o.evalue || '').join('');
}
"""


def _write_notebook(lab: JupyterLab) -> None:
    nb = nbformat.read(lab.root_dir / "dashboard.ipynb", as_version=4)
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    # Injected parameters, as papermill does it: a cell after the tagged one.
    nb.cells.insert(params + 1, nbformat.v4.new_code_cell("interval = 2.0\nseed = 0"))
    connect = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "mtop.connect(" in c.source)
    nb.cells.insert(connect + 1, nbformat.v4.new_code_cell(SETUP))
    nbformat.write(nb, lab.root_dir / NOTEBOOK)


class Dashboard:
    """The notebook's page, with the few reads and actions the tests need."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def grid(self) -> dict[str, Any]:
        rows = self.page.evaluate(GRID_JS)
        assert rows is not None, "no ipydatagrid model in the notebook's outputs"
        return dict(rows)

    def header(self) -> str:
        return str(self.page.inner_text(".mtop-dashboard-header"))

    def updated(self) -> str:
        return str(self.page.inner_text(".mtop-dashboard-header .mtop-updated"))

    def wait_for(self, predicate: Any, what: str, timeout_s: float = WAIT_MS / 1000) -> Any:
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            self.page.wait_for_timeout(250)
        raise AssertionError(f"gave up waiting for {what} (last: {last!r})")

    def run_cell(self, code: str) -> str:
        """Append a code cell, run it, and return its output once it has finished."""
        index = self.page.evaluate(APPEND_AND_RUN_JS, code)
        self.page.wait_for_function(
            "(i) => { const c = window.jupyterapp.shell.currentWidget.content.model.cells.get(i);"
            " return c.executionCount !== null && c.outputs.length > 0; }",
            arg=index,
            timeout=WAIT_MS,
        )
        return str(self.page.evaluate(CELL_TEXT_JS, index))

    def click_header(self, x_offset: float) -> None:
        """Click the services grid's column header row (26 px high), ``x_offset`` px from its left edge."""
        box = self.page.locator(".mtop-dashboard .lm-DataGrid").first.bounding_box(timeout=WAIT_MS)
        assert box is not None
        self.page.mouse.click(box["x"] + x_offset, box["y"] + 13)

    def screenshot(self) -> None:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        # A clip, not an element screenshot: the dashboard redraws every second and is never "stable".
        box = self.page.locator(".mtop-dashboard").first.bounding_box(timeout=WAIT_MS)
        assert box is not None
        self.page.screenshot(path=str(SCREENSHOT), clip=box, timeout=WAIT_MS)


@pytest.fixture(scope="module")
def board(jupyter_lab: JupyterLab, chromium: Any) -> Iterator[Dashboard]:
    """The dashboard notebook opened and run to its first refresh."""
    _write_notebook(jupyter_lab)
    context = chromium.new_context(viewport={"width": 1600, "height": 3000})
    page = context.new_page()
    dash = Dashboard(page)
    try:
        page.goto(jupyter_lab.notebook_url(NOTEBOOK))
        page.wait_for_function(
            "window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
            timeout=WAIT_MS,
        )
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".mtop-dashboard-header .mtop-updated", timeout=WAIT_MS)
        dash.wait_for(lambda: dash.updated() != "never", "the first refresh")
        yield dash
    finally:
        page.evaluate("window.jupyterapp.commands.execute('kernelmenu:shutdown')")
        context.close()


def test_the_table_has_rows(board: Dashboard) -> None:
    rows = board.wait_for(lambda: (g := board.grid())["n"] > 0 and g, "grid rows")
    assert rows["header"] == "Service"
    assert rows["n"] >= 10 and len(set(rows["service"])) == rows["n"]
    board.screenshot()


def test_clicking_a_header_sorts_and_again_reverses(board: Dashboard) -> None:
    first = board.grid()["service"]
    ascending = sorted(first, key=str.lower)
    assert first != ascending  # the configured default sort (cost) is not by name
    board.click_header(60)  # inside "Service"
    board.wait_for(lambda: board.grid()["service"] == ascending, "rows sorted by service, A to Z")
    assert "Sort Service ↑" in board.header()
    board.click_header(60)
    board.wait_for(lambda: board.grid()["service"] == ascending[::-1], "rows sorted by service, Z to A")
    assert "Sort Service ↓" in board.header()


def test_after_the_next_refresh_the_order_is_kept(board: Dashboard) -> None:
    before = board.updated()
    board.wait_for(lambda: board.updated() != before, "the next refresh")
    services = board.grid()["service"]
    assert services == sorted(services, key=str.lower, reverse=True)
    assert "Sort Service ↓" in board.header()


def test_the_plotly_charts_are_drawn(board: Dashboard) -> None:
    board.page.wait_for_selector(".mtop-dashboard .js-plotly-plot .main-svg", state="attached", timeout=WAIT_MS)
    plots = board.page.locator(".mtop-dashboard .js-plotly-plot")
    assert plots.count() >= 8  # TTFT, tokens/s, heatmap, cost, two gauges, two sparklines
    bars = board.page.locator(".mtop-dashboard .js-plotly-plot .barlayer .point")
    board.wait_for(lambda: bars.count() > 0, "TTFT and cost bars")
    assert (
        board.page.locator(
            ".mtop-dashboard .js-plotly-plot .heatmaplayer image, .mtop-dashboard .js-plotly-plot .hm image"
        ).count()
        >= 1
    )


def test_a_hostile_name_stays_text(board: Dashboard) -> None:
    assert HOSTILE in board.grid()["service"]  # a value the canvas draws as text
    header = board.header()
    assert HOSTILE in header  # visible, literally: cluster and slowest service
    assert board.page.locator(f"text={HOSTILE}").count() >= 1
    assert board.page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert board.dialogs == []


def test_another_cell_completes_while_a_refresh_is_in_flight(board: Dashboard) -> None:
    assert board.run_cell("gate.close()\nprint('armed')").strip() == "armed"
    # This cell waits (in the kernel) until the next collection is blocked in its worker thread, then
    # returns: it completes while that refresh is in flight, which only the next cell can release.
    # The wait is awaited in a worker thread: a blocking wait would stall the kernel's event loop, on which
    # the refresh loop schedules its next collection (a race the test itself would create).
    out = board.run_cell(
        "import asyncio\n"
        "flying = await asyncio.to_thread(gate.wait_in_flight, 120)\n"
        "print('in flight', flying, 'released', gate.released, board.running)"
    )
    assert out.strip() == "in flight True released False True"
    held = board.updated()
    assert board.run_cell("gate.open()\nprint('released', gate.released)").strip() == "released True"
    board.wait_for(lambda: board.updated() != held, "the held refresh to land")


def test_stop_then_close_ends_the_refresh(board: Dashboard) -> None:
    assert board.run_cell("board.stop()\nprint('running', board.running)").strip() == "running False"
    start = board.page.locator(".mtop-dashboard button", has_text="Start")
    board.wait_for(lambda: start.is_enabled() and "Refresh stopped" in board.header(), "the Start button back")
    board.screenshot()  # the dashboard as the tests above left it (sorted by service, Z to A), now still
    out = board.run_cell("board.close()\nprint('running', board.running, 'comm', board.comm)")
    assert out.strip() == "running False comm None"
    board.page.wait_for_selector(".mtop-dashboard", state="detached", timeout=WAIT_MS)


KERNEL_CODE = """\
import asyncio, pathlib
import mtop
from mtop.panels import dashboard
marker = pathlib.Path({marker!r})
board = dashboard(mtop.connect(seed=1, clock="frozen"), interval=0.05, static=False)
board.refresher.on_stop.append(lambda: marker.write_text(f"stopped running={{board.running}}"))
while len(board.history) < 3:
    await asyncio.sleep(0.05)
print("refreshes", len(board.history), "running", board.running)
"""


def test_kernel_shutdown_ends_the_refresh(tmp_path: Path) -> None:
    from fixtures_jupyter import _lab_env
    from jupyter_client.manager import KernelManager

    marker = tmp_path / "stopped.txt"
    stderr_path = tmp_path / "kernel.stderr"
    km = KernelManager(kernel_name="python3")
    with open(stderr_path, "wb") as stderr:
        km.start_kernel(env=_lab_env(tmp_path / "env"), cwd=str(tmp_path), stderr=stderr)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=WAIT_MS / 1000)
        outputs: list[str] = []
        reply = kc.execute_interactive(
            KERNEL_CODE.format(marker=str(marker)),
            timeout=WAIT_MS / 1000,
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok", json.dumps(reply["content"])[:2000]
        assert re.search(r"refreshes [3-9]\d* running True", "".join(outputs)), outputs
        process = km.provisioner.process  # type: ignore[union-attr]
        kc.shutdown()  # the kernel's own shutdown path (what JupyterLab's "Shut Down Kernel" sends)
        code = process.wait(timeout=60)
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)
        km.cleanup_resources()
    assert code == 0  # it exited by itself, nothing kept it alive
    assert marker.read_text() == "stopped running=False"  # the refresh was ended at exit
    err = stderr_path.read_text(errors="replace")
    assert "Task was destroyed but it is pending" not in err and "Traceback" not in err, err[-2000:]
    assert sys.executable  # the kernel ran this interpreter (jupyter_client substitutes it for "python")
