"""``mtop delete NAME...``: delete services, after confirmation on a terminal (or ``--yes``)."""

from __future__ import annotations

import argparse
import sys

from mtop.commands.common import add_fleet_arguments, connect_fleet, namespaces_of
from mtop.config import Config
from mtop.errors import MtopError

HELP = "delete services (asks first unless --yes)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop delete``: one or more names, ``--yes``, the fleet options.

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["a", "b", "-y"]).yes
    True
    """
    parser.add_argument("names", nargs="+", metavar="NAME", help="LLMInferenceService names")
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    add_fleet_arguments(parser, output=None)


def _confirm(targets: list[str]) -> bool:
    """Ask on the terminal (the question on stderr, so stdout stays clean); only y/yes agrees."""
    if not sys.stdin.isatty():
        raise MtopError(
            f"refusing to delete {', '.join(targets)} without confirmation: stdin is not a terminal (pass --yes)"
        )
    print(f"Delete {', '.join(targets)}? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Delete the named services, all or none; exit 1 if the confirmation is declined.

    In mock mode a deleted service disappears from the simulated fleet with its pods and metrics
    (recorded in the workspace overlay; ``mtop sim reset`` brings it back).

    >>> import tempfile
    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> args = build_parser().parse_args(["delete", "gemini-pro", "--yes", "--workspace", tempfile.mkdtemp()])
    >>> run(args, default_config())
    llminferenceservice.serving.kserve.io "gemini-pro" deleted
    0
    """
    from mtop.commands.ops import delete_services, get_service

    fleet = connect_fleet(args, cfg)
    namespaces = namespaces_of(args, fleet)
    targets = []
    for name in dict.fromkeys(args.names):
        meta = get_service(fleet, name, namespaces).get("metadata") or {}
        targets.append(f"llminferenceservice {meta.get('namespace')}/{name}")
    if not args.yes and not _confirm(targets):
        print("mtop: nothing deleted", file=sys.stderr)
        return 1
    for obj in delete_services(fleet, list(dict.fromkeys(args.names)), namespaces):
        print(f'llminferenceservice.serving.kserve.io "{obj["metadata"]["name"]}" deleted')
    return 0
