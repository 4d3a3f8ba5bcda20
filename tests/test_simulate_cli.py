"""``mtop simulate`` and ``mtop list-topologies``: every output format and every error path."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pandas as pd
import pytest
import yaml

from mtop.cli import main
from mtop.context import connect
from mtop.output import frame_records
from mtop.simulation import DESCRIPTIONS, TOPOLOGIES, simulate

AT = "2026-08-03T12:00:00Z"
NOON = datetime(2026, 8, 3, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """Run every command with the packaged defaults, whatever the environment of the test run holds."""
    for var in ("MTOP_CONFIG_PATH", "MTOP_MODE", "LLD_MODE", "MTOP_MAX_WIDTH", "MTOP_COLOR_ENABLED", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _expected(topology: str, **kwargs: object) -> pd.DataFrame:
    return simulate(topology, connect("mock", seed=0, clock="frozen", start=NOON), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_json_is_the_frame(capsys: pytest.CaptureFixture[str], topology: str) -> None:
    code, out, err = _run(capsys, "simulate", topology, "--at", AT, "-o", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == frame_records(_expected(topology))


def test_yaml_and_csv_parse_back_to_the_same_data(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("simulate", "canary", "--at", AT, "--fail-at", "2", "--service", "llama-3-8b-instruct")
    _, as_json, _ = _run(capsys, *args, "-o", "json")
    _, as_yaml, _ = _run(capsys, *args, "-o", "yaml")
    assert yaml.safe_load(as_yaml) == json.loads(as_json)
    _, as_csv, _ = _run(capsys, *args, "-o", "csv")
    back = pd.read_csv(io.StringIO(as_csv))
    frame = _expected("canary", fail_at=2, service="llama-3-8b-instruct")
    assert back.columns.tolist() == frame.columns.tolist()
    assert back["traffic_percent"].tolist() == frame["traffic_percent"].tolist()
    assert back["decision"].tolist() == frame["decision"].tolist()


def test_table_prints_the_timeline_and_the_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "simulate", "canary", "--at", AT, "--service", "llama-3-8b-instruct")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("Simulating a canary rollout of production/llama-3-8b-instruct")
    assert lines[1].split()[:4] == ["STEP", "TIME", "VERSION", "STATUS"]
    frame = _expected("canary", service="llama-3-8b-instruct")
    assert len(lines) == 2 + len(frame) + 1  # title, header, one line per (step, version), result
    assert lines[-1].startswith(f"Result: PROMOTED at step {frame.attrs['promote_step']}")
    assert "$36.00/h after" in lines[-1]  # back to 12 A100s at $3.00


def test_fail_at_prints_the_rollback(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "simulate", "bluegreen", "--at", AT, "--fail-at", "1", "--service",
                        "llama-3-8b-instruct")  # fmt: skip
    assert code == 0
    result = out.splitlines()[-1]
    assert result.startswith("Result: ROLLED BACK at step 1") and "errors 2.02 % > SLO 0.1 %" in result
    assert "Failed" in out


def test_table_fits_mtop_max_width(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MTOP_MAX_WIDTH", "120")
    _, out, _ = _run(capsys, "simulate", "rolling", "--at", AT)
    table = out.splitlines()[1:-1]
    assert max(len(line) for line in table) <= 120
    assert "…" in out and "REASON" in out  # long reasons are cut, not wrapped
    monkeypatch.setenv("MTOP_MAX_WIDTH", "60")
    _, out, _ = _run(capsys, "simulate", "rolling", "--at", AT)
    assert max(len(line) for line in out.splitlines()[1:-1]) <= 60  # columns drop from the right


def test_the_error_knobs_reach_the_simulation(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "simulate", "canary", "--at", AT, "--service", "llama-3-8b-instruct",
                     "--error-rate", "0.05", "-o", "json")  # fmt: skip
    assert json.loads(out) == frame_records(
        _expected("canary", service="llama-3-8b-instruct", new_version_error_rate_percent=0.05)
    )
    _, out, _ = _run(capsys, "simulate", "shadow", "--at", AT, "--latency-factor", "5", "--steps", "2")
    assert "ROLLED BACK at step 1" in out and "TTFT p95" in out.splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "dark-launch"], "unknown topology 'dark-launch'; valid: canary, blue-green, rolling, shadow"),
        (["simulate", "canary", "--service", "nope", "--at", AT], "no serving service 'nope'"),
        (["simulate", "canary", "--fail-at", "42", "--at", AT], "fail_at must be a step from 0 to"),
        (["simulate", "rolling", "--steps", "0", "--at", AT], "steps must be a whole number from 1 to 50"),
        (["simulate", "canary", "--mode", "live"], "simulated fleet only"),
        (["simulate", "canary", "-n", "staging", "--service", "gemini-pro", "--at", AT], "in namespace 'staging'"),
    ],
)
def test_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("mtop: error: ") and message in err
    assert "Traceback" not in err


def test_a_bad_time_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "simulate", "canary", "--at", "yesterday")
    assert code == 2 and "not an ISO 8601 time" in err and "Traceback" not in err


def test_list_topologies_names_and_describes_each(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list-topologies")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["TOPOLOGY", "STEPS", "DESCRIPTION"]
    assert [line.split()[0] for line in lines[1:]] == list(TOPOLOGIES)
    for line, name in zip(lines[1:], TOPOLOGIES, strict=True):
        assert line.endswith(DESCRIPTIONS[name])
    _, out, _ = _run(capsys, "list-topologies", "-o", "json")
    assert [r["topology"] for r in json.loads(out)] == list(TOPOLOGIES)


def test_list_topologies_runs_with_a_broken_config(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.yaml"
    bad.write_text("slo: [not, a, mapping]\n", encoding="utf-8")
    code, out, _ = _run(capsys, "--config", str(bad), "list-topologies")
    assert code == 0 and "canary" in out
