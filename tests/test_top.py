"""``mtop top``: the pure view, and the real program driven in a real terminal (tmux).

The tmux tests start ``python -m mtop top`` in a private tmux server (its own socket), read the
screen with ``capture-pane``, send keys, and poll the screen until what they wait for appears (a
generous deadline, never a sleep as an assertion). The tmux server is killed at the end.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from servers import require

from mtop import cli
from mtop.async_cli import Snapshot
from mtop.collect import collect_all
from mtop.commands.top import SORT_KEYS, TopView, text_of
from mtop.config import load_config
from mtop.context import connect

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
DEADLINE = 60.0


def _view(**kwargs: object) -> TopView:
    fleet = connect(seed=0, start=START, clock="frozen", workspace=False, env={})
    view = TopView(config=load_config(env={}), **kwargs)  # type: ignore[arg-type]
    view.update(Snapshot(1, fleet.now(), collect_all(fleet)))
    return view


def _services(view: TopView) -> list[str]:
    return [text_of(line).split()[0] for line in view.rows()[1:]]


# --- the view -------------------------------------------------------------------------------------------------


def test_sort_keys_reorder_the_rows() -> None:
    view = _view(sort="cost")
    overview = view.frames["overview"]
    by_cost = overview.sort_values("hourly_cost", ascending=False, kind="stable")["service"].tolist()
    assert _services(view)[0] == by_cost[0]
    assert view.key("n") and view.sort == "name"
    assert _services(view) == [n if len(n) <= 28 else n[:27] + "…" for n in sorted(overview["service"])]  # truncate: 28
    assert view.key("g") and view.sort == "gpu"
    gpus = [int(line[5][0]) for line in view.rows()[1:]]  # the GPUs cell, as drawn
    assert gpus == sorted(gpus, reverse=True) and sorted(gpus) == sorted(overview["gpus"])
    shown = gpus
    assert shown == sorted(shown, reverse=True)


def test_header_totals_come_from_the_frames() -> None:
    view = _view()
    overview, nodes = view.frames["overview"], view.frames["nodes"]
    header = "\n".join(text_of(line) for line in view.header())
    assert f"Services {int(overview['ready'].sum())}/{len(overview)} ready" in header
    assert f"GPUs {int(nodes['gpus_allocated'].sum())} allocated / {int(nodes['gpus_free'].sum())} free" in header
    assert f"Fleet ${overview['hourly_cost'].sum():,.2f}/h" in header
    assert f"SLO breaches {int((overview['slo_ok'] == False).sum())}" in header  # noqa: E712


def test_interval_keys_stay_in_bounds_and_unknown_keys_do_nothing() -> None:
    view = TopView(interval=1.0)
    for _ in range(5):
        view.key("-")
    assert view.interval == 0.5
    for _ in range(100):
        view.key("+")
    assert view.interval == 60.0
    assert not view.key("z") and not view.quit
    assert set(SORT_KEYS.values()) <= set(load_config(env={}).display.sorting.available_keys)


def test_a_failed_refresh_keeps_the_rows_and_shows_the_error() -> None:
    view = _view()
    rows = view.rows()
    good = view.frames
    view.update(Snapshot(2, START, good, ConnectionError("apiserver down"), stale=True))
    assert view.rows() == rows
    assert any("refresh failed (showing the last good data): ConnectionError: apiserver down" in text_of(line)
               for line in view.header())  # fmt: skip


def test_top_without_a_terminal_says_so(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_configure_logging", lambda: None)
    monkeypatch.setenv("MTOP_WORKSPACE", "/nonexistent-mtop-workspace")
    code = cli.main(["top"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "needs a terminal" in err


# --- the real program in tmux ---------------------------------------------------------------------------------


class Tmux:
    """One private tmux server running one command in a 180x45 window."""

    def __init__(self, tmux: str, socket: Path) -> None:
        self.tmux, self.socket = tmux, socket

    def __call__(self, *args: str) -> str:
        out = subprocess.run([self.tmux, "-S", str(self.socket), *args], capture_output=True, text=True, timeout=30,
                             check=True)  # fmt: skip
        return out.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "top")

    def exit_code(self) -> str | None:
        """The exit code mtop's shell printed after it ended, or None while it runs."""
        m = re.search(r"MTOP-EXIT=(\d+)", self("capture-pane", "-p", "-S", "-", "-t", "top"))  # with the history
        return m.group(1) if m else None

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + DEADLINE
        while not check():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; screen:\n{self.screen()}")
            time.sleep(0.1)  # polling interval, not an assertion


@pytest.fixture
def tmux_top(tmp_path: Path) -> Iterator[Tmux]:
    tmux = Tmux(require("tmux"), tmp_path / "tmux.sock")
    env = {"MTOP_WORKSPACE": str(tmp_path / "ws"), "PYTHONPATH": str(ROOT), "TERM": "xterm-256color",
           "HOME": os.environ.get("HOME", str(tmp_path))}  # fmt: skip
    launch = " ".join(
        ["env -i", *(f"{k}={shlex.quote(v)}" for k, v in env.items()),
         f"PATH={shlex.quote(os.environ.get('PATH', '/usr/bin:/bin'))}",
         shlex.quote(sys.executable), "-m mtop top --interval 0.5"]
    )  # fmt: skip
    # The shell reports mtop's exit code on the screen; `trap : INT` keeps the shell (not mtop) alive on Ctrl+C.
    script = f"cd {shlex.quote(str(ROOT))} && trap : INT; {launch}; echo MTOP-EXIT=$?"
    tmux("-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", "180", "-y", "45", "sh -c " + shlex.quote(script))
    try:
        tmux("set-option", "-t", "top", "remain-on-exit", "on")  # keep the screen readable after it exits
        yield tmux
    finally:
        subprocess.run([tmux.tmux, "-S", str(tmux.socket), "kill-server"], capture_output=True, timeout=30, check=False)


def _table(screen: str) -> list[list[str]]:
    lines = screen.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Service ")), None)
    if start is None:
        return []
    return [line.split() for line in lines[start + 1 :] if line.strip()]


def _costs(screen: str) -> list[float]:
    return [
        float(c.strip("$").replace(",", ""))
        for row in _table(screen)
        for c in row
        if re.fullmatch(r"\$[\d,]+\.\d\d", c)
    ][::2]


def test_top_draws_sorts_on_keys_and_quits_cleanly(tmux_top: Tmux) -> None:
    tmux_top.wait_for("the table", lambda: "sort: cost" in tmux_top.screen() and len(_table(tmux_top.screen())) >= 16)
    screen = tmux_top.screen()
    assert "mode: mock (simulated)" in screen and "Services 14/16 ready" in screen
    costs = _costs(screen)
    assert len(costs) >= 10 and costs == sorted(costs, reverse=True)
    tmux_top("send-keys", "-t", "top", "n")
    tmux_top.wait_for("sort by name", lambda: "sort: name" in tmux_top.screen())
    names = [row[0] for row in _table(tmux_top.screen())]
    assert names == sorted(names) and names[0] == "claude-3-haiku"
    tmux_top("send-keys", "-t", "top", "+")
    tmux_top.wait_for("a longer interval", lambda: "refresh: 1s" in tmux_top.screen())
    tmux_top("send-keys", "-t", "top", "q")
    tmux_top.wait_for("the program to exit", lambda: tmux_top.exit_code() is not None)
    assert tmux_top.exit_code() == "0"
    assert "Services" not in tmux_top.screen()  # curses left the alternate screen: the terminal is restored


def test_top_exits_0_on_ctrl_c_and_restores_the_terminal(tmux_top: Tmux) -> None:
    tmux_top.wait_for("the table", lambda: "sort: cost" in tmux_top.screen())
    tmux_top("send-keys", "-t", "top", "C-c")
    tmux_top.wait_for("the program to exit", lambda: tmux_top.exit_code() is not None)
    assert tmux_top.exit_code() == "0"
    screen = tmux_top.screen()
    assert "Services" not in screen and "Traceback" not in screen
