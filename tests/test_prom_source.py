"""PromSource over a fake wire: URLs, auth headers, TLS settings, error mapping, retries, redaction."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from live_fakes import FakePool
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from mtop.catalogue import render
from mtop.errors import AuthError, ConfigError, QueryError, SourceError, SourceUnavailable
from mtop.sources.prom import PromSource

VECTOR = {"resultType": "vector", "result": [{"metric": {"namespace": "a", "service": "s"}, "value": [1.0, "2.5"]}]}
OK = (200, {"status": "success", "data": VECTOR})
SECRET = "pr0m-t0ken-secret"


def prom(handler: Any, url: str = "http://prom.test:9090", **options: Any) -> tuple[PromSource, FakePool]:
    pool = FakePool(handler)
    options.setdefault("sleep", lambda s: None)
    return PromSource(url, http=pool, cluster="east", **options), pool


def form(body: bytes | None) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs((body or b"").decode()).items()}


def test_query_renders_the_catalogue_and_returns_data_unchanged() -> None:
    src, pool = prom(lambda *a: OK)
    at = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert src.query("ttft_quantile", {"q": 0.5, "window": "1m"}, at) == VECTOR
    method, path, _, headers, body = pool.requests[0]
    assert (method, path) == ("POST", "/api/v1/query")
    assert form(body) == {"query": render("ttft_quantile", {"q": 0.5, "window": "1m"}), "time": f"{at.timestamp():.3f}"}
    assert headers["Content-Type"] == "application/x-www-form-urlencoded" and "Authorization" not in headers


def test_a_path_prefix_is_kept_thanos_and_mimir_style() -> None:
    src, pool = prom(lambda *a: OK, url="https://mimir.test/prometheus/")
    src.query("queue_depth")
    assert pool.requests[0][1] == "/prometheus/api/v1/query"
    assert src.endpoint == "https://mimir.test/prometheus"


def test_query_range_sends_start_end_step_and_checks_the_point_limit() -> None:
    matrix = {"resultType": "matrix", "result": []}
    src, pool = prom(lambda *a: (200, {"status": "success", "data": matrix}))
    end = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert src.query_range("request_rate", None, end - timedelta(hours=1), end, timedelta(minutes=1)) == matrix
    sent = form(pool.requests[0][4])
    assert pool.requests[0][1] == "/api/v1/query_range"
    assert (float(sent["end"]) - float(sent["start"]), sent["step"]) == (3600.0, "60")
    with pytest.raises(ValueError, match="11000"):
        src.query_range("request_rate", None, end - timedelta(days=30), end, timedelta(seconds=15))
    with pytest.raises(ValueError, match="positive"):
        src.query_range("request_rate", None, end, end, timedelta(0))


def test_bearer_token_header() -> None:
    src, pool = prom(lambda *a: OK, token=f"  {SECRET}\n")
    src.query("queue_depth")
    assert pool.requests[0][3]["Authorization"] == f"Bearer {SECRET}"


def test_basic_auth_from_arguments_or_from_the_url() -> None:
    src, pool = prom(lambda *a: OK, username="bob", password=SECRET)
    src.query("queue_depth")
    expected = "Basic " + base64.b64encode(f"bob:{SECRET}".encode()).decode()
    assert pool.requests[0][3]["Authorization"] == expected
    src, pool = prom(lambda *a: OK, url=f"https://bob:{SECRET}@prom.test/")
    src.query("queue_depth")
    assert pool.requests[0][3]["Authorization"] == expected
    assert SECRET not in src.endpoint and src.endpoint == "https://prom.test"


def test_tls_uses_the_given_ca_and_plain_http_no_tls_settings() -> None:
    secure = PromSource("https://prom.test", ca="/etc/mtop/prom-ca.pem")
    assert secure._http.connection_pool_kw["ca_certs"] == "/etc/mtop/prom-ca.pem"
    assert secure._http.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    assert "ca_certs" not in PromSource("http://prom.test")._http.connection_pool_kw


def test_a_url_that_is_not_http_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"live\.prometheus_url"):
        PromSource("prom.test:9090")


@pytest.mark.parametrize(
    ("status", "body", "error", "fragment"),
    [
        (400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}, QueryError, "bad_data"),
        (422, {"status": "error", "errorType": "execution", "error": "too many samples"}, QueryError, "execution"),
        (401, b"Unauthorized", AuthError, "401 unauthorized"),
        (403, b"Forbidden", AuthError, "403 forbidden"),
        (404, b"404 page not found", SourceUnavailable, "path prefix"),
        (503, {"status": "error", "errorType": "timeout", "error": "query timed out"}, QueryError, "timeout"),
        (200, b"<html>a login page</html>", QueryError, "not Prometheus JSON"),
    ],
)
def test_error_mapping(status: int, body: Any, error: type[SourceError], fragment: str) -> None:
    src, _ = prom(lambda *a: (status, body), retries=1)
    with pytest.raises(error) as info:
        src.query("request_rate")
    assert type(info.value) is error and fragment in str(info.value)
    assert "prometheus of cluster east at http://prom.test:9090" in str(info.value)
    if isinstance(info.value, QueryError):
        assert (info.value.query, info.value.status) == ("request_rate", status)


def test_transient_failures_are_retried_with_backoff() -> None:
    answers: list[Any] = [
        ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
        (502, b"bad gateway"),
        (429, b"slow down", {"Retry-After": "5"}),
        OK,
    ]
    slept: list[float] = []
    src, pool = prom(lambda *a: answers.pop(0), sleep=slept.append, retries=3, backoff=0.25)
    assert src.query("queue_depth") == VECTOR
    assert slept == [0.25, 0.5, 5.0] and len(pool.requests) == 4


def test_down_is_source_unavailable_after_retries_and_slow_is_not_retried() -> None:
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    slept: list[float] = []
    src, pool = prom(lambda *a: refused, sleep=slept.append, retries=2)
    with pytest.raises(SourceUnavailable, match=r"connection refused \(after 3 attempts\)"):
        src.query("queue_depth")
    assert slept == [0.5, 1.0]
    slow = ReadTimeoutError(None, "/api/v1/query", "Read timed out.")  # type: ignore[arg-type]
    src, pool = prom(lambda *a: slow, sleep=slept.append, timeout=0.5)
    with pytest.raises(SourceUnavailable, match=r"no answer within 0.5s"):
        src.query("queue_depth")
    assert len(pool.requests) == 1


def test_query_many_keeps_order_returns_errors_and_stops_once_down() -> None:
    def handler(method: str, path: str, query: dict[str, str], headers: Any, body: bytes | None) -> Any:
        promql = form(body)["query"]
        if promql == render("queue_depth", {}):
            return 400, {"status": "error", "errorType": "bad_data", "error": "no"}
        return OK

    src, _ = prom(handler, max_workers=3)
    out = src.query_many([("request_rate", {}), ("queue_depth", {}), ("kv_cache_usage", None)])
    assert out[0] == VECTOR and out[2] == VECTOR
    assert isinstance(out[1], QueryError) and out[1].query == "queue_depth"

    refused = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    src, pool = prom(lambda *a: refused, max_workers=1, retries=0)
    out = src.query_many([("request_rate", {}), ("queue_depth", {}), ("kv_cache_usage", {})])
    assert all(isinstance(r, SourceUnavailable) for r in out)
    assert len(pool.requests) == 1  # the others did not each wait for their own failure


def test_no_secret_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    echo = (
        500,
        {"status": "error", "errorType": "internal", "error": f"upstream said password={SECRET} token {SECRET}"},
    )
    src, _ = prom(lambda *a: echo, url=f"https://admin:{SECRET}@prom.test", retries=2)
    with caplog.at_level(logging.DEBUG), pytest.raises(QueryError) as info:
        src.query("request_rate")
    assert SECRET not in str(info.value) and SECRET not in caplog.text
    assert "retry 2/2" in caplog.text  # the retries were logged, without the secret
    src, _ = prom(lambda *a: echo, token=SECRET, retries=0)
    with pytest.raises(QueryError) as info:
        src.query("request_rate")
    assert SECRET not in str(info.value) and SECRET not in repr(src.__dict__.get("base"))
