"""Dashboard refresh cost on the kernel's thread, and memory over many refreshes.

Run: `.venv/bin/python benchmarks/dashboard.py [--repeat 20] [--ticks 10000]`
Prints a table and writes it to benchmarks/results/dashboard.md.

What is measured:
- apply: main-thread CPU (``time.thread_time``) to apply one already-collected refresh of 1,000 services
  (collection and recommendations are done beforehand, as the worker thread does them) to a whole
  dashboard: services grid, recommendation grid, eight plotly figures, header. Widget messages are
  serialized as a kernel would (``jupyter_client``'s JSON packer) and their bytes counted, so the
  cost of building the messages is included; sending them over ZMQ is not. Refreshes alternate between
  six snapshots taken at different simulated times, so every apply changes the data. Median and
  90th percentile of ``--repeat`` applies, after one warm-up; also per panel.
- memory: RSS (``/proc/self/statm``) and live Python memory blocks after 100, 1,000, ``--ticks``/2 and
  ``--ticks`` refreshes of the default fleet (each with new frames and a new timestamp), after a full
  garbage collection.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import comm
from comm import DummyComm
from jupyter_client.session import json_packer

import mtop
from mtop.async_cli import Snapshot
from mtop.panels.base import without_attrs
from mtop.panels.cost import collect_with_recommendations
from mtop.panels.fleet_dashboard import Dashboard, dashboard

START = datetime(2026, 11, 28, 12, tzinfo=UTC)
RESULTS = Path(__file__).resolve().parent / "results" / "dashboard.md"
SENT = {"bytes": 0, "messages": 0}


class PackingComm(DummyComm):  # type: ignore[misc]
    """A comm that serializes each message like a kernel session (and counts it) instead of sending it."""

    def publish_msg(
        self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
    ) -> None:
        SENT["bytes"] += len(json_packer({"msg_type": msg_type, "data": data, "metadata": metadata or {}}))
        SENT["bytes"] += sum(len(memoryview(b).cast("B")) for b in buffers or ())
        SENT["messages"] += 1


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _board(fleet: mtop.Fleet) -> Dashboard:
    board = dashboard(fleet, static=False, autostart=False)
    assert isinstance(board, Dashboard)
    return board


def _snapshots(services: int | None, count: int) -> tuple[mtop.Fleet, list[Snapshot]]:
    fleet = mtop.connect(seed=7, services=services, start=START, clock="frozen")
    snaps = []
    for i in range(count):
        snaps.append(Snapshot(i + 1, fleet.now(), collect_with_recommendations(fleet)))
        fleet.advance(timedelta(minutes=37))
    return fleet, snaps


def _thread_cpu(fn: Callable[[], Any]) -> float:
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


def bench_apply(repeat: int) -> list[str]:
    fleet, snaps = _snapshots(1000, 6)
    board = _board(fleet)
    board.apply(snaps[0])  # warm-up: first draw, namespace list
    cpu, sent = [], []
    parts: dict[str, list[float]] = {
        "frames and history": [],
        "services": [],
        "gpus": [],
        "cost": [],
        "slo": [],
        "header": [],
    }
    for i in range(repeat):
        snap = snaps[1 + i % (len(snaps) - 1)]
        snap = Snapshot(snap.sequence, START + timedelta(seconds=i), snap.frames)
        SENT["bytes"] = 0
        gc.collect()
        cpu.append(_thread_cpu(lambda s=snap: board.apply(s)))
        sent.append(SENT["bytes"])
    for i in range(repeat):  # the same work step by step, each step on new data (what Dashboard.render does)
        snap = snaps[1 + (i + 1) % (len(snaps) - 1)]
        gc.collect()
        parts["frames and history"].append(
            _thread_cpu(lambda s=snap, k=i: _take(board, s.frames, START + timedelta(hours=1, seconds=k)))
        )
        for name in ("services", "gpus", "cost", "slo"):
            panel = getattr(board, name)
            panel.frames, panel.meta, panel.updated = board.frames, board.meta, board.updated
            parts[name].append(_thread_cpu(panel.render))
        parts["header"].append(_thread_cpu(board.render_header))
    rows_overview = len(snaps[0].frames["overview"])
    gpus = len(snaps[0].frames["gpus"])
    recs = len(snaps[0].frames["recommendations"])
    p90 = statistics.quantiles(cpu, n=10)[-1] if len(cpu) >= 10 else max(cpu)
    out = [
        f"| apply one refresh of {rows_overview:,} services / {gpus:,} GPUs / {recs:,} recommendations to the "
        f"dashboard (goal < 100 ms) | {statistics.median(cpu) * 1000:.0f} | {p90 * 1000:.0f} | "
        f"{statistics.median(sent) / 2**10:,.0f} KiB |"
    ]
    for name, values in parts.items():
        out.append(f"| ... step by step: {name} | {statistics.median(values) * 1000:.0f} | - | - |")
    board.close()
    return out


def _take(board: Dashboard, frames: Any, at: datetime) -> None:
    board.frames, board.meta = without_attrs(frames)
    board.updated = at
    board.history.add(at, board.frames["overview"])


def bench_memory(ticks: int) -> list[str]:
    fleet, snaps = _snapshots(None, 6)
    board = _board(fleet)
    marks: dict[int, tuple[float, int]] = {}
    checkpoints = sorted({100, 1000, ticks // 2, ticks} - {0})
    for i in range(1, ticks + 1):
        # Fresh frames every tick, as every collection makes: reusing the same frame objects would pile up
        # pandas' copy-on-write bookkeeping (weak references to their views) and measure that instead.
        frames = {name: df.copy() for name, df in snaps[i % len(snaps)].frames.items()}
        board.apply(Snapshot(i, START + timedelta(seconds=2 * i), frames))
        if i in checkpoints:
            gc.collect()
            marks[i] = (_rss_mib(), sys.getallocatedblocks())
    rss100, blocks100 = marks[100]
    rows = []
    for i, (rss, blocks) in marks.items():
        rows.append(
            f"| after {i:,} refreshes (default fleet) | {rss:.1f} MiB ({(rss - rss100) / rss100 * 100:+.1f} %) | "
            f"{blocks:,} ({(blocks - blocks100) / blocks100 * 100:+.1f} %) |"
        )
    rows.append(f"| history points kept (bounded) | {len(board.history)} | - |")
    board.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=10_000)
    args = parser.parse_args()
    comm.create_comm = PackingComm  # widgets' messages are packed like a kernel's, not dropped
    started = time.perf_counter()
    apply_rows = bench_apply(args.repeat)
    memory_rows = bench_memory(args.ticks)
    import pandas as pd
    import plotly

    lines = [
        f"Command: `python benchmarks/dashboard.py --repeat {args.repeat} --ticks {args.ticks}` on "
        f"{datetime.now(UTC):%Y-%m-%d}, Python {sys.version.split()[0]}, pandas {pd.__version__}, "
        f"plotly {plotly.__version__}; this machine has 2 shared cores ({time.perf_counter() - started:.0f} s in all).",
        "",
        "| main-thread CPU (time.thread_time) | median ms | p90 ms | messages per refresh |",
        "|---|---|---|---|",
        *apply_rows,
        "",
        "| memory (goal: within 5 % of the value after 100 refreshes) | RSS | live Python memory blocks |",
        "|---|---|---|",
        *memory_rows,
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
