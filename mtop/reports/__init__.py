"""Report notebooks run by papermill: parameterized, exported to self-contained HTML, scheduled.

>>> import mtop.reports
>>> "fleet-overview" in [r.name for r in mtop.reports.list_reports()]
True

``run(name, parameters=None, output_dir=None, fmt="html")`` executes one and returns the paths it wrote;
``run_due(config.reports, clock=...)`` runs the scheduled jobs that are due. Modules load on first use,
so importing this package loads neither papermill nor nbconvert.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mtop.errors import ReportError

_LAZY: dict[str, str] = {
    "Parameter": "mtop.reports.catalog",
    "Report": "mtop.reports.catalog",
    "find_report": "mtop.reports.catalog",
    "list_reports": "mtop.reports.catalog",
    "notebooks_dir": "mtop.reports.catalog",
    "validate": "mtop.reports.params",
    "ReportResult": "mtop.reports.runner",
    "run": "mtop.reports.runner",
    "to_html": "mtop.reports.export",
    "export_html": "mtop.reports.export",
    "RunRecord": "mtop.reports.schedule",
    "run_due": "mtop.reports.schedule",
    "serve": "mtop.reports.schedule",
    "write_index": "mtop.reports.schedule",
}

__all__ = [
    "Parameter",
    "Report",
    "ReportError",
    "ReportResult",
    "RunRecord",
    "export_html",
    "find_report",
    "list_reports",
    "notebooks_dir",
    "run",
    "run_due",
    "serve",
    "to_html",
    "validate",
    "write_index",
]

if TYPE_CHECKING:
    from mtop.reports.catalog import Parameter, Report, find_report, list_reports, notebooks_dir
    from mtop.reports.export import export_html, to_html
    from mtop.reports.params import validate
    from mtop.reports.runner import ReportResult, run
    from mtop.reports.schedule import RunRecord, run_due, serve, write_index


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mtop.reports' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
