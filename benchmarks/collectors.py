"""Collector speed and memory on the simulated fleet, side by side with pd.json_normalize.

Run: `make bench` (or `.venv/bin/python benchmarks/collectors.py [--repeat 5]`).
Prints a table of medians and writes it to benchmarks/results/collectors.md.

What is measured, per fleet size (default fleet; 1,000 services / 10,000+ pods):
- each collector end to end (source calls + parsing + maths), CPU seconds (process_time) and wall,
  median of --repeat runs, and peak Python memory (tracemalloc) of one run;
- the parsing step alone for pods: mtop's column-wise `frames.pods_frame` vs `pd.json_normalize` on the
  same list of pod dicts (what a pandas user would otherwise write), as a ratio.
The source's object building is cached per fleet (as a live source's list call would be done once per
refresh), so the first, cold call is reported separately.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

import mtop
from mtop import collect, frames

START = datetime(2026, 11, 28, 12, tzinfo=UTC)
RESULTS = Path(__file__).resolve().parent / "results" / "collectors.md"


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """(median CPU s, median wall s, peak MiB) of fn."""
    cpu, wall = [], []
    for _ in range(repeat):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(cpu), statistics.median(wall), peak / 2**20


def bench_fleet(label: str, services: int | None, repeat: int) -> list[str]:
    t0 = time.perf_counter()
    fleet = mtop.connect(seed=7, services=services, start=START, clock="frozen")
    pods_raw = fleet.source.list_objects("pods")
    fleet.source.list_objects("llminferenceservices")
    fleet.source.list_objects("nodes")
    cold = time.perf_counter() - t0
    rows = [f"| {label}: build the simulated fleet (cold, once) | {cold:.3f} | {cold:.3f} | - | - |"]
    for name in ("services", "pods", "nodes", "gpus", "gpu_costs", "slo_metrics", "overview", "recommendations"):
        fn = getattr(collect, name)
        cpu, wall, peak = measure(lambda fn=fn: fn(fleet), repeat)
        rows.append(f"| {label}: `mtop.{name}()` | {cpu:.3f} | {wall:.3f} | {peak:.1f} | - |")
    cpu_j, wall_j, peak_j = measure(lambda: pd.json_normalize(pods_raw), repeat)
    cpu_m, wall_m, peak_m = measure(lambda: frames.pods_frame(pods_raw), repeat)
    rows.append(
        f"| {label}: `pd.json_normalize(pods)` ({len(pods_raw)} pods) | {cpu_j:.3f} | {wall_j:.3f} | "
        f"{peak_j:.1f} | 1.0x |"
    )
    rows.append(
        f"| {label}: mtop `frames.pods_frame(pods)` | {cpu_m:.3f} | {wall_m:.3f} | {peak_m:.1f} | "
        f"{wall_j / wall_m:.1f}x |"
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    header = [
        f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}` on {datetime.now(UTC):%Y-%m-%d}, "
        f"Python {sys.version.split()[0]}, pandas {pd.__version__}, median of {args.repeat} runs.",
        "",
        "| what | CPU s | wall s | peak MiB | speed vs json_normalize |",
        "|---|---|---|---|---|",
    ]
    rows = bench_fleet("default fleet", None, args.repeat) + bench_fleet("1,000 services", 1000, args.repeat)
    text = "\n".join(header + rows) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
