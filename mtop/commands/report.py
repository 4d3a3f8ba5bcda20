"""``mtop report``: list the report notebooks, run one, or run the scheduled ones that are due.

``mtop report list`` · ``mtop report run NAME [-p KEY VALUE ...] [--output-dir DIR] [--format html|ipynb|both]``
· ``mtop report schedule [--once] [--job NAME ...]``. papermill and nbconvert load only when a report runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from mtop.config import Config
from mtop.errors import ReportError

HELP = "run a report notebook"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``list``, ``run`` and ``schedule`` sub-commands.

    >>> add_arguments(p := argparse.ArgumentParser())
    >>> args = p.parse_args(["run", "cost-report", "-p", "seed", "7", "--format", "both"])
    >>> args.action, args.name, args.param, args.format
    ('run', 'cost-report', [['seed', '7']], 'both')
    """
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    lister = sub.add_parser("list", help="the report notebooks and their parameters with defaults")
    lister.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    runner = sub.add_parser("run", help="execute a report and export it", description="execute a report and export it")
    runner.add_argument("name", help="a report of `mtop report list`, or the path of a .ipynb with a parameters cell")
    runner.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"), default=[],
                        help="set a parameter (repeatable); dict and list values are YAML: -p gpu_prices "
                             "'{nvidia-h100: 4.5}'")  # fmt: skip
    runner.add_argument("--output-dir", metavar="DIR", help="where to write (default: the current directory)")
    runner.add_argument("--format", choices=("html", "ipynb", "both"), default="html", help="what to keep")
    runner.add_argument("--timeout", type=float, metavar="SECONDS", help="limit per cell (default: none)")
    sched = sub.add_parser("schedule", help="run the reports of the config's `reports:` section when due")
    sched.add_argument("--once", action="store_true", help="run what is due now and exit (for cron / CronJob)")
    sched.add_argument("--job", action="append", metavar="NAME", help="only this job (repeatable)")


def _skip_slow_optional_imports() -> None:
    """Tell Python the optional ``rfc3987_syntax`` package is absent, in this CLI process only.

    jsonschema (imported by nbformat, so by papermill and nbconvert) compiles some forty grammars of that
    package when it is installed, 1.3 s of CPU per report, for IRI format checks that notebook validation
    never runs. A ``None`` in ``sys.modules`` makes its import fail fast and jsonschema skips those checks.
    ``mtop.reports.run`` called from Python leaves the caller's process alone.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: "not installed"


def _list(args: argparse.Namespace) -> int:
    from mtop.reports.catalog import list_reports

    reports = list_reports()
    if args.output == "json":
        data = [
            {"name": r.name, "title": r.title, "summary": r.summary,
             "parameters": [{"name": p.name, "type": p.annotation, "default": p.default, "help": p.help}
                            for p in r.parameters]}
            for r in reports
        ]  # fmt: skip
        print(json.dumps(data, indent=2, default=str))
        return 0
    for report in reports:
        print(f"{report.name}  {report.title}")
        if report.summary:
            print(f"  {report.summary}")
        width = max((len(p.name) for p in report.parameters), default=0)
        for p in report.parameters:
            help_text = f"  # {p.help}" if p.help else ""
            print(f"    {p.name:<{width}}  {p.annotation} = {p.default!r}{help_text}")
        print()
    return 0


def _run(args: argparse.Namespace) -> int:
    _skip_slow_optional_imports()
    from mtop.reports.runner import run

    params: dict[str, Any] = {}
    for key, value in args.param:
        if key in params:
            raise ReportError(f"parameter {key!r} given twice", notebook=args.name)
        params[key] = value
    result = run(args.name, params, args.output_dir, args.format, config_path=args.config, timeout=args.timeout)
    for path in result.paths:
        print(path)
    return 0


def _schedule(args: argparse.Namespace, cfg: Config) -> int:
    from mtop.reports.schedule import check_jobs, run_due, serve

    reports = cfg.reports
    if not reports.jobs:
        print("mtop report schedule: no jobs in the `reports:` section of the configuration", file=sys.stderr)
        return 0
    _skip_slow_optional_imports()
    check_jobs(reports, args.config)

    def clock() -> datetime:
        return datetime.now(UTC)

    if args.once:
        records = run_due(reports, clock=clock, config_path=args.config, jobs=args.job)
    else:
        import time

        records = serve(reports, clock=clock, sleep=time.sleep, config_path=args.config)
    for record in records:
        line = f"{record.job}: {record.status} {record.directory}"
        print(line if record.ok else f"{line}: {record.error}", file=sys.stdout if record.ok else sys.stderr)
    return 0 if all(r.ok for r in records) else 1


def run(args: argparse.Namespace, cfg: Config) -> int:
    """``mtop report list | run | schedule``: 0 on success, 1 if a scheduled run failed (errors raise).

    >>> from mtop.cli import build_parser
    >>> from mtop.config import default_config
    >>> run(build_parser().parse_args(["report", "schedule", "--once"]), default_config())
    0
    """
    if args.action == "list":
        return _list(args)
    if args.action == "run":
        return _run(args)
    return _schedule(args, cfg)
