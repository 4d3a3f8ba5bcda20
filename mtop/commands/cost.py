"""``mtop cost``: GPU cost per service (OpenCost semantics), fleet totals, and right-sizing recommendations."""

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

HELP = "GPU cost per service, with recommendations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop cost``: the fleet options and ``-o`` (CSV holds the cost rows only).

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["-o", "yaml"]).output
    'yaml'
    """
    add_fleet_arguments(parser)


def totals(costs: pd.DataFrame, recs: pd.DataFrame) -> dict[str, Any]:
    """Fleet totals of the cost table and the savings the recommendations claim (positive ones).

    >>> import pandas as pd
    >>> costs = pd.DataFrame({"gpus": [2, 1], "hourly_cost": [10.0, 2.5], "idle_hourly_cost": [4.0, 0.5],
    ...                       "monthly_cost": [7300.0, 1825.0]})
    >>> totals(costs, pd.DataFrame({"monthly_saving": [100.0, -40.0]}))["monthly_saving"]
    100.0
    """

    def total(df: pd.DataFrame, col: str) -> float:
        return round(float(df[col].sum(min_count=1)), 2) if len(df) and df[col].notna().any() else 0.0

    return {
        "services": len(costs),
        "gpus": int(costs["gpus"].sum()) if len(costs) else 0,
        "hourly_cost": total(costs, "hourly_cost"),
        "idle_hourly_cost": total(costs, "idle_hourly_cost"),
        "monthly_cost": total(costs, "monthly_cost"),
        "monthly_saving": total(recs[recs["monthly_saving"] > 0], "monthly_saving") if len(recs) else 0.0,
    }


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Print the cost table, the totals, then the recommendations below it (or all of it as JSON/YAML).

    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> run(build_parser().parse_args(["cost", "-o", "csv", "-n", "nope"]), default_config())
    namespace,service,gpu_type,gpus,hourly_cost,tokens_per_second,cost_per_million_tokens,utilization_percent,idle_hourly_cost,monthly_cost
    0
    """
    from mtop.commands.ops import cost_report
    from mtop.config import ColumnConfig

    fleet = connect_fleet(args, cfg)
    costs, recs = cost_report(fleet, namespaces_of(args, fleet))
    sums = totals(costs, recs)
    if args.output in ("json", "yaml"):
        payload = {"services": records(costs), "totals": sums, "recommendations": records(recs)}
        print(dump(payload, args.output), end="")
        return 0
    if args.output == "csv":
        print(costs.to_csv(index=False), end="")
        return 0
    color = use_color(cfg)
    columns = [
        ColumnConfig("Service", "service", 28, truncate=28),
        ColumnConfig("Namespace", "namespace", 16, truncate=16),
        ColumnConfig("GPU type", "gpu_type", 16, truncate=16),
        ColumnConfig("GPUs", "gpus", 5, format="int"),
        ColumnConfig("Util", "utilization_percent", 7, format="percent"),
        ColumnConfig("Tok/s", "tokens_per_second", 8, format="float"),
        ColumnConfig("Cost/h", "hourly_cost", 9, format="currency"),
        ColumnConfig("$/1M tok", "cost_per_million_tokens", 9, format="currency"),
        ColumnConfig("Idle $/h", "idle_hourly_cost", 9, format="currency"),
        ColumnConfig("$/month", "monthly_cost", 10, format="currency"),
    ]
    print(render_table(costs, columns, cfg, color=color))
    print(
        f"\nFleet: {sums['gpus']} GPUs in {sums['services']} services, ${sums['hourly_cost']:,.2f}/h "
        f"(${sums['monthly_cost']:,.0f}/month), of which ${sums['idle_hourly_cost']:,.2f}/h idle."
    )
    if not len(recs):
        print("No recommendations: every service is sized for its load.")
        return 0
    print(f"\nRecommendations (up to ${sums['monthly_saving']:,.0f}/month to save):")
    rec_columns = [
        ColumnConfig("Service", "service", 28, truncate=28),
        ColumnConfig("Namespace", "namespace", 16, truncate=16),
        ColumnConfig("Action", "action", 11),
        ColumnConfig("Current", "current", 12),
        ColumnConfig("Recommended", "recommended", 12),
        ColumnConfig("Saving/month", "monthly_saving", 12, format="currency"),
        ColumnConfig("Confidence", "confidence_percent", 10, format="percent"),
        ColumnConfig("Reason", "reason", 60),
    ]
    shown = recs.assign(confidence_percent=recs["confidence"] * 100.0)
    print(render_table(shown, rec_columns, cfg, color=color))
    return 0
