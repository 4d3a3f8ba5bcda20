"""Prometheus ``data`` objects -> DataFrames: vectors, matrices, per-service metrics and DCGM GPUs.

Pure, like :mod:`mtop.frames` (which parses the Kubernetes objects): no I/O, no clock. Sample values
arrive as strings (``"1.5"``, ``"NaN"``, ``"+Inf"``) and leave as float64; labels leave as strings.

>>> vector_frame({"result": [{"metric": {"gpu": "0"}, "value": [0, "+Inf"]}]}, ["gpu"])["value"].tolist()
[inf]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from mtop import schema
from mtop.frames import TERMINAL_PHASES

if TYPE_CHECKING:
    from mtop.config import TechnologyConfig

__all__ = ["DCGM_QUERIES", "gpus_frame", "matrix_frame", "service_metrics", "vector_frame"]

DCGM_QUERIES: dict[str, str] = {
    "gpu_utilization": "utilization_percent",
    "gpu_memory_used": "memory_used_mib",
    "gpu_memory_total": "memory_total_mib",
    "gpu_power": "power_w",
}
"""Catalogue query -> ``gpus`` column it fills."""


def _label_values(result: Sequence[Mapping[str, Any]], label: str) -> list[Any]:
    return [(r.get("metric") or {}).get(label) for r in result]


def _float(text: Any) -> float:
    # Prometheus sends sample values as strings, including "NaN", "+Inf" and "-Inf", which float() reads.
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def _column(pairs: Sequence[Sequence[Any]], index: int, fallback: Callable[[Any], float]) -> npt.NDArray[np.float64]:
    """Item ``index`` of every ``[stamp, "sample"]`` pair as float64, parsed by ``float`` in C.

    ``fallback`` reads the items only when ``float`` refuses one (``None``, a malformed string).

    >>> _column([[1, "NaN"], [2, "+Inf"], [3, None]], 1, _float).tolist()
    [nan, inf, nan]
    """
    try:
        return np.fromiter(map(float, map(itemgetter(index), pairs)), dtype=np.float64, count=len(pairs))
    except (TypeError, ValueError):
        return np.fromiter(map(fallback, map(itemgetter(index), pairs)), dtype=np.float64, count=len(pairs))


def vector_frame(data: Mapping[str, Any] | None, labels: Sequence[str], value: str = "value") -> pd.DataFrame:
    """A Prometheus ``vector`` as a frame: one string column per label (NA when absent) and ``value``.

    >>> d = {"resultType": "vector", "result": [{"metric": {"service": "a"}, "value": [0, "1.5"]},
    ...      {"metric": {"service": "b"}, "value": [0, "NaN"]}]}
    >>> vector_frame(d, ["service"]).to_dict("list")
    {'service': ['a', 'b'], 'value': [1.5, nan]}
    """
    result = list((data or {}).get("result") or ())
    cols: dict[str, Any] = {lab: pd.array(_label_values(result, lab), dtype="string") for lab in labels}
    cols[value] = np.array([_float((r.get("value") or (None, None))[1]) for r in result], dtype=np.float64)
    return pd.DataFrame(cols)


def matrix_frame(data: Mapping[str, Any] | None, labels: Sequence[str]) -> pd.DataFrame:
    """A Prometheus ``matrix`` as a tidy frame: ``timestamp`` (UTC), the label columns, ``value``.

    Each series' ``values`` is the API's ``[[stamp, "sample"], ...]``, or (from the live source's
    decoder, :mod:`mtop.sources.matrix`) a float64 array of shape ``(n, 2)``.

    >>> d = {"resultType": "matrix", "result": [{"metric": {"service": "a"}, "values": [[60, "2"], [120, "3"]]}]}
    >>> f = matrix_frame(d, ["service"]); f["timestamp"].dt.minute.tolist(), f["value"].tolist()
    ([1, 2], [2.0, 3.0])
    """
    result = list((data or {}).get("result") or ())
    series_points = [() if (points := series.get("values")) is None else points for series in result]
    counts = np.fromiter((len(points) for points in series_points), dtype=np.intp, count=len(series_points))
    if series_points and all(isinstance(points, np.ndarray) for points in series_points):
        # The live source's decoder already read the samples into (n, 2) float64 arrays.
        samples = np.concatenate(series_points).reshape(-1, 2)
        stamps, values = samples[:, 0], samples[:, 1]
    else:
        # The points are read in C (chain, itemgetter, fromiter: no per-point Python frame).
        pairs = list(chain.from_iterable(series_points))
        stamps, values = _column(pairs, 0, float), _column(pairs, 1, _float)
    # Whole milliseconds: Prometheus timestamps are float seconds with millisecond resolution.
    millis = np.round(stamps * 1000.0).astype(np.int64)
    cols: dict[str, Any] = {"timestamp": pd.to_datetime(millis, unit="ms", utc=True).astype("datetime64[ns, UTC]")}
    # Labels are built once per series and repeated, not once per point.
    rows = np.repeat(np.arange(len(result), dtype=np.intp), counts)
    for lab in labels:
        per_series = pd.array([(r.get("metric") or {}).get(lab) for r in result], dtype="string")
        cols[lab] = per_series.take(rows)
    cols["value"] = values
    return pd.DataFrame(cols)


def service_metrics(
    results: Mapping[str, Mapping[str, Any] | None], scale: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Per-service vectors (labels ``namespace``, ``service``) outer-joined into one frame, a column each.

    ``results`` maps an output column to a ``data`` object (``None`` for a failed query: its column is
    all NaN); ``scale`` multiplies a column (seconds -> ms). The first series of a key wins.

    >>> r = {"rps": {"result": [{"metric": {"namespace": "n", "service": "a"}, "value": [0, "2"]}]}, "q": None}
    >>> service_metrics(r).to_dict("list")
    {'namespace': ['n'], 'service': ['a'], 'rps': [2.0], 'q': [nan]}
    """
    per_column: dict[str, dict[tuple[Any, Any], float]] = {}
    keys: dict[tuple[Any, Any], None] = {}
    for column, data in results.items():
        found: dict[tuple[Any, Any], float] = {}
        factor = (scale or {}).get(column, 1.0)
        for r in (data or {}).get("result") or ():
            metric = r.get("metric") or {}
            key = (metric.get("namespace"), metric.get("service"))
            if key not in found:
                found[key] = _float((r.get("value") or (None, None))[1]) * factor
                keys.setdefault(key)
        per_column[column] = found
    order = list(keys)
    cols: dict[str, Any] = {
        "namespace": pd.array([k[0] for k in order], dtype="string"),
        "service": pd.array([k[1] for k in order], dtype="string"),
    }
    for column, found in per_column.items():
        cols[column] = np.array([found.get(k, np.nan) for k in order], dtype=np.float64)
    return pd.DataFrame(cols)


def _host(metric: Mapping[str, Any]) -> Any:
    # dcgm-exporter's label is `Hostname` in every release and `hostname` on master (PR #655); scrape
    # relabelling often adds `node` too.
    return metric.get("Hostname") or metric.get("hostname") or metric.get("node")


def _dcgm_series(
    dcgm: Mapping[str, Mapping[str, Any] | None],
) -> tuple[dict[tuple[Any, Any], list[Any]], dict[str, dict[tuple[Any, Any], Any]]]:
    """Per (node, gpu): [uuid, modelName, namespace, pod], and each column's raw sample (a string)."""
    info: dict[tuple[Any, Any], list[Any]] = {}
    values: dict[str, dict[tuple[Any, Any], Any]] = {}
    for query, column in DCGM_QUERIES.items():
        found = values.setdefault(column, {})
        for r in (dcgm.get(query) or {}).get("result") or ():
            metric = r.get("metric") or {}
            key = (metric.get("Hostname") or _host(metric), metric.get("gpu"))
            if key in found or key[0] is None or key[1] is None:
                continue
            found[key] = (r.get("value") or (None, None))[1]
            row = info.get(key)
            if row is None:
                info[key] = [metric.get("UUID"), metric.get("modelName"), metric.get("namespace"), metric.get("pod")]
            elif row[3] is None and metric.get("pod"):
                row[2], row[3] = metric.get("namespace"), metric.get("pod")
    return info, values


def _floats(samples: Sequence[Any]) -> npt.NDArray[np.float64]:
    """Sample strings as float64 in one go (numpy reads "NaN" and "+Inf"); item by item if one is odd."""
    try:
        return np.array(samples, dtype=np.float64)
    except (TypeError, ValueError):
        return np.array([_float(x) for x in samples], dtype=np.float64)


def _api_only_rows(nodes: pd.DataFrame, pods: pd.DataFrame, seen: set[Any]) -> dict[str, list[Any]]:
    """One row per allocatable GPU of each node DCGM did not report, allocated to its pods in name order."""
    rows: dict[str, list[Any]] = {c: [] for c in ("node", "gpu", "namespace", "pod")}
    missing = nodes[~nodes["name"].isin(seen)]
    if missing.empty:
        return rows
    holders = pods[pods["node"].isin(missing["name"]) & (pods["gpus"] > 0)]
    holders = holders[~holders["phase"].isin(TERMINAL_PHASES).fillna(False).astype(bool)]
    by_node: dict[Any, list[tuple[Any, Any, int]]] = {}
    for node, ns, name, gpus in holders.sort_values("name")[["node", "namespace", "name", "gpus"]].itertuples(
        index=False
    ):
        by_node.setdefault(node, []).append((ns, name, int(gpus)))
    for node, allocatable in missing[["name", "gpus_allocatable"]].itertuples(index=False):
        owners = [(ns, name) for ns, name, gpus in by_node.get(node, ()) for _ in range(gpus)]
        for index in range(int(allocatable)):
            ns, pod = owners[index] if index < len(owners) else (None, None)
            rows["node"].append(node)
            rows["gpu"].append(index)
            rows["namespace"].append(ns)
            rows["pod"].append(pod)
    return rows


def gpus_frame(
    dcgm: Mapping[str, Mapping[str, Any] | None],
    pods: pd.DataFrame,
    nodes: pd.DataFrame,
    technology: TechnologyConfig,
) -> pd.DataFrame:
    """Schema ``gpus``: one row per GPU DCGM reports, joined to the pod (and service) holding it.

    ``dcgm`` maps the catalogue names of :data:`DCGM_QUERIES` to their ``data``. A GPU node that DCGM
    does not report (no exporter, or the query failed) still gets one row per allocatable GPU, with NaN
    metrics and the GPUs dealt to the node's pods from the API. ``gpu_type`` is the type matching
    DCGM's ``modelName``, else the node's type.

    >>> class T:
    ...     def match_dcgm(self, m): return "nvidia-l4"
    >>> d = {"gpu_utilization": {"result": [{"metric": {"Hostname": "n1", "gpu": "0", "modelName": "NVIDIA L4"},
    ...      "value": [0, "37"]}]}}
    >>> from mtop.frames import pods_frame
    >>> g = gpus_frame(d, pods_frame([]), schema.empty_frame("nodes"), T())
    >>> g[["node", "gpu", "gpu_type", "utilization_percent"]].values.tolist()
    [['n1', 0, 'nvidia-l4', 37.0]]
    """
    info, values = _dcgm_series(dcgm)
    keys = list(info)
    cols: dict[str, Any] = {
        "node": [k[0] for k in keys],
        "gpu": [_int(k[1]) for k in keys],
        "uuid": [info[k][0] for k in keys],
        "model_name": [info[k][1] for k in keys],
        "namespace": [info[k][2] or None for k in keys],
        "pod": [info[k][3] or None for k in keys],
    }
    for column, found in values.items():
        cols[column] = list(_floats([found.get(k, "NaN") for k in keys]))
    extra = _api_only_rows(nodes, pods, {k[0] for k in keys})
    for column, more in extra.items():
        cols[column] = cols[column] + more
    n_extra = len(extra["node"])
    for column in ("uuid", "model_name"):
        cols[column] = cols[column] + [None] * n_extra
    for column in DCGM_QUERIES.values():
        cols[column] = cols[column] + [np.nan] * n_extra
    out = schema.conform(cols, "gpus")
    owners = pods[pods["service"].notna()]
    service = pd.Series(
        owners["service"].to_numpy(), index=pd.MultiIndex.from_arrays([owners["namespace"], owners["name"]])
    )
    out["service"] = pd.Series(
        service.reindex(pd.MultiIndex.from_arrays([out["namespace"], out["pod"]])).to_numpy(), dtype="string"
    )
    out["gpu_type"] = _gpu_types(out, nodes, technology)
    return out.sort_values(["node", "gpu"], kind="stable").reset_index(drop=True)


def _gpu_types(gpus: pd.DataFrame, nodes: pd.DataFrame, technology: TechnologyConfig) -> pd.Series:
    names = gpus["model_name"].dropna().unique()
    matched = {name: technology.match_dcgm(str(name)) for name in names}
    by_model = gpus["model_name"].map(matched).astype("string")
    by_node = gpus["node"].map(pd.Series(nodes["gpu_type"].to_numpy(), index=nodes["name"].to_numpy()))
    return by_model.fillna(by_node.astype("string")).fillna(gpus["model_name"])


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
