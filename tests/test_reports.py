"""mtop.reports without a kernel: the catalogue, parameter checks, cron, the schedule, the HTML export."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
import pytest

from mtop.config_schema import ReportJob, ReportsConfig
from mtop.errors import ConfigError, ReportError
from mtop.reports.catalog import ParamType, find_report, list_reports, notebooks_dir, parse_parameters
from mtop.reports.cron import parse_cron
from mtop.reports.execute import failing_cell
from mtop.reports.export import PLOTLY_MIMETYPE, to_html
from mtop.reports.params import config_overrides, validate
from mtop.reports.runner import ReportResult
from mtop.reports.schedule import (
    INDEX_FILE,
    RUN_FILE,
    check_jobs,
    is_due,
    next_due,
    past_runs,
    run_due,
    serve,
)

REPORTS = ("fleet-overview", "cost-report", "slo-report", "rollout-simulation", "capacity-planning")
COMMON = {"mode", "context", "namespace", "window", "seed", "services", "start", "config_path",
          "slo_ttft_p95_ms", "slo_error_rate_percent", "slo_tokens_per_second", "gpu_prices"}  # fmt: skip
UTC_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


# --- the catalogue --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REPORTS)
def test_each_report_declares_the_common_parameters(name: str) -> None:
    report = find_report(name)
    assert {p.name for p in report.parameters} >= COMMON
    assert report.parameter("gpu_prices").annotation == "dict[str, float]"
    assert report.parameter("start").default.endswith("+00:00")  # a fixed, zoned start: reports are reproducible
    assert all(p.help for p in report.parameters), "every parameter explains itself in a comment"


@pytest.mark.parametrize("name", REPORTS)
def test_each_report_uses_only_the_public_api_and_ships_with_outputs(name: str) -> None:
    nb = json.loads((notebooks_dir() / f"{name}.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    # mtop.<something> calls go through the lazy facade; private modules are never imported
    imported = set(re.findall(r"^\s*(?:from|import) (mtop[\w.]*)", code, flags=re.M))
    assert imported <= {"mtop", "mtop.panels.charts", "mtop.simulation"}, imported
    assert "mtop.connect(config=cfg" in code and "mtop.load_config(config_path, overrides=overrides)" in code
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert outputs, "stored with outputs, for nbval"
    assert not [o for o in outputs if o["output_type"] == "error" or o.get("name") == "stderr"]
    assert all(c.get("id") for c in nb["cells"]), "cell ids let errors name the source cell"


def test_the_packaged_folder_is_the_repository_notebooks_folder() -> None:
    assert notebooks_dir().resolve() == (Path(__file__).parents[1] / "notebooks").resolve()
    assert {r.name for r in list_reports()} >= set(REPORTS)


def test_unknown_report_lists_the_available_ones() -> None:
    with pytest.raises(ReportError, match=r"unknown report 'fleet'; available: .*fleet-overview"):
        find_report("fleet")


def test_parameters_cell_parsing() -> None:
    params = parse_parameters(
        'seed: int = 3  # the seed\nname: str | None = None\nprices: dict[str, float] = {"a": 1.0}\nn = 2\nx = None'
    )
    assert [(p.name, p.annotation, p.default, p.help) for p in params] == [
        ("seed", "int", 3, "the seed"),
        ("name", "str | None", None, ""),
        ("prices", "dict[str, float]", {"a": 1.0}, ""),
        ("n", "int", 2, ""),
        ("x", "Any", None, ""),
    ]
    assert ParamType.parse("list[int] | None") == ParamType("list", True, "int")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import os", "line 1: only `name: type = literal`"),
        ("x = 1\ny = os.getcwd()", "line 2: y: malformed node"),
        ("x: set[int] = set()", "line 1: x: malformed node|unsupported type"),
        ("x: tuple[int, int] = (1, 2)", "unsupported type"),
        ("x = [", "line 1"),
    ],
)
def test_bad_parameters_cells_name_the_line(source: str, message: str) -> None:
    with pytest.raises(ReportError, match=message):
        parse_parameters(source, "nb.ipynb: parameters cell")


# --- parameter checks -----------------------------------------------------------------------------------------


def test_text_values_are_converted_to_the_declared_types() -> None:
    report = find_report("fleet-overview")
    got = validate(
        report,
        {"seed": "7", "services": "null", "slo_ttft_p95_ms": "300", "gpu_prices": '{"nvidia-h100": "4.5"}',
         "namespace": "production"},
    )  # fmt: skip
    assert got == {"seed": 7, "services": None, "slo_ttft_p95_ms": 300.0, "gpu_prices": {"nvidia-h100": 4.5},
                   "namespace": "production"}  # fmt: skip
    assert validate(report, {"seed": 7.0, "top": 3}) == {"seed": 7, "top": 3}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sed": "1"}, r"unknown parameter 'sed' \(did you mean 'seed'\?\); valid: mode \(str, default 'mock'\)"),
        ({"seed": "many"}, "seed must be an integer, got 'many'"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"seed": True}, "seed must be an integer"),
        ({"seed": "-1"}, "seed must be >= 0"),
        ({"services": "0"}, "services must be >= 1"),
        ({"mode": "cloud"}, "mode must be one of mock, live"),
        ({"window": "five minutes"}, "window: not a duration"),
        ({"start": "yesterday"}, "start must be an ISO 8601 time"),
        ({"gpu_prices": "[1, 2]"}, "gpu_prices must be a mapping"),
        ({"gpu_prices": "{nvidia-h100: cheap}"}, r"gpu_prices\['nvidia-h100'\] must be a number"),
        ({"gpu_prices": "{nvidia-h100: .nan}"}, "must be a finite number"),
        ({"gpu_prices": "{nvidia-x1: 1}"}, "gpu_prices: unknown GPU type 'nvidia-x1'; configured: nvidia-a100"),
        ({"gpu_prices": "{nvidia-h100: -1}"}, "gpu_prices: must be >= 0"),
        ({"slo_ttft_p95_ms": "-5"}, "slo_ttft_p95_ms: must be > 0"),
        ({"slo_error_rate_percent": "150"}, "slo_error_rate_percent: must be between 0 and 100"),
    ],
)
def test_bad_values_are_refused_with_the_valid_parameters(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ReportError, match=message) as info:
        validate(find_report("fleet-overview"), values)
    assert str(info.value).startswith("fleet-overview: ")


def test_config_overrides_follow_the_notebooks() -> None:
    # The notebooks build the same dict: a value refused here is one the notebook would refuse in a cell.
    got = config_overrides({"mode": "mock", "context": None, "slo_error_rate_percent": 0.5, "seed": 3,
                            "gpu_prices": {"nvidia-l4": 0.7}})  # fmt: skip
    assert got == {"mode": "mock", "slo.error_rate_percent": 0.5, "technology.gpu_types.nvidia-l4.hourly_cost": 0.7}
    for name in REPORTS:
        source = (notebooks_dir() / f"{name}.ipynb").read_text()
        for param, key in (("slo_ttft_p95_ms", "slo.ttft_p95_ms"), ("context", "live.context")):
            assert f'\\"{key}\\": {param}' in source


# --- cron -----------------------------------------------------------------------------------------------------


def test_cron_fields() -> None:
    expr = parse_cron("*/20 9-17 * jan,jul mon-fri")
    assert sorted(expr.minutes) == [0, 20, 40] and sorted(expr.months) == [1, 7]
    assert sorted(expr.weekdays) == [1, 2, 3, 4, 5]
    assert parse_cron("0 0 * * 7").weekdays == frozenset({0})  # 7 is Sunday
    assert sorted(parse_cron("5/20 * * * *").minutes) == [5, 25, 45]


def test_cron_day_fields_combine_like_vixie_cron() -> None:
    # both restricted: either matches (13th OR Friday); one restricted: only that one counts
    either = parse_cron("0 0 13 * fri")
    assert either.matches_day(datetime(2026, 11, 13).date()) and either.matches_day(datetime(2026, 11, 20).date())
    assert not either.matches_day(datetime(2026, 11, 19).date())
    fridays = parse_cron("0 0 */1 * fri")  # a "*"-prefixed day of month does not restrict
    assert not fridays.matches_day(datetime(2026, 11, 13).date() + timedelta(days=1))


def test_cron_latest_and_next() -> None:
    expr = parse_cron("30 6 * * *")
    assert expr.latest(UTC_NOON) == datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
    assert expr.latest(datetime(2026, 11, 28, 6, 30, 59, tzinfo=UTC)) == datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
    assert expr.next_after(UTC_NOON) == datetime(2026, 11, 29, 6, 30, tzinfo=UTC)
    leap = parse_cron("0 0 29 2 *")
    assert leap.next_after(UTC_NOON) == datetime(2028, 2, 29, tzinfo=UTC)
    assert leap.latest(UTC_NOON) == datetime(2024, 2, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside 0-23"),
        ("* * 0 * *", "day of month: 0 is outside 1-31"),
        ("* * * foo *", "month: 'foo' is not a number or a name"),
        ("* * * * 8", "day of week: 8 is outside 0-7"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("*/0 * * * *", "step '0' must be a whole number >= 1"),
        ("* * *", "expected 5 fields"),
    ],
)
def test_bad_cron_expressions(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_cron(text)


# --- the schedule (a fake runner: no kernel) ----------------------------------------------------------------


class FakeRunner:
    """Stands in for mtop.reports.run: writes the two files a run writes, or fails like a failing cell."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any], Path, str]] = []
        self.fail = fail or set()

    def __call__(self, name: str, parameters: dict[str, Any], output_dir: Path, fmt: str, **_: Any) -> ReportResult:
        self.calls.append((name, parameters, Path(output_dir), fmt))
        ipynb = Path(output_dir) / f"{name}.ipynb"
        ipynb.write_text("{}")
        if name in self.fail:
            raise ReportError("ValueError: boom <b>", notebook=name, cell_index=4)
        html = Path(output_dir) / f"{name}.html"
        html.write_text("<html></html>")
        return ReportResult(name, parameters, ipynb, html)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_due_rules() -> None:
    hourly, daily = ReportJob("h", every="1h"), ReportJob("d", cron="0 6 * * *")
    assert is_due(hourly, None, UTC_NOON) and is_due(daily, None, UTC_NOON)  # never ran
    assert not is_due(hourly, UTC_NOON - timedelta(minutes=59), UTC_NOON)
    assert is_due(hourly, UTC_NOON - timedelta(minutes=60), UTC_NOON)
    assert not is_due(daily, UTC_NOON.replace(hour=6, minute=1), UTC_NOON)  # ran after today's 06:00
    assert is_due(daily, UTC_NOON.replace(hour=5, minute=59), UTC_NOON)  # missed today's 06:00
    assert next_due(daily, UTC_NOON.replace(hour=6), UTC_NOON) == datetime(2026, 11, 29, 6, tzinfo=UTC)


def test_run_due_runs_writes_records_and_an_index(tmp_path: Path) -> None:
    reports = ReportsConfig(
        output_dir=str(tmp_path),
        jobs=(
            ReportJob("hourly", report="fleet-overview", every="1h", parameters={"seed": 3}),
            ReportJob("broken", report="slo-report", cron="0 * * * *"),
        ),
    )
    runner, clock = FakeRunner(fail={"slo-report"}), Clock(UTC_NOON)
    records = run_due(reports, clock=clock, runner=runner)
    assert [(r.job, r.status) for r in records] == [("hourly", "ok"), ("broken", "failed")]
    assert runner.calls[0][:2] == ("fleet-overview", {"seed": 3}) and runner.calls[0][3] == "both"
    folder = tmp_path / "hourly" / "20261128T120000Z"
    assert sorted(p.name for p in folder.iterdir()) == ["fleet-overview.html", "fleet-overview.ipynb", RUN_FILE]
    failed = json.loads((tmp_path / "broken" / "20261128T120000Z" / RUN_FILE).read_text())
    assert failed["status"] == "failed" and "cell 4" in failed["error"]
    assert failed["files"] == ["slo-report.ipynb"]  # the executed notebook of a failed run is kept
    index = (tmp_path / INDEX_FILE).read_text()
    assert 'href="hourly/20261128T120000Z/fleet-overview.html"' in index
    assert "boom &lt;b&gt;" in index and "boom <b>" not in index  # error text is escaped
    assert run_due(reports, clock=clock, runner=runner) == []  # nothing is due a second time
    clock.now += timedelta(hours=1)
    assert [r.job for r in run_due(reports, clock=clock, runner=runner)] == ["hourly", "broken"]


def test_retention_keeps_the_newest_runs_and_nothing_else(tmp_path: Path) -> None:
    stray = tmp_path / "hourly" / "notes"  # a folder without run.json is not a run: never deleted
    stray.mkdir(parents=True)
    reports = ReportsConfig(output_dir=str(tmp_path), keep=5,
                            jobs=(ReportJob("hourly", report="fleet-overview", every="1h", keep=3),))  # fmt: skip
    runner, clock = FakeRunner(), Clock(UTC_NOON)
    for _ in range(5):
        run_due(reports, clock=clock, runner=runner)
        clock.now += timedelta(hours=1)
    kept = [r.directory.name for r in past_runs(tmp_path / "hourly")]
    assert kept == ["20261128T160000Z", "20261128T150000Z", "20261128T140000Z"]
    assert stray.is_dir()
    assert (tmp_path / INDEX_FILE).read_text().count("<tr class=") == 3


def test_two_runs_in_one_second_get_two_folders(tmp_path: Path) -> None:
    reports = ReportsConfig(output_dir=str(tmp_path), jobs=(ReportJob("a", report="fleet-overview", every="1s"),))
    runner = FakeRunner()
    from mtop.reports.schedule import run_job

    first = run_job(reports.jobs[0], reports, clock=Clock(UTC_NOON), runner=runner)
    second = run_job(reports.jobs[0], reports, clock=Clock(UTC_NOON), runner=runner)
    assert (first.directory.name, second.directory.name) == ("20261128T120000Z", "20261128T120000Z-2")


def test_serve_sleeps_until_the_next_job_is_due(tmp_path: Path) -> None:
    reports = ReportsConfig(output_dir=str(tmp_path), jobs=(ReportJob("a", report="fleet-overview", every="45s"),))
    clock, sleeps = Clock(UTC_NOON), []

    def sleep(seconds: float) -> None:  # the injected sleep moves the injected clock
        sleeps.append(seconds)
        clock.now += timedelta(seconds=seconds)

    done = serve(reports, clock=clock, sleep=sleep, runner=FakeRunner(), should_stop=lambda: len(sleeps) >= 3)
    assert sleeps == [45.0, 45.0, 45.0]
    assert len(done) == 3


def test_check_jobs_names_the_job() -> None:
    bad_param = ReportsConfig(jobs=(ReportJob("a", report="fleet-overview", every="1h", parameters={"sed": 1}),))
    with pytest.raises(ConfigError, match=r"reports\.jobs\[0\] \(a\): fleet-overview: unknown parameter 'sed'"):
        check_jobs(bad_param)
    bad_cron = ReportsConfig(jobs=(ReportJob("b", report="fleet-overview", cron="61 * * * *"),))
    with pytest.raises(ConfigError, match=r"reports\.jobs\[0\] \(b\): minute: 61 is outside 0-59"):
        check_jobs(bad_cron)


# --- export ---------------------------------------------------------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)></script><script>alert(2)</script>"


def _executed_notebook() -> Any:
    v4 = nbformat.v4

    def plot() -> Any:
        return v4.new_output("display_data", data={PLOTLY_MIMETYPE: {
            "data": [{"type": "bar", "x": [HOSTILE, "b"], "y": [1.0, float("nan")]}], "layout": {"height": 300},
            "config": {"plotlyServerURL": "https://plot.ly"}}})  # fmt: skip

    return v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# Title\n\nSome *story*."),
            v4.new_code_cell("SECRET_CODE_LINE = 1", outputs=[plot()]),
            v4.new_code_cell("x = 2", outputs=[plot()]),
        ]
    )


def test_export_hides_code_and_embeds_plotly_for_offline_use() -> None:
    page = to_html(_executed_notebook(), "My report")
    assert "<title>My report</title>" in page
    assert "SECRET_CODE_LINE" not in page  # code hidden
    assert page.count('class="mtop-plot"') == 2 and 'id="mtop-plot-1"' in page and 'id="mtop-plot-2"' in page
    assert page.count("Plotly.newPlot(") >= 2
    assert len(page) > 1_000_000  # the plotly.js bundle is inline ...
    assert not re.search(r"<script[^>]+src=", page)  # ... and no script, stylesheet or font is fetched
    assert not re.search(r"<link[^>]+href=\"?https?:", page)
    assert "plot.ly" not in page.split("</head>")[1]  # the figure's server URL is dropped


def test_export_escapes_script_breakouts_in_chart_data() -> None:
    body = to_html(_executed_notebook()).split("</head>", 1)[1]
    assert "<img src=x" not in body and "alert(2)</script>" not in body
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in body
    assert "NaN" in body  # a missing value stays a JS NaN, not invalid JSON


def test_export_without_charts_carries_no_plotly() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Only text")])
    assert "Plotly" not in to_html(nb) and len(to_html(nb)) < 500_000


# --- failure mapping ------------------------------------------------------------------------------------------


def test_failing_cell_is_named_by_its_source_index() -> None:
    source = {"cells": [{"id": "md"}, {"id": "params"}, {"id": "ok"}, {"id": "bad"}]}
    executed = {"cells": [
        {"id": "banner", "outputs": []}, {"id": "md"}, {"id": "params", "outputs": []},
        {"id": "injected", "outputs": []}, {"id": "ok", "outputs": [{"output_type": "stream"}]},
        {"id": "bad", "outputs": [{"output_type": "error", "ename": "ZeroDivisionError",
                                   "evalue": "division by zero"}]},
    ]}  # fmt: skip
    assert failing_cell(executed, source) == (3, "ZeroDivisionError: division by zero")
    assert failing_cell({"cells": []}, source) == (None, "the kernel stopped")


# --- the example Kubernetes CronJob ---------------------------------------------------------------------------


def test_the_cronjob_example_runs_the_schedule_once_with_a_valid_config(tmp_path: Path) -> None:
    import yaml

    from mtop.config import load_config

    docs = list(yaml.safe_load_all((Path(__file__).parents[1] / "deploy" / "cronjob.yaml").read_text()))
    config_map, cron_job = (
        next(d for d in docs if d["kind"] == "ConfigMap"),
        next(d for d in docs if d["kind"] == "CronJob"),
    )
    container = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-3:] == ["report", "schedule", "--once"]
    assert cron_job["spec"]["concurrencyPolicy"] == "Forbid"
    config = tmp_path / "config.yaml"
    config.write_text(config_map["data"]["config.yaml"])
    reports = load_config(config, env={}).reports
    assert [j.name for j in reports.jobs] == ["fleet-overview", "nightly-cost", "slo-production"]
    check_jobs(reports)  # every job names a real report with valid parameters
