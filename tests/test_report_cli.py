"""``mtop report`` end to end: real papermill runs in a real kernel on the simulated fleet.

Each report runs once with non-default parameters and its HTML is checked against the collectors for
the same seed; a hostile fleet (a Source wrapper installed in the kernel by a ``sitecustomize`` module)
proves names are escaped, with fake secrets in the environment that must appear in no output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hostile_fleet import sitecustomize_source

import mtop
from mtop.cli import main
from mtop.config import load_config
from mtop.reports.catalog import find_report

pytestmark = pytest.mark.slow

START = find_report("fleet-overview").parameter("start").default
HOSTILE_SERVICE = "<img src=x onerror=alert(1)>"
HOSTILE_NAMESPACE = '<script>alert("ns")</script>'
SECRETS = ("pw-secret-3b9f", "url-secret-71c2", "token-secret-c0de")


class _Text(HTMLParser):
    """The visible text of a page: no script or style content, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip += tag in ("script", "style")
        self._in_h2 = self._in_h2 or tag == "h2"
        if tag == "h2":
            self.h2.append("")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("script", "style")
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)
            if self._in_h2:
                self.h2[-1] += data


def page(path: Path) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    text = " ".join("".join(parser.parts).split())
    return text, [h.replace("¶", "").strip() for h in parser.h2]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def collectors(seed: int, overrides: dict[str, Any]) -> mtop.Fleet:
    cfg = load_config(overrides=overrides)
    return mtop.connect(config=cfg, seed=seed, start=datetime.fromisoformat(START), clock="frozen")


money = "${:,.2f}".format


# --- each report with non-default parameters, numbers checked against the collectors -------------------------


def test_fleet_overview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "report", "run", "fleet-overview", "-p", "seed", "3", "-p", "namespace", "production",
        "-p", "slo_ttft_p95_ms", "400", "-p", "gpu_prices", "{nvidia-h100: 4.5}", "-p", "top", "4",
        "--output-dir", str(tmp_path), "--format", "both",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.split() == [str(tmp_path / "fleet-overview.ipynb"), str(tmp_path / "fleet-overview.html")]
    text, sections = page(tmp_path / "fleet-overview.html")
    assert sections == ["At a glance", "What runs where", "Readiness", "GPUs by type", "SLO compliance", "Cost",
                        "Top problems"]  # fmt: skip

    fleet = collectors(3, {"slo.ttft_p95_ms": 400.0, "technology.gpu_types.nvidia-h100.hourly_cost": 4.5})
    ov = mtop.overview(fleet, namespaces=["production"])
    pods, nodes = mtop.pods(fleet, namespaces=["production"]), mtop.nodes(fleet, namespaces=["production"])
    assert set(ov["namespace"]) == {"production"}
    assert "seed 3" in text and "namespace production" in text
    assert f"{len(ov)} services in 1 namespaces run {len(pods)} pods on {len(nodes)} GPU nodes" in text
    assert f"{money(ov['hourly_cost'].sum())} per hour for the services" in text
    assert "TTFT p95 ≤ 400 ms" in text
    met, known = int(ov["slo_ok"].fillna(False).sum()), int(ov["slo_ok"].notna().sum())
    assert f"{met} of the {known} services with traffic meet all three targets" in text
    # the H100 price override reached the kernel: the by-type table shows it
    assert "nvidia-h100" not in set(nodes["gpu_type"]) or "$4.50" in text
    assert "Parameters: gpu_prices={'nvidia-h100': 4.5}, namespace='production', seed=3" in text  # the footer
    problems = (tmp_path / "fleet-overview.html").read_text().split('id="Top-problems"')[1]
    assert problems.count("<li>") <= 4


def test_cost_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "report", "run", "cost-report", "-p", "seed", "2", "-p", "what_if_gpu", "nvidia-a100",
        "-p", "gpu_prices", '{"nvidia-l40s": 2.5}', "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.split() == [str(tmp_path / "cost-report.html")]
    assert not (tmp_path / "cost-report.ipynb").exists()  # --format html keeps only the HTML
    text, sections = page(tmp_path / "cost-report.html")
    assert sections == ["At a glance", "By service", "By namespace", "By GPU type", "Idle cost", "Recommendations",
                        "What if the services moved to another GPU type?"]  # fmt: skip

    fleet = collectors(2, {"technology.gpu_types.nvidia-l40s.hourly_cost": 2.5})
    costs, nodes = mtop.gpu_costs(fleet), mtop.nodes(fleet)
    hourly, tps = costs["hourly_cost"].sum(), costs["tokens_per_second"].sum()
    assert f"The services cost {money(hourly)} per hour, {money(hourly * 730)} per month" in text
    assert f"{money(hourly / (tps * 3600) * 1e6)} per million tokens" in text
    assert f"The GPU nodes cost {money(nodes['hourly_cost'].sum())} per hour" in text
    assert "GPU prices overridden: nvidia-l40s $2.50" in text
    what = mtop.what_if(fleet, gpu_type="nvidia-a100")
    moved = what[(what["scenario"] == "what_if") & what.set_index(["namespace", "service"]).index.isin(
        costs[costs["hourly_cost"] > 0].set_index(["namespace", "service"]).index)]  # fmt: skip
    assert "Moving every serving service to nvidia-a100 ($3.00/GPU-hour) would cost " in text
    assert f"{money(moved['hourly_cost'].sum() * 730)} per month instead of {money(hourly * 730)}" in text


def test_slo_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capsys, "report", "run", "slo-report", "-p", "seed", "1", "-p", "window", "30m", "-p", "step", "2m",
        "-p", "slo_error_rate_percent", "0.5", "--output-dir", str(tmp_path), "--format", "both",
    )  # fmt: skip
    assert code == 0, err
    text, sections = page(tmp_path / "slo-report.html")
    assert sections == ["At a glance", "Latency percentiles now", "Errors and throughput now", "Over the window",
                        "Breaches and their timing", "Error-budget burn rate"]  # fmt: skip
    assert "History: the last 30m at 2m steps (16 points)" in text
    assert "error rate ≤ 0.5 %" in text
    now = mtop.slo_metrics(collectors(1, {"slo.error_rate_percent": 0.5}))
    served = now[now["requests_per_second"] > 0]
    assert f"Now: {int(served['slo_ok'].fillna(False).sum())} of {len(served)} services with traffic" in text
    assert f"{int(served['error_rate_ok'].eq(False).sum())} miss the error rate" in text
    nb = json.loads((tmp_path / "slo-report.ipynb").read_text())
    assert nb["metadata"]["papermill"]["parameters"]["window"] == "30m"


def test_rollout_simulation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mtop.simulation import simulate

    code, _, err = run_cli(
        capsys, "report", "run", "rollout-simulation", "-p", "seed", "4", "-p", "topology", "blue-green",
        "-p", "fail_at", "1", "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    text, sections = page(tmp_path / "rollout-simulation.html")
    assert sections == ["At a glance", "The rollout, step by step", "Traffic shares", "SLO impact",
                        "Cost of the rollout", "What if the new version were bad?"]  # fmt: skip
    plan = simulate("blue-green", collectors(4, {}), fail_at=1)
    step = plan.attrs["rollback_step"]
    assert plan.attrs["outcome"] == "rolled_back" and step is not None
    minutes = plan[plan["step"] == step]["elapsed_s"].iloc[0] / 60
    assert "blue-green (start a full copy" in text and f"{plan.attrs['namespace']}/{plan.attrs['service']}" in text
    assert f"Decision: rolled back at step {step} after {minutes:.0f} minutes" in text
    assert "it was made to fail from step 1" in text


def test_capacity_planning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mtop.simulation import load_scenarios

    code, _, err = run_cli(
        capsys, "report", "run", "capacity-planning", "-p", "seed", "6", "-p", "spike_multiplier", "3",
        "-p", "namespace", "production", "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    text, sections = page(tmp_path / "capacity-planning.html")
    assert sections == ["At a glance", "Load scenarios against current capacity", "What holding the SLOs takes",
                        "The cheapest hardware for the spike", "Options and their cost"]  # fmt: skip
    scen = load_scenarios(collectors(6, {"workload.spike_multiplier": 3.0}), namespaces=["production"])
    base, spike = scen[scen["scenario"] == "baseline"], scen[scen["scenario"] == "spike"]
    assert set(scen["namespace"]) == {"production"}
    assert "the spike is x3 (300 requests/s)" in text
    assert f"{int(base['slo_ok'].sum())} of {len(base)} services meet the SLOs at the baseline" in text
    assert f"{int(spike['slo_ok'].sum())} of {len(base)} in the spike" in text
    assert (
        f"{money(spike['hourly_cost_needed'].sum())} per hour against {money(base['hourly_cost'].sum())} today" in text
    )


# --- security: hostile names are escaped, secrets never reach an output -------------------------------------

SITECUSTOMIZE = sitecustomize_source({"gemini-pro": HOSTILE_SERVICE, "staging": HOSTILE_NAMESPACE})


@pytest.fixture
def hostile_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Kernels started now load the hostile sitecustomize and see fake credentials in their environment."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    token = tmp_path / "token"
    token.write_text(SECRETS[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MTOP_LIVE_PROMETHEUS_PASSWORD", SECRETS[0])
    monkeypatch.setenv("MTOP_PROMETHEUS_URL", f"https://reporter:{SECRETS[1]}@prometheus.invalid:9090")
    monkeypatch.setenv("MTOP_LIVE_PROMETHEUS_TOKEN_FILE", str(token))
    yield tmp_path / "out"


# rollout-simulation and capacity-planning play on the simulator's own model, which a Source wrapper cannot rename.
@pytest.mark.parametrize("name", ["fleet-overview", "cost-report", "slo-report"])
def test_hostile_names_are_escaped_and_secrets_stay_out(
    name: str, hostile_kernel: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "report", "run", name, "--output-dir", str(hostile_kernel), "--format", "both")
    assert code == 0, err
    html = (hostile_kernel / f"{name}.html").read_text()
    body = html.split("</head>", 1)[1]
    assert "&lt;img src=x onerror=alert(1)&gt;" in body  # the renamed service is there, as text ...
    assert "<img src=x" not in body and '<script>alert("ns")' not in body  # ... never as markup
    nb = nbformat.read(str(hostile_kernel / f"{name}.ipynb"), as_version=4)
    rendered = [
        str(o.get("data", {}).get(mime, ""))
        for c in nb.cells if c.cell_type == "code" for o in c.outputs
        for mime in ("text/html", "text/markdown")
    ]  # fmt: skip
    assert any("&lt;img src=x" in r for r in rendered)
    assert not any("<img src=x" in r or '<script>alert("ns")' in r for r in rendered)
    everything = (hostile_kernel / f"{name}.ipynb").read_text() + html
    for secret in SECRETS:
        assert secret not in everything


# --- failures: a failing cell, bad parameters, an unwritable directory -------------------------------------


def test_a_failing_cell_keeps_the_executed_notebook_and_names_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v4 = nbformat.v4
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# Broken report"),
            v4.new_code_cell("x: int = 1  # a number", metadata={"tags": ["parameters"]}),
            v4.new_code_cell("y = x + 1"),
            v4.new_code_cell("raise ValueError(f'boom {y}')"),
            v4.new_code_cell("print('never')"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    source = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(source))
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "report", "run", str(source), "-p", "x", "41", "--output-dir", str(out))
    assert code == 2 and stdout == ""
    assert "mtop: error: broken, cell 3: ValueError: boom 42" in err
    assert str(out / "broken.ipynb") in err
    executed = nbformat.read(str(out / "broken.ipynb"), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "boom 42")]
    assert not (out / "broken.html").exists()


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to execute a notebook."""

    def explode(*_: Any, **__: Any) -> Any:
        raise AssertionError("a notebook was executed")

    monkeypatch.setattr("mtop.reports.execute.execute", explode)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["-p", "sed", "3"], "fleet-overview: unknown parameter 'sed' (did you mean 'seed'?); valid: mode (str,"),
        (["-p", "seed", "three"], "bad value: seed must be an integer, got 'three'; valid: mode"),
        (["-p", "gpu_prices", "{nvidia-h100: 1}", "-p", "gpu_prices", "{}"], "parameter 'gpu_prices' given twice"),
        (["-p", "slo_tokens_per_second", "0"], "fleet-overview: slo_tokens_per_second: must be > 0"),
    ],
)
def test_bad_parameters_are_refused_before_execution(
    params: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_kernel: None
) -> None:
    code, out, err = run_cli(capsys, "report", "run", "fleet-overview", *params, "--output-dir", str(tmp_path))
    assert code == 2 and out == ""
    assert message in err
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_directory_is_refused_before_execution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_kernel: None
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits; the immutable attribute binds root too
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(locked)], check=False).returncode != 0:
            pytest.skip("running as root without chattr +i: no way to make a read-only directory")
    else:
        locked.chmod(0o555)
    try:
        code, _, err = run_cli(capsys, "report", "run", "fleet-overview", "--output-dir", str(locked / "sub"))
        code2, _, err2 = run_cli(capsys, "report", "run", "fleet-overview", "--output-dir", str(locked))
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(locked)], check=True)
        locked.chmod(0o755)
    assert code == 2 and f"output directory {locked / 'sub'} is not writable" in err
    assert code2 == 2 and f"output directory {locked} is not writable" in err2
    assert list(locked.iterdir()) == []


# --- list and schedule --------------------------------------------------------------------------------------


def test_list_shows_the_reports_with_their_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "report", "list")
    assert code == 0
    assert "fleet-overview  Fleet overview" in out
    assert "gpu_prices              dict[str, float] = {}" in out
    code, out, _ = run_cli(capsys, "report", "list", "-o", "json")
    data = {r["name"]: r for r in json.loads(out)}
    seed = next(p for p in data["slo-report"]["parameters"] if p["name"] == "seed")
    assert seed == {"name": "seed", "type": "int", "default": 0, "help": "simulated fleet: random seed"}


def test_schedule_once_runs_what_is_due_and_keeps_an_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(f"""
        reports:
          output_dir: {out}
          jobs:
            - {{name: hourly-fleet, report: fleet-overview, every: 1h, keep: 2, parameters: {{seed: 5}}}}
    """)
    )
    code, stdout, err = run_cli(capsys, "--config", str(config), "report", "schedule", "--once")
    assert code == 0, err
    runs = sorted((out / "hourly-fleet").iterdir())
    assert len(runs) == 1 and f"hourly-fleet: ok {runs[0]}" in stdout
    assert sorted(p.name for p in runs[0].iterdir()) == ["fleet-overview.html", "fleet-overview.ipynb", "run.json"]
    record = json.loads((runs[0] / "run.json").read_text())
    assert record["status"] == "ok" and record["parameters"]["seed"] == 5
    assert record["parameters"]["config_path"] == str(config)  # the kernel reads the same configuration
    assert "seed 5" in page(runs[0] / "fleet-overview.html")[0]
    assert "hourly-fleet/" in (out / "index.html").read_text()
    code, stdout, _ = run_cli(capsys, "--config", str(config), "report", "schedule", "--once")
    assert (code, stdout) == (0, "") and len(list((out / "hourly-fleet").iterdir())) == 1  # not due again yet
