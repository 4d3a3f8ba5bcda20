"""``mtop check NAME``: a service's conditions (type, status, reason, message, age)."""

from __future__ import annotations

import argparse

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

HELP = "show a service's conditions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop check``: the service name, the fleet options and ``-o``.

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["gpt-4-turbo"]).output
    'table'
    """
    parser.add_argument("name", help="the LLMInferenceService's metadata.name")
    add_fleet_arguments(parser)


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Print the conditions: a table under a ``namespace/name: Ready=...`` line, or the rows as JSON/YAML/CSV.

    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> run(build_parser().parse_args(["check", "gpt-4-turbo", "-o", "csv"]), default_config())  # doctest: +ELLIPSIS
    type,status,reason,message,last_transition_time,age
    PresetsCombined,True,,,...
    0
    """
    from mtop.commands.ops import check_service
    from mtop.config import ColumnConfig

    fleet = connect_fleet(args, cfg)
    df = check_service(fleet, args.name, namespaces_of(args, fleet))
    ns = df.attrs.get("namespace")
    if args.output in ("json", "yaml"):
        print(dump({"namespace": ns, "name": args.name, "conditions": records(df)}, args.output), end="")
        return 0
    if args.output == "csv":
        print(df.to_csv(index=False), end="")
        return 0
    ready = df.set_index("type")["status"].get("Ready", "Unknown")
    print(f"{ns}/{args.name}: Ready={ready}")
    columns = [
        ColumnConfig("Type", "type", 24),
        ColumnConfig("Status", "status", 7),
        ColumnConfig("Reason", "reason", 28),
        ColumnConfig("Age", "age", 6, justify="right"),
        ColumnConfig("Message", "message", 60),
    ]
    print(render_table(df, columns, cfg, color=use_color(cfg)))
    return 0
