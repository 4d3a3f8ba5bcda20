"""Cost maths in OpenCost's allocation semantics (``reference/domain.md`` section 6); pure.

A GPU costs its type's hourly price (``technology.gpu_types[type].hourly_cost``) whether busy or
not. A service is charged for the GPUs of its *scheduled* pods (bound to a node, not Succeeded or
Failed) at the price of the node each runs on; a pending pod holds no GPU and costs nothing. The
GPUs nobody holds are the nodes' idle cost, so service costs plus node idle cost add up to the
fleet's cost (:func:`fleet_totals`).

>>> round(float(cost_per_million_tokens(4.0, 2500.0)), 3)  # $4/h at 2,500 output tokens/s
0.444
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mtop import schema
from mtop.frames import TERMINAL_PHASES

if TYPE_CHECKING:
    from mtop.config import TechnologyConfig

__all__ = [
    "COST_BASIS",
    "HOURS_PER_MONTH",
    "UnknownGPUTypeWarning",
    "cost_per_million_tokens",
    "fleet_totals",
    "gpu_prices",
    "idle_hourly_cost",
    "monthly_cost",
    "node_costs",
    "service_costs",
]

HOURS_PER_MONTH = 730.0
"""Hours in the average month (8760 / 12), as OpenCost and the cloud price sheets count a month."""
COST_BASIS = (
    "OpenCost allocation: GPUs of scheduled pods x the node's GPU hourly price (pending pods cost nothing); "
    "unallocated GPUs are node idle cost"
)

FloatArray = npt.NDArray[np.float64]


class UnknownGPUTypeWarning(UserWarning):
    """A GPU type (or raw product name) has no configured price; its cost is NaN."""


def cost_per_million_tokens(hourly_cost: npt.ArrayLike, tokens_per_second: npt.ArrayLike) -> FloatArray:
    """USD per million output tokens: ``hourly / (tokens/s x 3600) x 1e6``; NaN (never inf) at no throughput.

    >>> cost_per_million_tokens([5.0, 5.0, 5.0], [1000.0, 0.0, float("nan")]).round(4).tolist()
    [1.3889, nan, nan]
    """
    hourly = np.asarray(hourly_cost, dtype=np.float64)
    tps = np.asarray(tokens_per_second, dtype=np.float64)
    hourly, tps = np.broadcast_arrays(hourly, tps)
    usable = np.isfinite(tps) & (tps > 0)
    out = np.full(hourly.shape, np.nan)
    np.divide(hourly * 1e6, tps * 3600.0, out=out, where=usable)
    return out


def monthly_cost(hourly_cost: npt.ArrayLike) -> FloatArray:
    """USD per month at :data:`HOURS_PER_MONTH` hours.

    >>> monthly_cost([1.0, 2.5]).tolist()
    [730.0, 1825.0]
    """
    return np.asarray(hourly_cost, dtype=np.float64) * HOURS_PER_MONTH


def idle_hourly_cost(gpu_price: npt.ArrayLike, utilization_percent: npt.ArrayLike) -> FloatArray:
    """Per GPU, the price of the unused share: ``price x (1 - utilization / 100)``, utilization clipped to 0-100.

    >>> idle_hourly_cost([5.0, 5.0, 5.0], [20.0, 100.0, 130.0]).tolist()
    [4.0, 0.0, 0.0]
    """
    util = np.clip(np.asarray(utilization_percent, dtype=np.float64), 0.0, 100.0)
    return np.asarray(gpu_price, dtype=np.float64) * (1.0 - util / 100.0)


def price_table(technology: TechnologyConfig) -> dict[str, float]:
    """GPU type key -> USD per GPU-hour, from the configuration.

    >>> class G:
    ...     hourly_cost = 5.0
    >>> class T:
    ...     gpu_types = {"nvidia-h100": G()}
    >>> price_table(T())
    {'nvidia-h100': 5.0}
    """
    return {key: float(t.hourly_cost) for key, t in technology.gpu_types.items()}


def gpu_prices(gpu_types: pd.Series, technology: TechnologyConfig, *, what: str = "nodes") -> pd.Series:
    """Hourly price of each row's GPU type; NaN for an unknown type, with one warning naming every one.

    NA types (no GPU) are NaN without a warning.

    >>> class G:
    ...     hourly_cost = 3.0
    >>> class T:
    ...     gpu_types = {"nvidia-a100": G()}
    >>> gpu_prices(pd.Series(["nvidia-a100", None], dtype="string"), T()).tolist()
    [3.0, nan]
    """
    prices = price_table(technology)
    out = gpu_types.map(prices).astype(np.float64)
    unknown = sorted({str(t) for t in gpu_types[out.isna() & gpu_types.notna()]})
    if unknown:
        warnings.warn(
            f"no price for GPU type(s) {', '.join(map(repr, unknown))} on {what} (not in technology.gpu_types; "
            f"known: {', '.join(sorted(prices))}); their cost is NaN",
            UnknownGPUTypeWarning,
            stacklevel=2,
        )
    return out


def node_costs(nodes: pd.DataFrame, technology: TechnologyConfig) -> pd.DataFrame:
    """``nodes`` with ``gpu_hourly_cost``, ``hourly_cost`` (allocatable x price), ``idle_hourly_cost`` (free x price).

    >>> class G:
    ...     hourly_cost = 5.0
    >>> class T:
    ...     gpu_types = {"nvidia-h100": G()}
    >>> n = schema.conform({"name": ["n1"], "gpu_type": ["nvidia-h100"], "gpus_allocatable": [8],
    ...                     "gpus_allocated": [6], "gpus_free": [2]}, "nodes")
    >>> node_costs(n, T())[["hourly_cost", "idle_hourly_cost"]].values.tolist()
    [[40.0, 10.0]]
    """
    out = nodes.copy()
    price = gpu_prices(out["gpu_type"], technology)
    out["gpu_hourly_cost"] = price
    out["hourly_cost"] = out["gpus_allocatable"].to_numpy(np.float64) * price.to_numpy()
    out["idle_hourly_cost"] = out["gpus_free"].to_numpy(np.float64) * price.to_numpy()
    return out


def _node_price(nodes: pd.DataFrame) -> pd.Series:
    return pd.Series(nodes["gpu_hourly_cost"].to_numpy(np.float64), index=nodes["name"].to_numpy())


def _allocation(pods: pd.DataFrame, price: pd.Series) -> pd.DataFrame:
    """Per (namespace, service): GPUs and cost of its scheduled pods (NaN cost if any GPU is unpriced)."""
    terminal = pods["phase"].isin(TERMINAL_PHASES).fillna(False).astype(bool)
    held = pods[pods["service"].notna() & pods["node"].notna() & ~terminal & (pods["gpus"] > 0)]
    cost = held["gpus"].to_numpy(np.float64) * held["node"].map(price).to_numpy(np.float64)
    frame = pd.DataFrame(
        {"namespace": held["namespace"], "service": held["service"], "gpus": held["gpus"], "cost": cost}
    )
    frame["unpriced"] = frame["cost"].isna().astype(np.int64)
    agg = frame.groupby(["namespace", "service"]).agg(
        gpus=("gpus", "sum"), hourly_cost=("cost", "sum"), unpriced=("unpriced", "sum")
    )
    agg["hourly_cost"] = agg["hourly_cost"].where(agg["unpriced"] == 0)
    return agg.drop(columns="unpriced")


def _usage(gpus: pd.DataFrame, price: pd.Series) -> pd.DataFrame:
    """Per (namespace, service): mean DCGM utilization and idle cost over the GPUs with a reading."""
    read = gpus[gpus["service"].notna() & gpus["utilization_percent"].notna()]
    idle = idle_hourly_cost(read["node"].map(price).to_numpy(np.float64), read["utilization_percent"].to_numpy())
    frame = pd.DataFrame(
        {
            "namespace": read["namespace"],
            "service": read["service"],
            "utilization_percent": read["utilization_percent"],
            "idle_hourly_cost": idle,
        }
    )
    return frame.groupby(["namespace", "service"]).agg(
        utilization_percent=("utilization_percent", "mean"), idle_hourly_cost=("idle_hourly_cost", "sum")
    )


def service_costs(
    services: pd.DataFrame,
    pods: pd.DataFrame,
    nodes: pd.DataFrame,
    gpus: pd.DataFrame,
    tokens_per_second: pd.DataFrame,
) -> pd.DataFrame:
    """Schema ``gpu_costs``: one row per service of ``services``.

    ``pods`` (a pods frame), ``nodes`` (with :func:`node_costs`), ``gpus`` (a gpus frame) and
    ``tokens_per_second`` (``namespace``, ``service``, ``tokens_per_second``: output tokens/s).
    ``gpus``/``hourly_cost`` come from the service's scheduled pods (0 with none); utilization is the
    mean DCGM utilization of its GPUs and ``idle_hourly_cost`` sums ``price x (1 - util/100)`` over
    them (NaN with no DCGM reading); cost per 1M tokens is NaN without throughput.

    >>> e = schema.empty_frame
    >>> service_costs(e("services"), e("pods"), e("nodes"), e("gpus"), e("gpu_costs")).shape
    (0, 10)
    """
    price = _node_price(nodes)
    keys = pd.MultiIndex.from_arrays([services["namespace"], services["name"]], names=["namespace", "service"])
    alloc = _allocation(pods, price).reindex(keys)
    usage = _usage(gpus, price).reindex(keys)
    tps_src = tokens_per_second.drop_duplicates(["namespace", "service"]).set_index(["namespace", "service"])
    tps = tps_src["tokens_per_second"].reindex(keys).to_numpy(np.float64)
    hourly = alloc["hourly_cost"].to_numpy(np.float64)
    has_pods = alloc["gpus"].notna().to_numpy()
    hourly = np.where(has_pods, hourly, 0.0)  # no scheduled GPU pod: allocated nothing, costs nothing
    cols: dict[str, Any] = {
        "namespace": services["namespace"].to_numpy(),
        "service": services["name"].to_numpy(),
        "gpu_type": services["gpu_type"].to_numpy(),
        "gpus": alloc["gpus"].fillna(0).to_numpy(np.int64),
        "hourly_cost": hourly,
        "tokens_per_second": tps,
        "cost_per_million_tokens": cost_per_million_tokens(hourly, tps),
        "utilization_percent": usage["utilization_percent"].to_numpy(np.float64),
        "idle_hourly_cost": usage["idle_hourly_cost"].to_numpy(np.float64),
        "monthly_cost": monthly_cost(hourly),
    }
    return schema.conform(cols, "gpu_costs", attrs={"cost_basis": COST_BASIS})


def fleet_totals(costs: pd.DataFrame, nodes: pd.DataFrame) -> Mapping[str, float]:
    """Fleet USD/h: ``allocated`` (services), ``unallocated`` (node idle) and ``total`` (nodes).

    With every service and node of the fleet, ``allocated + unallocated == total``.

    >>> fleet_totals(schema.empty_frame("gpu_costs"), schema.empty_frame("nodes"))["total"]
    0.0
    """
    return {
        "allocated": float(np.nansum(costs["hourly_cost"].to_numpy(np.float64))),
        "unallocated": float(np.nansum(nodes["idle_hourly_cost"].to_numpy(np.float64))),
        "total": float(np.nansum(nodes["hourly_cost"].to_numpy(np.float64))),
    }
