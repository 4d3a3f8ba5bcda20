"""A report's HTML in headless Chromium with the network off: the plotly charts draw, hostile names stay text."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_fleet import sitecustomize_source
from servers import require

from mtop.reports.runner import run

HOSTILE = "<img src=x onerror=alert(1)>"

# Installed in the kernel with PYTHONPATH: every fleet renames gemini-pro to HOSTILE, in objects and metrics.
SITECUSTOMIZE = sitecustomize_source({"gemini-pro": HOSTILE})


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fleet-overview rendered twice: on the simulated fleet, and on a fleet with a hostile service name."""
    out = tmp_path_factory.mktemp("reports")
    normal = run("fleet-overview", {"seed": 2}, out, stem="normal").html
    hook = tmp_path_factory.mktemp("hook")
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook), before) if p)
    try:
        hostile = run("fleet-overview", None, out, stem="hostile").html
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    assert normal is not None and hostile is not None
    return {"normal": normal, "hostile": hostile}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require("chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=executable,
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update"],
        )  # fmt: skip
        try:
            yield b
        finally:
            b.close()


class Visit:
    """One page load with the network off: what it tried to fetch, its errors and its dialogs."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.context = browser.new_context()
        self.context.set_offline(True)
        self.page = self.context.new_page()
        self.fetched: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.goto(path.as_uri())

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            self.fetched.append(url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.context.close()


def test_charts_draw_offline(browser: Any, reports: dict[str, Path]) -> None:
    visit = Visit(browser, reports["normal"])
    try:
        page = visit.page
        expected = page.locator(".mtop-plot").count()
        assert expected >= 5
        page.wait_for_function(
            f"document.querySelectorAll('.mtop-plot.js-plotly-plot .main-svg').length >= {expected}", timeout=30_000
        )
        # every chart drew its SVG and its bars or heatmap cells
        drawn = page.evaluate(
            "Array.from(document.querySelectorAll('.mtop-plot')).map(d => d.querySelectorAll('.main-svg').length > 0"
            " && d.querySelectorAll('.point, .bars path, .hm image, .heatmaplayer image').length > 0)"
        )
        assert drawn == [True] * expected
        assert page.locator("h2#At-a-glance").count() == 1
        assert visit.fetched == [] and visit.errors == []
    finally:
        visit.close()


def test_a_hostile_service_name_stays_text(browser: Any, reports: dict[str, Path]) -> None:
    visit = Visit(browser, reports["hostile"])
    try:
        page = visit.page
        expected = page.locator(".mtop-plot").count()
        page.wait_for_function(
            f"document.querySelectorAll('.mtop-plot.js-plotly-plot .main-svg').length >= {expected}", timeout=30_000
        )
        page.mouse.move(400, 400)  # hover somewhere in the charts: labels render as text
        assert page.locator("img[src='x']").count() == 0
        assert page.get_by_text(HOSTILE, exact=False).count() > 0  # the name shows, as text
        assert visit.dialogs == [] and visit.errors == [] and visit.fetched == []
    finally:
        visit.close()
