"""``mtop get NAME``: one LLMInferenceService as the API returns it (YAML, JSON, or a one-row summary)."""

from __future__ import annotations

import argparse

from mtop.commands.common import add_fleet_arguments, connect_fleet, dump, namespaces_of, render_table, use_color
from mtop.config import Config

HELP = "show one service (YAML by default, or -o json|table|csv)"
_OUTPUTS = ("yaml", "json", "table", "csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop get``: the service name, the fleet options and ``-o`` (default ``yaml``).

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["gpt-4-turbo", "-o", "json"]).output
    'json'
    """
    parser.add_argument("name", help="the LLMInferenceService's metadata.name")
    add_fleet_arguments(parser, output=_OUTPUTS, default_output="yaml")


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Print the service: the whole object as YAML/JSON, or a summary row (namespace, name, ready, reason, age, ...).

    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> run(build_parser().parse_args(["get", "claude-3-opus", "-o", "csv"]), default_config())  # doctest: +ELLIPSIS
    namespace,name,ready,reason,age,api_version,url
    production,claude-3-opus,False,MinimumReplicasUnavailable,...,serving.kserve.io/v1alpha2,http://...
    0
    """
    import pandas as pd

    from mtop.commands.ops import age_text, conditions_frame, get_service
    from mtop.config import ColumnConfig

    fleet = connect_fleet(args, cfg)
    obj = get_service(fleet, args.name, namespaces_of(args, fleet))
    if args.output in ("yaml", "json"):
        print(dump(obj, args.output), end="")
        return 0
    meta = obj.get("metadata") or {}
    ready = conditions_frame(obj, fleet.now()).set_index("type")
    row = {
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "ready": ready["status"].get("Ready", "Unknown"),
        "reason": ready["reason"].get("Ready", None),
        "age": age_text(meta.get("creationTimestamp"), fleet.now()),
        "api_version": obj.get("apiVersion"),
        "url": (obj.get("status") or {}).get("url"),
    }
    frame = pd.DataFrame({k: pd.array([v], dtype="string") for k, v in row.items()})
    if args.output == "csv":
        print(frame.to_csv(index=False), end="")
        return 0
    columns = [ColumnConfig(c.replace("_", " ").title(), c, max(4, len(c))) for c in frame.columns]
    print(render_table(frame, columns, cfg, color=use_color(cfg)))
    return 0
