"""The ``reports:`` section of the configuration: defaults, file, environment, validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mtop.config import load_config
from mtop.config_schema import ReportJob, ReportsConfig
from mtop.errors import ConfigError


def test_packaged_defaults_have_no_jobs() -> None:
    reports = load_config(env={}).reports
    assert reports == ReportsConfig(output_dir="reports", keep=10, jobs=())


def test_jobs_from_a_file(write_config: Callable[..., Path]) -> None:
    path = write_config(
        """
reports:
  output_dir: /srv/reports
  jobs:
    - {name: nightly-cost, report: cost-report, cron: "0 6 * * *", parameters: {namespace: production, seed: 3}}
    - {name: fleet-overview, every: 1h, keep: 48, parameters: {gpu_prices: {nvidia-h100: 4.5}}}
"""
    )
    reports = load_config(path, env={}).reports
    assert reports.output_dir == "/srv/reports" and reports.keep == 10  # keep merged from the packaged file
    nightly, hourly = reports.jobs
    assert (nightly.notebook, nightly.cron, nightly.every, dict(nightly.parameters)) == (
        "cost-report",
        "0 6 * * *",
        None,
        {"namespace": "production", "seed": 3},
    )
    assert hourly.notebook == "fleet-overview" and hourly.keep == 48
    assert dict(hourly.parameters["gpu_prices"]) == {"nvidia-h100": 4.5}
    assert isinstance(hash(load_config(path, env={})), int)  # parameters hold dicts: the config still hashes


def test_scalar_keys_from_the_environment() -> None:
    reports = load_config(env={"MTOP_REPORTS_OUTPUT_DIR": "/tmp/out", "MTOP_REPORTS_KEEP": "3"}).reports
    assert (reports.output_dir, reports.keep) == ("/tmp/out", 3)


def test_bad_keep_from_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"MTOP_REPORTS_KEEP.*must be an integer"):
        load_config(env={"MTOP_REPORTS_KEEP": "many"})


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ("{name: a, every: 1h, cron: '0 * * * *'}", "reports.jobs\\[0\\].cron: give exactly one of cron or every"),
        ("{name: a}", "reports.jobs\\[0\\].cron: give exactly one of cron or every"),
        ("{name: a, every: soon}", "reports.jobs\\[0\\].every: not a duration"),
        ("{name: a, cron: '0 6 * *'}", "reports.jobs\\[0\\].cron: must be 5 fields"),
        ("{name: a, cron: '@sometimes'}", "reports.jobs\\[0\\].cron: must be 5 fields"),
        ("{name: '../etc', every: 1h}", "reports.jobs\\[0\\].name: must be letters"),
        ("{name: a, every: 1h, keep: 0}", "reports.jobs\\[0\\].keep: must be >= 1"),
        ("{name: a, every: 1h, when: now}", "reports.jobs\\[0\\].when: unknown key"),
        ("{name: a, every: 1h, parameters: [1, 2]}", "reports.jobs\\[0\\].parameters: must be a mapping"),
    ],
)
def test_bad_jobs_name_the_key_and_line(write_config: Callable[..., Path], job: str, message: str) -> None:
    path = write_config(f"reports:\n  jobs:\n    - {job}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, env={})
    assert "line 3" in str(info.value)


def test_duplicate_job_names_are_refused(write_config: Callable[..., Path]) -> None:
    path = write_config("reports:\n  jobs:\n    - {name: a, every: 1h}\n    - {name: a, cron: '@daily'}\n")
    with pytest.raises(ConfigError, match="duplicate job name 'a'"):
        load_config(path, env={})


def test_job_defaults() -> None:
    job = ReportJob("fleet-overview", every="30m")
    assert (job.notebook, dict(job.parameters), job.output_dir, job.keep) == ("fleet-overview", {}, None, None)
