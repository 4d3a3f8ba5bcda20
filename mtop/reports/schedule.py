"""``mtop report schedule``: run the ``reports.jobs`` of the configuration when they are due.

Each job writes one folder per run, ``<output_dir>/<job>/<UTC start, 20261128T120000Z>/``, holding the
executed notebook (the immutable record), the HTML and ``run.json`` (status, times, parameters, error).
The run folders *are* the state: a job is due when it never ran, when its ``every`` interval has passed
since its last start, or when its cron expression fired after its last start. So ``--once`` can run
from cron or a Kubernetes CronJob on a persistent volume with nothing else to keep. After each run the
job keeps its ``keep`` newest runs and ``<output_dir>/index.html`` lists every run (all text escaped).

>>> from mtop.config_schema import ReportJob
>>> from datetime import UTC, datetime
>>> job = ReportJob("hourly", report="fleet-overview", every="1h")
>>> is_due(job, datetime(2026, 1, 1, 11, 30, tzinfo=UTC), datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
False
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mtop.catalogue import parse_duration
from mtop.config_schema import ReportJob, ReportsConfig
from mtop.errors import ConfigError, ReportError
from mtop.files import write_text_atomic
from mtop.reports.cron import parse_cron
from mtop.reports.runner import ReportResult, check_writable, run

__all__ = [
    "INDEX_FILE",
    "RUN_FILE",
    "RunRecord",
    "check_jobs",
    "is_due",
    "job_directory",
    "next_due",
    "past_runs",
    "prune",
    "run_due",
    "run_job",
    "serve",
    "write_index",
]

RUN_FILE = "run.json"
INDEX_FILE = "index.html"
_STAMP = "%Y%m%dT%H%M%SZ"

Runner = Callable[..., ReportResult]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RunRecord:
    """One past or just-finished run of a job, as its ``run.json`` records it.

    >>> RunRecord("j", "fleet-overview", datetime(2026, 1, 1, tzinfo=UTC), None, "ok", "", Path("j/x"), ()).ok
    True
    """

    job: str
    report: str
    started: datetime
    finished: datetime | None
    status: str
    error: str
    directory: Path
    files: tuple[str, ...]
    parameters: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        """The ``run.json`` content."""
        return {
            "job": self.job,
            "report": self.report,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "status": self.status,
            "error": self.error,
            "files": list(self.files),
            "parameters": self.parameters or {},
        }

    @classmethod
    def read(cls, directory: Path) -> RunRecord | None:
        """The record in ``directory/run.json``, or None if it is missing or unreadable."""
        try:
            data = json.loads((directory / RUN_FILE).read_text(encoding="utf-8"))
            finished = data.get("finished")
            return cls(
                job=str(data["job"]),
                report=str(data["report"]),
                started=datetime.fromisoformat(data["started"]),
                finished=datetime.fromisoformat(finished) if finished else None,
                status=str(data["status"]),
                error=str(data.get("error") or ""),
                directory=directory,
                files=tuple(str(f) for f in data.get("files") or ()),
                parameters=dict(data.get("parameters") or {}),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def job_directory(job: ReportJob, reports: ReportsConfig) -> Path:
    """Where ``job``'s runs go: ``<job.output_dir or reports.output_dir>/<job.name>``.

    >>> job_directory(ReportJob("a", every="1h"), ReportsConfig(output_dir="out")).as_posix()
    'out/a'
    """
    return Path(job.output_dir or reports.output_dir) / job.name


def past_runs(directory: Path) -> list[RunRecord]:
    """The recorded runs in a job's folder, newest first (folders without ``run.json`` are not runs).

    >>> past_runs(Path("/nonexistent"))
    []
    """
    if not directory.is_dir():
        return []
    records = (RunRecord.read(d) for d in directory.iterdir() if d.is_dir())
    return sorted((r for r in records if r is not None), key=lambda r: (r.started, r.directory.name), reverse=True)


def is_due(job: ReportJob, last_started: datetime | None, now: datetime) -> bool:
    """Whether ``job`` should run at ``now`` given when it last started (None: never).

    >>> from mtop.config_schema import ReportJob
    >>> noon = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    >>> is_due(ReportJob("d", cron="0 6 * * *"), noon - timedelta(hours=7), noon)   # last run 05:00, fired 06:00
    True
    """
    if last_started is None:
        return True
    if job.every is not None:
        return now >= last_started + timedelta(seconds=parse_duration(job.every))
    fired = parse_cron(job.cron or "").latest(now)
    return fired is not None and fired > last_started


def next_due(job: ReportJob, last_started: datetime | None, now: datetime) -> datetime | None:
    """When ``job`` is next due (``now`` if it is due already; None if its cron never fires again).

    >>> from mtop.config_schema import ReportJob
    >>> noon = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    >>> next_due(ReportJob("h", every="1h"), noon, noon).isoformat()
    '2026-01-01T13:00:00+00:00'
    """
    if is_due(job, last_started, now):
        return now
    if job.every is not None:
        assert last_started is not None  # is_due is True when it is None
        return last_started + timedelta(seconds=parse_duration(job.every))
    return parse_cron(job.cron or "").next_after(now)


def check_jobs(reports: ReportsConfig, config_path: str | None = None) -> None:
    """Check every job before any runs: its report exists, its parameters fit it, its cron parses.

    Raises:
        ConfigError: naming ``reports.jobs[i]`` and what is wrong.

    >>> check_jobs(ReportsConfig(jobs=(ReportJob("x", report="nope", every="1h"),)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mtop.errors.ConfigError: reports.jobs[0] (x): nope: unknown report 'nope'; available: ...
    """
    from mtop.reports.catalog import find_report
    from mtop.reports.params import validate

    for i, job in enumerate(reports.jobs):
        key = f"reports.jobs[{i}] ({job.name})"
        try:
            if job.cron is not None:
                parse_cron(job.cron)
            validate(find_report(job.notebook), dict(job.parameters), config_path=config_path)
        except (ValueError, ReportError) as exc:
            raise ConfigError(str(exc), key=key) from None


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest recorded runs in a job's folder; the deleted folders come back.

    >>> prune(Path("/nonexistent"), 3)
    []
    """
    removed = []
    for record in past_runs(directory)[keep:]:
        shutil.rmtree(record.directory)
        removed.append(record.directory)
    return removed


def _run_folder(directory: Path, started: datetime) -> Path:
    base = started.astimezone(UTC).strftime(_STAMP)
    folder, n = directory / base, 1
    while folder.exists():  # two runs in one second
        n += 1
        folder = directory / f"{base}-{n}"
    return folder


def run_job(
    job: ReportJob,
    reports: ReportsConfig,
    *,
    clock: Clock,
    runner: Runner = run,
    config_path: str | None = None,
) -> RunRecord:
    """Run ``job`` once into a new run folder, record it, apply retention and rewrite the index.

    A failing report is recorded (``status: failed`` with the error) rather than raised.

    >>> run_job(ReportJob("hourly", report="fleet-overview", every="1h"), ReportsConfig(),
    ...         clock=lambda: datetime.now(UTC))  # doctest: +SKIP
    """
    directory = job_directory(job, reports)
    check_writable(directory)
    started = clock()
    folder = _run_folder(directory, started)
    folder.mkdir(parents=True)
    status, error = "ok", ""
    try:
        result = runner(job.notebook, dict(job.parameters), folder, "both", config_path=config_path)
        params = result.parameters
    except ReportError as exc:
        status, error, params = "failed", str(exc), dict(job.parameters)
    files = tuple(sorted(p.name for p in folder.iterdir() if p.name != RUN_FILE))
    record = RunRecord(job.name, job.notebook, started, clock(), status, error, folder, files, params)
    write_text_atomic(folder / RUN_FILE, json.dumps(record.to_json(), indent=2, default=str))
    prune(directory, job.keep or reports.keep)
    write_index(directory.parent)
    return record


def _row(record: RunRecord, root: Path) -> str:
    e = html.escape
    links = " ".join(
        f'<a href="{e(quote((record.directory / f).relative_to(root).as_posix()))}">{e(Path(f).suffix.lstrip("."))}</a>'
        for f in record.files
    )
    took = f"{(record.finished - record.started).total_seconds():.1f} s" if record.finished else ""
    params = ", ".join(f"{k}={v!r}" for k, v in sorted((record.parameters or {}).items()))
    return (
        f'<tr class="{"ok" if record.ok else "failed"}"><td>{e(record.job)}</td><td>{e(record.report)}</td>'
        f"<td>{e(record.started.strftime('%Y-%m-%d %H:%M:%S UTC'))}</td><td>{e(took)}</td>"
        f"<td>{e(record.status)}</td><td>{links}</td><td>{e(params)}</td><td>{e(record.error)}</td></tr>"
    )


def write_index(root: Path) -> Path:
    """Write ``root/index.html``: every recorded run of every job folder under ``root``, newest first.

    >>> import tempfile
    >>> write_index(Path(tempfile.mkdtemp())).name
    'index.html'
    """
    records = [r for d in sorted(root.iterdir()) if d.is_dir() for r in past_runs(d)] if root.is_dir() else []
    records.sort(key=lambda r: r.started, reverse=True)
    rows = "\n".join(_row(r, root) for r in records) or '<tr><td colspan="8">No runs yet.</td></tr>'
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mtop reports</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}tr.failed td{{background:#fde8e8}}</style>
</head><body><h1>mtop reports</h1>
<table><thead><tr><th>Job</th><th>Report</th><th>Started</th><th>Took</th><th>Status</th><th>Files</th>
<th>Parameters</th><th>Error</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""
    root.mkdir(parents=True, exist_ok=True)
    path = root / INDEX_FILE
    write_text_atomic(path, page)
    return path


def run_due(
    reports: ReportsConfig,
    *,
    clock: Clock,
    runner: Runner = run,
    config_path: str | None = None,
    jobs: Sequence[str] | None = None,
) -> list[RunRecord]:
    """Run every job (or those named in ``jobs``) that is due now; the records of the runs made.

    >>> run_due(ReportsConfig(), clock=lambda: datetime.now(UTC))
    []
    """
    records = []
    for job in reports.jobs:
        if jobs is not None and job.name not in jobs:
            continue
        runs = past_runs(job_directory(job, reports))
        if is_due(job, runs[0].started if runs else None, clock()):
            records.append(run_job(job, reports, clock=clock, runner=runner, config_path=config_path))
    return records


def serve(
    reports: ReportsConfig,
    *,
    clock: Clock,
    sleep: Callable[[float], Any],
    runner: Runner = run,
    config_path: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    max_wait: float = 60.0,
) -> list[RunRecord]:
    """Run due jobs, sleep until the next is due (at most ``max_wait`` s), repeat until ``should_stop()``.

    >>> serve(ReportsConfig(), clock=lambda: datetime.now(UTC), sleep=print, should_stop=lambda: True)
    []
    """
    done: list[RunRecord] = []
    while not should_stop():
        done += run_due(reports, clock=clock, runner=runner, config_path=config_path)
        now = clock()
        waits = []
        for job in reports.jobs:
            runs = past_runs(job_directory(job, reports))
            when = next_due(job, runs[0].started if runs else None, now)
            if when is not None:
                waits.append((when - now).total_seconds())
        sleep(max(0.0, min([max_wait, *waits])))
    return done
