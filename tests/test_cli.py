"""mtop.cli: the command table, `version`, `config`, placeholders, and error handling."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mtop import cli
from mtop.config import config_to_dict, default_config, load_config

ROOT = Path(__file__).resolve().parents[1]
MODULE_COMMANDS = [name for name, _ in cli._MODULE_COMMANDS]


_REAL_CONFIGURE_LOGGING = cli._configure_logging


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI reads the real environment (through mtop.config); start each test from none of ours.
    for name in list(os.environ):
        if name.startswith(("MTOP_", "LDCTL_")) or name in ("LLD_MODE", "NO_COLOR"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    # Real handlers would outlive the test (bound to capsys's stream); the logging test restores the call.
    monkeypatch.setattr(cli, "_configure_logging", lambda: None)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "version")
    assert (code, err) == (0, "")
    assert out == f"mtop {cli.version()}\n"
    assert _run(capsys, "--version")[:2] == (0, out)


def test_config_json_reflects_an_env_override_and_its_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MTOP_SLO_TTFT_P95_MS", "300")
    code, out, err = _run(capsys, "config", "-o", "json")
    assert (code, err) == (0, "")
    payload = json.loads(out)
    assert payload["config"]["slo"]["ttft_p95_ms"] == 300
    assert payload["config"]["technology"]["gpu_types"]["nvidia-h100"]["hourly_cost"] == 5.0
    assert payload["sources"] == {"slo.ttft_p95_ms": {"value": 300, "source": "MTOP_SLO_TTFT_P95_MS"}}


def test_config_yaml_is_a_config_file_followed_by_sources(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MTOP_SORT_KEY", "gpu")
    user = tmp_path / "user.yaml"
    user.write_text("slo:\n  ttft_p95_ms: 300\n")
    code, out, _err = _run(capsys, "--config", str(user), "config")
    assert code == 0
    assert "#   slo.ttft_p95_ms = 300  (" + f"{user}, line 2)" in out
    assert "#   display.sorting.default_key = gpu  (MTOP_SORT_KEY)" in out
    printed = tmp_path / "printed.yaml"
    printed.write_text(out)
    assert yaml.safe_load(out) == config_to_dict(load_config(printed, env={}))
    assert load_config(printed, env={}) == load_config(user, env={"MTOP_SORT_KEY": "gpu"})


def test_config_show_sources(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(capsys, "config", "--show-sources")[1] == "# Every value is the packaged default.\n"
    monkeypatch.setenv("MTOP_PROMETHEUS_URL", "http://admin:hunter2@prom:9090")
    code, out, _err = _run(capsys, "config", "--show-sources")
    assert code == 0
    assert "live.prometheus_url = http://admin:***@prom:9090  (MTOP_PROMETHEUS_URL)" in out
    assert "hunter2" not in out
    code, out, _err = _run(capsys, "config", "--show-sources", "-o", "json")
    assert json.loads(out) == {
        "live.prometheus_url": {"value": "http://admin:***@prom:9090", "source": "MTOP_PROMETHEUS_URL"}
    }


def test_bad_config_file_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("slo:\n  ttft_p95_ms: fast\n")
    code, out, err = _run(capsys, "--config", str(bad), "config")
    assert (code, out) == (2, "")
    assert err == f"mtop: error: {bad}, line 2: slo.ttft_p95_ms: must be a number, got 'fast'\n"
    assert "Traceback" not in err


def test_bad_variable_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MTOP_CONFIG_PATH", "/no/such.yaml")
    code, _out, err = _run(capsys, "config")
    assert code == 2
    assert err == "mtop: error: MTOP_CONFIG_PATH: config file not found: /no/such.yaml\n"


def test_version_works_with_a_broken_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("slo: [\n")
    assert _run(capsys, "--config", str(bad), "version")[0] == 0


def test_a_command_without_its_module_is_a_placeholder(capsys: pytest.CaptureFixture[str]) -> None:
    command = cli.module_command("no-such-command", "not written yet")
    assert command.run is cli.not_implemented
    parser = cli.build_parser([command])
    args = parser.parse_args(["no-such-command", "some-arg", "--flag"])
    assert command.run(args, cli.default_config()) == 2
    assert capsys.readouterr().err == "mtop no-such-command: not implemented yet\n"


def test_command_table_lists_every_command() -> None:
    assert [c.name for c in cli.COMMANDS] == ["version", "config", *MODULE_COMMANDS]


def test_a_new_command_is_one_row() -> None:
    seen: list[Any] = []

    def run(args: Any, cfg: Any) -> int:
        seen.append((args.name, cfg.mode))
        return 0

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name")

    command = cli.Command("hello", "say hello", run, add_arguments)
    args = cli.build_parser((*cli.COMMANDS, command)).parse_args(["hello", "world"])
    assert args.handler.run(args, default_config()) == 0
    assert seen == [("world", "mock")]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _run(capsys, "no-such-command")
    assert code == 2
    assert "invalid choice" in err


def test_keyboard_interrupt_exits_130(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_config", interrupted)
    assert _run(capsys, "config")[0] == 130


def test_logging_is_configured_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    import mtop.logging as mlog

    monkeypatch.setattr(cli, "_configure_logging", _REAL_CONFIGURE_LOGGING)
    monkeypatch.setenv("LDCTL_LOG_LEVEL", "DEBUG")
    try:
        assert _run(capsys, "config", "--show-sources")[0] == 0
        assert logging.getLogger("mtop").getEffectiveLevel() == logging.DEBUG
    finally:
        mlog.reset()


def test_python_dash_m_help() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTOP_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    result = subprocess.run(
        [sys.executable, "-m", "mtop", "--help"], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mtop")
    for name in ["version", "config", *MODULE_COMMANDS]:
        assert name in result.stdout


# --- mtop list ----------------------------------------------------------------------------------------------


def test_list_prints_the_fleet_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["Namespace", "Service", "Model"] or lines[0].startswith("Service")
    assert any("llama-3-8b-instruct" in line for line in lines)
    assert len(lines) >= 1 + 14


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_list_json_and_yaml_parse_back_to_the_same_rows(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = _run(capsys, "list", "-o", fmt, "--sort", "name")
    assert code == 0
    rows = json.loads(out) if fmt == "json" else yaml.safe_load(out)
    names = [r["service"] for r in rows]
    assert names == sorted(names) and len(names) >= 14
    assert {"namespace", "service", "ready", "gpus", "ttft_p95_ms", "hourly_cost"} <= set(rows[0])


def test_list_csv_and_namespace_filter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list", "-o", "csv", "-n", "production")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("namespace,service,")
    assert len(lines) > 1 and all(line.startswith("production,") for line in lines[1:])


def test_list_sorts_by_cost_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "list", "-o", "json")
    costs = [r["hourly_cost"] for r in json.loads(capsys.readouterr().out or "[]")] or None
    code, out, _ = _run(capsys, "list", "-o", "json")
    costs = [r["hourly_cost"] if r["hourly_cost"] is not None else -1.0 for r in json.loads(out)]
    assert code == 0 and costs == sorted(costs, reverse=True)


def test_list_bad_sort_key_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "list", "--sort", "bogus")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "bogus" in err and "Traceback" not in err


def test_list_live_mode_without_cluster_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "list", "--mode", "live")
    assert code == 2 and err.startswith("mtop: error:") and err.count("\n") == 1
