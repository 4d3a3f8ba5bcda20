"""What both halves of live mode share: fast JSON, the retry policy, network-failure reasons, fan-out.

The Kubernetes source (:mod:`mtop.sources.kube`) and the Prometheus source (:mod:`mtop.sources.prom`)
each have one request helper; both classify failures and back off the same way, with these functions:

- :func:`failure` turns a urllib3/socket exception into a short reason and says whether to retry
  (connection refused or reset: yes; a timeout: no, a slow server only gets slower);
- :func:`backoff_delay` is exponential, capped, and honours ``Retry-After``;
- :func:`fan_out` runs calls on a thread pool with an optional tqdm bar (:func:`progress_wanted`);
- :func:`scrub` redacts secrets from any text that may reach a message or a log line;

>>> backoff_delay(3, 0.5)
2.0
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

from mtop.logging import redact

__all__ = [
    "TRANSIENT_STATUS",
    "backoff_delay",
    "failure",
    "fan_out",
    "json_loads",
    "progress_wanted",
    "scrub",
]

TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses worth retrying: rate limited, or a server (or its proxy) briefly failing."""
MAX_BACKOFF = 8.0
T = TypeVar("T")
R = TypeVar("R")


def json_loads(data: bytes) -> Any:
    """Decode JSON bytes with ``orjson`` when it is installed (about 2x faster), else ``json``.

    >>> json_loads(b'{"items": [1]}')
    {'items': [1]}
    """
    return _loads()(data)


_LOADS: Callable[[bytes], Any] | None = None


def _loads() -> Callable[[bytes], Any]:
    global _LOADS
    if _LOADS is None:
        try:
            import orjson

            _LOADS = orjson.loads
        except ImportError:  # the stdlib is the fallback, not an error
            import json

            _LOADS = json.loads
    return _LOADS


def progress_wanted(
    progress: bool | None,
    *,
    env: Mapping[str, str] | None = None,
    isatty: Callable[[], bool] | None = None,
    in_kernel: Callable[[], bool] | None = None,
) -> bool:
    """Whether to show a progress bar: ``progress`` if given, else "auto".

    Auto shows one in a terminal (stderr is a TTY) and in an interactive Jupyter kernel, and never in a
    papermill run: papermill runs a kernel too, so the report runner sets ``PAPERMILL_EXECUTION`` in
    the kernel's environment (any non-empty value silences the bar).

    >>> progress_wanted(False), progress_wanted(True)
    (False, True)
    >>> progress_wanted(None, env={"PAPERMILL_EXECUTION": "1"}, isatty=lambda: True)
    False
    >>> progress_wanted(None, env={}, isatty=lambda: False, in_kernel=lambda: True)
    True
    """
    if progress is not None:
        return bool(progress)
    env = os.environ if env is None else env
    if env.get("PAPERMILL_EXECUTION"):
        return False
    tty = isatty if isatty is not None else (lambda: bool(getattr(sys.stderr, "isatty", lambda: False)()))
    kernel = in_kernel if in_kernel is not None else _in_kernel
    return tty() or kernel()


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    ip = get_ipython() if get_ipython is not None else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, desc: str, show: bool) -> Any:
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    # delay=1: a collection that finishes within a second never draws a bar.
    return tqdm(total=total, desc=desc, delay=1.0, leave=False, unit="call")


def fan_out(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    desc: str = "",
    progress: bool = False,
    max_workers: int = 8,
    bar: Callable[[int, str, bool], Any] = _bar,
) -> list[R]:
    """``[fn(x) for x in items]`` run on a thread pool, in item order; the first exception is raised.

    With ``progress``, a tqdm bar (notebook-aware, drawn only after a second) counts finished items.

    >>> fan_out(lambda n: n * n, [1, 2, 3])
    [1, 4, 9]
    """
    if len(items) <= 1:
        return [fn(x) for x in items]
    progress_bar = bar(len(items), desc, progress)
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(items)))) as pool:
            futures = [pool.submit(fn, x) for x in items]
            for _ in as_completed(futures):
                progress_bar.update(1)
            return [f.result() for f in futures]
    finally:
        progress_bar.close()


def backoff_delay(attempt: int, base: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): ``base * 2**(attempt-1)``, capped at 8 s.

    A server's ``Retry-After`` lengthens the wait (within the cap), never shortens it.

    >>> [backoff_delay(n, 0.5) for n in (1, 2, 3, 6)], backoff_delay(1, 0.5, retry_after=3)
    ([0.5, 1.0, 2.0, 8.0], 3.0)
    """
    delay = min(MAX_BACKOFF, base * float(2 ** (attempt - 1)))
    if retry_after is not None:
        delay = min(MAX_BACKOFF, max(delay, float(retry_after)))
    return delay


def retry_after(headers: Any) -> float | None:
    """The ``Retry-After`` header in seconds, if present and numeric.

    >>> retry_after({"Retry-After": "2"}), retry_after({})
    (2.0, None)
    """
    try:
        value = (headers or {}).get("Retry-After")
        return float(value) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def failure(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """A short reason for a network failure and whether retrying may help.

    Refused and reset connections are retried (a server restarting, a proxy dropping an idle
    connection); a timeout is not: the server is slow, and asking again only waits again.

    >>> failure(ConnectionRefusedError(111, "Connection refused"), 5)
    ('connection refused', True)
    >>> from urllib3.exceptions import ReadTimeoutError
    >>> failure(ReadTimeoutError(None, "/api", "read timed out"), 2.5)
    ('no answer within 2.5s', False)
    """
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError, SSLError

    inner: BaseException = exc
    for _ in range(4):  # MaxRetryError -> NewConnectionError -> OSError ...
        nxt = getattr(inner, "reason", None)
        if not isinstance(nxt, BaseException):
            break
        inner = nxt
    text = str(inner)
    refused = isinstance(inner, ConnectionRefusedError) or "Connection refused" in text
    if isinstance(inner, ReadTimeoutError) or (
        isinstance(inner, ConnectTimeoutError) and not isinstance(inner, NewConnectionError) and not refused
    ):
        return f"no answer within {timeout:g}s", False
    if isinstance(inner, SSLError) or isinstance(exc, SSLError):  # a certificate problem does not heal
        return f"TLS error: {text.split(' (Caused by', 1)[0]}", False
    if refused:
        return "connection refused", True
    if isinstance(inner, ConnectionResetError) or "reset" in text.lower():
        return "connection reset", True
    text = text.split(" (Caused by", 1)[0]
    return (f"{type(inner).__name__}: {text}" if text else type(inner).__name__), True


def scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with secrets removed: :func:`mtop.logging.redact`, then every known secret literally.

    >>> scrub("token abc123 refused", ["abc123"])
    'token [REDACTED] refused'
    """
    text = redact(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return text
