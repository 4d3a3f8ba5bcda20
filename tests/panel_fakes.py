"""Source wrappers for the panel tests (unit and browser): hostile names, failures, and a gate that holds a
collection in flight. Each wraps a real source and forwards everything else to it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from mtop.errors import SourceUnavailable

HOSTILE = "<img src=x onerror=alert(1)>"
"""A service name that would run script if any view put it into HTML unescaped."""


def _replace(value: Any, old: str, new: str) -> Any:
    """``value`` with every string equal to ``old`` replaced by ``new`` (names and labels), deeply."""
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


class WrappedSource:
    """Forwards the Source protocol (and anything else, e.g. ``advance``) to ``inner``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.cluster = inner.cluster

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def now(self) -> datetime:
        return self.inner.now()  # type: ignore[no-any-return]

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return self.inner.list_objects(kind, namespaces)  # type: ignore[no-any-return]

    def query(self, name: str, params: Mapping[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
        return self.inner.query(name, params, at)  # type: ignore[no-any-return]

    def query_range(
        self, name: str, params: Mapping[str, Any] | None, start: datetime, end: datetime, step: timedelta
    ) -> dict[str, Any]:
        return self.inner.query_range(name, params, start, end, step)  # type: ignore[no-any-return]


class HostileSource(WrappedSource):
    """Renames service ``victim`` to :data:`HOSTILE` everywhere (its object, its pods' labels, its metric
    labels), and gives the cluster a hostile name too."""

    def __init__(self, inner: Any, victim: str, name: str = HOSTILE) -> None:
        super().__init__(inner)
        self.victim, self.name = victim, name
        self.cluster = name

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[dict[str, Any]]:
        return _replace(super().list_objects(kind, namespaces), self.victim, self.name)  # type: ignore[no-any-return]

    def query(self, name: str, params: Mapping[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
        return _replace(super().query(name, params, at), self.victim, self.name)  # type: ignore[no-any-return]

    def query_range(
        self, name: str, params: Mapping[str, Any] | None, start: datetime, end: datetime, step: timedelta
    ) -> dict[str, Any]:
        return _replace(super().query_range(name, params, start, end, step), self.victim, self.name)  # type: ignore[no-any-return]


class FailingSource(WrappedSource):
    """Raises ``SourceUnavailable`` from ``list_objects`` while ``failing`` is True."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.failing = False

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if self.failing:
            raise SourceUnavailable("connection refused", source="test", target="127.0.0.1:9")
        return super().list_objects(kind, namespaces)


class GatedSource(WrappedSource):
    """After :meth:`close`, the next collection signals ``in_flight`` and blocks until :meth:`open`.

    Proves overlap without timing: whatever completes while ``in_flight`` is set and ``released`` is not
    ran while a refresh was still in flight.
    """

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self._armed = threading.Event()
        self._release = threading.Event()
        self.in_flight = threading.Event()
        self.calls = 0

    @property
    def released(self) -> bool:
        return self._release.is_set()

    def close(self) -> None:
        self._release.clear()
        self.in_flight.clear()
        self._armed.set()

    def open(self) -> None:
        self._release.set()

    def wait_in_flight(self, timeout: float = 60.0) -> bool:
        return self.in_flight.wait(timeout)

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[dict[str, Any]]:
        self.calls += 1
        if self._armed.is_set():
            self._armed.clear()
            self.in_flight.set()
            self._release.wait(120)
        return super().list_objects(kind, namespaces)


def slowest_service(source: Any) -> str:
    """The service with the highest TTFT p95 right now (the one the header names first)."""
    import mtop

    df = mtop.overview(mtop.connect(source=source, env={}))
    return str(df.sort_values("ttft_p95_ms", ascending=False, na_position="last").iloc[0]["service"])
