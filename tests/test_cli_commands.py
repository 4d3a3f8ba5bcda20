"""The fleet commands on the simulated fleet: every output format, the env knobs, and every error path.

Commands run in-process through ``mtop.cli.main`` (capsys), plus a few real subprocesses. Each test
gets its own workspace (``MTOP_WORKSPACE``), so create/delete never touch the user's state.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import mtop
from mtop import cli, context
from mtop.commands.common import use_color
from mtop.config import load_config

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
VALID = """\
apiVersion: serving.kserve.io/v1alpha2
kind: LLMInferenceService
metadata:
  name: my-llama
  namespace: staging
spec:
  model:
    uri: hf://meta-llama/Llama-3.1-8B-Instruct
  replicas: 2
  template:
    containers:
      - name: main
        resources:
          limits: {nvidia.com/gpu: "1"}
    nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}
"""


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("MTOP_", "LDCTL_")) or name in ("LLD_MODE", "NO_COLOR"):
            monkeypatch.delenv(name)
    workspace = tmp_path / "ws"
    monkeypatch.setenv("MTOP_WORKSPACE", str(workspace))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_configure_logging", lambda: None)
    # Pin simulated time, so two commands of one test read the same numbers (the CLI follows the wall clock).
    # (Tests call context.connect, never the mtop.connect facade, which would cache this wrapper for good.)
    real_connect = context.connect

    def frozen(*args: Any, **kwargs: Any) -> context.Fleet:
        kwargs.setdefault("start", START)
        kwargs.setdefault("clock", "frozen")
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(context, "connect", frozen)
    return workspace


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert err.startswith("mtop: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def _manifest(tmp_path: Path, text: str, name: str = "svc.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- list -----------------------------------------------------------------------------------------------------


def test_list_json_and_yaml_carry_the_same_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, as_json, _ = _run(capsys, "list", "-o", "json", "--sort", "name")
    code2, as_yaml, _ = _run(capsys, "list", "-o", "yaml", "--sort", "name")
    assert code == code2 == 0
    assert json.loads(as_json) == yaml.safe_load(as_yaml)
    names = [r["service"] for r in json.loads(as_json)]
    assert names == sorted(names) and "gpt-4-turbo" in names


def test_list_follows_mtop_sort_key(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MTOP_SORT_KEY", "name")
    rows = json.loads(_run(capsys, "list", "-o", "json")[1])
    assert [r["service"] for r in rows] == sorted(r["service"] for r in rows)


def test_list_table_fits_mtop_max_width(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    wide = _run(capsys, "list")[1].splitlines()
    monkeypatch.setenv("MTOP_MAX_WIDTH", "60")
    narrow = _run(capsys, "list")[1].splitlines()
    assert max(len(line) for line in wide) > 60
    assert all(len(line) <= 60 for line in narrow) and len(narrow) == len(wide)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_needs_a_terminal_and_honours_no_color() -> None:
    assert use_color(load_config(env={}), _Tty()) is True
    assert use_color(load_config(env={}), io.StringIO()) is False  # a pipe: never colour
    assert use_color(load_config(env={"NO_COLOR": "1"}), _Tty()) is False
    assert use_color(load_config(env={"MTOP_COLOR_ENABLED": "false"}), _Tty()) is False


def test_list_on_a_terminal_is_coloured_unless_no_color(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", _Tty())
    assert cli.main(["list"]) == 0
    coloured = sys.stdout.getvalue()  # type: ignore[attr-defined]
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(sys, "stdout", _Tty())
    assert cli.main(["list"]) == 0
    plain = sys.stdout.getvalue()  # type: ignore[attr-defined]
    assert ANSI.search(coloured) and not ANSI.search(plain)
    assert ANSI.sub("", coloured) == plain


# --- get and check --------------------------------------------------------------------------------------------


def test_get_prints_the_object_as_yaml_or_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "get", "gpt-4-turbo")
    assert code == 0
    obj = yaml.safe_load(out)
    assert (obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"]) == (
        "LLMInferenceService", "gpt-4-turbo", "production",
    )  # fmt: skip
    assert json.loads(_run(capsys, "get", "gpt-4-turbo", "-o", "json")[1]) == obj
    # The same object the source lists (the CLI adds nothing and loses nothing).
    listed = context.connect(workspace=False).source.list_objects("llminferenceservices", ["production"])
    source_obj = next(o for o in listed if o["metadata"]["name"] == "gpt-4-turbo")
    assert {k: v for k, v in obj.items() if k != "status"} == {k: v for k, v in source_obj.items() if k != "status"}


def test_get_summary_row_as_table_and_csv(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "get", "claude-3-opus", "-o", "csv")
    rows = list(__import__("csv").DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 1
    assert (rows[0]["namespace"], rows[0]["ready"], rows[0]["reason"]) == (
        "production", "False", "MinimumReplicasUnavailable",
    )  # fmt: skip
    table = _run(capsys, "get", "claude-3-opus", "-o", "table")[1].splitlines()
    assert table[0].split()[:3] == ["Namespace", "Name", "Ready"] and "claude-3-opus" in table[1]


def test_check_lists_conditions_in_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "check", "claude-3-opus")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "production/claude-3-opus: Ready=False"
    ready = next(line for line in lines if line.startswith("Ready "))
    assert "False" in ready and "MinimumReplicasUnavailable" in ready
    as_json = json.loads(_run(capsys, "check", "claude-3-opus", "-o", "json")[1])
    assert as_json == yaml.safe_load(_run(capsys, "check", "claude-3-opus", "-o", "yaml")[1])
    conds = {c["type"]: c for c in as_json["conditions"]}
    assert conds["Ready"]["status"] == "False" and conds["PresetsCombined"]["status"] == "True"
    assert set(conds["Ready"]) == {"type", "status", "reason", "message", "last_transition_time", "age"}
    csv_out = _run(capsys, "check", "claude-3-opus", "-o", "csv")[1]
    assert csv_out.splitlines()[0] == "type,status,reason,message,last_transition_time,age"
    assert len(csv_out.splitlines()) == 1 + len(conds)


@pytest.mark.parametrize("command", ["get", "check", "logs", "delete"])
def test_unknown_service_is_one_line_naming_the_scope(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, err = _run(capsys, command, "no-such-model", "--yes" if command == "delete" else "-A")
    assert out == ""
    assert _one_line_error(code, err) == "mtop: error: service 'no-such-model' not found in all namespaces\n"
    code, _, err = _run(capsys, command, "no-such-model", "-n", "staging", "-n", "production")
    assert "not found in namespaces 'staging', 'production'" in _one_line_error(code, err)


def test_a_name_in_two_namespaces_needs_n(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    twin = VALID.replace("name: my-llama", "name: gemini-pro")
    assert _run(capsys, "create", "-f", _manifest(tmp_path, twin))[0] == 0
    code, _, err = _run(capsys, "get", "gemini-pro")
    assert "exists in several namespaces (production, staging): pass -n" in _one_line_error(code, err)
    assert yaml.safe_load(_run(capsys, "get", "gemini-pro", "-n", "staging")[1])["metadata"]["namespace"] == "staging"


@pytest.mark.parametrize(
    "argv",
    [["list"], ["get", "x"], ["check", "x"], ["logs", "x"], ["create", "-f", "svc.yaml"], ["delete", "x", "--yes"],
     ["slo"], ["cost"], ["top", "--once"]],
)  # fmt: skip
def test_live_mode_without_a_cluster_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    _manifest(tmp_path, VALID)
    code, _, err = _run(capsys, *argv, "--mode", "live")
    _one_line_error(code, err)


# --- logs -----------------------------------------------------------------------------------------------------


def _pod_lines(out: str) -> dict[str, list[str]]:
    pods: dict[str, list[str]] = {}
    for line in out.splitlines():
        m = re.match(r"\[pod/([^/]+)/main\] (.*)", line)
        assert m, line
        pods.setdefault(m.group(1), []).append(m.group(2))
    return pods


def test_logs_tail_per_pod_with_prefixes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "logs", "llama-3-8b-instruct", "--tail", "3")
    assert (code, err) == (0, "")
    pods = _pod_lines(out)
    listed = context.connect(workspace=False).source.list_objects("pods", ["production"])
    expected = {p["metadata"]["name"] for p in listed
                if p["metadata"]["name"].startswith("llama-3-8b-instruct-kserve-")
                and "router-scheduler" not in p["metadata"]["name"]}  # fmt: skip
    assert set(pods) == expected and len(expected) == 12
    assert all(len(lines) == 3 for lines in pods.values())
    stats = re.compile(
        r"INFO \d\d-\d\d \d\d:\d\d:\d\d \[loggers\.py:\d+\] Engine 000: Avg prompt throughput: [\d.]+ tokens/s, "
        r"Avg generation throughput: [\d.]+ tokens/s, Running: \d+ reqs, Waiting: \d+ reqs, "
        r"GPU KV cache usage: [\d.]+%, Prefix cache hit rate: [\d.]+%"
    )
    assert all(stats.fullmatch(line) or "Aborted request" in line for lines in pods.values() for line in lines)


def test_logs_role_selects_prefill_or_decode_pods(capsys: pytest.CaptureFixture[str]) -> None:
    prefill = _pod_lines(_run(capsys, "logs", "qwen2-7b-instruct-pd", "--role", "prefill", "--tail", "1")[1])
    decode = _pod_lines(_run(capsys, "logs", "qwen2-7b-instruct-pd", "--role", "decode", "--tail", "1")[1])
    assert prefill and all("-kserve-prefill-" in p for p in prefill)
    assert decode and not any("-prefill-" in p for p in decode)
    # Prefill pods only prefill: they generate no tokens.
    assert all("Avg generation throughput: 0.0 tokens/s" in lines[0] for lines in prefill.values())


def test_logs_since_keeps_only_recent_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "logs", "gemini-pro", "--since", "30s", "--tail", "-1", "--timestamps")
    assert code == 0
    now = START
    for lines in _pod_lines(out).values():
        assert 1 <= len(lines) <= 4  # one stats line per 10 s (an abort line at most here and there)
        for line in lines:
            stamp = datetime.strptime(line.split(" ", 1)[0][:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
            assert 0 <= (now - stamp).total_seconds() <= 30


def test_logs_of_the_crash_looping_pod_end_with_a_cuda_oom(capsys: pytest.CaptureFixture[str]) -> None:
    fleet = context.connect(workspace=False)
    crash = next(
        p["metadata"]["name"] for p in fleet.source.list_objects("pods")
        if any("waiting" in cs.get("state", {}) for cs in p["status"].get("containerStatuses", []))
    )  # fmt: skip
    service = crash.split("-kserve-")[0]
    code, out, _ = _run(capsys, "logs", service, "--tail", "4")
    assert code == 0
    lines = _pod_lines(out)[crash]
    assert "torch.OutOfMemoryError: CUDA out of memory" in "\n".join(lines)
    assert lines[-1].startswith("ERROR") and "Engine core initialization failed" in lines[-1]


def test_logs_of_a_service_whose_pods_never_started(capsys: pytest.CaptureFixture[str]) -> None:
    # claude-3-opus: every pod is Pending (unschedulable) in the default fleet.
    code, out, err = _run(capsys, "logs", "claude-3-opus")
    assert out == ""
    assert "no logs for service 'claude-3-opus'" in _one_line_error(code, err) and "Pending" in err


@pytest.mark.parametrize(("args", "culprit"), [(["--since", "soon"], "--since"), (["--tail", "-2"], "--tail")])
def test_logs_bad_options(capsys: pytest.CaptureFixture[str], args: list[str], culprit: str) -> None:
    code, _, err = _run(capsys, "logs", "gemini-pro", *args)
    assert culprit in _one_line_error(code, err)


def test_simulated_logs_agree_with_the_queries_and_are_deterministic() -> None:
    t = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    fleet = context.connect(seed=3, start=t, clock="frozen", workspace=False)
    pods = [p["metadata"]["name"] for p in fleet.source.list_objects("pods", ["production"])
            if p["metadata"]["name"].startswith("llama-3-8b-instruct-kserve-") and "router" not in p["metadata"]["name"]
            and p["status"]["phase"] == "Running"]  # fmt: skip
    read = fleet.source.read_pod_log  # type: ignore[attr-defined]
    texts = [read("production", pod, tail_lines=1) for pod in pods]
    logged = sum(float(re.search(r"Avg generation throughput: ([\d.]+)", x).group(1)) for x in texts)  # type: ignore[union-attr]
    # vLLM logs the rate over its 10 s stats interval: the same as rate(...[10s]) at the same instant.
    result = fleet.source.query("generation_tokens_rate", {"window": "10s"}, at=t)["result"]
    queried = next(float(r["value"][1]) for r in result if r["metric"]["service"] == "llama-3-8b-instruct")
    assert logged == pytest.approx(queried, abs=0.05 * len(pods) + 1e-9)
    again = context.connect(seed=3, start=t, clock="frozen", workspace=False).source
    assert again.read_pod_log("production", pods[0], tail_lines=5) == read("production", pods[0], tail_lines=5)  # type: ignore[attr-defined]
    fleet.advance(__import__("datetime").timedelta(minutes=1))
    assert read("production", pods[0], tail_lines=1) != texts[0]


# --- create and delete ----------------------------------------------------------------------------------------


def test_create_adds_a_pending_service_to_the_overlay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, _clean_env: Path
) -> None:
    code, out, err = _run(capsys, "create", "-f", _manifest(tmp_path, VALID))
    assert (code, out, err) == (0, "llminferenceservice.serving.kserve.io/my-llama created\n", "")
    assert (_clean_env / "overlay.json").is_file()  # in the workspace, not in the package
    assert not list((ROOT / "mtop").rglob("overlay.json"))
    rows = {r["service"]: r for r in json.loads(_run(capsys, "list", "-o", "json", "-n", "staging")[1])}
    mine = rows["my-llama"]
    # No controller: no pods, so not ready, no SLO figures, nothing scheduled to pay for.
    assert (mine["ready"], mine["replicas"], mine["gpus"], mine["gpu_type"]) == (False, 2, 2, "nvidia-l4")
    assert mine["ttft_p95_ms"] is None and mine["hourly_cost"] == 0
    conds = json.loads(_run(capsys, "check", "my-llama", "-o", "json")[1])["conditions"]
    assert {c["type"]: c["reason"] for c in conds}["Ready"] == "Progressing"


def test_create_json_and_multi_document_yaml_all_or_none(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    obj = yaml.safe_load(VALID)
    obj["metadata"]["name"] = "from-json"
    code, out, _ = _run(capsys, "create", "-f", _manifest(tmp_path, json.dumps(obj), "svc.json"), "-o", "json")
    assert code == 0 and json.loads(out)["metadata"]["name"] == "from-json"
    two = VALID + "---\n" + VALID.replace("my-llama", "second")
    assert _run(capsys, "create", "-f", _manifest(tmp_path, two))[1].count(" created\n") == 2
    # A batch whose last object already exists creates nothing at all.
    batch = VALID.replace("my-llama", "third") + "---\n" + VALID.replace("my-llama", "second")
    code, _, err = _run(capsys, "create", "-f", _manifest(tmp_path, batch, "batch.yaml"))
    assert 'llminferenceservices "second" already exists in namespace "staging"' in _one_line_error(code, err)
    assert _run(capsys, "get", "third")[0] == 2


def test_create_from_stdin_with_namespace_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(VALID.replace("  namespace: staging\n", "")))
    assert _run(capsys, "create", "-f", "-", "-n", "development")[0] == 0
    assert yaml.safe_load(_run(capsys, "get", "my-llama")[1])["metadata"]["namespace"] == "development"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("  name: my-llama\n", ""), "svc.yaml, line 3: metadata.name: is missing"),  # line of metadata:
        (("kind: LLMInferenceService", "kind: Deployment"),
         "svc.yaml, line 2: kind: must be LLMInferenceService, got 'Deployment'"),
        (("serving.kserve.io/v1alpha2", "apps/v1"),
         "svc.yaml, line 1: apiVersion: must be serving.kserve.io/v1alpha1 or"),
        (("name: my-llama", "name: My_Llama"),
         "svc.yaml, line 4: metadata.name: 'My_Llama' is not a valid DNS-1123 label"),
        (("replicas: 2", "replicas: three"), "svc.yaml, line 9: spec.replicas: must be an integer >= 0, got 'three'"),
        (("    uri: hf://meta-llama/Llama-3.1-8B-Instruct\n", "    name: x\n"),
         "svc.yaml, line 7: spec.model.uri: must be a model URI"),  # the line of model:
        (("{nvidia.com/gpu: \"1\"}", "{nvidia.com/gpu: one}"),
         "line 14: spec.template.containers[0].resources.limits.nvidia.com/gpu"),
        (("  replicas: 2\n", "  replicas: 2\n  scaling: {minReplicas: 1}\n"),
         "spec.scaling: cannot be set together with spec.replicas"),
        (("spec:\n", "spec:\n  bad: [\n"), "svc.yaml, line 9: not valid YAML"),  # where the parser gave up
    ],
)  # fmt: skip
def test_create_rejects_bad_manifests_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, edit: tuple[str, str], expected: str, _clean_env: Path
) -> None:
    assert edit[0] in VALID
    path = _manifest(tmp_path, VALID.replace(edit[0], edit[1]))
    code, out, err = _run(capsys, "create", "-f", path)
    assert out == "" and expected in _one_line_error(code, err), err
    assert not (_clean_env / "overlay.json").exists()


def test_create_file_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "create", "-f", str(tmp_path / "nope.yaml"))
    assert _one_line_error(code, err) == f"mtop: error: {tmp_path / 'nope.yaml'}: no such file\n"
    code, _, err = _run(capsys, "create", "-f", _manifest(tmp_path, '{"kind": ', "bad.json"))
    assert "bad.json, line 1: not valid JSON" in _one_line_error(code, err)
    code, _, err = _run(capsys, "create", "-f", _manifest(tmp_path, VALID.replace("  namespace: staging\n", "")))
    assert 'namespaces "default" not found' in _one_line_error(code, err)
    code, _, err = _run(capsys, "create", "-f", _manifest(tmp_path, VALID), "-n", "production")
    assert "namespace 'staging' does not match --namespace 'production'" in _one_line_error(code, err)


def test_delete_removes_the_service_its_pods_and_frees_its_gpus(capsys: pytest.CaptureFixture[str]) -> None:
    before = context.connect()
    gpus_before = int(mtop.nodes(before)["gpus_allocated"].sum())
    held = int(mtop.gpu_costs(before, ["production"]).set_index("service").loc["gpt-4-turbo", "gpus"])
    code, out, _ = _run(capsys, "delete", "gpt-4-turbo", "--yes")
    assert (code, out) == (0, 'llminferenceservice.serving.kserve.io "gpt-4-turbo" deleted\n')
    after = context.connect()
    assert "gpt-4-turbo" not in set(mtop.services(after)["name"])
    assert not mtop.pods(after).query("service == 'gpt-4-turbo'").shape[0]
    assert int(mtop.nodes(after)["gpus_allocated"].sum()) == gpus_before - held
    assert "gpt-4-turbo" not in set(mtop.slo_metrics(after)["service"])
    # sim reset brings the seeded fleet back.
    code, out, _ = _run(capsys, "sim", "reset")
    assert code == 0 and "cleared" in out
    assert "gpt-4-turbo" in set(mtop.services(context.connect())["name"])
    assert "nothing to reset" in _run(capsys, "sim", "reset")[1]


def test_delete_without_a_terminal_and_without_yes_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "delete", "gemini-pro")  # capsys's stdin is not a terminal
    assert out == "" and "refusing to delete llminferenceservice production/gemini-pro" in _one_line_error(code, err)
    assert "pass --yes" in err
    assert _run(capsys, "get", "gemini-pro")[0] == 0


class _TtyIn(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("yes\n", True), ("n\n", False), ("", False)])
def test_delete_asks_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, answer: str, deleted: bool
) -> None:
    monkeypatch.setattr(sys, "stdin", _TtyIn(answer))
    code, out, err = _run(capsys, "delete", "gemini-pro", "stable-code-instruct-3b")
    assert "Delete llminferenceservice production/gemini-pro, llminferenceservice development/stable-code" in err
    assert code == (0 if deleted else 1)
    assert out.count(" deleted\n") == (2 if deleted else 0)
    assert (_run(capsys, "get", "gemini-pro")[0] == 2) is deleted


def test_delete_a_created_service(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _run(capsys, "create", "-f", _manifest(tmp_path, VALID))[0] == 0
    assert _run(capsys, "delete", "my-llama", "-y")[0] == 0
    assert _run(capsys, "get", "my-llama")[0] == 2


# --- slo and cost ---------------------------------------------------------------------------------------------


def test_slo_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("slo", "--history", "10m", "--step", "5m")
    data = json.loads(_run(capsys, *args, "-o", "json")[1])
    assert data == yaml.safe_load(_run(capsys, *args, "-o", "yaml")[1])
    assert data["targets"] == {"ttft_p95_ms": 500.0, "error_rate_percent": 0.1, "tokens_per_second": 1000.0}
    rows = data["services"]
    assert all(r["compliance_percent"] is None or 0 <= r["compliance_percent"] <= 100 for r in rows)
    breaching = sorted(r["service"] for r in rows if r["slo_ok"] is False)
    assert sorted(data["summary"]["breaching"]) == breaching
    assert data["summary"]["meeting"] == sum(r["slo_ok"] is True for r in rows)
    # A breach now is a TTFT, error or throughput figure on the wrong side of its target.
    for r in rows:
        if r["slo_ok"] is False:
            assert r["ttft_p95_ms"] > 500 or r["error_rate_percent"] > 0.1 or r["tokens_per_second"] < 1000
    table = _run(capsys, *args)[1]
    assert "Targets: TTFT p95 <= 500 ms, errors <= 0.1 %" in table
    assert len(_run(capsys, *args, "-o", "csv")[1].strip().splitlines()) == 1 + len(rows)


def test_cost_table_then_recommendations(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_run(capsys, "cost", "-o", "json")[1])
    assert data == yaml.safe_load(_run(capsys, "cost", "-o", "yaml")[1])
    costs = [r["hourly_cost"] for r in data["services"]]
    assert costs == sorted(costs, reverse=True)
    assert data["totals"]["hourly_cost"] == pytest.approx(sum(costs), abs=0.01)
    assert data["recommendations"] and {"action", "monthly_saving", "reason"} <= set(data["recommendations"][0])
    out = _run(capsys, "cost")[1]
    assert out.index("Fleet: ") < out.index("Recommendations (up to $")
    assert len(_run(capsys, "cost", "-o", "csv")[1].strip().splitlines()) == 1 + len(costs)


# --- real subprocesses ----------------------------------------------------------------------------------------


def _mtop(*argv: str, workspace: Path, stdin: Any = subprocess.DEVNULL, extra: dict[str, str] | None = None) -> (
    subprocess.CompletedProcess[str]
):  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MTOP_", "LDCTL_"))}
    env.update(MTOP_WORKSPACE=str(workspace), PYTHONPATH=str(ROOT), **(extra or {}))
    return subprocess.run([sys.executable, "-m", "mtop", *argv], capture_output=True, text=True, env=env,
                          stdin=stdin, cwd=workspace.parent, timeout=120, check=False)  # fmt: skip


def test_subprocess_create_get_delete_round_trip(tmp_path: Path, _clean_env: Path) -> None:
    path = _manifest(tmp_path, VALID)
    assert _mtop("create", "-f", path, workspace=_clean_env).returncode == 0
    got = _mtop("get", "my-llama", "-o", "json", workspace=_clean_env)
    assert got.returncode == 0 and json.loads(got.stdout)["status"]["conditions"][-1]["status"] == "False"
    refused = _mtop("delete", "my-llama", workspace=_clean_env)  # stdin is /dev/null: not a terminal
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert _mtop("delete", "my-llama", "--yes", workspace=_clean_env).returncode == 0
    gone = _mtop("logs", "my-llama", workspace=_clean_env)
    assert gone.returncode == 2 and gone.stderr == "mtop: error: service 'my-llama' not found in all namespaces\n"


def test_subprocess_structured_logging_from_ldctl_variables(tmp_path: Path, _clean_env: Path) -> None:
    result = _mtop("get", "nope", workspace=_clean_env, extra={"LDCTL_LOG_LEVEL": "DEBUG", "LDCTL_LOG_FORMAT": "json"})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[-1] == "mtop: error: service 'nope' not found in all namespaces"
    records = [json.loads(line) for line in lines[:-1]]  # every log line before it is a JSON record
    assert records and {"operation": "get", "name": "nope", "level": "DEBUG"}.items() <= records[0].items()
