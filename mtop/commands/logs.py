"""``mtop logs NAME``: the logs of a service's model-server pods (simulated vLLM logs in mock mode)."""

from __future__ import annotations

import argparse
import sys

from mtop.commands.common import add_fleet_arguments, connect_fleet, namespaces_of
from mtop.config import Config
from mtop.errors import ConfigError, MtopError

HELP = "show the logs of a service's pods"
DEFAULT_TAIL = 10
"""Lines per pod by default, as ``kubectl logs`` with a label selector."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop logs``: name, ``--tail``, ``--since``, ``--role``, ``--timestamps``, the fleet options.

    >>> add_arguments(p := argparse.ArgumentParser()); a = p.parse_args(["m", "--tail", "5", "--role", "prefill"])
    >>> a.tail, a.role, a.since
    (5, 'prefill', None)
    """
    from mtop.commands.ops import ROLES

    parser.add_argument("name", help="the LLMInferenceService's metadata.name")
    parser.add_argument(
        "--tail", type=int, default=DEFAULT_TAIL, metavar="N",
        help=f"last N lines per pod, -1 for all (default: {DEFAULT_TAIL})",
    )  # fmt: skip
    parser.add_argument("--since", metavar="DURATION", help="only lines newer than this (e.g. 30s, 5m, 1h)")
    parser.add_argument("--role", choices=ROLES, help="only decode pods (decode and both) or prefill pods")
    parser.add_argument("--timestamps", action="store_true", help="prefix each line with its RFC 3339 time")
    parser.add_argument(
        "--prefix", action=argparse.BooleanOptionalAction, default=None,
        help="prefix each line with [pod/NAME/main] (default: when there is more than one pod)",
    )  # fmt: skip
    add_fleet_arguments(parser, output=None)


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Print each pod's log; a pod without one is a line on stderr; no log at all is an error.

    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> args = build_parser().parse_args(["logs", "claude-3-haiku", "--tail", "1", "--no-prefix"])
    >>> run(args, default_config())  # doctest: +ELLIPSIS
    INFO ... [loggers.py:127] Engine 000: Avg prompt throughput: ...
    INFO ... [loggers.py:127] Engine 000: Avg prompt throughput: ...
    0
    """
    from mtop.commands.ops import service_logs

    if args.tail < -1:
        raise ConfigError(f"must be -1 (all) or more, got {args.tail}", key="--tail")
    fleet = connect_fleet(args, cfg)
    logs = service_logs(
        fleet,
        args.name,
        namespaces_of(args, fleet),
        tail=None if args.tail < 0 else args.tail,
        since=args.since,
        role=args.role,
        timestamps=args.timestamps,
    )
    readable = [log for log in logs if log.ok]
    if not readable:
        first = logs[0]
        raise MtopError(f"no logs for service '{args.name}': {len(logs)} pod(s) without a log ({first.error})")
    prefix = args.prefix if args.prefix is not None else len(logs) > 1
    for log in logs:
        if not log.ok:
            print(f"mtop: pod {log.pod}: {log.error}", file=sys.stderr)
            continue
        lead = f"[pod/{log.pod}/main] " if prefix else ""
        sys.stdout.write("".join(lead + line + "\n" for line in log.text.splitlines()))
    sys.stdout.flush()
    return 0
