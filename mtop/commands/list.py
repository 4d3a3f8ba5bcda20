"""``mtop list``: the fleet's services with readiness, model, replicas, GPUs, TTFT p95 and cost."""

from __future__ import annotations

import argparse
import sys

from mtop.config import Config
from mtop.errors import ConfigError
from mtop.output import FORMATS

HELP = "list the fleet's services"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop list``: output format, namespaces, sort key, simulator options.

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["-o", "json", "-n", "prod"]).namespace
    ['prod']
    """
    parser.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("-n", "--namespace", action="append", help="only this namespace (repeatable)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace (the default)")
    parser.add_argument("--sort", metavar="KEY", help="sort key (default: display.sorting.default_key)")
    parser.add_argument("--mode", choices=("mock", "live"), help="data source (default: from the config)")
    parser.add_argument("--seed", type=int, default=0, help="simulated fleet: random seed (default: 0)")
    parser.add_argument(
        "--services", type=int, help="simulated fleet: number of services (default: the built-in fleet)"
    )


def run(args: argparse.Namespace, cfg: Config) -> int:
    """``mtop list``: the fleet's services with readiness, model, replicas, GPUs, TTFT p95 and cost.

    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> run(build_parser().parse_args(["list", "-o", "csv", "-n", "nope"]), default_config())
    namespace,service,model,ready,replicas,gpus,gpu_type,ttft_p95_ms,error_rate_percent,tokens_per_second,hourly_cost,cost_per_million_tokens,queue_depth
    <BLANKLINE>
    0
    """
    from mtop.collect import overview
    from mtop.context import connect
    from mtop.output import render_frame, sort_frame

    if args.sort and args.sort not in cfg.display.sorting.available_keys:
        keys = ", ".join(cfg.display.sorting.available_keys)
        raise ConfigError(f"unknown sort key {args.sort!r}; choose one of {keys}", key="--sort")
    fleet = connect(args.mode, config=cfg, seed=args.seed, services=args.services)
    namespaces = None if args.all_namespaces else args.namespace
    frame = sort_frame(overview(fleet, namespaces=namespaces), cfg.display, args.sort)
    fields = [c.field for c in cfg.display.enabled_columns()]
    columns = ["namespace", "service", *[f for f in fields if f not in ("namespace", "service")]]
    text = render_frame(frame, args.output, cfg.display, color=cfg.display.color_enabled and sys.stdout.isatty(),
                        columns=columns)  # fmt: skip
    print(text)
    return 0
