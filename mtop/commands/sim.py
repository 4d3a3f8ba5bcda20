"""``mtop sim``: the simulated fleet outside Python: ``mtop sim serve`` and ``mtop sim reset``.

Sub-subcommands are rows of ``SUBCOMMANDS``. Each is implemented by a function here (``serve``) or by a
module ``mtop/commands/sim_<name>.py`` exposing ``HELP``, ``add_arguments(parser)`` and
``run(args, cfg) -> int`` (``reset``); a row whose module does not exist yet is a placeholder that says so.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from mtop.config import Config

HELP = "serve the simulated fleet to a real API server and Prometheus"
DEFAULT_METRICS_PORT = 9400
"""Same as ``mtop.simulation.serve.DEFAULT_METRICS_PORT`` (not imported: ``mtop --help`` stays light)."""

Run = Callable[[argparse.Namespace, Config], int]

SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("serve", "write the simulated fleet into a Kubernetes API server and serve its metrics to Prometheus"),
    ("reset", "reset the simulated fleet"),
)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mtop sim serve``.

    >>> add_serve_arguments(p := argparse.ArgumentParser())
    >>> a = p.parse_args(["--services", "100", "--once"]); (a.services, a.once, a.metrics_port, a.seed)
    (100, True, 9400, 0)
    """
    parser.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current context)")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=DEFAULT_METRICS_PORT,
        metavar="PORT",
        help=f"serve /metrics on 127.0.0.1:PORT (default: {DEFAULT_METRICS_PORT}; 0 picks a free port)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the simulated fleet (default: 0)")
    parser.add_argument("--services", type=int, metavar="N", help="number of services (default: the built-in 16)")
    parser.add_argument("--once", action="store_true", help="write the objects into the API server, then exit")
    parser.add_argument("--no-kube", action="store_true", help="serve metrics only; write nothing to an API server")
    parser.add_argument(
        "--resync",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="re-write pod statuses that changed every SECONDS (default: 30)",
    )
    parser.add_argument("--workers", type=int, default=16, help="parallel API requests while loading (default: 16)")


def run_serve(args: argparse.Namespace, cfg: Config) -> int:
    """``mtop sim serve``: load the fleet into the API server, then serve its metrics until Ctrl-C or SIGTERM.

    >>> from mtop.config import default_config
    >>> ns = argparse.Namespace(no_kube=True, once=True, seed=0, services=1, kubeconfig=None, context=None,
    ...                         metrics_port=0, resync=30.0, workers=1)
    >>> run_serve(ns, default_config())
    Traceback (most recent call last):
    ...
    mtop.errors.ConfigError: --once: --once with --no-kube has nothing to do
    """
    import signal
    import threading

    from mtop.errors import ConfigError
    from mtop.simulation.serve import MetricsServer, serve, served_fleet
    from mtop.simulation.serve_kube import KubeWriter

    if args.once and args.no_kube:
        raise ConfigError("--once with --no-kube has nothing to do", key="--once")
    if args.services is not None and args.services < 0:
        raise ConfigError(f"must be 0 or more, got {args.services}", key="--services")
    if not 0 <= args.metrics_port <= 65535:
        raise ConfigError(f"not a TCP port: {args.metrics_port}", key="--metrics-port")
    fleet = served_fleet(cfg, seed=args.seed, services=args.services)
    n_services = len(fleet.plan.services)
    print(f"mtop sim serve: seed {args.seed}, {n_services} services, {len(fleet.plan.pods)} pods; "
          f"simulated time is wall time from start {fleet.start.isoformat()}", flush=True)  # fmt: skip
    writer = None
    if not args.no_kube:
        writer = KubeWriter.from_kubeconfig(args.kubeconfig, args.context, workers=args.workers)
    metrics = None if args.once else MetricsServer(fleet, port=args.metrics_port)
    stop = threading.Event()
    previous = None
    if metrics is not None and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        serve(fleet, writer=writer, metrics=metrics, stop=stop, resync=args.resync, say=_say)
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if writer is not None:
            writer.close()
    return 0


def _say(line: str) -> None:
    print(line, flush=True)


def _any_arguments(parser: argparse.ArgumentParser) -> None:
    # A planned sub-subcommand takes anything, so it says "not implemented" rather than a usage error.
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def _placeholder(name: str) -> Run:
    def run(args: argparse.Namespace, cfg: Config) -> int:
        print(f"mtop sim {name}: not implemented yet", file=sys.stderr)
        return 2

    return run


def _subcommand(name: str) -> tuple[str | None, Callable[[argparse.ArgumentParser], None] | None, Run]:
    """``(help, add_arguments, run)`` of one sub-subcommand: here, in ``sim_<name>.py``, or a placeholder."""
    if name == "serve":
        return None, add_serve_arguments, run_serve
    module_name = f"mtop.commands.sim_{name.replace('-', '_')}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None, _any_arguments, _placeholder(name)
    return getattr(module, "HELP", None), getattr(module, "add_arguments", None), module.run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One subparser per row of ``SUBCOMMANDS``.

    >>> add_arguments(p := argparse.ArgumentParser()); p.parse_args(["serve", "--seed", "3"]).seed
    3
    """
    sub = parser.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")
    for name, text in SUBCOMMANDS:
        help_text, add, run_fn = _subcommand(name)
        child = sub.add_parser(name, help=help_text or text, description=help_text or text)
        if add is not None:
            add(child)
        child.set_defaults(sim_run=run_fn)


def run(args: argparse.Namespace, cfg: Config) -> int:
    """Dispatch ``mtop sim <SUBCOMMAND>``; without one, list them and return 2.

    >>> from mtop.config import default_config
    >>> run(argparse.Namespace(), default_config())
    usage: mtop sim {serve,reset} ...
    2
    """
    handler: Run | None = getattr(args, "sim_run", None)
    if handler is None:
        print("usage: mtop sim {" + ",".join(name for name, _ in SUBCOMMANDS) + "} ...")
        return 2
    return handler(args, cfg)
