"""The configuration's frozen dataclasses: every field type-checked and normalised, every rule checked.

Each class validates itself on construction (``_Validated``) and raises ``ConfigError`` naming the key relative
to itself; ``mtop.config`` builds them from the merged layers and adds the full key, file and line. Import them
from ``mtop.config``.

>>> SLOConfig(ttft_p95_ms=300, error_rate_percent=1, tokens_per_second=50).ttft_p95_ms
300.0
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from mtop.catalogue import parse_duration
from mtop.config_sources import describe, gpu_env_name
from mtop.errors import ConfigError

__all__ = [
    "FORMATS",
    "JUSTIFY",
    "MODES",
    "BrandingConfig",
    "BuildConfig",
    "ColumnConfig",
    "Config",
    "DisplayConfig",
    "GPUType",
    "LiveConfig",
    "ProgramConfig",
    "ReportJob",
    "ReportsConfig",
    "SLOConfig",
    "SortingConfig",
    "SummaryConfig",
    "TechnologyConfig",
    "Threshold",
    "WorkloadConfig",
    "schema_fields",
    "strip_optional",
]

JUSTIFY = ("left", "right", "center")
FORMATS = ("string", "int", "float", "percent", "bytes", "duration", "currency")
MODES = ("mock", "live")
_GPU_KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")


# --- value checks shared by every dataclass -----------------------------------------------------------------


def strip_optional(tp: Any) -> Any:
    """``X`` for an annotation ``X | None``; any other annotation unchanged.

    >>> strip_optional(int | None), strip_optional(str)
    (<class 'int'>, <class 'str'>)
    """
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0]
    return tp


def _is_mapping_type(tp: Any) -> bool:
    return get_origin(tp) is Mapping


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and normalise it (int -> float, list -> tuple)."""
    base = strip_optional(tp)
    if value is None and base is not tp:
        return None
    if base is Any:  # free-form values (report parameters): checked where they are used
        return value
    if base is bool and isinstance(value, bool):
        return value
    if base is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base is float and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if base is str and isinstance(value, str):
        return value
    if get_origin(base) is tuple and isinstance(value, (list, tuple)):
        item = get_args(base)[0]
        return tuple(_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if _is_mapping_type(base) and isinstance(value, Mapping):
        for k in value:
            if not isinstance(k, str):
                raise ConfigError(f"keys must be strings, got {describe(k)}", key=key)
        item = get_args(base)[1]
        return types.MappingProxyType({k: _coerce(v, item, f"{key}.{k}") for k, v in value.items()})
    if isinstance(base, type) and dataclasses.is_dataclass(base) and isinstance(value, base):
        return value
    raise ConfigError(f"must be {_KIND_NAMES.get(base, _kind_name(base))}, got {describe(value)}", key=key)


_KIND_NAMES: dict[Any, str] = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _kind_name(tp: Any) -> str:
    if get_origin(tp) is tuple:
        return "a list"
    if _is_mapping_type(tp):
        return "a mapping"
    return f"a {getattr(tp, '__name__', tp)}"


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(message, key=key)


def _nonempty(value: str, key: str) -> None:
    _check(bool(value.strip()), key, "must not be empty")


_FIELD_TYPES: dict[type, dict[str, Any]] = {}
_SCHEMA_FIELDS: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass's fields, in declaration order (memoised: they never change)."""
    if cls not in _FIELD_TYPES:
        hints = get_type_hints(cls)
        _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _FIELD_TYPES[cls]


def schema_fields(cls: type) -> dict[str, Any]:
    """The fields of a config dataclass that are configuration keys, with their types (``Config.sources`` is not).

    >>> list(schema_fields(SLOConfig))
    ['ttft_p95_ms', 'error_rate_percent', 'tokens_per_second']
    """
    if cls not in _SCHEMA_FIELDS:
        internal = {f.name for f in dataclasses.fields(cls) if f.metadata.get("internal")}
        _SCHEMA_FIELDS[cls] = {k: v for k, v in _field_types(cls).items() if k not in internal}
    return _SCHEMA_FIELDS[cls]


class _Validated:
    """Mixin for the frozen config dataclasses: type-check and normalise every field, then check rules.

    Errors name the key relative to the dataclass; ``load_config`` prefixes the path and adds file and line.
    """

    def __post_init__(self) -> None:
        for name, tp in _field_types(type(self)).items():
            object.__setattr__(self, name, _coerce(getattr(self, name), tp, name))
        self._validate()

    def _validate(self) -> None:
        """Rules beyond types; raise ConfigError naming the (relative) key."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Read-only mapping proxies do not pickle; rebuild from plain dicts (re-validated on load).
        args = [getattr(self, f.name) for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        return (type(self), tuple(dict(a) if isinstance(a, types.MappingProxyType) else a for a in args))


# --- the configuration dataclasses --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramConfig(_Validated):
    """Program identity.

    >>> ProgramConfig("mtop", "mtop top", "htop for LLM fleets", "MTop").name
    'mtop'
    """

    name: str
    monitor_name: str
    description: str
    class_prefix: str

    def _validate(self) -> None:
        _nonempty(self.name, "name")


@dataclass(frozen=True)
class BrandingConfig(_Validated):
    """Branding shown in headers and reports.

    >>> BrandingConfig("📊", "Real-time LLM inference monitoring", "jeremyeder/mtop").github_repo
    'jeremyeder/mtop'
    """

    emoji: str
    tagline: str
    github_repo: str


@dataclass(frozen=True)
class BuildConfig(_Validated):
    """The ``build`` section: program identity and branding.

    >>> from mtop.config import default_config
    >>> default_config().build.program.name
    'mtop'
    """

    program: ProgramConfig
    branding: BrandingConfig


@dataclass(frozen=True)
class Threshold(_Validated):
    """A colour for values in ``[min, max]`` (either bound may be open).

    >>> Threshold("green", max=500).contains(500.0), Threshold("red", min=1000).contains(999)
    (True, False)
    """

    color: str
    min: float | None = None
    max: float | None = None

    def _validate(self) -> None:
        _nonempty(self.color, "color")
        if self.min is not None and self.max is not None:
            _check(self.min <= self.max, "min", f"must be <= max ({self.max:g}), got {self.min:g}")

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds (inclusive).

        >>> Threshold("yellow", 500, 1000).contains(750)
        True
        """
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass(frozen=True)
class ColumnConfig(_Validated):
    """One table column: header, source field, layout, format and colour thresholds.

    ``field`` names a column of the overview frame. Formats: percent values are already 0-100, durations
    are milliseconds, currency is USD.

    >>> col = ColumnConfig("TTFT p95", "ttft_p95_ms", 9, "right", "duration", (Threshold("green", max=500),))
    >>> col.color_for(420.0), col.color_for(900.0)
    ('green', None)
    """

    name: str
    field: str
    width: int
    justify: str = "left"
    format: str = "string"
    thresholds: tuple[Threshold, ...] = ()
    sortable: bool = False
    sort_key: str | None = None
    enabled: bool = True
    truncate: int | None = None

    def _validate(self) -> None:
        _nonempty(self.name, "name")
        _nonempty(self.field, "field")
        _check(self.width > 0, "width", f"must be > 0, got {self.width}")
        _check(self.justify in JUSTIFY, "justify", f"must be one of {', '.join(JUSTIFY)}, got {self.justify!r}")
        _check(self.format in FORMATS, "format", f"must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.truncate is not None:
            _check(self.truncate > 0, "truncate", f"must be > 0 or null, got {self.truncate}")

    def color_for(self, value: float) -> str | None:
        """The colour of the first threshold containing ``value``, or None.

        >>> from mtop.config import default_config
        >>> default_config().display.columns[7].color_for(1200.0)
        'red'
        """
        if isinstance(value, float) and math.isnan(value):
            return None
        return next((t.color for t in self.thresholds if t.contains(value)), None)


@dataclass(frozen=True)
class SortingConfig(_Validated):
    """Which sort keys exist and which one a table starts with.

    >>> SortingConfig("cost", ("cost", "ttft")).default_key
    'cost'
    """

    default_key: str
    available_keys: tuple[str, ...]

    def _validate(self) -> None:
        keys = ", ".join(self.available_keys)
        _check(
            self.default_key in self.available_keys,
            "default_key",
            f"unknown sort key {self.default_key!r}; available: {keys}",
        )


@dataclass(frozen=True)
class SummaryConfig(_Validated):
    """What the header line above a table shows.

    >>> from mtop.config import default_config
    >>> default_config().display.summary.show_mode
    True
    """

    show_runtime: bool
    show_sort_key: bool
    show_mode: bool
    show_namespace: bool


@dataclass(frozen=True)
class DisplayConfig(_Validated):
    """The ``display`` section: columns, sorting, header, colour and width.

    >>> from mtop.config import default_config
    >>> d = default_config().display
    >>> d.sorting.default_key, [c.name for c in d.sortable_columns()][:2]
    ('cost', ['Service', 'GPUs'])
    """

    columns: tuple[ColumnConfig, ...]
    sorting: SortingConfig
    summary: SummaryConfig
    color_enabled: bool
    max_width: int

    def _validate(self) -> None:
        _check(self.max_width > 0, "max_width", f"must be > 0, got {self.max_width}")
        sortable = [c.sort_key for c in self.sortable_columns() if c.sort_key]
        _check(
            self.sorting.default_key in sortable,
            "sorting.default_key",
            f"unknown sort key {self.sorting.default_key!r}: no sortable column has it "
            f"(sortable: {', '.join(sortable) or 'none'})",
        )

    def enabled_columns(self) -> tuple[ColumnConfig, ...]:
        """The columns to show, in order.

        >>> from mtop.config import default_config
        >>> len(default_config().display.enabled_columns()) > 5
        True
        """
        return tuple(c for c in self.columns if c.enabled)

    def sortable_columns(self) -> tuple[ColumnConfig, ...]:
        """The columns a table can be sorted by.

        >>> from mtop.config import default_config
        >>> [c.sort_key for c in default_config().display.sortable_columns()][-1]
        'queue'
        """
        return tuple(c for c in self.columns if c.sortable)


@dataclass(frozen=True)
class GPUType(_Validated):
    """One GPU type: memory, hourly price (with its source), match patterns and relative throughput.

    Patterns are shell-style globs matched case-insensitively against the node label
    ``nvidia.com/gpu.product`` (``product_patterns``) or the DCGM ``modelName`` (``dcgm_patterns``).

    >>> from mtop.config import default_config
    >>> h100 = default_config().technology.gpu_types["nvidia-h100"]
    >>> h100.memory_gb, h100.hourly_cost, h100.matches_product("NVIDIA-H100-80GB-HBM3")
    (80.0, 5.0, True)
    """

    memory_gb: float
    hourly_cost: float
    price_source: str = "unspecified"
    product_patterns: tuple[str, ...] = ()
    dcgm_patterns: tuple[str, ...] = ()
    relative_throughput: float = 1.0
    throughput_source: str = "unspecified"
    vendor: str = ""
    family: str = ""

    def _validate(self) -> None:
        _check(self.memory_gb > 0, "memory_gb", f"must be > 0, got {self.memory_gb:g}")
        _check(self.hourly_cost >= 0, "hourly_cost", f"must be >= 0, got {self.hourly_cost:g}")
        _check(self.relative_throughput > 0, "relative_throughput", f"must be > 0, got {self.relative_throughput:g}")
        for name in ("product_patterns", "dcgm_patterns"):
            for i, pattern in enumerate(getattr(self, name)):
                _nonempty(pattern, f"{name}[{i}]")

    def matches_product(self, product: str) -> bool:
        """Whether a ``nvidia.com/gpu.product`` value is this type.

        >>> from mtop.config import default_config
        >>> default_config().technology.gpu_types["nvidia-a100"].matches_product("NVIDIA-A100-SXM4-40GB")
        False
        """
        return _matches(product, self.product_patterns)

    def matches_dcgm(self, model_name: str) -> bool:
        """Whether a DCGM ``modelName`` is this type.

        >>> from mtop.config import default_config
        >>> default_config().technology.gpu_types["nvidia-l4"].matches_dcgm("NVIDIA L40S")
        False
        """
        return _matches(model_name, self.dcgm_patterns)


def _matches(text: str, patterns: tuple[str, ...]) -> bool:
    folded = text.strip().casefold()
    return any(fnmatch.fnmatchcase(folded, p.casefold()) for p in patterns)


@dataclass(frozen=True)
class TechnologyConfig(_Validated):
    """The ``technology`` section: GPU types keyed ``<vendor>-<model>[-<memory>gb]``.

    >>> from mtop.config import default_config
    >>> tech = default_config().technology
    >>> tech.match_product("NVIDIA-A100-SXM4-40GB"), tech.match_dcgm("AMD Instinct MI300X"), tech.match_dcgm("TPU")
    ('nvidia-a100-40gb', 'amd-mi300x', None)
    """

    gpu_types: Mapping[str, GPUType] = dataclasses.field(default_factory=dict)

    def _validate(self) -> None:
        seen: dict[str, str] = {}
        for key in self.gpu_types:
            _check(bool(_GPU_KEY.match(key)), f"gpu_types.{key}", "key must look like <vendor>-<model>[-<memory>gb]")
            other = seen.setdefault(gpu_env_name(key), key)
            _check(other == key, f"gpu_types.{key}", f"same variable name part as {other!r}: {gpu_env_name(key)}")

    def __hash__(self) -> int:
        return hash(tuple(self.gpu_types.items()))

    def match_product(self, product: str) -> str | None:
        """The key of the first type whose product patterns match, or None.

        >>> from mtop.config import default_config
        >>> default_config().technology.match_product("NVIDIA-L40S")
        'nvidia-l40s'
        """
        return next((k for k, t in self.gpu_types.items() if t.matches_product(product)), None)

    def match_dcgm(self, model_name: str) -> str | None:
        """The key of the first type whose DCGM patterns match, or None.

        >>> from mtop.config import default_config
        >>> default_config().technology.match_dcgm("NVIDIA H100 80GB HBM3")
        'nvidia-h100'
        """
        return next((k for k, t in self.gpu_types.items() if t.matches_dcgm(model_name)), None)


@dataclass(frozen=True)
class SLOConfig(_Validated):
    """Service level objectives.

    >>> SLOConfig(500, 0.1, 1000)
    SLOConfig(ttft_p95_ms=500.0, error_rate_percent=0.1, tokens_per_second=1000.0)
    """

    ttft_p95_ms: float
    error_rate_percent: float
    tokens_per_second: float

    def _validate(self) -> None:
        _check(self.ttft_p95_ms > 0, "ttft_p95_ms", f"must be > 0, got {self.ttft_p95_ms:g}")
        rate = self.error_rate_percent
        _check(0 <= rate <= 100, "error_rate_percent", f"must be between 0 and 100, got {rate:g}")
        _check(self.tokens_per_second > 0, "tokens_per_second", f"must be > 0, got {self.tokens_per_second:g}")


@dataclass(frozen=True)
class WorkloadConfig(_Validated):
    """The simulated fleet's traffic: whole-fleet baseline QPS and the spike factor.

    >>> WorkloadConfig(100, 2).spike_multiplier
    2.0
    """

    baseline_qps: float
    spike_multiplier: float

    def _validate(self) -> None:
        _check(self.baseline_qps > 0, "baseline_qps", f"must be > 0, got {self.baseline_qps:g}")
        _check(self.spike_multiplier >= 1, "spike_multiplier", f"must be >= 1, got {self.spike_multiplier:g}")


@dataclass(frozen=True)
class LiveConfig(_Validated):
    """Where live mode connects and how it behaves when a server misbehaves; None means the client's own default.

    ``prometheus_password`` is a secret: it is left out of ``repr`` and must never be printed or logged.
    ``contexts`` (several clusters at once) and ``pod_selectors`` are lists, set in a file, not a variable.

    >>> LiveConfig(prometheus_url="http://127.0.0.1:9090").namespace is None
    True
    >>> LiveConfig(prometheus_password="s3cret")  # doctest: +ELLIPSIS
    LiveConfig(prometheus_url=None, ...)
    >>> "s3cret" in repr(LiveConfig(prometheus_password="s3cret"))
    False
    """

    prometheus_url: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    namespace: str | None = None
    contexts: tuple[str, ...] = ()
    prometheus_token_file: str | None = None
    prometheus_username: str | None = None
    prometheus_password: str | None = dataclasses.field(default=None, repr=False)
    prometheus_ca: str | None = None
    prometheus_timeout_seconds: float = 10.0
    kube_timeout_seconds: float = 30.0
    page_size: int = 500
    retries: int = 3
    retry_backoff_seconds: float = 0.5
    cache_ttl_seconds: float = 300.0
    allow_stale: bool = False
    pod_selectors: tuple[str, ...] = ()
    consistent_reads: bool = False

    def _validate(self) -> None:
        if self.prometheus_url is not None:
            # The URL is not quoted back: it may carry credentials.
            try:
                scheme = urlsplit(self.prometheus_url).scheme
            except ValueError:
                scheme = ""
            _check(scheme in ("http", "https"), "prometheus_url", "must be an http:// or https:// URL")
        for key in ("prometheus_timeout_seconds", "kube_timeout_seconds"):
            value = getattr(self, key)
            _check(value > 0, key, f"must be > 0 seconds, got {value:g}")
        _check(self.page_size >= 1, "page_size", f"must be >= 1, got {self.page_size}")
        _check(self.retries >= 0, "retries", f"must be >= 0, got {self.retries}")
        _check(self.retry_backoff_seconds >= 0, "retry_backoff_seconds", "must be >= 0 seconds")
        _check(self.cache_ttl_seconds >= 0, "cache_ttl_seconds", "must be >= 0 seconds")
        for i, name in enumerate(self.contexts):
            _nonempty(name, f"contexts[{i}]")
        _check(len(set(self.contexts)) == len(self.contexts), "contexts", "must not repeat a context")
        for i, selector in enumerate(self.pod_selectors):
            _nonempty(selector, f"pod_selectors[{i}]")


_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CRON_FIELD = re.compile(r"^[A-Za-z0-9*?/,-]+$")
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


@dataclass(frozen=True)
class ReportJob(_Validated):
    """One scheduled report: which notebook, its parameters, when (``cron`` or ``every``), where, how many kept.

    ``cron`` is a five-field expression in UTC (or ``@daily``, ``@hourly``...); ``every`` a duration (``30m``).
    Ranges and names inside a cron field are checked by ``mtop.reports.cron`` when the schedule runs.

    >>> ReportJob("nightly", report="cost-report", cron="0 6 * * *").notebook
    'cost-report'
    """

    name: str
    report: str | None = None
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    cron: str | None = None
    every: str | None = None
    output_dir: str | None = None
    keep: int | None = None

    def _validate(self) -> None:
        _check(bool(_JOB_NAME.match(self.name)), "name", f"must be letters, digits, '.', '_' or '-', got {self.name!r}")
        if self.report is not None:
            _nonempty(self.report, "report")
        _check((self.cron is None) != (self.every is None), "cron", "give exactly one of cron or every")
        if self.cron is not None:
            fields = self.cron.split()
            ok = fields == [self.cron.strip()] and self.cron.strip().lower() in _CRON_MACROS
            ok = ok or (len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields))
            _check(ok, "cron", f"must be 5 fields (minute hour day month weekday) or a macro, got {self.cron!r}")
        if self.every is not None:
            try:
                seconds = parse_duration(self.every)
            except ValueError as exc:
                raise ConfigError(str(exc), key="every") from None
            _check(seconds > 0, "every", f"must be longer than 0s, got {self.every!r}")
        if self.output_dir is not None:
            _nonempty(self.output_dir, "output_dir")
        if self.keep is not None:
            _check(self.keep >= 1, "keep", f"must be >= 1, got {self.keep}")

    def __hash__(self) -> int:  # parameters may hold dicts and lists
        return hash((self.name, self.report, self.cron, self.every, self.output_dir, self.keep))

    @property
    def notebook(self) -> str:
        """The report notebook this job runs (``report``, else the job's ``name``).

        >>> ReportJob("fleet-overview", every="1h").notebook
        'fleet-overview'
        """
        return self.report or self.name


@dataclass(frozen=True)
class ReportsConfig(_Validated):
    """The ``reports`` section: scheduled runs of the report notebooks (``mtop report schedule``).

    >>> ReportsConfig(output_dir="out", keep=3, jobs=(ReportJob("a", every="1h"),)).jobs[0].name
    'a'
    """

    output_dir: str = "reports"
    keep: int = 10
    jobs: tuple[ReportJob, ...] = ()

    def _validate(self) -> None:
        _nonempty(self.output_dir, "output_dir")
        _check(self.keep >= 1, "keep", f"must be >= 1, got {self.keep}")
        names = [job.name for job in self.jobs]
        for i, name in enumerate(names):
            _check(name not in names[:i], f"jobs[{i}].name", f"duplicate job name {name!r}")


@dataclass(frozen=True)
class Config(_Validated):
    """The whole configuration. ``sources`` maps dotted keys to where a non-default value came from.

    >>> from mtop.config import default_config
    >>> cfg = default_config()
    >>> cfg.mode, cfg.slo.ttft_p95_ms, dict(cfg.sources)
    ('mock', 500.0, {})
    """

    build: BuildConfig
    display: DisplayConfig
    technology: TechnologyConfig
    slo: SLOConfig
    workload: WorkloadConfig
    mode: str
    live: LiveConfig
    reports: ReportsConfig = dataclasses.field(default_factory=ReportsConfig)
    sources: Mapping[str, str] = dataclasses.field(
        default_factory=dict, compare=False, hash=False, repr=False, metadata={"internal": True}
    )

    def _validate(self) -> None:
        object.__setattr__(self, "mode", self.mode.strip().lower())
        _check(self.mode in MODES, "mode", f"must be one of {', '.join(MODES)}, got {self.mode!r}")
