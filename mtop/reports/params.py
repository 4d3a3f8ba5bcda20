"""Check report parameters against a notebook's ``parameters`` cell *before* a kernel starts.

Values come as Python objects (``mtop.reports.run``) or as text (``mtop report run -p seed 7``): text is
converted to the declared type (``dict``/``list`` values are YAML or JSON: ``-p gpu_prices
'{nvidia-h100: 4.5}'``). An unknown name or a value of the wrong type is a ``ReportError`` listing the
valid parameters. The parameters the report notebooks share are then checked for meaning: durations,
times, the mode, and every value that becomes configuration (SLO targets, GPU prices, workload) is
passed through :func:`mtop.config.load_config` exactly as the notebook will, so a bad SLO target fails
here, naming the parameter, not in cell 3 after a kernel start.

>>> from mtop.reports.catalog import find_report
>>> validate(find_report("fleet-overview"), {"seed": "7", "gpu_prices": "{nvidia-h100: 4.5}"})
{'seed': 7, 'gpu_prices': {'nvidia-h100': 4.5}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import yaml

from mtop.catalogue import parse_duration
from mtop.config_schema import MODES
from mtop.errors import ConfigError, ReportError
from mtop.reports.catalog import Parameter, Report

__all__ = ["CONFIG_KEYS", "coerce", "config_overrides", "validate"]

CONFIG_KEYS: dict[str, str] = {
    "mode": "mode",
    "context": "live.context",
    "slo_ttft_p95_ms": "slo.ttft_p95_ms",
    "slo_error_rate_percent": "slo.error_rate_percent",
    "slo_tokens_per_second": "slo.tokens_per_second",
    "baseline_qps": "workload.baseline_qps",
    "spike_multiplier": "workload.spike_multiplier",
}
"""Report parameter -> the configuration key the notebooks override with it (``gpu_prices`` is per GPU type)."""

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _scalar(value: Any, kind: str, name: str) -> Any:
    """``value`` as ``kind`` (text converted); ValueError says what was expected."""
    if kind == "str":
        if isinstance(value, str):
            return value
        raise ValueError(f"{name} must be text, got {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"{name} must be true or false, got {value!r}")
    if isinstance(value, str):
        try:
            value = int(value.strip()) if kind == "int" else float(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be {'an integer' if kind == 'int' else 'a number'}, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
    if kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{name} must be an integer, got {value!r}")
            value = int(value)
        return value
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def coerce(param: Parameter, value: Any) -> Any:
    """``value`` converted to ``param``'s declared type; ``ValueError`` explains a mismatch.

    >>> coerce(Parameter("services", "int | None", None), "null"), coerce(Parameter("x", "list[int]", []), "[1, 2]")
    (None, [1, 2])
    """
    kind = param.type
    if kind.base == "any":  # undeclared type: text is read as YAML ("5" -> 5, "null" -> None, "x" -> "x")
        if isinstance(value, str):
            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                return value
        return value
    if isinstance(value, str) and kind.base != "str":
        if kind.base in ("dict", "list") or (kind.optional and value.strip().lower() in ("null", "none", "~")):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                raise ValueError(f"{param.name}: cannot read {value!r} as {kind}: {exc}") from None
    elif isinstance(value, str) and kind.optional and value.strip().lower() in ("null", "none", "~"):
        value = None
    if value is None:
        if kind.optional:
            return None
        raise ValueError(f"{param.name} must be {kind}, got None")
    if kind.base == "dict":
        if not isinstance(value, Mapping):
            raise ValueError(f"{param.name} must be a mapping ({kind}), got {value!r}")
        item = kind.item or "str"
        return {str(k): _scalar(v, item, f"{param.name}[{k!r}]") for k, v in value.items()}
    if kind.base == "list":
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{param.name} must be a list ({kind}), got {value!r}")
        return [_scalar(v, kind.item or "str", f"{param.name}[{i}]") for i, v in enumerate(value)]
    return _scalar(value, kind.base, param.name)


def config_overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``load_config(overrides=...)`` the report notebooks build from their parameters.

    >>> config_overrides({"slo_ttft_p95_ms": 300.0, "gpu_prices": {"nvidia-h100": 4.5}, "seed": 1})
    {'slo.ttft_p95_ms': 300.0, 'technology.gpu_types.nvidia-h100.hourly_cost': 4.5}
    """
    out = {CONFIG_KEYS[k]: v for k, v in values.items() if k in CONFIG_KEYS and v is not None}
    for gpu, price in (values.get("gpu_prices") or {}).items():
        out[f"technology.gpu_types.{gpu}.hourly_cost"] = price
    return out


def _check_meaning(name: str, value: Any) -> None:
    """The checks by name shared by the report notebooks (a notebook's own names pass untouched)."""
    if value is None:
        return
    if name == "mode" and value not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {value!r}")
    if name == "clock" and value not in ("frozen", "wall"):
        raise ValueError(f"clock must be 'frozen' or 'wall', got {value!r}")
    if name.endswith(("window", "step")):
        try:
            if parse_duration(value) <= 0:
                raise ValueError(f"not a positive duration: {value!r}")
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if name == "start" and value:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"start must be an ISO 8601 time like 2026-11-28T12:00:00+00:00, got {value!r}") from None
    if name in ("seed",) and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if name in ("services", "steps") and value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def _check_config(report: Report, values: Mapping[str, Any], config_path: str | None) -> None:
    """Build the configuration the notebook will build; a ConfigError names the parameter behind it."""
    from mtop.config import load_config

    overrides = config_overrides(values)
    if not overrides:
        return
    known = load_config(config_path).technology.gpu_types
    for gpu in values.get("gpu_prices") or {}:
        if gpu not in known:
            raise ReportError(
                f"gpu_prices: unknown GPU type {gpu!r}; configured: {', '.join(known)}", notebook=report.name
            )
    try:
        load_config(config_path, overrides=overrides)
    except ConfigError as exc:
        by_key = {v: k for k, v in CONFIG_KEYS.items()}
        key = exc.key or ""
        name = by_key.get(key) or ("gpu_prices" if key.startswith("technology.gpu_types.") else key)
        raise ReportError(f"{name}: {exc.message}", notebook=report.name) from None


def validate(report: Report, values: Mapping[str, Any] | None, *, config_path: str | None = None) -> dict[str, Any]:
    """The given values converted to their declared types and checked; ``ReportError`` before any execution.

    The error lists the valid parameters (name, type, default) for an unknown name or a bad value.

    >>> from mtop.reports.catalog import find_report
    >>> validate(find_report("slo-report"), {"windw": "1h"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mtop.errors.ReportError: slo-report: unknown parameter 'windw' (did you mean 'window'?); valid: mode (str, ...
    """
    import difflib

    out: dict[str, Any] = {}
    names = [p.name for p in report.parameters]
    for name, raw in (values or {}).items():
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ReportError(
                f"unknown parameter {name!r}{hint}; valid: {report.describe_parameters()}", notebook=report.name
            )
        param = report.parameter(name)
        try:
            value = coerce(param, raw)
            _check_meaning(name, value)
        except ValueError as exc:
            raise ReportError(
                f"bad value: {exc}; valid: {report.describe_parameters()}", notebook=report.name
            ) from None
        out[name] = value
    _check_config(report, {**report.defaults(), **out}, config_path)
    return out
