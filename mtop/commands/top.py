"""``mtop top``: the live terminal view of the fleet (curses), refreshed by :class:`AsyncResourceMonitor`.

The screen: a header (mode, namespaces, sort key, refresh interval, last update; services ready, GPUs
allocated and free, fleet $/h, output tokens/s, SLO breaches), then the overview table with the
configured columns (``display.columns``) and their threshold colours. Keys: ``c`` cost, ``t`` TTFT,
``e`` errors, ``n`` name, ``g`` GPUs, ``k`` tokens/s, ``w`` queue (the sort), ``+``/``-`` the refresh
interval, ``q`` (or Ctrl+C) quits and restores the terminal. A failed refresh keeps the last good
rows and shows the error in the header.

:class:`TopView` is the pure part (state in, lines of text and colour out), so it is tested without a
terminal; ``--once`` prints one screen to stdout and exits.

>>> view = TopView(sort="name")
>>> view.key("c"), view.sort
(True, 'cost')
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mtop.commands.common import add_fleet_arguments, connect_fleet, namespaces_of
from mtop.config import Config, default_config
from mtop.errors import ConfigError, MtopError

if TYPE_CHECKING:
    import pandas as pd

    from mtop.async_cli import Snapshot
    from mtop.context import Fleet

HELP = "live fleet monitor in the terminal (keys: c t e n g sort, +/- interval, q quit)"
SORT_KEYS = {"c": "cost", "t": "ttft", "e": "errors", "n": "name", "g": "gpu", "k": "tokens", "w": "queue"}
"""Key -> display sort key."""
MIN_INTERVAL, MAX_INTERVAL = 0.5, 60.0

Segment = tuple[str, str | None]
"""A piece of a screen line and its colour name (``None``: default)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop top``: ``--interval``, ``--sort``, ``--once``, the fleet options.

    >>> add_arguments(p := argparse.ArgumentParser()); a = p.parse_args(["--interval", "5", "--sort", "name"])
    >>> a.interval, a.sort, a.once
    (5.0, 'name', False)
    """
    parser.add_argument("--interval", type=float, default=2.0, metavar="SECONDS", help="refresh interval (default: 2)")
    parser.add_argument("--sort", metavar="KEY", help="initial sort key (default: MTOP_SORT_KEY)")
    parser.add_argument("--once", action="store_true", help="print one screen to stdout and exit (no terminal needed)")
    add_fleet_arguments(parser, output=None)


def _money(value: float) -> str:
    return f"${value:,.2f}"


@dataclass
class TopView:
    """What ``mtop top`` shows: the sort key, the refresh interval and the latest snapshot, as screen lines.

    >>> view = TopView(sort="cost", interval=2.0)
    >>> view.key("+"), view.interval, view.key("x")
    (True, 3.0, False)
    """

    sort: str = "cost"
    interval: float = 2.0
    mode: str = "mock"
    namespaces: Sequence[str] | None = None
    config: Config = field(default_factory=default_config)
    frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    updated: datetime | None = None
    error: str | None = None
    quit: bool = False

    def key(self, ch: str) -> bool:
        """Apply one key press; returns whether it changed anything (``q`` sets :attr:`quit`).

        >>> v = TopView(interval=1.0); v.key("-"), v.interval, v.key("q"), v.quit
        (True, 0.5, True, True)
        """
        if ch in ("q", "Q"):
            self.quit = True
            return True
        if ch in SORT_KEYS and SORT_KEYS[ch] in self.config.display.sorting.available_keys:
            self.sort = SORT_KEYS[ch]
            return True
        if ch in ("+", "="):
            self.interval = min(MAX_INTERVAL, self.interval + (1.0 if self.interval >= 1.0 else 0.5))
            return True
        if ch in ("-", "_"):
            self.interval = max(MIN_INTERVAL, self.interval - (1.0 if self.interval > 1.0 else 0.5))
            return True
        return False

    def update(self, snap: Snapshot) -> None:
        """Take a monitor snapshot: new frames, or keep the last good ones and show the error.

        >>> from mtop.async_cli import Snapshot
        >>> v = TopView(); v.update(Snapshot(1, None, {}, RuntimeError("down"), True)); v.error
        'RuntimeError: down'
        """
        self.frames = snap.frames
        self.updated = snap.collected_at
        self.error = None if snap.error is None else f"{type(snap.error).__name__}: {snap.error}"

    def header(self) -> list[list[Segment]]:
        """The header lines: where and what, the fleet's totals, the keys.

        >>> TopView().header()[1][0][0]
        'collecting the first snapshot...'
        """
        display = self.config.display
        ns = "all" if not self.namespaces else ",".join(self.namespaces)
        when = self.updated.strftime("%H:%M:%S") if self.updated else "-"
        source = "simulated" if self.mode == "mock" else "live"
        first: list[Segment] = [(f"mtop  mode: {self.mode} ({source})  namespaces: {ns}  sort: {self.sort}  "
                  f"refresh: {self.interval:g}s  updated: {when} UTC", "cyan")]  # fmt: skip
        overview = self.frames.get("overview")
        if overview is None:
            totals: list[Segment] = [("collecting the first snapshot...", None)]
        else:
            nodes = self.frames.get("nodes")
            ready = int(overview["ready"].fillna(False).astype(bool).sum())
            allocated = int(nodes["gpus_allocated"].sum()) if nodes is not None and len(nodes) else 0
            free = int(nodes["gpus_free"].sum()) if nodes is not None and len(nodes) else 0
            breaches = int((overview["slo_ok"] == False).fillna(False).sum())  # noqa: E712 (nullable boolean)
            cost = float(overview["hourly_cost"].sum())  # NaN (unknown price, no traffic) counts as nothing
            tokens = float(overview["tokens_per_second"].sum())
            totals = [
                (f"Services {ready}/{len(overview)} ready  GPUs {allocated} allocated / {free} free  "
                 f"Fleet {_money(cost)}/h  Output {tokens:,.0f} tok/s  ", None),
                (f"SLO breaches {breaches}", "red" if breaches else "green"),
            ]  # fmt: skip
        lines: list[list[Segment]] = [first, totals]
        if self.error:
            lines.append([(f"refresh failed (showing the last good data): {self.error}", "red")])
        keys = " ".join(f"{k} {v}" for k, v in SORT_KEYS.items() if v in display.sorting.available_keys)
        lines.append([(f"keys: {keys}  +/- interval  q quit", "blue")])
        return lines

    def rows(self, width: int = 0) -> list[list[Segment]]:
        """The table: a header line and one line per service, sorted, with the configured columns and colours.

        Columns that do not fit in ``width`` (0: no limit) are dropped from the right, as the CLI's tables do.

        >>> TopView().rows()
        []
        """
        overview = self.frames.get("overview")
        if overview is None:
            return []
        from mtop.output import ColumnFormatter, sort_frame

        display = self.config.display
        df = sort_frame(overview, display, self.sort)
        columns = [c for c in display.enabled_columns() if c.field in df.columns]
        formatters = [ColumnFormatter(c) for c in columns]
        cells = [[f.format(v) for v in df[c.field].tolist()] for f, c in zip(formatters, columns, strict=True)]
        colors = [[f.color(v) for v in df[c.field].tolist()] for f, c in zip(formatters, columns, strict=True)]
        widths = [max([len(c.name), *(len(x) for x in col)]) for c, col in zip(columns, cells, strict=True)]
        right = [c.format != "string" or c.justify == "right" for c in columns]
        keep, used = 0, 0
        for w in widths:
            if width > 0 and keep and used + 2 + w > width:
                break
            used += (2 if keep else 0) + w
            keep += 1
        columns = columns[:keep]

        def pad(text: str, i: int) -> str:
            return text.rjust(widths[i]) if right[i] else text.ljust(widths[i])

        out: list[list[Segment]] = [[("  ".join(pad(c.name, i) for i, c in enumerate(columns)), "header")]]
        for r in range(len(df)):
            line: list[Segment] = []
            for i in range(len(columns)):
                line.append((("  " if i else "") + pad(cells[i][r], i), colors[i][r]))
            out.append(line)
        return out

    def screen(self, height: int = 0, width: int = 0) -> list[list[Segment]]:
        """Header, a blank line, then as many table lines as fit in ``height`` x ``width`` (0: no limit).

        >>> len(TopView().screen(10))
        4
        """
        lines: list[list[Segment]] = [*self.header(), [("", None)], *self.rows(width)]
        return lines[:height] if height > 0 else lines


def text_of(line: Sequence[Segment], width: int = 0) -> str:
    """A screen line as plain text, cut to ``width`` (0: whole).

    >>> text_of([("ab", None), ("cd", "red")], 3)
    'abc'
    """
    text = "".join(t for t, _ in line)
    return text[:width] if width > 0 else text


def _draw(stdscr: Any, view: TopView, palette: Mapping[str | None, int]) -> None:
    import curses

    height, width = stdscr.getmaxyx()
    stdscr.erase()
    for y, line in enumerate(view.screen(height, width - 1)):
        x = 0
        for text, color in line:
            if x >= width - 1:
                break
            piece = text[: width - 1 - x]
            attr = palette.get(color, 0)
            with contextlib.suppress(curses.error):  # the last cell of the screen raises after a good write
                stdscr.addstr(y, x, piece, attr)
            x += len(piece)
    stdscr.refresh()


def _palette(enabled: bool) -> dict[str | None, int]:
    import curses

    out: dict[str | None, int] = {"header": curses.A_BOLD}
    if not enabled or not curses.has_colors():
        return out
    curses.start_color()
    curses.use_default_colors()
    for i, (name, code) in enumerate(
        (("green", curses.COLOR_GREEN), ("yellow", curses.COLOR_YELLOW), ("red", curses.COLOR_RED),
         ("blue", curses.COLOR_BLUE), ("cyan", curses.COLOR_CYAN)), start=1,
    ):  # fmt: skip
        curses.init_pair(i, code, -1)
        out[name] = curses.color_pair(i)
    return out


async def _loop(stdscr: Any, fleet: Fleet, view: TopView, namespaces: Sequence[str] | None) -> None:
    import asyncio
    import curses

    from mtop.async_cli import AsyncResourceMonitor
    from mtop.collect import collect_all

    palette = _palette(view.config.display.color_enabled)
    curses.curs_set(0)
    stdscr.nodelay(True)
    wake = asyncio.Event()

    def on_snapshot(snap: Snapshot) -> None:
        view.update(snap)
        wake.set()

    monitor = AsyncResourceMonitor(fleet, interval=view.interval, collect=lambda f: collect_all(f, namespaces))
    monitor.listeners.append(on_snapshot)
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    loop.add_reader(fd, wake.set)
    await monitor.start()
    try:
        while not view.quit:
            _draw(stdscr, view, palette)
            await wake.wait()
            wake.clear()
            while (ch := stdscr.getch()) != -1:
                if ch == curses.KEY_RESIZE:
                    continue
                if 0 <= ch < 256 and view.key(chr(ch)):
                    monitor.interval = view.interval
    finally:
        loop.remove_reader(fd)
        await monitor.stop()


def _curses_main(stdscr: Any, fleet: Fleet, view: TopView, namespaces: Sequence[str] | None) -> None:
    import asyncio

    asyncio.run(_loop(stdscr, fleet, view, namespaces))


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Run the live view until ``q`` or Ctrl+C (exit 0, terminal restored); ``--once`` prints one screen.

    >>> from mtop.cli import build_parser
    >>> args = build_parser().parse_args(["top", "--once", "-n", "nope", "--sort", "name"])
    >>> run(args, default_config())  # doctest: +ELLIPSIS
    mtop  mode: mock (simulated)  namespaces: nope  sort: name  refresh: 2s  updated: ...
    Services 0/0 ready  GPUs ... allocated / ... free  Fleet $0.00/h  Output 0 tok/s  SLO breaches 0
    keys: c cost t ttft e errors n name g gpu k tokens w queue  +/- interval  q quit
    <BLANKLINE>
    Service  Namespace  Model  Ready  Replicas  GPUs  GPU type  TTFT p95  Errors  Tok/s  Cost/h  $/1M tok  Queue
    0
    """
    sort = args.sort or cfg.display.sorting.default_key
    if sort not in cfg.display.sorting.available_keys:
        keys = ", ".join(cfg.display.sorting.available_keys)
        raise ConfigError(f"unknown sort key {sort!r}; choose one of {keys}", key="--sort")
    if not MIN_INTERVAL <= args.interval <= MAX_INTERVAL:
        raise ConfigError(f"must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds", key="--interval")
    fleet = connect_fleet(args, cfg)
    namespaces = namespaces_of(args, fleet)
    view = TopView(sort=sort, interval=args.interval, mode=fleet.mode, namespaces=namespaces, config=cfg)
    if args.once:
        from mtop.async_cli import Snapshot
        from mtop.collect import collect_all

        view.update(Snapshot(1, fleet.now(), collect_all(fleet, namespaces)))
        width = cfg.display.max_width
        print("\n".join(text_of(line, width).rstrip() for line in view.screen(0, width)))
        return 0
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise MtopError("mtop top needs a terminal: run it in one, or use --once (or mtop list) for plain output")
    import curses

    try:
        curses.wrapper(_curses_main, fleet, view, namespaces)
    except KeyboardInterrupt:
        pass  # Ctrl+C is the usual way out of a top; curses.wrapper has restored the terminal
    except curses.error as exc:
        raise MtopError(f"mtop top: the terminal refused curses ({exc}); try TERM=xterm-256color") from None
    return 0
