"""The Prometheus half of live mode: the catalogue's named queries over the HTTP API.

:class:`PromSource` renders a named query with :func:`mtop.catalogue.render` (aggregation happens in
PromQL on the server: ``histogram_quantile``, ``rate``, ``sum by``) and POSTs it to
``<url>/api/v1/query`` or ``/api/v1/query_range``; it returns the response's ``data`` object (a range
query's samples as float64 arrays, see :mod:`mtop.sources.matrix`).
The URL may carry a path prefix (Thanos, Mimir: ``https://host/prometheus``); credentials are a bearer
token or basic auth (also taken from ``https://user:pass@host`` and then removed from the URL), TLS is
checked against ``ca`` (a PEM file) or the system's CAs.

Failures map to :mod:`mtop.errors` in one request helper: no answer is ``SourceUnavailable`` (naming
the cluster and the endpoint), 401/403 is ``AuthError``, a refused query (400/422, or a 5xx after
retries) is ``QueryError`` with the query's name and the status. Connection resets, 429 and 5xx are
retried with exponential backoff (``sleep`` is injectable); timeouts are not. :meth:`PromSource.query_many`
runs queries concurrently and stops early once Prometheus is known to be unreachable.

>>> PromSource("https://bob:s3cret@prom.example/prometheus/", cluster="prod").endpoint
'https://prom.example/prometheus'
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from mtop.catalogue import render
from mtop.errors import AuthError, ConfigError, QueryError, SourceError, SourceUnavailable
from mtop.gcpause import gc_paused
from mtop.interfaces import JSONDict
from mtop.logging import get_logger
from mtop.sources.matrix import decode_matrix
from mtop.sources.transport import TRANSIENT_STATUS, backoff_delay, failure, json_loads, retry_after, scrub

__all__ = ["MAX_POINTS", "PromSource", "QueryRequest"]

log = get_logger(__name__)

MAX_POINTS = 11_000
"""Points per series a range query may ask for (Prometheus's own limit)."""
QueryRequest = tuple[str, Mapping[str, Any] | None]
"""One named query and its parameters, for :meth:`PromSource.query_many`."""


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without ``user:pass@`` and without a trailing slash, plus the user and password it carried."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("must be an http:// or https:// URL with a host", key="live.prometheus_url")
    host = parts.netloc.rpartition("@")[2]
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    clean = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    return clean, user, password


class PromSource:
    """Named queries against one Prometheus (or a Thanos/Mimir query frontend).

    ``http`` is a ``urllib3.PoolManager``-like object (``request(method, url, body=, headers=, timeout=)``);
    tests pass a fake one, so everything above the wire runs for real.

    >>> PromSource("http://127.0.0.1:9090", token="abc").headers["Authorization"]
    'Bearer abc'
    """

    def __init__(
        self,
        url: str,
        *,
        cluster: str = "",
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ca: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        max_workers: int = 8,
        http: Any = None,
    ) -> None:
        self.base, url_user, url_password = _split_credentials(url)
        self.cluster = cluster
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.sleep = sleep
        self.max_workers = int(max_workers)
        username = username or url_user
        password = password if password is not None else url_password
        self.headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        if token:
            self.headers["Authorization"] = f"Bearer {token.strip()}"
        elif username is not None:
            pair = base64.b64encode(f"{username}:{password or ''}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {pair}"
        self._secrets = tuple(s for s in (token, token.strip() if token else None, password) if s)
        if "Authorization" in self.headers:
            self._secrets += (self.headers["Authorization"].split(" ", 1)[1],)
        self._http = http if http is not None else self._pool(ca)

    def _pool(self, ca: str | None) -> Any:
        import urllib3

        # retries=False: our helper retries with backoff; urllib3 would retry at once and hide the cause.
        kwargs: dict[str, Any] = {"maxsize": self.max_workers, "retries": False}
        if self.base.startswith("https:"):
            kwargs.update(cert_reqs="CERT_REQUIRED", ca_certs=ca)
        return urllib3.PoolManager(**kwargs)

    @property
    def endpoint(self) -> str:
        """The API's base URL, without credentials (what errors name).

        >>> PromSource("http://127.0.0.1:9090/").endpoint
        'http://127.0.0.1:9090'
        """
        return self.base

    def close(self) -> None:
        """Release the pool's connections.

        >>> PromSource("http://127.0.0.1:9090").close()
        """
        clear = getattr(self._http, "clear", None)
        if clear is not None:
            clear()

    # ------------------------------------------------------------------------------------ queries
    def query(self, name: str, params: Mapping[str, Any] | None = None, at: datetime | None = None) -> JSONDict:
        """The named query at one instant (default: the server's now): Prometheus's ``data`` (a vector).

        Raises:
            SourceUnavailable: Prometheus does not answer. AuthError: credentials refused.
            QueryError: the query was refused or failed (names the query and the status).

        >>> class Wire:  # stands in for urllib3: every query answers an empty vector
        ...     def request(self, method, url, **kwargs):
        ...         body = b'{"status": "success", "data": {"resultType": "vector", "result": []}}'
        ...         return type("Response", (), {"status": 200, "data": body})()
        >>> PromSource("http://prom:9090", http=Wire()).query("queue_depth")
        {'resultType': 'vector', 'result': []}
        """
        fields: dict[str, str] = {"query": render(name, params)}
        if at is not None:
            fields["time"] = f"{at.timestamp():.3f}"
        return self._post("/api/v1/query", fields, name)

    def query_range(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> JSONDict:
        """The named query at every ``step`` from ``start`` to ``end``: Prometheus's ``data`` (a matrix).

        Raises:
            ValueError: a non-positive step, end before start, or more than :data:`MAX_POINTS` points.

        >>> from datetime import UTC
        >>> end = datetime(2026, 1, 1, tzinfo=UTC)
        >>> PromSource("http://prom:9090").query_range("request_rate", None, end, end, timedelta(0))
        Traceback (most recent call last):
        ...
        ValueError: query_range step must be positive, got 0:00:00
        """
        seconds = step.total_seconds()
        if seconds <= 0:
            raise ValueError(f"query_range step must be positive, got {step}")
        if end < start:
            raise ValueError(f"query_range end ({end}) is before start ({start})")
        points = int((end - start).total_seconds() // seconds) + 1
        if points > MAX_POINTS:
            raise ValueError(f"query_range would return {points} points per series; the maximum is {MAX_POINTS}")
        fields = {
            "query": render(name, params),
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{seconds:g}",
        }
        return self._post("/api/v1/query_range", fields, name, decode_matrix)

    def query_many(self, requests: Sequence[QueryRequest], at: datetime | None = None) -> list[JSONDict | SourceError]:
        """Run named queries concurrently; each result is the ``data`` or the ``SourceError`` it raised.

        Once one query finds Prometheus unreachable, the queries not yet started fail with the same
        error instead of each waiting for its own timeout.

        >>> class Wire:  # stands in for urllib3: refuses one query, answers the others
        ...     def request(self, method, url, body="", **kwargs):
        ...         ok = b'{"status": "success", "data": {"resultType": "vector", "result": []}}'
        ...         bad = b'{"status": "error", "errorType": "bad_data", "error": "nope"}'
        ...         status, data = (400, bad) if "num_requests_waiting" in body else (200, ok)
        ...         return type("Response", (), {"status": status, "data": data})()
        >>> out = PromSource("http://prom:9090", http=Wire()).query_many([("request_rate", {}), ("queue_depth", {})])
        >>> out[0]["resultType"], type(out[1]).__name__, out[1].status
        ('vector', 'QueryError', 400)
        """
        if not requests:
            return []
        down: list[SourceUnavailable] = []

        def one(req: QueryRequest) -> JSONDict | SourceError:
            if down:
                return down[0]
            try:
                return self.query(req[0], req[1], at)
            except SourceUnavailable as exc:
                down.append(exc)
                return exc
            except SourceError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(requests)))) as pool:
            futures: list[Future[JSONDict | SourceError]] = [pool.submit(one, r) for r in requests]
            return [f.result() for f in futures]

    # ------------------------------------------------------------------------------ one request
    def _post(
        self, path: str, fields: Mapping[str, str], name: str, decode: Callable[[bytes], Any] = json_loads
    ) -> JSONDict:
        """POST a form to the API; the ``data`` of a success, else the mapped error (after retries)."""
        from urllib3.exceptions import HTTPError

        url = self.base + path
        body = urlencode(fields)
        attempt = 0
        while True:
            try:
                resp = self._http.request("POST", url, body=body, headers=self.headers, timeout=self.timeout)
                status, data = int(resp.status), resp.data
            except (HTTPError, OSError) as exc:
                reason, retry = failure(exc, self.timeout)
                if retry and attempt < self.retries:
                    attempt += 1
                    self._wait(attempt, name, reason, None)
                    continue
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                raise SourceUnavailable(
                    f"cannot reach Prometheus for query {name}: {self._scrub(reason)}{tries}",
                    source=self._source(),
                    target=self.endpoint,
                ) from None
            if status == 200:
                with gc_paused():  # a range query of 1,000+ series is a heap of small lists
                    out = self._decode(data, status, name, decode)
                if out.get("status") == "success" and isinstance(out.get("data"), dict):
                    result: JSONDict = out["data"]
                    return result
                raise self._query_error(name, status, out)
            if status in TRANSIENT_STATUS and attempt < self.retries:
                attempt += 1
                self._wait(attempt, name, f"HTTP {status}", retry_after(getattr(resp, "headers", None)))
                continue
            raise self._status_error(name, status, data)

    def _decode(self, data: bytes, status: int, name: str, decode: Callable[[bytes], Any]) -> JSONDict:
        try:
            out = decode(data)
        except ValueError:
            out = None
        if not isinstance(out, dict):
            raise QueryError(
                f"query {name}: HTTP {status} with a body that is not Prometheus JSON (is the URL an API base?)",
                source=self._source(),
                target=self.endpoint,
                query=name,
                status=status,
            )
        return out

    def _status_error(self, name: str, status: int, data: bytes) -> SourceError:
        if status in (401, 403):
            word = "unauthorized" if status == 401 else "forbidden"
            return AuthError(
                f"Prometheus refused the credentials for query {name} ({status} {word})",
                source=self._source(),
                target=self.endpoint,
            )
        if status == 404:
            return SourceUnavailable(
                f"no Prometheus HTTP API here (404 for query {name}); check the URL and its path prefix",
                source=self._source(),
                target=self.endpoint,
            )
        try:
            out = json_loads(data)
        except ValueError:
            out = None
        return self._query_error(name, status, out if isinstance(out, dict) else {})

    def _query_error(self, name: str, status: int, out: Mapping[str, Any]) -> QueryError:
        kind = out.get("errorType") or "error"
        detail = str(out.get("error") or "no error message")
        return QueryError(
            f"query {name} failed (HTTP {status}, {kind}): {self._scrub(detail)}",
            source=self._source(),
            target=self.endpoint,
            query=name,
            status=status,
        )

    def _wait(self, attempt: int, name: str, reason: str, after: float | None) -> None:
        delay = backoff_delay(attempt, self.backoff, after)
        log.warning(
            "prometheus %s: query %s: %s; retry %d/%d in %.2gs",
            self.endpoint, name, self._scrub(reason), attempt, self.retries, delay,
        )  # fmt: skip
        self.sleep(delay)

    def _source(self) -> str:
        return f"prometheus of cluster {self.cluster}" if self.cluster else "prometheus"

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)
