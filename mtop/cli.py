"""The ``mtop`` command line: a thin argparse shell over the library.

Every subcommand is one row of ``COMMANDS``: a name, a help line, a ``run(args, cfg) -> int`` function and,
if it takes arguments, a function that adds them to its parser. To add a command, write those functions
and replace its row. ``main`` owns the rest: parsing, logging set-up, loading the configuration (the
``--config`` file, then the environment, as ``mtop.config`` documents), and turning every ``MtopError``
into one line on stderr with exit code 2.

>>> [c.name for c in COMMANDS][:3]
['version', 'config', 'list']
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from mtop.config import Config, config_to_dict, default_config, load_config
from mtop.errors import MtopError

__all__ = [
    "COMMANDS",
    "Command",
    "add_any_arguments",
    "add_config_arguments",
    "build_parser",
    "main",
    "module_command",
    "not_implemented",
    "run_config",
    "run_version",
    "version",
]

Run = Callable[[argparse.Namespace, Config], int]
AddArguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help line, what it runs, and its own arguments.

    ``needs_config=False`` runs it with the packaged defaults, so it works even when the user's
    configuration is broken (``version``).

    >>> Command("hello", "say hello", lambda args, cfg: 0).needs_config
    True
    """

    name: str
    help: str
    run: Run
    add_arguments: AddArguments | None = None
    needs_config: bool = True


def version() -> str:
    """The installed mtop version (``__version__`` of the package when it is not installed).

    >>> isinstance(version(), str) and version() != ""
    True
    """
    try:
        return importlib.metadata.version("mtop")
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(sys.modules.get("mtop"), "__version__", "0+unknown"))


# --- version ---------------------------------------------------------------------------------------------


def run_version(args: argparse.Namespace, cfg: Config) -> int:
    """Print the program name and version.

    >>> run_version(argparse.Namespace(), default_config())  # doctest: +ELLIPSIS
    mtop ...
    0
    """
    print(f"{cfg.build.program.name} {version()}")
    return 0


# --- config ----------------------------------------------------------------------------------------------


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop config``.

    >>> add_config_arguments(p := argparse.ArgumentParser()); p.parse_args(["-o", "json"]).output
    'json'
    """
    parser.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml", help="output format")
    parser.add_argument(
        "--show-sources",
        action="store_true",
        help="print only the values that differ from the packaged defaults, with where each came from",
    )


def _text(value: Any) -> str:
    """A value as it would be typed: 300 not 300.0, true not True."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (bool, type(None), list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _overridden(cfg: Config) -> dict[str, dict[str, Any]]:
    """``{dotted key: {"value": ..., "source": ...}}`` for every value not from the packaged file."""
    plain = config_to_dict(cfg)  # plain lists and dicts, passwords in URLs redacted
    out: dict[str, dict[str, Any]] = {}
    for key, source in cfg.sources.items():
        value: Any = plain
        for part in key.split("."):  # source keys never index into lists
            value = value[part]
        out[key] = {"value": value, "source": source}
    return out


def run_config(args: argparse.Namespace, cfg: Config) -> int:
    """Print the effective configuration and where each overridden value came from.

    YAML (the default) ends with comment lines ``key = value  (source)``, so the output is still a valid
    config file; JSON is ``{"config": ..., "sources": {key: {"value", "source"}}}``. ``--show-sources``
    prints only the overridden values.

    >>> run_config(argparse.Namespace(output="yaml", show_sources=True), default_config())
    # Every value is the packaged default.
    0
    """
    sources = _overridden(cfg)
    if args.output == "json":
        payload: Any = sources if args.show_sources else {"config": config_to_dict(cfg), "sources": sources}
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    if not args.show_sources:
        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True, width=120), end="")
    if not sources:
        print("# Every value is the packaged default.")
        return 0
    print("# Overridden values and where each came from:")
    for key, item in sources.items():
        print(f"#   {key} = {_text(item['value'])}  ({item['source']})")
    return 0


# --- commands still to be wired -------------------------------------------------------------------------


# Every other command lives in its own module, mtop/commands/<name, '-' as '_'>.py, with ``add_arguments(parser)``
# and ``run(args, cfg) -> int`` (optionally ``HELP`` and ``NEEDS_CONFIG``). A name whose module does not
# exist yet is a placeholder that says so. Command modules keep heavy imports inside ``run``.
_MODULE_COMMANDS = (
    ("list", "list the fleet's services"),
    ("get", "show one service"),
    ("check", "show a service's conditions"),
    ("logs", "show a service's logs"),
    ("create", "create a service from a file"),
    ("delete", "delete a service"),
    ("simulate", "replay a rollout topology"),
    ("list-topologies", "list the rollout topologies"),
    ("top", "live fleet monitor"),
    ("slo", "SLO compliance per service"),
    ("cost", "GPU cost per service"),
    ("report", "run a report notebook"),
    ("sim", "serve the simulated fleet to a real API server and Prometheus"),
)


def not_implemented(args: argparse.Namespace, cfg: Config) -> int:
    """Placeholder ``run`` of a planned command: says so on stderr and returns 2.

    >>> not_implemented(argparse.Namespace(command="top"), default_config())
    2
    """
    print(f"mtop {args.command}: not implemented yet", file=sys.stderr)
    return 2


def add_any_arguments(parser: argparse.ArgumentParser) -> None:
    """Accept whatever follows a planned command, so it reports "not implemented" rather than a usage error.

    >>> add_any_arguments(p := argparse.ArgumentParser()); p.parse_args(["NAME", "--json"]).args
    ['NAME', '--json']
    """
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def module_command(name: str, text: str) -> Command:
    """The command implemented by ``mtop.commands.<name>``, or a placeholder if that module does not exist.

    >>> module_command("list", "list the fleet's services").run.__module__
    'mtop.commands.list'
    """
    module_name = "mtop.commands." + name.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return Command(name, text, not_implemented, add_any_arguments)
    return Command(
        name,
        getattr(module, "HELP", text),
        module.run,
        getattr(module, "add_arguments", None),
        getattr(module, "NEEDS_CONFIG", True),
    )


COMMANDS: tuple[Command, ...] = (
    Command("version", "print the version", run_version, needs_config=False),
    Command("config", "print the effective configuration and where values came from", run_config, add_config_arguments),
    *(module_command(name, text) for name, text in _MODULE_COMMANDS),
)


# --- main ------------------------------------------------------------------------------------------------


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    """The argument parser: global options and one subparser per command.

    >>> build_parser().parse_args(["--config", "my.yaml", "config", "-o", "json"]).config
    'my.yaml'
    """
    parser = argparse.ArgumentParser(prog="mtop", description="htop for LLM inference fleets, inside Jupyter.")
    parser.add_argument(
        "--config", metavar="FILE", help="configuration file (default: $MTOP_CONFIG_PATH, else ./config.yaml)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands:
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.add_arguments is not None:
            command.add_arguments(child)
        child.set_defaults(handler=command)
    return parser


def _configure_logging() -> None:
    """Attach mtop's log handlers (level, format and file from ``MTOP_LOG_*`` / ``LDCTL_LOG_*``)."""
    from mtop.logging import configure

    configure()


def _dispatch(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Command | None = getattr(args, "handler", None)
    if command is None:
        parser.print_help()
        return 0
    _configure_logging()
    cfg = load_config(args.config) if command.needs_config else default_config()
    return command.run(args, cfg)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for any mtop error, 130 on Ctrl-C).

    >>> main(["version"])  # doctest: +ELLIPSIS
    mtop ...
    0
    """
    try:
        return _dispatch(sys.argv[1:] if argv is None else list(argv))
    except MtopError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message holds
        print(f"mtop: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # argparse: --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
