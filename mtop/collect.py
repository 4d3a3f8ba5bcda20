"""The collectors: a fleet in, DataFrames out, one collection pass per call.

Every collector takes ``fleet`` (``None``: :func:`mtop.context.default_fleet`) and ``namespaces``
(``None``: all), and returns every column of its :mod:`mtop.schema` frame even when empty. Each
call makes one :class:`_Snapshot`: it lists each object kind once and runs each named query once,
and every frame it builds shares them (``overview`` does not collect twice). ``df.attrs`` holds
``source``, ``cluster``, ``collected_at`` (source time, ISO 8601), ``namespaces``, ``queries``
(name, params and the PromQL a live source runs) and ``errors``: a query that fails is recorded
there and its columns are NaN (partial data is not an exception). A live source also reports what it
could not list (namespaces the user may not read, a missing CRD, no Prometheus) into ``errors``, and
the kinds it served from its cache of last good lists into ``stale`` (present only then).

Several clusters (``mtop.connect(mode="live", contexts=["a", "b"])``): each collector runs one pass per
cluster, concurrently, and stacks the frames with a leading ``cluster`` column (the context name);
``attrs["clusters"]`` lists them and each error is prefixed by its cluster. A cluster that cannot be
reached is an error of the others' frames, not an exception. One cluster: no ``cluster`` column.

>>> from datetime import UTC, datetime
>>> import mtop
>>> fleet = mtop.connect(seed=1, clock="frozen", start=datetime(2026, 11, 28, 12, tzinfo=UTC))
>>> df = overview(fleet)
>>> len(df) == len(services(fleet)), df.attrs["source"]
(True, 'simulated')
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

import numpy as np
import pandas as pd

from mtop import schema
from mtop.catalogue import parse_duration, render, spec
from mtop.cost import COST_BASIS, node_costs, service_costs
from mtop.errors import SourceError
from mtop.frames import nodes_frame as _nodes_frame
from mtop.frames import pods_frame, service_pods, services_frame, with_node_gpu_type
from mtop.gcpause import gc_paused
from mtop.interfaces import JSONDict
from mtop.promframes import DCGM_QUERIES, gpus_frame, matrix_frame, service_metrics
from mtop.recommend import recommend, what_if_frame
from mtop.slo import METRIC_QUERIES, slo_frame, tidy_history

if TYPE_CHECKING:
    from mtop.context import Fleet

__all__ = [
    "HISTORY_METRICS",
    "collect_all",
    "gpu_costs",
    "gpus",
    "nodes",
    "overview",
    "pods",
    "recommendations",
    "services",
    "slo_history",
    "slo_metrics",
    "what_if",
]

HISTORY_METRICS: tuple[str, ...] = (
    "ttft_p95_ms", "ttft_p50_ms", "itl_p95_ms", "e2e_p95_ms", "requests_per_second", "error_rate_percent",
    "tokens_per_second", "queue_depth", "kv_cache_usage",
)  # fmt: skip
"""The slo_metrics columns that :func:`slo_history` returns as ``metric``."""

_OVERVIEW_COST = ("hourly_cost", "cost_per_million_tokens", "idle_hourly_cost", "monthly_cost", "utilization_percent")
_METRIC_REQUESTS: list[tuple[str, Mapping[str, Any]]] = [(name, params) for name, params, _ in METRIC_QUERIES.values()]
_DCGM_REQUESTS: list[tuple[str, Mapping[str, Any]]] = [(name, {}) for name in DCGM_QUERIES]
F = TypeVar("F", bound=Callable[..., Any])


def _per_cluster(collector: F) -> F:
    """Run ``collector`` once per cluster of a multi-cluster fleet and stack the frames with a ``cluster`` column.

    A source with ``for_each_cluster`` (live) runs the passes (concurrently for several clusters); a
    single cluster's frames come back unchanged, without a ``cluster`` column. Other sources are called
    directly. The fleet is the first positional argument or ``fleet=``.
    """

    @functools.wraps(collector)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        fleet, rest = (args[0], args[1:]) if args else (kwargs.pop("fleet", None), ())
        whole = _fleet(fleet)
        for_each = getattr(whole.source, "for_each_cluster", None)
        if for_each is None:
            return collector(whole, *rest, **kwargs)
        results = for_each(lambda src: collector(dataclasses.replace(whole, source=src), *rest, **kwargs))
        if len(results) == 1:
            value = results[0][1]
            if isinstance(value, BaseException):
                raise value
            return value
        return _stack(results)

    return cast(F, wrapper)


def _stack(results: Sequence[tuple[str, Any]]) -> Any:
    """Per-cluster frames (or dicts of frames) as one, with a leading ``cluster`` column; failures in attrs."""
    ok = [(name, value) for name, value in results if not isinstance(value, BaseException)]
    failed = [f"{name}: {value}" for name, value in results if isinstance(value, BaseException)]
    if not ok:
        raise results[0][1]
    names = [name for name, _ in results]
    if isinstance(ok[0][1], dict):  # collect_all
        return {key: _stack_frames([(n, v[key]) for n, v in ok], names, failed) for key in ok[0][1]}
    return _stack_frames(ok, names, failed)


def _stack_frames(parts: Sequence[tuple[str, pd.DataFrame]], names: list[str], failed: list[str]) -> pd.DataFrame:
    frames = []
    for name, df in parts:
        frames.append(df.assign(cluster=pd.Series([name] * len(df), index=df.index, dtype="string")))
    out = pd.concat(frames, ignore_index=True)
    out = out[["cluster", *[c for c in out.columns if c != "cluster"]]]
    attrs = dict(parts[0][1].attrs)
    attrs["cluster"] = ", ".join(names)
    attrs["clusters"] = list(names)
    attrs["errors"] = [f"{n}: {e}" for n, df in parts for e in df.attrs.get("errors", [])] + failed
    stale = [f"{n}: {k}" for n, df in parts for k in df.attrs.get("stale", [])]
    if stale:
        attrs["stale"] = stale
    out.attrs = attrs
    return out


V = TypeVar("V")


class _cached(Generic[V]):
    """``functools.cached_property`` without its lock, which on Python 3.11 is one per *class*.

    With that lock, two snapshots built on two threads (several clusters; a dashboard refresh and a
    call) run one after the other. A snapshot belongs to one thread, so no lock is needed.
    """

    def __init__(self, fn: Callable[[Any], V]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _cached[V]: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> V: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> V | _cached[V]:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value  # the instance's value now shadows this (non-data) descriptor
        return value


def _fleet(fleet: Fleet | None) -> Fleet:
    if fleet is not None:
        return fleet
    from mtop.context import default_fleet

    return default_fleet()


def _duration(name: str, text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _namespaces(namespaces: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if namespaces is None:
        return None
    if isinstance(namespaces, str):  # a lone name, not its characters
        return (namespaces,)
    return tuple(namespaces)


class _Snapshot:
    """One collection pass: each kind listed once, each query run once, every frame built at most once."""

    def __init__(
        self,
        fleet: Fleet | None,
        namespaces: Sequence[str] | str | None = None,
        *,
        window: str = "5m",
        all_pods: bool = False,
    ) -> None:
        _duration("window", window)  # a bad window fails here, naming itself, before any I/O
        self.fleet = _fleet(fleet)
        self.config = self.fleet.config
        self.source = self.fleet.source
        self.namespaces = _namespaces(namespaces)
        self.window = window
        # Node allocation needs every pod on the node, whatever the namespace filter.
        self.all_pods = all_pods and self.namespaces is not None
        self.collected_at = self.fleet.now()
        self.queries: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.stale: list[str] = []
        self._objects: dict[str, list[JSONDict]] = {}
        self._prefetched: dict[str, list[JSONDict] | SourceError] = {}
        self._results: dict[tuple[str, tuple[tuple[str, Any], ...]], JSONDict | None] = {}
        self._drain()  # left over by an earlier pass that failed in this thread: not this pass's news
        self.errors.clear()
        self.stale.clear()

    def _drain(self) -> None:
        """Move what the source could not get (403 namespaces, a missing CRD, no Prometheus) into ``errors``.

        ``drain_errors``/``drain_stale`` are optional source methods (the live source has them).
        """
        for attr, into in (("drain_errors", self.errors), ("drain_stale", self.stale)):
            drain = getattr(self.source, attr, None)
            if drain is not None:
                into.extend(m for m in drain() if m not in into)

    def _list_args(self, kind: str) -> tuple[bool, list[str] | None]:
        """Whether ``kind`` is filtered to the namespaces, and the namespaces to list it in."""
        scoped = kind != "nodes" and not (kind == "pods" and self.all_pods)
        return scoped, list(self.namespaces) if scoped and self.namespaces else None

    def prefetch_objects(self, kinds: Sequence[str]) -> None:
        """List ``kinds`` not listed yet at once, when the source offers ``list_many`` (live).

        Results (or the error a list raised, re-raised by :meth:`objects`) wait where :meth:`objects`
        finds them; without ``list_many`` this does nothing and each kind is listed when first asked for.
        """
        many = getattr(self.source, "list_many", None)
        # Pods listed cluster-wide for node allocation may need a second, scoped try (see objects): not here.
        fallback = "pods" if self.all_pods and self.namespaces else None
        todo = [
            k for k in dict.fromkeys(kinds) if k not in self._objects and k not in self._prefetched and k != fallback
        ]
        if many is None or len(todo) < 2:
            return
        results = many([(k, self._list_args(k)[1]) for k in todo])
        self._prefetched.update(zip(todo, results, strict=True))

    def objects(self, kind: str) -> list[JSONDict]:
        """Objects of ``kind``, listed once (nodes are cluster-wide)."""
        if kind not in self._objects:
            scoped, where = self._list_args(kind)
            if kind in self._prefetched:
                items = self._prefetched.pop(kind)
                if isinstance(items, SourceError):
                    raise items
            else:
                items = self.source.list_objects(kind, where)
            reported = len(self.errors)
            self._drain()
            if not scoped and kind == "pods" and not items and self.namespaces and len(self.errors) > reported:
                # Every pod could not be listed (RBAC per namespace): count allocation from ours alone.
                items = self.source.list_objects(kind, list(self.namespaces))
                self._drain()
            if scoped and self.namespaces is not None:
                wanted = set(self.namespaces)
                items = [o for o in items if (o.get("metadata") or {}).get("namespace") in wanted]
            self._objects[kind] = items
        return self._objects[kind]

    def _params(self, name: str, params: Mapping[str, Any], window: str) -> dict[str, Any]:
        full = dict(params)
        if "window" in spec(name).params:
            full["window"] = window
        return full

    def query(self, name: str, params: Mapping[str, Any] | None = None) -> JSONDict | None:
        """A named query's ``data``, run once; ``None`` (and an entry in ``errors``) when it fails."""
        full = self._params(name, params or {}, self.window)
        key = (name, tuple(sorted(full.items())))
        if key not in self._results:
            self.queries.append({"name": name, "params": full, "promql": render(name, full)})
            try:
                self._results[key] = self.source.query(name, full)
            except SourceError as exc:
                self.errors.append(f"{name} {full}: {exc}")
                self._results[key] = None
            self._drain()
        return self._results[key]

    def prefetch(self, requests: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Run the named queries not run yet, concurrently when the source offers ``query_many`` (live).

        Results land where :meth:`query` finds them, in request order; without ``query_many`` this
        does nothing and :meth:`query` runs each one when it is first asked for.
        """
        many = getattr(self.source, "query_many", None)
        if many is None:
            return
        todo: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[str, dict[str, Any]]] = {}
        for name, params in requests:
            full = self._params(name, params, self.window)
            key = (name, tuple(sorted(full.items())))
            if key not in self._results:
                todo.setdefault(key, (name, full))
        if not todo:
            return
        results = many(list(todo.values()))
        for (key, (name, full)), result in zip(todo.items(), results, strict=True):
            self.queries.append({"name": name, "params": full, "promql": render(name, full)})
            if isinstance(result, SourceError):
                self.errors.append(f"{name} {full}: {result}")
                self._results[key] = None
            else:
                self._results[key] = result
        self._drain()

    def query_range(self, name: str, params: Mapping[str, Any], window: str, step: timedelta) -> JSONDict | None:
        """A named range query over ``[now - window, now]`` (not cached: history is asked once)."""
        full = self._params(name, params, self.window)
        self.queries.append({"name": name, "params": full, "promql": render(name, full)})
        end = self.collected_at
        start = end - timedelta(seconds=parse_duration(window))
        try:
            return self.source.query_range(name, full, start, end, step)
        except SourceError as exc:
            self.errors.append(f"{name} {full}: {exc}")
            return None
        finally:
            self._drain()

    @_cached
    def all_pod_rows(self) -> pd.DataFrame:
        """Every listed pod (service or not), for node allocation."""
        self.prefetch_objects(("pods", "nodes"))  # every frame built on pods needs the nodes too
        return pods_frame(self.objects("pods"))

    @_cached
    def nodes(self) -> pd.DataFrame:
        """Schema ``nodes`` with costs (the one place unknown GPU types warn)."""
        tech = self.config.technology
        return node_costs(_nodes_frame(self.objects("nodes"), self.all_pod_rows, tech), tech)

    @_cached
    def typed_pods(self) -> pd.DataFrame:
        """Every pod in the namespaces, with its node's GPU type."""
        rows = self.all_pod_rows
        if self.all_pods and self.namespaces is not None:
            rows = rows[rows["namespace"].isin(self.namespaces)]
        return with_node_gpu_type(rows, self.nodes)

    @_cached
    def pods(self) -> pd.DataFrame:
        """Schema ``pods``: the LLMInferenceService pods."""
        return service_pods(self.typed_pods)

    @_cached
    def services(self) -> pd.DataFrame:
        """Schema ``services``."""
        self.prefetch_objects(("llminferenceservices", "pods", "nodes"))
        return services_frame(self.objects("llminferenceservices"), self.typed_pods, self.config.technology)

    @_cached
    def metrics(self) -> pd.DataFrame:
        """Per-service figures of :data:`mtop.slo.METRIC_QUERIES`, in their columns' units."""
        self.prefetch(_METRIC_REQUESTS)
        results = {col: self.query(name, params) for col, (name, params, _) in METRIC_QUERIES.items()}
        return service_metrics(results, scale={col: s for col, (_, _, s) in METRIC_QUERIES.items()})

    @_cached
    def gpus(self) -> pd.DataFrame:
        """Schema ``gpus`` (GPUs held in the namespaces when filtered)."""
        self.prefetch(_DCGM_REQUESTS)
        dcgm = {name: self.query(name) for name in DCGM_QUERIES}
        out = gpus_frame(dcgm, self.all_pod_rows, self.nodes, self.config.technology)
        if self.namespaces is not None:
            out = out[out["namespace"].isin(self.namespaces).fillna(False)].reset_index(drop=True)
        return out

    @_cached
    def slo_metrics(self) -> pd.DataFrame:
        """Schema ``slo_metrics``."""
        metrics = self.metrics
        error_known = self.query("error_request_rate") is not None
        return slo_frame(self.services, metrics, self.config.slo, errors_known=error_known)

    @_cached
    def gpu_costs(self) -> pd.DataFrame:
        """Schema ``gpu_costs``."""
        tps = self.metrics[["namespace", "service", "tokens_per_second"]]
        return service_costs(self.services, self.pods, self.nodes, self.gpus, tps)

    @_cached
    def overview(self) -> pd.DataFrame:
        """Schema ``overview`` (plus ``utilization_percent``): services, SLO and cost, one row per service."""
        svc, slo, cost = self.services, self.slo_metrics, self.gpu_costs
        cols: dict[str, Any] = {"namespace": svc["namespace"], "service": svc["name"]}
        cols.update({c: svc[c] for c in svc.columns if c not in ("namespace", "name")})
        cols.update({c: slo[c] for c in slo.columns if c not in cols})
        cols.update({c: cost[c] for c in _OVERVIEW_COST})
        return schema.conform(pd.DataFrame(cols), "overview", attrs={"cost_basis": COST_BASIS})

    def attrs(self, **extra: Any) -> dict[Hashable, Any]:
        """Where the data came from, for ``df.attrs``."""
        out: dict[Hashable, Any] = {
            "source": self.source.kind,
            "cluster": self.source.cluster,
            "collected_at": self.collected_at.isoformat(),
            "namespaces": list(self.namespaces) if self.namespaces is not None else None,
            "queries": copy.deepcopy(self.queries),
            "errors": list(self.errors),
        }
        if self.stale:  # only a live source with allow_stale serves stale lists
            out["stale"] = list(self.stale)
        out.update(extra)
        return out

    def frame(self, name: str, kind: str | None = None, **extra: Any) -> pd.DataFrame:
        """A copy of one built frame, checked against its schema, with this pass's attrs."""
        with gc_paused():
            df: pd.DataFrame = getattr(self, name).copy()
        schema.check_frame(df, kind or name)
        df.attrs = {**df.attrs, **self.attrs(**extra)}
        return df


@_per_cluster
def services(fleet: Fleet | None = None, namespaces: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per LLMInferenceService: model, readiness, replicas, GPUs asked for and their type.

    Under ``spec.scaling`` (autoscaled), ``replicas`` is the count of replica pods present, else
    ``minReplicas`` (see :func:`mtop.frames.replicas_of`).

    >>> import mtop
    >>> services(mtop.connect(seed=1, clock="frozen")).columns[:3].tolist()
    ['namespace', 'name', 'model']
    """
    snap = _Snapshot(fleet, namespaces)
    return snap.frame("services")


@_per_cluster
def pods(fleet: Fleet | None = None, namespaces: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per model-server pod (decode, prefill, both) and router-scheduler pod.

    >>> import mtop
    >>> set(pods(mtop.connect(seed=1, clock="frozen"))["role"].dropna()) <= {"decode", "prefill", "both", "scheduler"}
    True
    """
    return _Snapshot(fleet, namespaces).frame("pods")


@_per_cluster
def nodes(fleet: Fleet | None = None, namespaces: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per GPU node: type, allocatable/allocated/free GPUs, price and cost.

    With ``namespaces``, only the nodes running a pod of them (allocation still counts every pod).

    >>> import mtop
    >>> df = nodes(mtop.connect(seed=1, clock="frozen"))
    >>> bool((df["gpus_free"] == df["gpus_allocatable"] - df["gpus_allocated"]).all())
    True
    """
    snap = _Snapshot(fleet, namespaces, all_pods=True)
    df = snap.frame("nodes")
    if snap.namespaces is not None:
        used = set(snap.typed_pods["node"].dropna())
        df = df[df["name"].isin(used)].reset_index(drop=True)
    return df


@_per_cluster
def gpus(fleet: Fleet | None = None, namespaces: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per GPU (DCGM), with the pod and service holding it; NaN metrics where DCGM is silent.

    >>> import mtop
    >>> gpus(mtop.connect(seed=1, clock="frozen")).columns[:2].tolist()
    ['node', 'gpu']
    """
    return _Snapshot(fleet, namespaces, all_pods=True).frame("gpus")


@_per_cluster
def slo_metrics(fleet: Fleet | None = None, namespaces: Sequence[str] | None = None, window: str = "5m") -> (
    pd.DataFrame
):  # fmt: skip
    """SLO figures per service over the rate ``window``, with compliance flags against ``config.slo``.

    >>> import mtop
    >>> str(slo_metrics(mtop.connect(seed=1, clock="frozen"))["slo_ok"].dtype)
    'boolean'
    """
    return _Snapshot(fleet, namespaces, window=window).frame("slo_metrics", window=window)


@_per_cluster
def gpu_costs(fleet: Fleet | None = None, namespaces: Sequence[str] | None = None, window: str = "5m") -> (
    pd.DataFrame
):  # fmt: skip
    """Cost per service (OpenCost allocation semantics): $/h, $/1M output tokens, idle $/h, $/month.

    >>> import mtop
    >>> gpu_costs(mtop.connect(seed=1, clock="frozen")).attrs["cost_basis"].startswith("OpenCost")
    True
    """
    return _Snapshot(fleet, namespaces, window=window).frame("gpu_costs", window=window)


@_per_cluster
def overview(fleet: Fleet | None = None, namespaces: Sequence[str] | None = None, window: str = "5m") -> (
    pd.DataFrame
):  # fmt: skip
    """The join: one row per service with its resources, SLO figures and cost (plus ``utilization_percent``).

    >>> import mtop
    >>> "cost_per_million_tokens" in overview(mtop.connect(seed=1, clock="frozen")).columns
    True
    """
    return _Snapshot(fleet, namespaces, window=window).frame("overview", window=window)


@_per_cluster
def collect_all(
    fleet: Fleet | None = None, namespaces: Sequence[str] | None = None, window: str = "5m"
) -> dict[str, pd.DataFrame]:
    """Every per-service and inventory frame from one collection pass (what a dashboard refresh wants).

    >>> import mtop
    >>> sorted(collect_all(mtop.connect(seed=1, clock="frozen")))[:3]
    ['gpu_costs', 'gpus', 'nodes']
    """
    snap = _Snapshot(fleet, namespaces, window=window, all_pods=True)
    snap.prefetch(_DCGM_REQUESTS + _METRIC_REQUESTS)  # every query of the pass at once (live: concurrently)
    names = ("services", "pods", "nodes", "gpus", "slo_metrics", "gpu_costs", "overview")
    for name in names:  # build every frame first, so each frame's attrs list every query of the pass
        getattr(snap, name)
    return {name: snap.frame(name, window=window) for name in names}


@_per_cluster
def slo_history(
    fleet: Fleet | None = None,
    window: str = "1h",
    step: str = "1m",
    namespaces: Sequence[str] | None = None,
    rate_window: str = "5m",
) -> pd.DataFrame:
    """Tidy time series (``timestamp``, ``namespace``, ``service``, ``metric``, ``value``) over the last ``window``.

    ``metric`` names are slo_metrics columns (:data:`HISTORY_METRICS`); rates use ``rate_window``.

    >>> import mtop
    >>> df = slo_history(mtop.connect(seed=1, clock="frozen"), window="10m", step="5m")
    >>> set(df["metric"]) <= set(HISTORY_METRICS)
    True
    """
    step_delta = timedelta(seconds=_duration("step", step))
    _duration("window", window)
    try:
        snap = _Snapshot(fleet, namespaces, window=rate_window)
    except ValueError as exc:
        raise ValueError(f"rate_{exc}") from None
    wanted = [c for c in METRIC_QUERIES if c in HISTORY_METRICS or c == "error_requests_per_second"]
    series: dict[str, pd.DataFrame] = {}
    for col in wanted:
        name, params, scale = METRIC_QUERIES[col]
        data = snap.query_range(name, params, window, step_delta)
        if data is None:
            continue  # failed (recorded in attrs["errors"]): no series, and no error rate made from it
        tidy = matrix_frame(data, ["namespace", "service"])
        if snap.namespaces is not None:
            tidy = tidy[tidy["namespace"].isin(snap.namespaces).fillna(False)]
        series[col] = tidy.assign(value=tidy["value"].to_numpy(np.float64) * scale)
    df = tidy_history(series)
    df.attrs = snap.attrs(window=window, step=step, rate_window=rate_window)
    return schema.check_frame(df, "slo_history")


@_per_cluster
def recommendations(fleet: Fleet | None = None, namespaces: Sequence[str] | None = None) -> pd.DataFrame:
    """Right-sizing actions (scale_down, scale_up, switch_gpu, consolidate) with monthly savings.

    See :mod:`mtop.recommend` for the thresholds and the sizing rule.

    >>> import mtop
    >>> recommendations(mtop.connect(seed=1, clock="frozen")).columns[:3].tolist()
    ['namespace', 'service', 'action']
    """
    snap = _Snapshot(fleet, namespaces)
    with gc_paused():
        df = recommend(snap.overview, snap.config)
    df.attrs = snap.attrs(cost_basis=COST_BASIS)
    return schema.check_frame(df, "recommendations")


@_per_cluster
def what_if(
    fleet: Fleet | None = None,
    *,
    gpu_type: str | None = None,
    replicas: int | None = None,
    service: str | None = None,
    namespace: str | None = None,
) -> pd.DataFrame:
    """Estimate cost, throughput, utilization and TTFT on another GPU type and/or replica count.

    Rows come in pairs per service, ``scenario`` "current" and "what_if"; ``df.attrs["estimate"]``
    is True and ``df.attrs["method"]`` explains the model (see :func:`mtop.recommend.what_if_frame`).

    Raises:
        UnknownGPUTypeError: ``gpu_type`` is not configured (a ``ConfigError`` and a ``ValueError``).

    >>> import mtop
    >>> what_if(mtop.connect(seed=1, clock="frozen"), gpu_type="nvidia-a100").attrs["estimate"]
    True
    """
    snap = _Snapshot(fleet, [namespace] if namespace is not None else None)
    with gc_paused():
        df = what_if_frame(
            snap.overview, snap.config, gpu_type=gpu_type, replicas=replicas, service=service, namespace=namespace
        )
    df.attrs = {**df.attrs, **snap.attrs()}
    return df
