from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.handlers
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import mtop.logging as mlog
from mtop.errors import ConfigError
from mtop.interfaces import Logger

REPO_ROOT = Path(mlog.__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    mlog.reset()
    yield
    mlog.reset()


def capture(fmt: str = "json", level: str = "DEBUG", **kwargs: Any) -> io.StringIO:
    out = io.StringIO()
    mlog.configure(level=level, fmt=fmt, env=kwargs.pop("env", {}), stream=out, **kwargs)
    return out


def json_lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def own_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger("mtop").handlers if getattr(h, "_mtop_owned", False)]


# -- import and loggers --------------------------------------------------------------------------


def test_importing_attaches_nothing() -> None:
    code = (
        "import logging, mtop.logging\n"
        "m = logging.getLogger('mtop')\n"
        "assert m.handlers == [] and m.level == logging.NOTSET and m.propagate, m.handlers\n"
        "assert logging.getLogger().handlers == []\n"
        "assert logging.getLevelName(5) == 'Level 5'  # no level registered at import either\n"
        "print('clean')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MTOP_LOG_LEVEL": "DEBUG", "MTOP_LOG_FORMAT": "json"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_get_logger_names_children_of_mtop() -> None:
    assert mlog.get_logger("collect").name == "mtop.collect"
    assert mlog.get_logger("mtop.sources.prom").name == "mtop.sources.prom"
    assert mlog.get_logger("mtopper").name == "mtop.mtopper"  # a prefix that is not "mtop." is not a child
    assert mlog.get_logger().name == mlog.get_logger("mtop").name == "mtop"
    assert mlog.get_logger("collect").parent is logging.getLogger("mtop")


# -- configure -----------------------------------------------------------------------------------


def test_defaults_are_warning_and_text_on_stderr() -> None:
    mlog.configure(env={})
    mtop_logger = logging.getLogger("mtop")
    assert mtop_logger.level == logging.WARNING
    (handler,) = own_handlers()
    assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
    assert isinstance(handler.formatter, mlog.TextFormatter)
    assert mtop_logger.propagate is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MTOP_LOG_LEVEL": "debug"}, logging.DEBUG),
        ({"LDCTL_LOG_LEVEL": "ERROR"}, logging.ERROR),
        ({"MTOP_LOG_LEVEL": "INFO", "LDCTL_LOG_LEVEL": "ERROR"}, logging.INFO),  # MTOP_* wins
        ({"MTOP_LOG_LEVEL": "TRACE"}, 5),
        ({"MTOP_LOG_LEVEL": "15"}, 15),
        ({"MTOP_LOG_LEVEL": "", "LDCTL_LOG_LEVEL": "critical"}, logging.CRITICAL),  # empty means unset
    ],
)
def test_level_from_environment(env: dict[str, str], expected: int) -> None:
    mlog.configure(env=env, stream=io.StringIO())
    assert logging.getLogger("mtop").level == expected


def test_argument_beats_environment() -> None:
    mlog.configure(level="ERROR", fmt="text", env={"MTOP_LOG_LEVEL": "DEBUG", "MTOP_LOG_FORMAT": "json"})
    assert logging.getLogger("mtop").level == logging.ERROR
    assert isinstance(own_handlers()[0].formatter, mlog.TextFormatter)


@pytest.mark.parametrize("variable", ["MTOP_LOG_LEVEL", "LDCTL_LOG_LEVEL"])
def test_bad_level_names_the_variable(variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        mlog.configure(env={variable: "LOUD"})
    assert info.value.source == variable
    assert str(info.value).startswith(f"{variable}: unknown log level 'LOUD'")
    assert own_handlers() == []  # nothing half-configured


def test_bad_level_argument_and_bad_format() -> None:
    with pytest.raises(ConfigError, match="level argument: unknown log level"):
        mlog.configure(level="verbose", env={})
    with pytest.raises(ConfigError, match=r"^MTOP_LOG_FORMAT: unknown log format 'xml'"):
        mlog.configure(env={"MTOP_LOG_FORMAT": "xml"})


@pytest.mark.parametrize(
    ("env", "formatter"),
    [
        ({"MTOP_LOG_FORMAT": "json"}, mlog.JsonFormatter),
        ({"MTOP_LOG_FORMAT": "structured"}, mlog.JsonFormatter),
        ({"LDCTL_LOG_FORMAT": "structured"}, mlog.JsonFormatter),
        ({"MTOP_LOG_FORMAT": "text", "LDCTL_LOG_FORMAT": "json"}, mlog.TextFormatter),
    ],
)
def test_format_from_environment(env: dict[str, str], formatter: type) -> None:
    mlog.configure(env=env, stream=io.StringIO())
    assert type(own_handlers()[0].formatter) is formatter


def test_configure_is_idempotent_and_keeps_foreign_handlers() -> None:
    foreign = logging.NullHandler()
    mtop_logger = logging.getLogger("mtop")
    mtop_logger.addHandler(foreign)
    try:
        first, second = io.StringIO(), io.StringIO()
        mlog.configure(level="INFO", env={}, stream=first)
        mlog.configure(level="INFO", env={}, stream=second)
        assert len(own_handlers()) == 1
        assert foreign in mtop_logger.handlers
        mlog.get_logger("x").info("once")
        assert first.getvalue() == "" and second.getvalue().count("once") == 1
        mlog.reset()
        assert mtop_logger.handlers == [foreign]
        assert mtop_logger.propagate is True and mtop_logger.level == logging.NOTSET
    finally:
        mtop_logger.removeHandler(foreign)


def test_log_file_from_environment_and_alias(tmp_path: Path) -> None:
    target = tmp_path / "logs" / "run.log"
    mlog.configure(level="INFO", fmt="json", env={"LDCTL_LOG_FILE": str(target)}, stream=io.StringIO())
    mlog.get_logger("files").info("to disk", extra={"fields": {"n": 1}})
    mlog.reset()  # closes the file
    (record,) = [json.loads(line) for line in target.read_text().splitlines()]
    assert record["message"] == "to disk" and record["n"] == 1


def test_log_dir_puts_mtop_log_inside_and_file_wins_over_dir(tmp_path: Path) -> None:
    mlog.configure(level="INFO", env={"MTOP_LOG_DIR": str(tmp_path / "d")}, stream=io.StringIO())
    mlog.get_logger().warning("in dir")
    mlog.reset()
    assert "in dir" in (tmp_path / "d" / "mtop.log").read_text()

    mlog.configure(env={"MTOP_LOG_DIR": str(tmp_path / "d2"), "MTOP_LOG_FILE": str(tmp_path / "f.log")})
    mlog.get_logger().warning("to file")
    mlog.reset()
    assert "to file" in (tmp_path / "f.log").read_text()
    assert not (tmp_path / "d2").exists()


def test_file_handler_rotates_with_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "mtop.log"
    mlog.configure(level="INFO", file=path, env={}, stream=io.StringIO(), max_bytes=300, backup_count=2)
    (file_handler,) = [h for h in own_handlers() if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert (file_handler.maxBytes, file_handler.backupCount) == (300, 2)
    for i in range(40):
        mlog.get_logger().info("line %03d padded to make the file grow quickly", i)
    mlog.reset()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["mtop.log", "mtop.log.1", "mtop.log.2"]
    assert all(p.stat().st_size <= 300 for p in tmp_path.iterdir())
    assert "line 039" in path.read_text()


def test_default_rotation_is_10_mb_times_5(tmp_path: Path) -> None:
    mlog.configure(file=tmp_path / "a.log", env={}, stream=io.StringIO())
    (file_handler,) = [h for h in own_handlers() if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert (file_handler.maxBytes, file_handler.backupCount) == (10 * 1024 * 1024, 5)


def test_unopenable_log_file_names_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"^MTOP_LOG_FILE: cannot open log file"):
        mlog.configure(env={"MTOP_LOG_FILE": str(blocker / "x.log")})
    assert own_handlers() == []


# -- formats -------------------------------------------------------------------------------------


def test_json_lines_carry_timestamp_level_logger_message_and_fields() -> None:
    out = capture("json")
    log = mlog.get_logger("collect")
    log.info("fetched %d pods", 3, extra={"fields": {"namespace": "llm", "took_ms": 1.5}, "query": "up"})
    log.debug("odd values", extra={"fields": {"when": datetime(2026, 1, 2, tzinfo=UTC), "nan": float("nan")}})
    first, second = json_lines(out)
    assert first["level"] == "INFO" and first["logger"] == "mtop.collect" and first["message"] == "fetched 3 pods"
    assert first["namespace"] == "llm" and first["took_ms"] == 1.5 and first["query"] == "up"
    stamp = datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00"))
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert second["when"] == "2026-01-02 00:00:00+00:00" and second["nan"] == "nan"


def test_json_timestamp_is_the_records_creation_time_in_utc() -> None:
    record = logging.LogRecord("mtop.t", logging.INFO, "f.py", 1, "m", None, None)
    record.created = 86_400.25  # one day and a quarter second after the epoch
    assert json.loads(mlog.JsonFormatter().format(record))["timestamp"] == "1970-01-02T00:00:00.250Z"


def test_json_fields_never_overwrite_fixed_keys() -> None:
    out = capture("json")
    mlog.get_logger("x").info("real", extra={"fields": {"message": "fake", "level": "fake"}})
    (line,) = json_lines(out)
    assert line["message"] == "real" and line["level"] == "INFO"
    assert line["field.message"] == "fake" and line["field.level"] == "fake"


def test_text_format_shows_fields_as_key_value() -> None:
    out = capture("text")
    mlog.get_logger("collect").warning("slow", extra={"fields": {"query": "up", "took_ms": 12, "note": "a b"}})
    line = out.getvalue().strip()
    assert line.endswith(' WARNING mtop.collect: slow query=up took_ms=12 note="a b"')


def test_trace_level_is_named_trace() -> None:
    out = capture("text", level="TRACE")
    mlog.StdLogger("deep").trace("very chatty")
    assert " TRACE mtop.deep: very chatty" in out.getvalue()


def test_exceptions_are_logged_and_redacted() -> None:
    out = capture("json")
    try:
        raise RuntimeError("login failed with password=hunter2")
    except RuntimeError:
        mlog.get_logger("x").exception("oops")
    (line,) = json_lines(out)
    assert "RuntimeError" in line["exception"] and "hunter2" not in line["exception"]


# -- redaction -----------------------------------------------------------------------------------

SECRET_MESSAGES = [
    ("calling the API with Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
    ("Authorization: Basic dXNlcjpzZWNyZXQ=", "dXNlcjpzZWNyZXQ="),
    ("headers {'Authorization': 'Bearer abc123xyz'}", "abc123xyz"),
    ("login password=hunter2 user=bob", "hunter2"),
    ('payload {"password": "correct horse battery"}', "correct horse battery"),
    ("GET /api?token=s3cr3tvalue&limit=5", "s3cr3tvalue"),
    ("client-key-data: LS0tLS1CRUdJTiBSU0EgS0VZ", "LS0tLS1CRUdJTiBSU0EgS0VZ"),
    ("client-certificate-data: LS0tQ0VSVElGSUNBVEU=", "LS0tQ0VSVElGSUNBVEU="),
    ("users:\n- name: admin\n  user:\n    token: kube-token-0123456789\n", "kube-token-0123456789"),
    ("scraping https://admin:pr0m-pass@prom.example:9090/api/v1/query", "pr0m-pass"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
]


@pytest.mark.parametrize("fmt", ["json", "text"])
@pytest.mark.parametrize(("message", "secret"), SECRET_MESSAGES)
def test_secrets_in_messages_are_redacted_through_a_configured_handler(fmt: str, message: str, secret: str) -> None:
    out = capture(fmt)
    mlog.get_logger("x").info(message)
    written = out.getvalue()
    assert secret not in written
    assert "[REDACTED]" in written


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_in_args_and_nested_fields_are_redacted(fmt: str) -> None:
    out = capture(fmt)
    mlog.get_logger("x").info(
        "connecting with %s",
        "Bearer argtoken123",
        extra={
            "fields": {
                "headers": {"Authorization": "Bearer fieldtoken456"},
                "users": [{"name": "admin", "user": {"token": "nestedtoken789", "client-key-data": "KEYDATA0"}}],
                "url": "https://u:urlpass@host/x",
                "note": "password=inlinepw",
            },
            "kubeconfig_token": "extratoken000",
        },
    )
    mlog.StdLogger("x").info("keyword fields", password="kwpass", nested={"api_key": "kwkey"})
    written = out.getvalue()
    for secret in ("argtoken123", "fieldtoken456", "nestedtoken789", "KEYDATA0", "urlpass", "inlinepw"):
        assert secret not in written, secret
    for secret in ("extratoken000", "kwpass", "kwkey"):
        assert secret not in written, secret
    assert "admin" in written and "u:[REDACTED]@host" in written  # what is not secret stays


def test_redaction_holds_for_a_handler_the_user_adds_to_mtop() -> None:
    user_out = io.StringIO()
    user_handler = logging.StreamHandler(user_out)  # plain formatter, no filter of ours
    mtop_logger = logging.getLogger("mtop")
    mtop_logger.addHandler(user_handler)  # added before configure: ours still run first
    try:
        capture("text")
        mlog.get_logger("x").warning("token=%s", "leaky")
    finally:
        mtop_logger.removeHandler(user_handler)
    assert "leaky" not in user_out.getvalue() and "token=[REDACTED]" in user_out.getvalue()


def test_formatters_redact_on_their_own() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(mlog.JsonFormatter())  # a user's handler with our formatter, no filter
    mtop_logger = logging.getLogger("mtop")
    mtop_logger.addHandler(handler)
    mtop_logger.setLevel(logging.INFO)
    try:
        mlog.get_logger("x").info("Bearer %s", "formattoken", extra={"fields": {"password": "fp"}})
    finally:
        mtop_logger.removeHandler(handler)
    line = json.loads(out.getvalue())
    assert line["message"] == "Bearer [REDACTED]" and line["password"] == "[REDACTED]"


@pytest.mark.parametrize(
    "text",
    [
        "tokens_per_second=1000 max_tokens: 256 prompt_tokens=12",
        "secretName: vllm-creds",
        "certificate-authority-data: LS0tQ0E=",
        "https://prom.example:9090/api/v1/query?query=up",
        "the password policy was updated",
    ],
)
def test_redact_leaves_harmless_text_alone(text: str) -> None:
    assert mlog.redact(text) == text


def test_redact_is_idempotent_and_redact_value_does_not_mutate() -> None:
    once = mlog.redact("token=abc https://a:b@h\nAuthorization: Bearer x.y.z\nnext line")
    assert once == "token=[REDACTED] https://a:[REDACTED]@h\nAuthorization: [REDACTED]\nnext line"
    assert mlog.redact(once) == once
    original = {"auth": {"password": "pw", "list": ("Bearer tok", 3)}, "n": None}
    assert mlog.redact_value(original) == {
        "auth": {"password": "[REDACTED]", "list": ("Bearer [REDACTED]", 3)},
        "n": None,
    }
    assert original["auth"]["password"] == "pw"  # type: ignore[index]


# -- StdLogger and operation ---------------------------------------------------------------------


def test_std_logger_implements_the_logger_protocol_with_fields() -> None:
    out = capture("json")
    log: Logger = mlog.StdLogger("svc")
    assert isinstance(log, Logger)
    log.debug("d", a=1)
    log.info("100% done", b=2)  # a literal % is not a format
    log.warning("w")
    log.error("e", c=3)
    lines = json_lines(out)
    assert [(x["level"], x["message"]) for x in lines] == [
        ("DEBUG", "d"),
        ("INFO", "100% done"),
        ("WARNING", "w"),
        ("ERROR", "e"),
    ]
    assert lines[0]["a"] == 1 and lines[1]["b"] == 2 and lines[3]["c"] == 3
    assert lines[0]["function"] == "test_std_logger_implements_the_logger_protocol_with_fields"  # the caller


def test_std_logger_bind_adds_context_without_touching_handlers() -> None:
    out = capture("json")
    handlers_before = list(logging.getLogger("mtop").handlers)
    log = mlog.StdLogger("svc").bind(cluster="sim", run=1)
    log.info("hello", run=2)
    assert logging.getLogger("mtop").handlers == handlers_before
    (line,) = json_lines(out)
    assert line["cluster"] == "sim" and line["run"] == 2


def ticking(*values: float) -> Any:
    it = iter(values)
    return lambda: next(it)


def test_operation_logs_start_and_end_with_duration_from_the_clock() -> None:
    out = capture("json")
    with mlog.operation("fetch", clock=ticking(10.0, 10.5), namespace="llm") as op:
        op.add(rows=7)
    start, end = json_lines(out)
    assert (start["level"], start["message"], start["operation"], start["namespace"]) == (
        "DEBUG",
        "fetch started",
        "fetch",
        "llm",
    )
    assert end["level"] == "INFO" and end["message"] == "fetch ok"
    assert (end["operation"], end["namespace"], end["rows"], end["duration_ms"], end["outcome"]) == (
        "fetch",
        "llm",
        7,
        500.0,
        "ok",
    )
    assert op.duration_ms == 500.0 and op.outcome == "ok"


def test_operation_logs_errors_and_reraises() -> None:
    out = capture("json")
    with pytest.raises(KeyError), mlog.operation("lookup", clock=ticking(0.0, 0.002)):
        raise KeyError("Bearer leaked-in-error")
    _, end = json_lines(out)
    assert end["level"] == "ERROR" and end["outcome"] == "error" and end["error"] == "KeyError"
    assert end["duration_ms"] == 2.0
    assert "leaked-in-error" not in out.getvalue()


def test_operation_marks_cancellation_separately() -> None:
    out = capture("json")
    with pytest.raises(asyncio.CancelledError), mlog.operation("poll", clock=ticking(0.0, 1.0)):
        raise asyncio.CancelledError
    assert json_lines(out)[-1]["outcome"] == "cancelled"


def test_operation_as_decorator_times_each_call_sync_and_async() -> None:
    out = capture("json")
    clock = ticking(0.0, 0.001, 1.0, 1.003, 5.0, 5.010)

    @mlog.operation("double", clock=clock)
    def double(x: int) -> int:
        return 2 * x

    @mlog.operation("fetch", clock=clock)
    async def fetch() -> str:
        await asyncio.sleep(0)
        return "ok"

    assert double(2) == 4 and double(3) == 6
    assert asyncio.run(fetch()) == "ok"
    ends = [line for line in json_lines(out) if "outcome" in line]
    assert [(e["operation"], e["duration_ms"]) for e in ends] == [("double", 1.0), ("double", 3.0), ("fetch", 10.0)]
    assert double.__name__ == "double"


def test_operation_accepts_a_stdlib_logger_and_any_protocol_logger() -> None:
    out = capture("json")
    with mlog.operation("std", logging.getLogger("mtop.custom"), clock=ticking(0.0, 0.0)):
        pass
    assert json_lines(out)[-1]["logger"] == "mtop.custom"

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str, dict[str, Any]]] = []

        def debug(self, message: str, **fields: Any) -> None:
            self.calls.append(("debug", message, fields))

        def info(self, message: str, **fields: Any) -> None:
            self.calls.append(("info", message, fields))

        def warning(self, message: str, **fields: Any) -> None:
            self.calls.append(("warning", message, fields))

        def error(self, message: str, **fields: Any) -> None:
            self.calls.append(("error", message, fields))

    recorder = Recorder()
    with pytest.raises(ValueError), mlog.operation("custom", recorder, clock=ticking(1.0, 1.25)):
        raise ValueError("bad")
    assert [c[0] for c in recorder.calls] == ["debug", "error"]
    assert recorder.calls[1][2]["duration_ms"] == 250.0 and recorder.calls[1][2]["error"] == "ValueError"


def test_operation_with_a_logger_outside_mtop_logs_there() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    elsewhere = logging.getLogger("someapp.jobs")
    elsewhere.addHandler(handler)
    elsewhere.setLevel(logging.INFO)
    try:
        with mlog.operation("job", elsewhere, clock=ticking(0.0, 0.0)):
            pass
    finally:
        elsewhere.removeHandler(handler)
        elsewhere.setLevel(logging.NOTSET)
    assert out.getvalue() == "job ok\n"  # not re-rooted under "mtop.someapp.jobs"
