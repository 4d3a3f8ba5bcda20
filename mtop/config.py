"""Configuration: typed, frozen, validated dataclasses loaded in one place with one precedence order.

Precedence, lowest to highest (DESIGN.md, "Configuration"):

1. the packaged ``config.yaml`` (inside the ``mtop`` package: the default of every key);
2. the user's file: the ``path`` argument, else ``MTOP_CONFIG_PATH``, else ``LDCTL_CONFIG_PATH``, else
   ``./config.yaml`` if it exists; merged key by key (mappings merge recursively, lists replace);
3. environment variables (``env``, default ``os.environ``; this is the only module that reads it for config);
4. explicit overrides: dotted keys, ``load_config(**{"slo.ttft_p95_ms": 300})`` or ``overrides={...}``.

Environment: every scalar key has ``MTOP_<SECTION>_<KEY>`` (upper case, ``.`` and ``-`` as ``_``), e.g.
``MTOP_SLO_TTFT_P95_MS`` or ``MTOP_DISPLAY_SUMMARY_SHOW_MODE``. The guide's short names also work:
``MTOP_COLOR_ENABLED``, ``MTOP_MAX_WIDTH``, ``MTOP_SORT_KEY`` (``display.sorting.default_key``), ``MTOP_MODE``,
``MTOP_PROMETHEUS_URL`` and, per GPU type, ``MTOP_TECHNOLOGY_GPU_<TYPE>_COST`` / ``_MEMORY`` (``<TYPE>`` is the
key without its vendor: ``nvidia-a100-40gb`` -> ``A100_40GB``). Each ``MTOP_*`` name beats its legacy alias
(``LDCTL_*``, and ``LLD_MODE`` for the mode); a non-empty ``NO_COLOR`` turns colour off unless a colour variable
says otherwise. Empty variables count as unset. ``env_variables()`` lists them all.

>>> cfg = load_config(env={"MTOP_SLO_TTFT_P95_MS": "300"}, mode="live")
>>> cfg.slo.ttft_p95_ms, cfg.mode, cfg.sources["slo.ttft_p95_ms"]
(300.0, 'live', 'MTOP_SLO_TTFT_P95_MS')
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import threading
from collections.abc import Hashable, Mapping
from typing import Any, TypeVar, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

import cachetools

from mtop.config_schema import (
    FORMATS,
    JUSTIFY,
    MODES,
    BrandingConfig,
    BuildConfig,
    ColumnConfig,
    Config,
    DisplayConfig,
    GPUType,
    LiveConfig,
    ProgramConfig,
    ReportJob,
    ReportsConfig,
    SLOConfig,
    SortingConfig,
    SummaryConfig,
    TechnologyConfig,
    Threshold,
    WorkloadConfig,
    schema_fields,
    strip_optional,
)
from mtop.config_sources import (
    ANY_KEY,
    ConfigFile,
    KeyPath,
    Origin,
    cache_key,
    describe,
    dotted,
    env_layer,
    env_variable_names,
    error_at,
    gpu_env_name,
    merge,
    override_layer,
    packaged_file,
    provenance,
    read_yaml,
    user_file,
)
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
    "FileConfigProvider",
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
    "clear_cache",
    "config_to_dict",
    "config_warnings",
    "default_config",
    "env_variables",
    "explain",
    "get_setting",
    "gpu_env_name",
    "load_config",
    "redact_url",
]

T = TypeVar("T")


# --- building the dataclasses from the merged tree ----------------------------------------------------------


def _key_type(tp: Any) -> Any:
    """The key-type tree ``mtop.config_sources`` reads variables and overrides with (see its docstring)."""
    base = strip_optional(tp)
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return {name: _key_type(sub) for name, sub in schema_fields(base).items()}
    if get_origin(base) is Mapping:
        return {ANY_KEY: _key_type(get_args(base)[1])}
    if get_origin(base) is tuple:
        return list
    return base


@functools.cache
def _key_types() -> dict[str, Any]:
    tree: dict[str, Any] = _key_type(Config)
    return tree


def _build(cls: type[T], data: Any, path: KeyPath, origins: Mapping[str, Origin]) -> T:
    here = dotted(path)
    if not isinstance(data, dict):
        raise error_at(f"must be a mapping, got {describe(data)}", here, origins)
    fields = schema_fields(cls)
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(fields)}"
            raise error_at(f"unknown key ({hint})", dotted((*path, key)), origins)
    defaults = {f.name for f in dataclasses.fields(cls) if _has_default(f)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for name, tp in fields.items():
        if name in data:
            kwargs[name] = _build_value(data[name], tp, (*path, name), origins)
        elif name not in defaults:
            raise error_at("missing required key", dotted((*path, name)), origins)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        relative = exc.key or ""
        key = here + ("" if not here or not relative or relative.startswith("[") else ".") + relative
        raise error_at(exc.message, key, origins) from None


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _build_value(value: Any, tp: Any, path: KeyPath, origins: Mapping[str, Origin]) -> Any:
    base = strip_optional(tp)
    if value is None and base is not tp:
        return None
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return _build(base, value, path, origins)
    args = get_args(base)
    item = args[0] if get_origin(base) is tuple else args[-1] if args else None
    if not (isinstance(item, type) and dataclasses.is_dataclass(item)):
        return value  # scalars and lists of scalars: checked by the dataclass itself
    if get_origin(base) is tuple:
        if not isinstance(value, list):
            raise error_at(f"must be a list, got {describe(value)}", dotted(path), origins)
        return tuple(_build(item, v, (*path, i), origins) for i, v in enumerate(value))
    if not isinstance(value, dict):
        raise error_at(f"must be a mapping, got {describe(value)}", dotted(path), origins)
    return {k: _build(item, v, (*path, k), origins) for k, v in value.items()}


# --- loading, with a cache ----------------------------------------------------------------------------------

_CACHE: cachetools.LRUCache[Hashable, Config] = cachetools.LRUCache(maxsize=32)
_CACHE_LOCK = threading.Lock()


def _load(user: ConfigFile | None, env: Mapping[str, str], overrides: Mapping[str, Any]) -> Config:
    packaged = packaged_file()
    key = cache_key(packaged, user, env, overrides)  # None: an unhashable override value, load without caching
    if key is not None:
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is not None:
            return hit
    config = _parse(packaged, user, env, overrides)
    if key is not None:
        with _CACHE_LOCK:
            _CACHE[key] = config
    return config


def _parse(
    packaged: ConfigFile, user: ConfigFile | None, env: Mapping[str, str], overrides: Mapping[str, Any]
) -> Config:
    types = _key_types()
    base = read_yaml(packaged.text(), packaged.label, "packaged")
    layer = merge(base, read_yaml(user.text(), user.label, "file")) if user else base
    layer = merge(layer, env_layer(env, layer[0], types))
    tree, origins = merge(layer, override_layer(overrides, types))
    config = _build(Config, tree, (), {dotted(p): o for p, o in origins.items()})
    return dataclasses.replace(config, sources=provenance(tree, origins, base[0]))


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Config:
    """The effective configuration: packaged < user file < environment < overrides (dotted keys).

    Results are cached by file contents and stamps, the relevant variables and the overrides, so an edited
    file or a changed variable is never stale. Override values of None mean "not given".

    Raises:
        ConfigError: a bad file, variable or override; the message names the file and line, or the variable.

    >>> load_config(env={"MTOP_TECHNOLOGY_GPU_H100_COST": "4.5"}).technology.gpu_types["nvidia-h100"].hourly_cost
    4.5
    >>> load_config(env={}, **{"slo.ttft_p95_ms": 300}).sources["slo.ttft_p95_ms"]
    'argument'
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    return _load(user_file(path, environ), environ, {**(overrides or {}), **kwargs})


def default_config() -> Config:
    """The packaged defaults only: no user file, no environment.

    >>> default_config().technology.gpu_types["nvidia-a100"].hourly_cost
    3.0
    """
    return _load(None, {}, {})


def clear_cache() -> None:
    """Forget every cached configuration.

    >>> clear_cache()
    """
    with _CACHE_LOCK:
        _CACHE.clear()


def explain(config: Config) -> dict[str, str]:
    """Where each value that differs from the packaged default came from (file and line, variable, argument).

    >>> explain(load_config(env={"MTOP_SORT_KEY": "gpu"}))
    {'display.sorting.default_key': 'MTOP_SORT_KEY'}
    """
    return dict(config.sources)


def env_variables(config: Config | None = None) -> dict[str, str]:
    """Every environment variable that sets a key (legacy aliases included), mapped to its dotted key.

    >>> names = env_variables()
    >>> names["MTOP_TECHNOLOGY_GPU_A100_40GB_COST"], names["LLD_MODE"], names["MTOP_SORT_KEY"]
    ('technology.gpu_types.nvidia-a100-40gb.hourly_cost', 'mode', 'display.sorting.default_key')
    """
    tree = config_to_dict(config or default_config(), redact=False)
    return env_variable_names(_key_types(), tree)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in schema_fields(type(value))}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``.

    >>> redact_url("https://bob:s3cret@prom.example:9090/api"), redact_url("http://127.0.0.1:9090")
    ('https://bob:***@prom.example:9090/api', 'http://127.0.0.1:9090')
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"  # unparseable: show nothing rather than a possible secret
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def config_to_dict(config: Config, *, redact: bool = True) -> dict[str, Any]:
    """Plain dicts and lists (for YAML/JSON output), in field order; passwords in URLs redacted by default.

    >>> config_to_dict(default_config())["slo"]
    {'ttft_p95_ms': 500.0, 'error_rate_percent': 0.1, 'tokens_per_second': 1000.0}
    """
    out: dict[str, Any] = _plain(config)
    url = out["live"]["prometheus_url"]
    if redact and url:
        out["live"]["prometheus_url"] = redact_url(url)
    if redact and out["live"].get("prometheus_password"):
        out["live"]["prometheus_password"] = "***"  # never printed by `mtop config` or reports
    return out


def get_setting(config: Config, key: str, default: Any = None) -> Any:
    """One value by dotted key, or ``default`` when there is no such key.

    >>> get_setting(default_config(), "technology.gpu_types.nvidia-h100.memory_gb"), get_setting(default_config(), "x")
    (80.0, None)
    """
    value: Any = config
    for part in key.split("."):
        if dataclasses.is_dataclass(value) and part in schema_fields(type(value)):
            value = getattr(value, part)
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return default
    return value


def config_warnings(config: Config) -> list[str]:
    """Questionable but valid settings: duplicate columns, very wide columns, sortable columns without a key.

    >>> config_warnings(default_config())
    []
    """
    warnings: list[str] = []
    columns = config.display.columns
    for attr in ("name", "field"):
        values = [getattr(c, attr) for c in columns]
        for dup in sorted({v for v in values if values.count(v) > 1}):
            warnings.append(f"display.columns: duplicate column {attr} {dup!r}")
    for i, col in enumerate(columns):
        where = f"display.columns[{i}] ({col.name})"
        if col.width > 100:
            warnings.append(f"{where}: width {col.width} is over 100")
        if col.sortable and not col.sort_key:
            warnings.append(f"{where}: sortable but has no sort_key")
    sort_keys = {c.sort_key for c in config.display.sortable_columns()}
    for key in config.display.sorting.available_keys:
        if key not in sort_keys:
            warnings.append(f"display.sorting.available_keys: {key!r} is the sort_key of no sortable column")
    return warnings


class FileConfigProvider:
    """The ``ConfigProvider`` of ``mtop.interfaces`` over ``load_config``.

    >>> provider = FileConfigProvider(env={"MTOP_MODE": "live"})
    >>> provider.get_setting("mode"), provider.get_setting("slo.nope", 1), provider.validate_config()
    ('live', 1, [])
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.env = env
        self.overrides = dict(overrides or {})

    def load_config(self) -> Config:
        """The effective configuration (cached while its inputs are unchanged).

        >>> FileConfigProvider(env={}).load_config().mode
        'mock'
        """
        return load_config(self.path, self.env, self.overrides)

    def get_setting(self, key: str, default: Any = None) -> Any:
        """One value by dotted key (``"slo.ttft_p95_ms"``), or ``default``.

        >>> FileConfigProvider(env={}).get_setting("slo.ttft_p95_ms")
        500.0
        """
        return get_setting(self.load_config(), key, default)

    def validate_config(self) -> list[str]:
        """Warnings about a valid but questionable configuration.

        >>> FileConfigProvider(env={}).validate_config()
        []
        """
        return config_warnings(self.load_config())
