"""The exception tree of mtop: one root, shallow, fields rather than strings.

    MtopError
    ├── ConfigError(message, key=None, source=None, line=None)   bad config file, env var or argument
    ├── ContainerError                                            DI container: unregistered type, cycle
    │   ├── UnregisteredError
    │   └── CycleError
    ├── SourceError(message, source=None, target=None)            a data source failed
    │   ├── SourceUnavailable                                     the whole source is unreachable
    │   ├── AuthError                                             credentials refused
    │   └── QueryError(..., query=None, status=None)              one query failed
    ├── SchemaError(message, frame=None, missing=())              a frame is missing columns
    ├── ReportError(message, notebook=None, cell_index=None)      a report notebook failed
    └── UnknownQueryError                                         a name not in the query catalogue

Every class carries enough context to name the culprit; messages never include secrets.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ContainerError",
    "CycleError",
    "MtopError",
    "QueryError",
    "ReportError",
    "SchemaError",
    "SourceError",
    "SourceUnavailable",
    "UnknownQueryError",
    "UnregisteredError",
]


class MtopError(Exception):
    """Root of every error mtop raises on purpose."""


class ConfigError(MtopError):
    """A configuration value is invalid; names the key and where it came from.

    >>> str(ConfigError("must be positive", key="slo.ttft_p95_ms", source="MTOP_SLO_TTFT_P95_MS"))
    'MTOP_SLO_TTFT_P95_MS: slo.ttft_p95_ms: must be positive'
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        source: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.key = key
        self.source = source
        self.line = line
        where = source or ""
        if where and line is not None:
            where = f"{where}, line {line}"
        parts = [p for p in (where, key, message) if p]
        super().__init__(": ".join(parts))


class ContainerError(MtopError):
    """The DI container cannot satisfy a request."""


class UnregisteredError(ContainerError, LookupError):
    """No binding for the requested type."""


class CycleError(ContainerError):
    """Resolving a type needs itself."""


class SourceError(MtopError):
    """A data source (simulator, Kubernetes API, Prometheus) failed."""

    def __init__(self, message: str, *, source: str | None = None, target: str | None = None) -> None:
        self.source = source
        self.target = target
        prefix = " ".join(p for p in (source, f"at {target}" if target else None) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SourceUnavailable(SourceError):
    """The whole source is unreachable (names the cluster and endpoint)."""


class AuthError(SourceError):
    """The source refused our credentials."""


class QueryError(SourceError):
    """One query failed; the others may have succeeded."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        target: str | None = None,
        query: str | None = None,
        status: int | None = None,
    ) -> None:
        self.query = query
        self.status = status
        super().__init__(message, source=source, target=target)


class SchemaError(MtopError):
    """A DataFrame does not match its documented schema."""

    def __init__(self, message: str, *, frame: str | None = None, missing: tuple[str, ...] = ()) -> None:
        self.frame = frame
        self.missing = missing
        super().__init__(f"{frame}: {message}" if frame else message)


class ReportError(MtopError):
    """A report notebook could not run: bad parameters, an unwritable output, or a failing cell.

    >>> str(ReportError("ZeroDivisionError: division by zero", notebook="cost-report", cell_index=7))
    'cost-report, cell 7: ZeroDivisionError: division by zero'
    """

    def __init__(self, message: str, *, notebook: str | None = None, cell_index: int | None = None) -> None:
        self.notebook = notebook
        self.cell_index = cell_index
        where = ", ".join(p for p in (notebook, f"cell {cell_index}" if cell_index is not None else None) if p)
        super().__init__(f"{where}: {message}" if where else message)


class UnknownQueryError(MtopError, KeyError):
    """A query name that is not in the catalogue."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown query"
