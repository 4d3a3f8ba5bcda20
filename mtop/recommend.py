"""Right-sizing recommendations and what-if estimates over an overview frame; pure.

Thresholds are llm-d's alert rules (``reference/domain.md`` section 6.3): scale down when GPU
utilization is under 30 %, the queue is about empty and the KV cache under half full; scale up when
the KV cache is over 90 %, more than 50 requests wait, or TTFT p95 misses the SLO.

Replica counts are sized for the peak, ``workload.spike_multiplier`` times today's load, so that
the peak runs GPUs at :data:`TARGET_UTILIZATION`. A replica's capacity at the SLO is what it serves
now scaled to that utilization: ``rps_per_replica_at_SLO = (rps / replicas) x TARGET / utilization``,
so ``ceil(peak_rps / rps_per_replica_at_SLO) = ceil(replicas x utilization x spike / TARGET)``.
Each recommendation is measured against the current state on its own; actions for one service are
alternatives, so do not add their savings up.

>>> needed_replicas([4], [0.1], 2.0).tolist()  # 4 replicas at 10 %: the 2x peak fits 2 at 70 %
[2.0]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mtop import schema
from mtop.cost import HOURS_PER_MONTH, cost_per_million_tokens
from mtop.errors import ConfigError

if TYPE_CHECKING:
    from mtop.config import Config, TechnologyConfig

__all__ = [
    "SCALE_DOWN_KV",
    "SCALE_DOWN_UTILIZATION",
    "SCALE_UP_KV",
    "SCALE_UP_QUEUE",
    "TARGET_UTILIZATION",
    "UnknownGPUTypeError",
    "needed_replicas",
    "recommend",
    "what_if_frame",
]

SCALE_DOWN_UTILIZATION = 30.0
"""GPU utilization (%) under which a service is over-provisioned (llm-d: util < 30 % for 30 m)."""
SCALE_DOWN_KV = 0.5
"""KV-cache usage under which there is room to shrink."""
IDLE_QUEUE = 1.0
"""Waiting requests under which the queue counts as empty ("queue ~ 0")."""
SCALE_UP_KV = 0.9
"""KV-cache usage over which a service is saturated (llm-d: KV > 90 % warns)."""
SCALE_UP_QUEUE = 50.0
"""Waiting requests over which a service is saturated (llm-d: waiting > 50)."""
TARGET_UTILIZATION = 0.7
"""GPU utilization a right-sized service runs at during the peak (headroom against bursts)."""
WHAT_IF_METHOD = (
    "capacity scales with replicas x relative_throughput; served tokens are capped by capacity; utilization "
    "scales inversely with capacity; TTFT scales with 1/relative_throughput and as 1/(1 - utilization) "
    "(M/M/1 queueing, utilization capped at 95 %); cost = GPUs x the type's configured hourly price"
)


class UnknownGPUTypeError(ConfigError, ValueError):
    """A GPU type that is not a key of ``technology.gpu_types``."""


def needed_replicas(replicas: npt.ArrayLike, load: npt.ArrayLike, spike_multiplier: float) -> npt.NDArray[np.float64]:
    """Replicas that carry the peak (``load x spike``) at :data:`TARGET_UTILIZATION`, at least 1; NaN if unknown.

    ``load`` is the current utilization as a fraction (0-1).

    >>> needed_replicas([6, 3, 2], [0.2, 0.0, float("nan")], 2.0).tolist()
    [4.0, 1.0, nan]
    """
    demand = np.asarray(replicas, dtype=np.float64) * np.asarray(load, dtype=np.float64) * spike_multiplier
    # Round before ceil so 2.0000000001 (float noise) does not become 3.
    return np.maximum(1.0, np.ceil(np.round(demand / TARGET_UTILIZATION, 9)))


def _prices(types: pd.Series, technology: TechnologyConfig, attr: str) -> npt.NDArray[np.float64]:
    table = {k: float(getattr(t, attr)) for k, t in technology.gpu_types.items()}
    return np.asarray(types.map(table), dtype=np.float64)


def _col(df: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    return df[name].to_numpy(np.float64) if name in df.columns else np.full(len(df), np.nan)


def _confidence(excess: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """0.5 right at a threshold, rising linearly to 1.0 one full threshold-width past it."""
    return np.clip(0.5 + 0.5 * np.nan_to_num(np.asarray(excess, dtype=np.float64), nan=0.0), 0.5, 1.0)


def recommend(overview: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Schema ``recommendations`` for an overview frame (which must carry ``utilization_percent``).

    Rows are sorted by ``monthly_saving``, biggest first. See the module docstring for the sizing rule.

    >>> from mtop.config import default_config
    >>> recommend(schema.empty_frame("overview"), default_config()).shape
    (0, 8)
    """
    df = overview.copy(deep=False)
    df.attrs = {}  # pandas deep-copies attrs into every derived object: keep the collection record out
    parts = [_scale_down(df, config), _scale_up(df, config), _switch_gpu(df, config), _consolidate(df, config)]
    cols = {c: [v for part in parts for v in part[c]] for c in schema.FRAMES["recommendations"].columns}
    out = schema.conform(cols, "recommendations")
    out = out.sort_values(
        ["monthly_saving", "namespace", "service", "action"], ascending=[False, True, True, True], kind="stable"
    )
    return out.reset_index(drop=True)


def _rows(df: pd.DataFrame, mask: npt.NDArray[np.bool_], action: str, **cols: Any) -> dict[str, list[Any]]:
    pick = np.flatnonzero(mask)
    out: dict[str, list[Any]] = {
        "namespace": df["namespace"].to_numpy()[pick].tolist(),
        "service": df["service"].to_numpy()[pick].tolist(),
        "action": [action] * len(pick),
    }
    for name, values in cols.items():
        # Text is formatted for the picked rows only (a callable of the row number); numbers are arrays.
        out[name] = [values(i) for i in pick] if callable(values) else np.asarray(values)[pick].tolist()
    return out


def _replica_cost(df: pd.DataFrame, config: Config) -> npt.NDArray[np.float64]:
    """USD/h of one decode replica: its GPUs x its type's price."""
    return _col(df, "gpus_per_replica") * _prices(df["gpu_type"], config.technology, "hourly_cost")


def _scale_down(df: pd.DataFrame, config: Config) -> dict[str, list[Any]]:
    util, queue, kv = _col(df, "utilization_percent"), _col(df, "queue_depth"), _col(df, "kv_cache_usage")
    replicas = _col(df, "replicas")
    spike = float(config.workload.spike_multiplier)
    target = needed_replicas(replicas, util / 100.0, spike)
    slo_missed = (df["ttft_ok"] == False).fillna(False).to_numpy(bool)  # noqa: E712 (nullable boolean)
    with np.errstate(invalid="ignore"):
        mask = (util < SCALE_DOWN_UTILIZATION) & (queue < IDLE_QUEUE) & (kv < SCALE_DOWN_KV) & (replicas > 1)
        mask &= (target < replicas) & ~slo_missed
    saving = (replicas - target) * _replica_cost(df, config) * HOURS_PER_MONTH

    def reason(i: int) -> str:
        return (
            f"GPU utilization {util[i]:.0f}% < {SCALE_DOWN_UTILIZATION:.0f}%, queue {queue[i]:.1f}, "
            f"KV cache {kv[i]:.0%}: the {spike:g}x peak fits {_replicas_text(target[i])} at "
            f"{TARGET_UTILIZATION:.0%} utilization"
        )

    return _rows(
        df,
        mask,
        "scale_down",
        reason=reason,
        current=lambda i: _replicas_text(replicas[i]),
        recommended=lambda i: _replicas_text(target[i]),
        monthly_saving=saving,
        confidence=_confidence((SCALE_DOWN_UTILIZATION - util) / SCALE_DOWN_UTILIZATION),
    )


def _scale_up(df: pd.DataFrame, config: Config) -> dict[str, list[Any]]:
    util, queue, kv = _col(df, "utilization_percent"), _col(df, "queue_depth"), _col(df, "kv_cache_usage")
    replicas, ttft = _col(df, "replicas"), _col(df, "ttft_p95_ms")
    slo_ttft = float(config.slo.ttft_p95_ms)
    with np.errstate(invalid="ignore"):
        hot_kv, hot_queue, slow = kv > SCALE_UP_KV, queue > SCALE_UP_QUEUE, ttft > slo_ttft
        mask = (hot_kv | hot_queue | slow) & (replicas >= 1)
    load = np.where(np.isnan(util), kv, util / 100.0)  # KV usage stands in for load without DCGM
    sized = needed_replicas(replicas, load, float(config.workload.spike_multiplier))
    target = np.fmax(replicas + 1, sized)  # fmax: NaN sizing (no load signal) still adds one replica
    saving = -(target - replicas) * _replica_cost(df, config) * HOURS_PER_MONTH
    excess = np.nanmax(
        np.vstack(
            [
                (kv - SCALE_UP_KV) / (1 - SCALE_UP_KV),
                (queue - SCALE_UP_QUEUE) / SCALE_UP_QUEUE,
                ttft / slo_ttft - 1,
                np.zeros(len(df)),
            ]
        ),
        axis=0,
    )

    def reason(i: int) -> str:
        return "; ".join(
            text
            for flag, text in (
                (hot_kv[i], f"KV cache {kv[i]:.0%} > {SCALE_UP_KV:.0%}"),
                (hot_queue[i], f"{queue[i]:.0f} requests waiting > {SCALE_UP_QUEUE:.0f}"),
                (slow[i], f"TTFT p95 {ttft[i]:.0f} ms > SLO {slo_ttft:.0f} ms"),
            )
            if flag
        )

    return _rows(
        df,
        mask,
        "scale_up",
        reason=reason,
        current=lambda i: _replicas_text(replicas[i]),
        recommended=lambda i: _replicas_text(target[i]),
        monthly_saving=saving,
        confidence=_confidence(excess),
    )


def _switch_gpu(df: pd.DataFrame, config: Config) -> dict[str, list[Any]]:
    """The type whose right-sized pool carries the peak for least, within memory and the TTFT SLO.

    It must beat right-sizing on the current type; the saving is against today's bill, like the
    other actions, so it includes the right-sizing part.
    """
    tech = config.technology
    util, replicas, per_replica = _col(df, "utilization_percent"), _col(df, "replicas"), _col(df, "gpus_per_replica")
    ttft = _col(df, "ttft_p95_ms")
    rel, price, memory = (_prices(df["gpu_type"], tech, a) for a in ("relative_throughput", "hourly_cost", "memory_gb"))
    vendor = df["gpu_type"].map({k: t.vendor for k, t in tech.gpu_types.items()}).tolist()
    spike, slo_ttft = float(config.workload.spike_multiplier), float(config.slo.ttft_p95_ms)
    ok = (df["slo_ok"] != False).fillna(True).to_numpy(bool)  # noqa: E712 (nullable boolean)
    demand = replicas * util / 100.0  # replica-equivalents of load on the current type
    today = replicas * per_replica * price
    resized = needed_replicas(replicas, util / 100.0, spike) * per_replica * price
    best: list[tuple[str, float, float, bool]] = [("", np.inf, 0.0, False)] * len(df)  # (type, cost, n, vendor?)
    for key, t in sorted(tech.gpu_types.items()):
        ratio = rel / float(t.relative_throughput)  # > 1: the candidate is slower
        n = needed_replicas(demand * ratio, np.ones(len(df)), spike)
        cost = n * per_replica * float(t.hourly_cost)
        with np.errstate(invalid="ignore"):
            fits = (float(t.memory_gb) >= memory) & ~(ttft * ratio > slo_ttft)
            better = fits & ok & (replicas >= 1) & (cost < resized) & (cost < today)
            better &= (df["gpu_type"] != key).fillna(False).to_numpy(bool)
        for i in np.flatnonzero(better):
            if cost[i] < best[i][1]:
                best[i] = (key, cost[i], n[i], t.vendor != vendor[i])
    new_cost = np.array([b[1] for b in best])
    mask = np.isfinite(new_cost)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(mask, (resized - new_cost) / resized, 0.0)
    # Changing vendor (CUDA -> ROCm) is a bigger move than changing NVIDIA generation: less confidence.
    vendor_change = np.array([b[3] for b in best], dtype=bool)
    confidence = np.clip(0.4 + 0.6 * np.nan_to_num(share), 0.0, 0.9) * np.where(vendor_change, 0.8, 1.0)

    def reason(i: int) -> str:
        return (
            f"{_replicas_text(best[i][2])} of {best[i][0]} carry the {spike:g}x peak at {TARGET_UTILIZATION:.0%} "
            f"utilization for ${new_cost[i]:.2f}/h, against ${resized[i]:.2f}/h right-sized on "
            f"{df['gpu_type'].iloc[i]} (relative_throughput from config)"
        )

    return _rows(
        df,
        mask,
        "switch_gpu",
        reason=reason,
        current=lambda i: str(df["gpu_type"].iloc[i]),
        recommended=lambda i: best[i][0],
        monthly_saving=np.where(mask, today - new_cost, np.nan) * HOURS_PER_MONTH,
        confidence=confidence,
    )


def _replicas_text(n: Any) -> str:
    count = float(n)
    return "1 replica" if count == 1 else f"{count:.0f} replicas"


def _consolidate(df: pd.DataFrame, config: Config) -> dict[str, list[Any]]:
    """Several services of one model, GPU type and replica size in a namespace: one pool for their summed load.

    Kept simple on purpose: only same-model groups (rollout leftovers, per-team copies), not packing
    small models onto shared GPUs. The row names the service to keep (the one with most replicas).
    """
    out: dict[str, list[Any]] = {c: [] for c in schema.FRAMES["recommendations"].columns}
    need = ["namespace", "model", "gpu_type", "gpus_per_replica", "replicas", "utilization_percent", "service"]
    if len(df) < 2 or any(c not in df.columns for c in need):
        return out
    spike = float(config.workload.spike_multiplier)
    frame = df[need].dropna(subset=["model", "gpu_type", "utilization_percent"])
    frame = frame[frame["replicas"] >= 1].assign(demand=frame["replicas"] * frame["utilization_percent"] / 100.0)
    keys = ["namespace", "model", "gpu_type", "gpus_per_replica"]
    frame = frame[frame.groupby(keys)["service"].transform("size") >= 2]  # only groups worth a look
    for (ns, model, gtype, _), group in frame.groupby(keys, sort=True):
        total = float(group["replicas"].sum())
        target = float(needed_replicas([group["demand"].sum()], [1.0], spike)[0])
        price = _prices(pd.Series([gtype]), config.technology, "hourly_cost")[0]
        per_replica = float(group["gpus_per_replica"].iloc[0])
        if not target < total:
            continue
        ordered = group.sort_values(["replicas", "service"], ascending=[False, True])
        keep, others = str(ordered["service"].iloc[0]), ", ".join(ordered["service"].iloc[1:])
        out["namespace"].append(ns)
        out["service"].append(keep)
        out["action"].append("consolidate")
        out["reason"].append(f"{len(group)} services serve {model} on {gtype}: merge {others} into {keep}")
        out["current"].append(f"{len(group)} services, {total:.0f} replicas")
        out["recommended"].append(f"1 service, {_replicas_text(target)}")
        out["monthly_saving"].append((total - target) * per_replica * price * HOURS_PER_MONTH)
        out["confidence"].append(float(_confidence([1.0 - target / total])[0]))
    return out


def what_if_frame(
    overview: pd.DataFrame,
    config: Config,
    *,
    gpu_type: str | None = None,
    replicas: int | None = None,
    service: str | None = None,
    namespace: str | None = None,
) -> pd.DataFrame:
    """Current and what-if rows (``scenario``) per service, on another GPU type and/or replica count.

    Columns keep the names of the frames they vary (``gpu_type``, ``replicas``, ``gpus``,
    ``hourly_cost``, ``tokens_per_second``, ...). Estimates: ``df.attrs["estimate"]`` is True and
    ``df.attrs["method"]`` says how (:data:`WHAT_IF_METHOD`).

    Raises:
        UnknownGPUTypeError: ``gpu_type`` is not a configured type (the message lists the valid ones).
        ValueError: ``replicas`` is negative, or ``service`` is not in the overview.

    >>> from mtop.config import default_config
    >>> what_if_frame(schema.empty_frame("overview"), default_config(), gpu_type="nvidia-h100").attrs["estimate"]
    True
    """
    tech = config.technology
    if gpu_type is not None and gpu_type not in tech.gpu_types:
        raise UnknownGPUTypeError(
            f"unknown GPU type {gpu_type!r}; valid: {', '.join(sorted(tech.gpu_types))}", key="gpu_type"
        )
    if replicas is not None and replicas < 0:
        raise ValueError(f"replicas must be >= 0, got {replicas}")
    rows = _select(overview, service, namespace)
    current = pd.DataFrame(
        {
            "namespace": rows["namespace"].to_numpy(),
            "service": rows["service"].to_numpy(),
            "scenario": "current",
            "gpu_type": rows["gpu_type"].to_numpy(),
            "replicas": rows["replicas"].to_numpy(np.int64),
            "gpus": rows["gpus"].to_numpy(np.int64),
            "hourly_cost": _col(rows, "hourly_cost"),
            "monthly_cost": _col(rows, "hourly_cost") * HOURS_PER_MONTH,
            "tokens_per_second": _col(rows, "tokens_per_second"),
            "cost_per_million_tokens": _col(rows, "cost_per_million_tokens"),
            "utilization_percent": _col(rows, "utilization_percent"),
            "ttft_p95_ms": _col(rows, "ttft_p95_ms"),
        }
    )
    scenario = _estimate(rows, config, gpu_type, replicas)
    out = pd.concat([current, scenario], ignore_index=True)
    out = out.sort_values(["namespace", "service"], kind="stable").reset_index(drop=True)
    for col in ("namespace", "service", "scenario", "gpu_type"):
        out[col] = out[col].astype("string")
    out.attrs.update({"estimate": True, "method": WHAT_IF_METHOD, "gpu_type": gpu_type, "replicas": replicas})
    return out


def _select(overview: pd.DataFrame, service: str | None, namespace: str | None) -> pd.DataFrame:
    rows = overview
    if namespace is not None:
        rows = rows[rows["namespace"] == namespace]
    if service is not None:
        rows = rows[rows["service"] == service]
        if rows.empty:
            where = f" in namespace {namespace!r}" if namespace else ""
            raise ValueError(f"no service {service!r}{where}")
    return rows.reset_index(drop=True)


def _estimate(rows: pd.DataFrame, config: Config, gpu_type: str | None, replicas: int | None) -> pd.DataFrame:
    tech = config.technology
    new_type = rows["gpu_type"].copy() if gpu_type is None else pd.Series([gpu_type] * len(rows), dtype="string")
    cur_rep = _col(rows, "replicas")
    new_rep = cur_rep.copy() if replicas is None else np.full(len(rows), float(replicas))
    rel_cur = _prices(rows["gpu_type"], tech, "relative_throughput")
    rel_new = _prices(new_type, tech, "relative_throughput")
    with np.errstate(divide="ignore", invalid="ignore"):
        capacity = (new_rep * rel_new) / (cur_rep * rel_cur)  # new capacity / current capacity
        util = _col(rows, "utilization_percent") / 100.0
        util_new = util / capacity
        tps = _col(rows, "tokens_per_second") * np.fmin(1.0, 1.0 / util_new)  # capacity caps what is served
        rho, rho_new = np.fmin(util, 0.95), np.fmin(util_new, 0.95)
        ttft = _col(rows, "ttft_p95_ms") * (rel_cur / rel_new) * (1.0 - rho) / (1.0 - rho_new)
    gpus = new_rep * _col(rows, "gpus_per_replica") + _col(rows, "prefill_replicas") * _col(
        rows, "prefill_gpus_per_replica"
    )
    hourly = np.where(gpus == 0, 0.0, gpus * _prices(new_type, tech, "hourly_cost"))  # CPU-only: free of GPUs
    return pd.DataFrame(
        {
            "namespace": rows["namespace"].to_numpy(),
            "service": rows["service"].to_numpy(),
            "scenario": "what_if",
            "gpu_type": new_type.to_numpy(),
            "replicas": new_rep.astype(np.int64),
            "gpus": np.nan_to_num(gpus).astype(np.int64),
            "hourly_cost": hourly,
            "monthly_cost": hourly * HOURS_PER_MONTH,
            "tokens_per_second": tps,
            "cost_per_million_tokens": cost_per_million_tokens(hourly, tps),
            "utilization_percent": np.fmin(util_new, 1.0) * 100.0,
            "ttft_p95_ms": ttft,
        }
    )
