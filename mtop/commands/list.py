"""``mtop list``: the fleet's services with readiness, model, replicas, GPUs, TTFT p95 and cost."""

from __future__ import annotations

import argparse

from mtop.commands.common import add_fleet_arguments, connect_fleet, namespaces_of, use_color
from mtop.config import Config

HELP = "list the fleet's services"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop list``: the fleet options, ``-o``, and the sort key.

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["-o", "json", "-n", "prod"]).namespace
    ['prod']
    """
    add_fleet_arguments(parser)
    parser.add_argument("--sort", metavar="KEY", help="sort key (default: display.sorting.default_key, MTOP_SORT_KEY)")
    parser.add_argument("--window", default="5m", help="rate window of the SLO figures (default: 5m)")


def run(args: argparse.Namespace, cfg: Config) -> int:
    """``mtop list``: the fleet's services with readiness, model, replicas, GPUs, TTFT p95 and cost.

    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> run(build_parser().parse_args(["list", "-o", "csv", "-n", "nope"]), default_config())
    namespace,service,model,ready,replicas,gpus,gpu_type,ttft_p95_ms,error_rate_percent,tokens_per_second,hourly_cost,cost_per_million_tokens,queue_depth
    <BLANKLINE>
    0
    """
    from mtop.commands.ops import list_services
    from mtop.output import render_frame

    fleet = connect_fleet(args, cfg)
    frame = list_services(fleet, namespaces_of(args, fleet), args.sort, window=args.window)
    fields = [c.field for c in cfg.display.enabled_columns()]
    columns = ["namespace", "service", *[f for f in fields if f not in ("namespace", "service")]]
    print(render_frame(frame, args.output, cfg.display, color=use_color(cfg), columns=columns))
    return 0
