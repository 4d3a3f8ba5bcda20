"""``mtop list-topologies``: the rollout topologies ``mtop simulate`` plays, one line each."""

from __future__ import annotations

import argparse

from mtop.config import Config

HELP = "list the rollout topologies"
NEEDS_CONFIG = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop list-topologies``: the output format.

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["-o", "json"]).output
    'json'
    """
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml", "csv"), default="table",
                        help="output format (default: table)")  # fmt: skip


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Print each topology with its default step count and a one-line description.

    >>> from mtop.config import default_config
    >>> run(argparse.Namespace(output="table"), default_config())  # doctest: +NORMALIZE_WHITESPACE
    TOPOLOGY    STEPS  DESCRIPTION
    canary      4      shift user traffic to the new version in steps, checking its SLOs at each step
    blue-green  2      start a full copy (green), switch all traffic at once, keep blue for instant rollback
    rolling     4      replace replicas batch by batch (maxSurge = one batch, maxUnavailable = 0)
    shadow      3      mirror all traffic to the new version (no user sees its answers), check it, then cut over
    0
    """
    from mtop.simulation.topologies import DEFAULT_STEPS, DESCRIPTIONS, TOPOLOGIES

    if args.output == "table":
        width = max(len("TOPOLOGY"), *(len(t) for t in TOPOLOGIES))
        print(f"{'TOPOLOGY':<{width}}  STEPS  DESCRIPTION")
        for name in TOPOLOGIES:
            print(f"{name:<{width}}  {DEFAULT_STEPS[name]:<5}  {DESCRIPTIONS[name]}")
        return 0
    import pandas as pd

    from mtop.output import render_frame

    frame = pd.DataFrame(
        {
            "topology": list(TOPOLOGIES),
            "default_steps": [DEFAULT_STEPS[t] for t in TOPOLOGIES],
            "description": [DESCRIPTIONS[t] for t in TOPOLOGIES],
        }
    )
    print(render_frame(frame, args.output).rstrip("\n"))
    return 0
