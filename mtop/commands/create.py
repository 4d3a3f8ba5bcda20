"""``mtop create -f FILE``: create services from a YAML or JSON manifest, validated on the client first."""

from __future__ import annotations

import argparse
import sys

from mtop.commands.common import add_fleet_arguments, connect_fleet, dump
from mtop.config import Config
from mtop.errors import ConfigError

HELP = "create services from a YAML or JSON file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop create``: ``-f FILE`` (``-`` for stdin), ``--dry-run``, the fleet options, ``-o``.

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["-f", "svc.yaml"]).filename
    'svc.yaml'
    """
    parser.add_argument("-f", "--filename", required=True, metavar="FILE", help="manifest (YAML or JSON; - for stdin)")
    parser.add_argument("--dry-run", action="store_true", help="only validate the manifest; change nothing")
    add_fleet_arguments(parser, output=("name", "yaml", "json"), default_output="name")


def _namespace(args: argparse.Namespace) -> str | None:
    given = args.namespace or []
    if len(set(given)) > 1:
        raise ConfigError("create takes at most one namespace", key="--namespace")
    return given[0] if given else None


def run(args: argparse.Namespace, cfg: Config) -> int:
    r"""Validate every object of the file, then create them all (or none); prints ``kind/name created`` lines.

    In mock mode the services go into the workspace overlay (``$MTOP_WORKSPACE``); ``mtop sim reset``
    removes them.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> path = Path(tempfile.mkdtemp()) / "svc.yaml"
    >>> _ = path.write_text("apiVersion: serving.kserve.io/v1alpha2\nkind: LLMInferenceService\n"
    ...                     "metadata: {name: my-model, namespace: staging}\nspec: {model: {uri: hf://org/m}}\n")
    >>> run(build_parser().parse_args(["create", "-f", str(path), "--dry-run"]), default_config())
    llminferenceservice.serving.kserve.io/my-model created (dry run)
    0
    """
    from mtop.commands.ops import create_services, load_manifests

    namespace = _namespace(args)
    text = sys.stdin.read() if args.filename == "-" else None
    objects = load_manifests("<stdin>" if text is not None else args.filename, namespace, text=text)
    if args.dry_run:
        for obj in objects:
            print(f"llminferenceservice.serving.kserve.io/{obj['metadata']['name']} created (dry run)")
        return 0
    fleet = connect_fleet(args, cfg)
    stored = create_services(fleet, objects, namespace)
    if args.output in ("yaml", "json"):
        print(dump(stored if len(stored) != 1 else stored[0], args.output), end="")
        return 0
    for obj in stored:
        print(f"llminferenceservice.serving.kserve.io/{obj['metadata']['name']} created")
    return 0
