"""``mtop simulate TOPOLOGY``: play a rollout on the simulated fleet and print its timeline and outcome."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mtop.config import Config

if TYPE_CHECKING:
    import pandas as pd

HELP = "replay a rollout topology (canary, blue-green, rolling, shadow) on the simulated fleet"

_TABLE = (  # (header, column, format)
    ("STEP", "step", "{}"),
    ("TIME", "elapsed_s", "clock"),
    ("VERSION", "version", "{}"),
    ("STATUS", "status", "{}"),
    ("TRAFFIC", "traffic_percent", "traffic"),
    ("READY", "ready_replicas", "ready"),
    ("REQ/S", "requests_per_second", "{:.2f}"),
    ("TTFT P95", "ttft_p95_ms", "{:.0f}ms"),
    ("ERRORS", "error_rate_percent", "{:.2f}%"),
    ("COST/H", "hourly_cost", "${:,.2f}"),
    ("DECISION", "decision", "{}"),
)
_COLORS = {"Ready": "green", "Shadow": "cyan", "Pending": "yellow", "Failed": "red", "rollback": "red",
           "promote": "green"}  # fmt: skip


def _when(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} (e.g. 2026-08-03T12:00:00Z)") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop simulate``.

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["canary", "--fail-at", "2"]).fail_at
    2
    """
    parser.add_argument("topology", metavar="TOPOLOGY", help="canary, blue-green (or bluegreen), rolling or shadow")
    parser.add_argument("--service", metavar="NAME", help="service to roll out (default: the busiest one in its SLO)")
    parser.add_argument("-n", "--namespace", help="the service's namespace")
    parser.add_argument("--steps", type=int, metavar="N",
                        help="canary weights, blue-green checks, rolling batches or shadow checks")  # fmt: skip
    parser.add_argument("--fail-at", type=int, metavar="STEP", help="the new version goes bad from this step")
    parser.add_argument("--error-rate", type=float, metavar="PERCENT",
                        help="errors the bad new version adds (default: 2, then 5, then 8 %%)")  # fmt: skip
    parser.add_argument("--latency-factor", type=float, metavar="X", help="the bad new version's unloaded TTFT x X")
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml", "csv"), default="table",
                        help="output format (default: table)")  # fmt: skip
    parser.add_argument("--mode", choices=("mock", "live"), default="mock",
                        help="simulations run on the simulated fleet only (default: mock)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="simulated fleet: random seed (default: 0)")
    parser.add_argument("--services", type=int, help="simulated fleet: number of services (default: the built-in 16)")
    parser.add_argument("--at", type=_when, metavar="TIME", help="simulated time, ISO 8601 (default: now)")


def _cell(fmt: str, value: Any, row: Mapping[Hashable, Any]) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if fmt == "clock":
        return f"{int(value) // 60:02d}:{int(value) % 60:02d}"
    if fmt == "traffic":
        mirrored = row["mirrored_percent"]
        return f"{value:.0f}%" + (f" (+{mirrored:.0f}% mirror)" if mirrored else "")
    if fmt == "ready":
        return f"{value}/{row['replicas']}"
    return fmt.format(value)


def timeline(df: pd.DataFrame, max_width: int = 160, *, color: bool = False) -> str:
    """The rollout as a table: one line per (step, version), the step's reason after its first line.

    >>> from mtop.context import connect
    >>> from mtop.simulation.rollout import simulate
    >>> print(timeline(simulate("blue-green", connect(seed=0, clock="frozen")), 60).splitlines()[0])
    STEP  TIME   VERSION  STATUS       TRAFFIC  READY  REQ/S
    """
    from mtop.output import TextTable

    records = df.to_dict("records")
    cells = [[_cell(fmt, r[col], r) for _, col, fmt in _TABLE] for r in records]
    for i, r in enumerate(records):  # a step's reason once, on its first version's line
        first = i == 0 or records[i - 1]["step"] != r["step"]
        if not first:
            cells[i][0] = cells[i][1] = ""
        cells[i].append(str(r["reason"]) if first else "")
    headers = [h for h, _, _ in _TABLE] + ["REASON"]
    widths = [max(len(h), *(len(c[k]) for c in cells)) for k, h in enumerate(headers[:-1])]
    room = max_width - (sum(widths) + 2 * len(widths))
    if room >= 20:
        for c in cells:
            c[-1] = c[-1] if len(c[-1]) <= room else c[-1][: room - 1] + "…"
    else:
        headers.pop()
        for c in cells:
            c.pop()
    table = TextTable(max_width=max_width, right_align=[h in ("REQ/S", "TTFT P95", "ERRORS", "COST/H")
                                                        for h in headers])  # fmt: skip
    table.create_table(headers)
    for c, r in zip(cells, records, strict=True):
        colors = [_COLORS.get(str(r["status"])) if h == "STATUS" else _COLORS.get(str(r["decision"]))
                  if h == "DECISION" else None for h in headers]  # fmt: skip
        table.add_row(c, colors if color else None)
    return table.render()


def summary(df: pd.DataFrame) -> str:
    """The outcome in one line.

    >>> from mtop.context import connect
    >>> from mtop.simulation.rollout import simulate
    >>> summary(simulate("canary", connect(seed=0, clock="frozen"), fail_at=1)).split(":")[0]
    'Result'
    """
    a = df.attrs
    last = df[df["step"] == df["step"].max()]
    cost = float(last["hourly_cost"].sum())
    peak = float(df.groupby("step")["hourly_cost"].sum().max())
    if a["outcome"] == "rolled_back":
        why = df.loc[df["step"] == a["rollback_step"], "reason"].iloc[0]
        head = f"Result: ROLLED BACK at step {a['rollback_step']} ({why})"
    else:
        head = f"Result: PROMOTED at step {a['promote_step']} ({last['reason'].iloc[0].split(': ', 1)[-1]})"
    note = "" if a["old_slo_ok"] is not False else " The old version already missed the SLO before the rollout."
    return f"{head}. Cost ${cost:,.2f}/h after, ${peak:,.2f}/h at the peak of the rollout.{note}"


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Play the rollout and print it (a table with a header and result line, or the frame as JSON/YAML/CSV).

    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> args = build_parser().parse_args(["simulate", "shadow", "-o", "csv", "--at", "2026-08-03T12:00:00Z"])
    >>> run(args, default_config())  # doctest: +ELLIPSIS
    step,elapsed_s,topology,namespace,service,version,status,...
    0
    """
    from mtop.context import connect
    from mtop.output import render_frame
    from mtop.simulation.rollout import simulate
    from mtop.simulation.topologies import SimulationError, canonical_topology

    topology = canonical_topology(args.topology)  # an unknown name fails before any fleet is built
    if args.mode == "live":
        raise SimulationError("mtop simulate plays rollouts on the simulated fleet only; drop --mode live")
    clock = "frozen" if args.at is not None else None
    fleet = connect("mock", config=cfg, seed=args.seed, services=args.services, start=args.at, clock=clock)
    df = simulate(
        topology,
        fleet,
        service=args.service,
        namespace=args.namespace,
        steps=args.steps,
        fail_at=args.fail_at,
        new_version_error_rate_percent=args.error_rate,
        new_version_latency_factor=args.latency_factor,
    )
    if args.output != "table":
        print(render_frame(df, args.output).rstrip("\n"))
        return 0
    a = df.attrs
    slo = a["slo"]
    print(
        f"Simulating a {topology} rollout of {a['namespace']}/{a['service']} at {a['load_qps']:.2f} req/s "
        f"(SLO: TTFT p95 <= {slo['ttft_p95_ms']:g} ms, errors <= {slo['error_rate_percent']:g} %)"
    )
    color = cfg.display.color_enabled and sys.stdout.isatty()
    print(timeline(df, cfg.display.max_width, color=color))
    print(summary(df))
    return 0
