"""``mtop sim reset``: forget every service created or deleted in mock mode (the workspace overlay)."""

from __future__ import annotations

import argparse

from mtop.config import Config

HELP = "forget the services created and deleted in mock mode (clears the workspace overlay)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop sim reset``: the workspace (default ``$MTOP_WORKSPACE``).

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["--workspace", "/tmp/ws"]).workspace
    '/tmp/ws'
    """
    parser.add_argument(
        "--workspace", metavar="DIR", help="where mock-mode changes are kept (default: $MTOP_WORKSPACE, "
        "else ~/.local/state/mtop)",
    )  # fmt: skip


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Remove the overlay, so mock mode shows the seeded fleet again; says whether there was anything.

    >>> import tempfile
    >>> from mtop.config import default_config
    >>> run(argparse.Namespace(workspace=tempfile.mkdtemp()), default_config())  # doctest: +ELLIPSIS
    mtop sim reset: nothing to reset in .../overlay.json
    0
    """
    from mtop.commands.ops import reset_overlay
    from mtop.context import connect

    options = {"workspace": args.workspace} if getattr(args, "workspace", None) else {}
    fleet = connect("mock", config=cfg, **options)
    where = getattr(getattr(fleet.source, "overlay", None), "path", "the workspace")
    if reset_overlay(fleet):
        print(f"mtop sim reset: cleared {where}; mock mode shows the seeded fleet again")
    else:
        print(f"mtop sim reset: nothing to reset in {where}")
    return 0
