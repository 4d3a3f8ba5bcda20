"""Every DataFrame mtop returns: its key, columns, dtypes and units, defined once.

Dtypes: text is pandas' ``string``; counts are ``int64``; measurements are ``float64`` (NaN when
missing); flags are ``bool``, or ``boolean`` (nullable) where "unknown" is a real answer (an SLO
flag for a service with no traffic is NA, not False); times are ``datetime64[ns, UTC]``.

>>> empty_frame("nodes").columns.tolist()[:3]
['name', 'gpu_type', 'gpu_product']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from mtop.errors import SchemaError

if TYPE_CHECKING:
    from pandas._typing import DtypeObj

__all__ = ["FRAMES", "FrameSchema", "check_frame", "conform", "empty_frame"]

STR, INT, FLT, BOOL, NBOOL, TIME = "string", "int64", "float64", "bool", "boolean", "datetime64[ns, UTC]"


@dataclass(frozen=True)
class FrameSchema:
    """The documented shape of one frame."""

    name: str
    key: tuple[str, ...]
    columns: Mapping[str, str]
    units: Mapping[str, str]
    description: str


_SERVICE_COLUMNS: dict[str, str] = {
    "namespace": STR,
    "name": STR,
    "model": STR,
    "model_uri": STR,
    "api_version": STR,
    "ready": BOOL,
    "reason": STR,
    "replicas": INT,
    "ready_replicas": INT,
    "prefill_replicas": INT,
    "gpus_per_replica": INT,
    "prefill_gpus_per_replica": INT,
    "gpus": INT,
    "gpu_type": STR,
    "created": TIME,
}

_SLO_COLUMNS: dict[str, str] = {
    "namespace": STR,
    "service": STR,
    "model": STR,
    "ttft_p50_ms": FLT,
    "ttft_p95_ms": FLT,
    "ttft_p99_ms": FLT,
    "itl_p95_ms": FLT,
    "e2e_p95_ms": FLT,
    "requests_per_second": FLT,
    "error_rate_percent": FLT,
    "tokens_per_second": FLT,
    "prompt_tokens_per_second": FLT,
    "queue_depth": FLT,
    "kv_cache_usage": FLT,
    "ttft_ok": NBOOL,
    "error_rate_ok": NBOOL,
    "throughput_ok": NBOOL,
    "slo_ok": NBOOL,
}

_COST_COLUMNS: dict[str, str] = {
    "namespace": STR,
    "service": STR,
    "gpu_type": STR,
    "gpus": INT,
    "hourly_cost": FLT,
    "tokens_per_second": FLT,
    "cost_per_million_tokens": FLT,
    "utilization_percent": FLT,
    "idle_hourly_cost": FLT,
    "monthly_cost": FLT,
}


def _overview_columns() -> dict[str, str]:
    cols: dict[str, str] = {"namespace": STR, "service": STR}
    cols.update({k: v for k, v in _SERVICE_COLUMNS.items() if k not in ("namespace", "name")})
    cols.update({k: v for k, v in _SLO_COLUMNS.items() if k not in cols})
    cols.update(
        {
            "hourly_cost": FLT,
            "cost_per_million_tokens": FLT,
            "idle_hourly_cost": FLT,
            "monthly_cost": FLT,
            "utilization_percent": FLT,
        }
    )
    return cols


FRAMES: dict[str, FrameSchema] = {
    s.name: s
    for s in (
        FrameSchema(
            "services",
            ("namespace", "name"),
            _SERVICE_COLUMNS,
            {"created": "UTC"},
            "One row per LLMInferenceService: what it serves and what it asks for.",
        ),
        FrameSchema(
            "pods",
            ("namespace", "name"),
            {
                "namespace": STR,
                "name": STR,
                "service": STR,
                "role": STR,
                "component": STR,
                "node": STR,
                "phase": STR,
                "ready": BOOL,
                "restarts": INT,
                "gpus": INT,
                "gpu_type": STR,
                "reason": STR,
                "created": TIME,
            },
            {"created": "UTC"},
            "One row per model-server pod (decode, prefill, both) and scheduler pod.",
        ),
        FrameSchema(
            "nodes",
            ("name",),
            {
                "name": STR,
                "gpu_type": STR,
                "gpu_product": STR,
                "instance_type": STR,
                "zone": STR,
                "gpus_allocatable": INT,
                "gpus_allocated": INT,
                "gpus_free": INT,
                "gpu_hourly_cost": FLT,
                "hourly_cost": FLT,
                "idle_hourly_cost": FLT,
                "ready": BOOL,
            },
            {"gpu_hourly_cost": "USD/GPU/h", "hourly_cost": "USD/h", "idle_hourly_cost": "USD/h"},
            "One row per node with GPUs: allocation from the API, price from the config.",
        ),
        FrameSchema(
            "gpus",
            ("node", "gpu"),
            {
                "node": STR,
                "gpu": INT,
                "uuid": STR,
                "model_name": STR,
                "gpu_type": STR,
                "utilization_percent": FLT,
                "memory_used_mib": FLT,
                "memory_total_mib": FLT,
                "power_w": FLT,
                "namespace": STR,
                "pod": STR,
                "service": STR,
            },
            {"utilization_percent": "%", "memory_used_mib": "MiB", "memory_total_mib": "MiB", "power_w": "W"},
            "One row per GPU seen by DCGM, with the pod that holds it.",
        ),
        FrameSchema(
            "gpu_costs",
            ("namespace", "service"),
            _COST_COLUMNS,
            {"hourly_cost": "USD/h", "cost_per_million_tokens": "USD per 1M output tokens", "monthly_cost": "USD/730h"},
            "Cost per service (OpenCost allocation semantics: scheduled GPUs x price).",
        ),
        FrameSchema(
            "slo_metrics",
            ("namespace", "service"),
            _SLO_COLUMNS,
            {"kv_cache_usage": "0-1", "error_rate_percent": "%"},
            "SLO figures per service over the rate window, with compliance flags.",
        ),
        FrameSchema(
            "slo_history",
            ("timestamp", "namespace", "service", "metric"),
            {"timestamp": TIME, "namespace": STR, "service": STR, "metric": STR, "value": FLT},
            {},
            "Tidy time series of the slo_metrics figures.",
        ),
        FrameSchema(
            "overview",
            ("namespace", "service"),
            _overview_columns(),
            {"hourly_cost": "USD/h"},
            "One row per service: resources, SLO and cost joined.",
        ),
        FrameSchema(
            "recommendations",
            ("namespace", "service", "action"),
            {
                "namespace": STR,
                "service": STR,
                "action": STR,
                "reason": STR,
                "current": STR,
                "recommended": STR,
                "monthly_saving": FLT,
                "confidence": FLT,
            },
            {"monthly_saving": "USD/730h", "confidence": "0-1"},
            "Suggested actions: scale_down, scale_up, switch_gpu, consolidate.",
        ),
    )
}


def _schema(kind: str) -> FrameSchema:
    try:
        return FRAMES[kind]
    except KeyError:
        raise SchemaError(f"unknown frame; known: {', '.join(FRAMES)}", frame=kind) from None


def empty_frame(kind: str, extra: Mapping[str, str] | None = None) -> pd.DataFrame:
    """An empty frame with every column of ``kind`` and its dtype.

    >>> empty_frame("pods").dtypes["restarts"]
    dtype('int64')
    """
    cols = dict(_schema(kind).columns)
    cols.update(extra or {})
    return pd.DataFrame({c: pd.Series(dtype=_dtype(d)) for c, d in cols.items()})


def conform(df: pd.DataFrame | Mapping[str, Any], kind: str, attrs: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Cast to the schema of ``kind``: column order, dtypes, missing columns as NA; extra columns kept last.

    >>> conform({"name": ["n1"], "gpus_allocatable": [8]}, "nodes")["gpus_free"].dtype
    dtype('int64')
    """
    frame = df if isinstance(df, pd.DataFrame) else pd.DataFrame(dict(df))
    schema = _schema(kind)
    n = len(frame)
    out: dict[str, pd.Series] = {}
    for col, dtype in schema.columns.items():
        if col in frame.columns:
            out[col] = _cast(frame[col], dtype, kind, col)
        else:
            out[col] = _missing(n, dtype, frame.index)
    for col in frame.columns:
        if col not in out:
            out[col] = frame[col]
    result = pd.DataFrame(out, index=frame.index).reset_index(drop=True)
    result.attrs.update(frame.attrs)
    result.attrs.update(attrs or {})
    return result


def _missing(n: int, dtype: str, index: pd.Index) -> pd.Series:
    if dtype == INT:
        return pd.Series(0, index=index, dtype=_dtype(INT))
    if dtype == BOOL:
        return pd.Series(False, index=index, dtype=_dtype(BOOL))
    fill: Any = pd.NA if dtype in (STR, NBOOL) else (pd.NaT if dtype == TIME else float("nan"))
    return pd.Series([fill] * n, index=index, dtype=_dtype(dtype))


def _dtype(name: str) -> DtypeObj:
    # pandas-stubs types astype() by literal strings; resolve our names to dtype objects once here.
    return pd.api.types.pandas_dtype(name)


def _cast(series: pd.Series, dtype: str, kind: str, col: str) -> pd.Series:
    try:
        if dtype == TIME:
            return pd.Series(pd.to_datetime(series, utc=True), index=series.index).astype(_dtype(TIME))
        if dtype == INT:
            return pd.Series(pd.to_numeric(series), index=series.index).fillna(0).astype(_dtype(INT))
        if dtype == FLT:
            return pd.Series(pd.to_numeric(series, errors="coerce"), index=series.index).astype(_dtype(FLT))
        if dtype == BOOL:
            return series.fillna(False).astype(_dtype(BOOL))
        return series.astype(_dtype(dtype))
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"column {col!r} cannot be {dtype}: {exc}", frame=kind) from exc


def check_frame(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Raise ``SchemaError`` unless ``df`` has every column of ``kind`` with its dtype; return ``df``.

    >>> check_frame(empty_frame("gpus"), "gpus").empty
    True
    """
    schema = _schema(kind)
    missing = tuple(c for c in schema.columns if c not in df.columns)
    if missing:
        raise SchemaError(f"missing columns {', '.join(missing)}", frame=kind, missing=missing)
    wrong = [f"{c} is {df[c].dtype}, expected {d}" for c, d in schema.columns.items() if str(df[c].dtype) != d]
    if wrong:
        raise SchemaError("; ".join(wrong), frame=kind)
    return df
