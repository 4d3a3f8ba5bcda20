"""The Protocols of the architecture guide, plus the data-source protocol of DESIGN.md.

Who implements each one (kept true as the code grows):

| Protocol          | Implemented by                                                        |
|-------------------|-----------------------------------------------------------------------|
| ``Source``           | ``mtop.sources.simulated.SimulatedFleet`` (mock); ``mtop.sources.live.LiveSource`` (live) |
| ``ConfigProvider``   | ``mtop.config.FileConfigProvider``                                    |
| ``Logger``           | ``mtop.logging.StdLogger`` (a thin adapter over ``logging.Logger``)   |
| ``Formatter``        | ``mtop.output.ColumnFormatter`` (the CLI's configured columns)        |
| ``Renderer``         | ``mtop.output.TextTable``; the panels' static HTML (dashboard issue)   |
| ``Monitor``          | ``mtop.async_cli.AsyncResourceMonitor`` (the dashboard refresh and ``mtop top``) |
| ``FileSystem``       | not yet: report output and the mock workspace (reports and CLI issues) |
| ``KubernetesClient`` | not yet: the live source's client wrapper (live-mode issue)           |

Everything above the data layer talks to a ``Source`` and never asks which mode it is in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mtop.config import Config

__all__ = [
    "ConfigProvider",
    "FileSystem",
    "Formatter",
    "JSONDict",
    "KubernetesClient",
    "Logger",
    "Monitor",
    "Renderer",
    "Source",
]

JSONDict = dict[str, Any]
"""A decoded JSON object: a Kubernetes object, or a Prometheus ``data`` object."""


@runtime_checkable
class Source(Protocol):
    """Where fleet data comes from: the simulated fleet or a live cluster.

    ``list_objects`` returns Kubernetes object dicts as a list call's ``items`` holds them (the live
    source leaves out of pods and nodes the fields mtop never reads: see ``mtop.sources.projection``).
    ``query``/``query_range`` take a *named* query of ``mtop.catalogue`` and return the
    Prometheus HTTP API's ``data`` object (``{"resultType": "vector"|"matrix", "result": [...]}``).
    Returned objects are shared and must be treated as read-only.
    """

    kind: str
    """``"simulated"`` or ``"live"``: for ``df.attrs`` and headers only, never for branching."""
    cluster: str
    """A display name of the cluster (``"simulated"`` for the simulator, the context name live)."""

    def now(self) -> datetime:
        """The source's current time (UTC): simulated time, or the wall clock."""
        ...

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[JSONDict]:
        """Objects of ``kind`` (``llminferenceservices``, ``pods``, ``nodes``, ``namespaces``)."""
        ...

    def query(self, name: str, params: Mapping[str, Any] | None = None, at: datetime | None = None) -> JSONDict:
        """Evaluate a named query at one instant (default: now); a ``vector`` result."""
        ...

    def query_range(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> JSONDict:
        """Evaluate a named query at every ``step`` from ``start`` to ``end``; a ``matrix`` result."""
        ...


@runtime_checkable
class Formatter(Protocol):
    """Formats one column's values and tells how to sort them."""

    def format(self, value: Any) -> str:
        """The text shown for ``value``."""
        ...

    def get_sort_key(self, value: Any) -> Any:
        """A key that orders values of this column."""
        ...


@runtime_checkable
class Renderer(Protocol):
    """Builds a table row by row and renders it (text, JSON, YAML, CSV, HTML)."""

    def create_table(self, columns: Sequence[str]) -> None:
        """Start a new table with these column names."""
        ...

    def add_row(self, values: Sequence[Any]) -> None:
        """Append one row, in column order."""
        ...

    def render(self) -> str:
        """The finished table."""
        ...


@runtime_checkable
class Monitor(Protocol):
    """A refresh loop that collects fleet snapshots at an interval."""

    async def start(self) -> None:
        """Begin refreshing in the background."""
        ...

    async def stop(self) -> None:
        """Stop refreshing; leaves no task behind."""
        ...

    def get_metrics(self) -> Mapping[str, Any]:
        """The latest snapshot (last good data)."""
        ...


@runtime_checkable
class FileSystem(Protocol):
    """File operations, so report output and the mock workspace can be redirected in tests."""

    def read_file(self, path: str) -> str:
        """The text of ``path``."""
        ...

    def write_file(self, path: str, content: str) -> None:
        """Write ``content`` to ``path`` atomically."""
        ...

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        ...

    def list_files(self, path: str, pattern: str = "*") -> list[str]:
        """Files under ``path`` matching ``pattern``."""
        ...


@runtime_checkable
class KubernetesClient(Protocol):
    """The Kubernetes operations of the CLI (get, create, delete, logs)."""

    async def get_resource(self, kind: str, name: str, namespace: str | None = None) -> JSONDict:
        """One object as a dict."""
        ...

    async def create_resource(self, obj: Mapping[str, Any]) -> JSONDict:
        """Create ``obj`` and return what the server stored."""
        ...

    async def delete_resource(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete one object; ``False`` when it did not exist."""
        ...

    async def get_logs(self, name: str, namespace: str | None = None, tail: int | None = None) -> str:
        """Logs of a pod."""
        ...


@runtime_checkable
class ConfigProvider(Protocol):
    """Loads, validates and answers questions about the configuration."""

    def load_config(self) -> Config:
        """The effective configuration."""
        ...

    def get_setting(self, key: str, default: Any = None) -> Any:
        """One value by dotted key (``"slo.ttft_p95_ms"``)."""
        ...

    def validate_config(self) -> list[str]:
        """Warnings about a valid but questionable configuration."""
        ...


@runtime_checkable
class Logger(Protocol):
    """The structured logger the guide's DI example injects."""

    def debug(self, message: str, **fields: Any) -> None:
        """Log at DEBUG."""
        ...

    def info(self, message: str, **fields: Any) -> None:
        """Log at INFO."""
        ...

    def warning(self, message: str, **fields: Any) -> None:
        """Log at WARNING."""
        ...

    def error(self, message: str, **fields: Any) -> None:
        """Log at ERROR."""
        ...
