"""``run()``: check the parameters, execute the notebook, export it; the paths come back.

Everything that can be known before a kernel starts is checked first, so a mistake costs no kernel
start: the report exists, every parameter is declared and well typed (with the valid ones listed), the
values the notebook turns into configuration load, and the output directory is writable.

>>> result = run("fleet-overview", {"seed": 3}, output_dir="/tmp/reports")  # doctest: +SKIP
>>> result.html.name  # doctest: +SKIP
'fleet-overview.html'
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtop.errors import ReportError
from mtop.reports.catalog import Report, find_report
from mtop.reports.params import validate

__all__ = ["FORMATS", "ReportResult", "check_writable", "run"]

FORMATS = ("html", "ipynb", "both")


@dataclass(frozen=True)
class ReportResult:
    """What one run wrote: the executed notebook and/or the HTML, the parameters used, and phase timings.

    >>> ReportResult("x", {}, None, Path("x.html")).paths
    (PosixPath('x.html'),)
    """

    report: str
    parameters: dict[str, Any]
    ipynb: Path | None
    html: Path | None
    seconds: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def paths(self) -> tuple[Path, ...]:
        """The files written, notebook first."""
        return tuple(p for p in (self.ipynb, self.html) if p is not None)


def check_writable(directory: Path) -> Path:
    """Create ``directory`` if needed and prove a file can be written there; ``ReportError`` otherwise.

    A real write is the only honest test (``os.access`` says yes to root on a read-only mount).

    >>> check_writable(Path(tempfile.gettempdir())).is_dir()
    True
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".mtop-write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ReportError(f"output directory {directory} is not writable: {reason}") from None
    return directory


def _config_path(report: Report, values: dict[str, Any], config_path: str | os.PathLike[str] | None) -> None:
    """Pass the caller's configuration file to a notebook that takes one (absolute: the kernel's cwd may differ)."""
    if (
        config_path is not None
        and "config_path" not in values
        and any(p.name == "config_path" for p in report.parameters)
    ):
        values["config_path"] = str(Path(config_path).resolve())


def run(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    fmt: str = "html",
    *,
    config_path: str | os.PathLike[str] | None = None,
    stem: str | None = None,
    timeout: float | None = None,
) -> ReportResult:
    """Execute report ``name`` (or a notebook path) with ``parameters``; write ``<stem>.html`` and/or ``.ipynb``.

    ``output_dir`` defaults to the current directory, ``stem`` to the report's name, ``fmt`` is ``html``,
    ``ipynb`` or ``both``. On a failing cell the executed notebook is kept (whatever ``fmt``) and
    ``ReportError`` names the cell.

    >>> run("fleet-overview", {"sed": 1})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mtop.errors.ReportError: fleet-overview: unknown parameter 'sed' (did you mean 'seed'?); valid: mode (str, ...
    """
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}", notebook=name)
    t0 = time.perf_counter()
    report = find_report(name)
    values = validate(report, parameters, config_path=str(config_path) if config_path is not None else None)
    _config_path(report, values, config_path)
    directory = check_writable(Path(output_dir) if output_dir is not None else Path.cwd())
    base = stem or report.name
    ipynb, html = directory / f"{base}.ipynb", directory / f"{base}.html"
    seconds = {"check": time.perf_counter() - t0}

    from mtop.reports.execute import execute

    t1 = time.perf_counter()
    execute(report, values, ipynb, timeout=timeout)
    seconds["execute"] = time.perf_counter() - t1
    if fmt == "ipynb":
        return ReportResult(report.name, values, ipynb, None, seconds)

    from mtop.reports.export import export_html

    t2 = time.perf_counter()
    try:
        export_html(ipynb, html, title=report.title)
    except Exception as exc:  # nbconvert raises template and conversion errors of many kinds
        raise ReportError(f"HTML export failed: {type(exc).__name__}: {exc}", notebook=report.name) from None
    seconds["export"] = time.perf_counter() - t2
    if fmt == "html":
        ipynb.unlink()
        return ReportResult(report.name, values, None, html, seconds)
    return ReportResult(report.name, values, ipynb, html, seconds)
