"""``mtop slo``: SLO figures per service, whether each meets its targets now, and its compliance over time."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mtop.commands.common import (
    add_fleet_arguments,
    connect_fleet,
    dump,
    namespaces_of,
    records,
    render_table,
    use_color,
)
from mtop.config import Config

if TYPE_CHECKING:
    import pandas as pd

HELP = "SLO compliance per service"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop slo``: rate window, compliance history and step, the fleet options, ``-o``.

    >>> add_arguments(p := argparse.ArgumentParser()); a = p.parse_args(["--history", "6h"]); a.history, a.window
    ('6h', '5m')
    """
    parser.add_argument("--window", default="5m", help="rate window of the figures (default: 5m)")
    parser.add_argument("--history", default="1h", help="period the compliance is measured over (default: 1h)")
    parser.add_argument("--step", default="1m", help="sampling step of the compliance (default: 1m)")
    add_fleet_arguments(parser)


def summary(df: pd.DataFrame) -> dict[str, Any]:
    """Fleet totals: services measured, meeting all SLOs now, breaching (names), mean compliance.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"service": ["a", "b", "c"], "slo_ok": pd.array([True, False, pd.NA], dtype="boolean"),
    ...                    "compliance_percent": [100.0, 50.0, float("nan")]})
    >>> summary(df)
    {'services': 3, 'measured': 2, 'meeting': 1, 'breaching': ['b'], 'compliance_percent': 75.0}
    """
    ok = df["slo_ok"]
    known = ok.notna()
    mean = df["compliance_percent"].mean()
    return {
        "services": len(df),
        "measured": int(known.sum()),
        "meeting": int((ok.fillna(False)).sum()),
        "breaching": [str(s) for s in df.loc[known & ~ok.fillna(True).astype(bool), "service"]],
        "compliance_percent": None if mean != mean else round(float(mean), 2),
    }


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Print the SLO table (breaches first) and a summary line, or the same data as JSON/YAML/CSV.

    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> run(build_parser().parse_args(["slo", "-o", "csv", "-n", "nope"]), default_config())
    namespace,service,model,ttft_p95_ms,itl_p95_ms,error_rate_percent,tokens_per_second,requests_per_second,ttft_ok,error_rate_ok,throughput_ok,slo_ok,compliance_percent
    0
    """
    from mtop.commands.ops import slo_report
    from mtop.config import ColumnConfig, Threshold

    fleet = connect_fleet(args, cfg)
    df = slo_report(fleet, namespaces_of(args, fleet), window=args.window, history=args.history, step=args.step)
    # Breaches first, then unknown, then compliant; within each, the worst compliance first.
    rank = df["slo_ok"].map({False: 0, True: 2}).fillna(1).astype("int64")
    df = df.assign(_rank=rank).sort_values(
        ["_rank", "compliance_percent", "service"], na_position="last", kind="stable"
    )
    df = df.drop(columns="_rank").reset_index(drop=True)
    targets = df.attrs.get("targets", {})
    totals = summary(df)
    if args.output in ("json", "yaml"):
        payload = {"targets": targets, "window": args.window, "history": args.history, "summary": totals}
        print(dump({**payload, "services": records(df)}, args.output), end="")
        return 0
    if args.output == "csv":
        print(df.to_csv(index=False), end="")
        return 0
    slo = cfg.slo
    shown = df.assign(slo=df["slo_ok"].map({True: "ok", False: "BREACH"}).astype("string"))
    columns = [
        ColumnConfig("Service", "service", 28, truncate=28),
        ColumnConfig("Namespace", "namespace", 16, truncate=16),
        ColumnConfig("TTFT p95", "ttft_p95_ms", 9, format="duration", thresholds=(
            Threshold("green", max=slo.ttft_p95_ms), Threshold("red", min=slo.ttft_p95_ms))),
        ColumnConfig("ITL p95", "itl_p95_ms", 8, format="duration"),
        ColumnConfig("Errors", "error_rate_percent", 7, format="percent", thresholds=(
            Threshold("green", max=slo.error_rate_percent), Threshold("red", min=slo.error_rate_percent))),
        ColumnConfig("Tok/s", "tokens_per_second", 8, format="float", thresholds=(
            Threshold("red", max=slo.tokens_per_second), Threshold("green", min=slo.tokens_per_second))),
        ColumnConfig("Req/s", "requests_per_second", 7, format="float"),
        ColumnConfig("SLO", "slo", 6),
        ColumnConfig(f"Met ({args.history})", "compliance_percent", 9, format="percent", thresholds=(
            Threshold("green", min=99.0), Threshold("yellow", min=90.0, max=99.0), Threshold("red", max=90.0))),
    ]  # fmt: skip
    print(render_table(shown, columns, cfg, color=use_color(cfg)))
    mean = totals["compliance_percent"]
    breaching = totals["breaching"]
    print(
        f"\nTargets: TTFT p95 <= {slo.ttft_p95_ms:g} ms, errors <= {slo.error_rate_percent:g} %, "
        f"output >= {slo.tokens_per_second:,.0f} tokens/s per service."
    )
    print(
        f"{totals['meeting']} of {totals['measured']} services with traffic meet every SLO now"
        + (f"; breaching: {', '.join(breaching)}" if breaching else "")
        + (f". Mean compliance over {args.history}: {mean:.1f} %." if mean is not None else ".")
    )
    return 0
