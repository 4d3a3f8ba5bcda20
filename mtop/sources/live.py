"""Live mode's :class:`mtop.interfaces.Source`: Kubernetes (objects) plus Prometheus (metrics), per cluster.

:class:`LiveSource` joins one cluster's :class:`~mtop.sources.kube.KubeSource` and
:class:`~mtop.sources.prom.PromSource`; :class:`MultiClusterSource` holds several and collects them
concurrently. :func:`connect_live` builds either from the configuration and keyword options (what
``mtop.connect(mode="live", ...)`` passes on).

Partial data is not an exception. What one call could not get is recorded, per calling thread, and
handed to the collectors by two optional methods that ``mtop.collect`` reads into ``df.attrs``:

- :meth:`LiveSource.drain_errors`: namespaces the user may not list (403), the missing CRD, "no
  Prometheus URL configured" (queries then return empty results, so SLO and DCGM columns are NaN and
  GPU allocation comes from the API alone), lists served from the cache;
- :meth:`LiveSource.drain_stale`: the kinds served from the cache (``df.attrs["stale"]``).

Last good data: with ``allow_stale=True`` each successful list is kept for ``cache_ttl`` seconds in an
:class:`mtop.cache.LRUCache` keyed by (kind, namespaces); when the API server is unreachable the cached
list is served instead of raising ``SourceUnavailable`` (and marked stale). Without a cached list, the
error is raised, naming the cluster and the API server's address.

Several clusters (``contexts=["a", "b"]``): :meth:`MultiClusterSource.for_each_cluster` runs one
collection pass per cluster on threads (a tqdm bar after a second, see
:func:`mtop.sources.transport.progress_wanted`); ``mtop.collect`` concatenates the frames and adds a
``cluster`` column. A single cluster's frames have no ``cluster`` column (``df.attrs["cluster"]`` names it).

>>> sorted(LIVE_OPTIONS)[:5]
['allow_stale', 'backoff', 'cache_ttl', 'clock', 'consistent_reads']
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mtop.cache import LRUCache
from mtop.errors import ConfigError, SourceError, SourceUnavailable
from mtop.interfaces import JSONDict
from mtop.logging import get_logger
from mtop.sources.kube import KubeSource
from mtop.sources.prom import PromSource, QueryRequest
from mtop.sources.transport import fan_out, progress_wanted

if TYPE_CHECKING:
    from mtop.config import Config

__all__ = ["LIVE_OPTIONS", "NO_PROMETHEUS", "ListRequest", "LiveSource", "MultiClusterSource", "connect_live"]

log = get_logger(__name__)

ListRequest = tuple[str, Sequence[str] | None]
"""One list for :meth:`LiveSource.list_many`: a kind and its namespaces (None: all)."""

NO_PROMETHEUS = "no Prometheus URL configured (pass prometheus_url=, or set live.prometheus_url / MTOP_PROMETHEUS_URL)"
_MAX_PENDING_ERRORS = 500  # per thread, for a caller that never drains
T = TypeVar("T")


def _empty(result_type: str) -> JSONDict:
    return {"resultType": result_type, "result": []}


def _example(cluster: str = "dev") -> LiveSource:
    """A LiveSource for examples: an API server address that is never contacted, no Prometheus."""
    from kubernetes.client import ApiClient, Configuration

    return LiveSource(KubeSource(ApiClient(Configuration(host="https://127.0.0.1:6443")), cluster=cluster))


class LiveSource:
    """One live cluster: objects from its API server, metrics from its Prometheus (optional).

    >>> src = _example("dev")
    >>> src.kind, src.cluster, src.prom is None
    ('live', 'dev', True)
    """

    kind = "live"

    def __init__(
        self,
        kube: KubeSource,
        prom: PromSource | None = None,
        *,
        namespaces: Sequence[str] | None = None,
        cache_ttl: float = 300.0,
        allow_stale: bool = False,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.kube = kube
        self.prom = prom
        self.cluster = kube.cluster
        self.namespaces = tuple(namespaces) if namespaces is not None else None
        self.allow_stale = allow_stale
        self._clock = clock
        self._now = now or (lambda: datetime.now(UTC))
        # Kept only when asked for: a 10,000-pod list is worth holding only if it will be served.
        self._cache: LRUCache[tuple[str, tuple[str, ...] | None], tuple[float, list[JSONDict]]] = LRUCache(
            max_size=32, ttl=cache_ttl, clock=clock
        )
        self._local = threading.local()

    # ------------------------------------------------------------------------------ bookkeeping
    def _pending(self) -> collections.deque[tuple[str, str]]:
        pending: collections.deque[tuple[str, str]] | None = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = collections.deque(maxlen=_MAX_PENDING_ERRORS)
        return pending

    def _record(self, message: str, kind: str = "error") -> None:
        self._pending().append((kind, message))

    def _drain(self, kind: str) -> list[str]:
        pending = self._pending()
        out = [m for k, m in pending if k == kind]
        keep = [(k, m) for k, m in pending if k != kind]
        pending.clear()
        pending.extend(keep)
        return out

    def drain_errors(self) -> list[str]:
        """What the calling thread's calls could not get since the last drain (and forget it).

        >>> src = _example()
        >>> src.query("request_rate")["result"], src.drain_errors() == [NO_PROMETHEUS], src.drain_errors()
        ([], True, [])
        """
        return self._drain("error")

    def drain_stale(self) -> list[str]:
        """Kinds the calling thread was served from the cache since the last drain (and forget them).

        >>> _example().drain_stale()
        []
        """
        return self._drain("stale")

    def now(self) -> datetime:
        """The wall clock (UTC): a live cluster has no simulated time.

        >>> _example().now().tzinfo
        datetime.timezone.utc
        """
        return self._now()

    def clusters(self) -> list[LiveSource]:
        """The per-cluster sources: just this one.

        >>> [s.cluster for s in _example("dev").clusters()]
        ['dev']
        """
        return [self]

    def for_each_cluster(self, fn: Callable[[LiveSource], T]) -> list[tuple[str, T | SourceError]]:
        """``fn`` on this cluster: ``[(name, result)]``; a ``SourceError`` it raises is returned, not raised.

        >>> _example("dev").for_each_cluster(lambda src: src.cluster.upper())
        [('dev', 'DEV')]
        """
        try:
            return [(self.cluster, fn(self))]
        except SourceError as exc:
            return [(self.cluster, exc)]

    def close(self) -> None:
        """Release both clients' connections.

        >>> _example().close()
        """
        self.kube.close()
        if self.prom is not None:
            self.prom.close()

    # ---------------------------------------------------------------------------------- objects
    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[JSONDict]:
        """Objects of ``kind`` in ``namespaces`` (None: the configured namespace, else all).

        Raises:
            SourceUnavailable: the API server does not answer and no last good list may be served.
            AuthError: the credentials are refused.

        >>> _example().list_objects("deployments")
        Traceback (most recent call last):
        ...
        ValueError: unknown kind 'deployments'; the live source lists llminferenceservices, pods, nodes, namespaces
        """
        if isinstance(namespaces, str):
            namespaces = [namespaces]
        scope = tuple(sorted(set(namespaces))) if namespaces is not None else self.namespaces
        key = (kind, scope)
        try:
            result = self.kube.list_kind(kind, scope)
        except SourceUnavailable as exc:
            cached = self._cache.get(key) if self.allow_stale else None
            if cached is None:
                raise
            stored, items = cached
            age = self._clock() - stored
            self._record(f"{kind}: serving the last good list ({age:.0f}s old): {exc}")
            self._record(kind, "stale")
            return items
        for message in result.errors:
            self._record(message)
        if self.allow_stale:
            self._cache.put(key, (self._clock(), result.items))
        return result.items

    def list_many(self, requests: Sequence[ListRequest]) -> list[list[JSONDict] | SourceError]:
        """Several lists at once (the API server works on one while this process decodes another).

        Each result is the list or the ``SourceError`` it raised; what each list could not get is
        recorded for the *calling* thread, as if the lists had run in it.

        >>> out = _example().list_many([("deployments", None)])
        Traceback (most recent call last):
        ...
        ValueError: unknown kind 'deployments'; the live source lists llminferenceservices, pods, nodes, namespaces
        """

        def one(request: ListRequest) -> tuple[list[JSONDict] | SourceError, list[str], list[str]]:
            result: list[JSONDict] | SourceError
            try:
                result = self.list_objects(*request)
            except SourceError as exc:
                result = exc
            return result, self._drain("error"), self._drain("stale")

        outcomes = fan_out(one, list(requests), max_workers=self.kube.max_workers)
        for _, errors, stale in outcomes:
            for message in errors:
                self._record(message)
            for kind in stale:
                self._record(kind, "stale")
        return [result for result, _, _ in outcomes]

    # ---------------------------------------------------------------------------------- queries
    def query(self, name: str, params: Mapping[str, Any] | None = None, at: datetime | None = None) -> JSONDict:
        """A named query at one instant; an empty vector (and a recorded error) without Prometheus.

        >>> _example().query("queue_depth")
        {'resultType': 'vector', 'result': []}
        """
        if self.prom is None:
            self._record(NO_PROMETHEUS)
            return _empty("vector")
        return self.prom.query(name, params, at)

    def query_range(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> JSONDict:
        """A named range query; an empty matrix (and a recorded error) without Prometheus.

        >>> end = datetime(2026, 1, 1, tzinfo=UTC)
        >>> _example().query_range("request_rate", None, end - timedelta(minutes=5), end, timedelta(minutes=1))
        {'resultType': 'matrix', 'result': []}
        """
        if self.prom is None:
            self._record(NO_PROMETHEUS)
            return _empty("matrix")
        return self.prom.query_range(name, params, start, end, step)

    def query_many(self, requests: Sequence[QueryRequest], at: datetime | None = None) -> list[JSONDict | SourceError]:
        """Several named queries, run concurrently; each result is the ``data`` or the error it raised.

        >>> [r["result"] for r in _example().query_many([("request_rate", {}), ("queue_depth", {})])]
        [[], []]
        """
        if self.prom is None:
            if requests:
                self._record(NO_PROMETHEUS)
            return [_empty("vector") for _ in requests]
        return self.prom.query_many(requests, at)


class MultiClusterSource:
    """Several live clusters collected together; collectors add a ``cluster`` column.

    ``list_objects``/``query`` concatenate every cluster's answers (without saying whose they are);
    collectors use :meth:`for_each_cluster` instead, which keeps each cluster's data apart.

    >>> MultiClusterSource([_example("east"), _example("west")]).cluster
    'east, west'
    """

    kind = "live"

    def __init__(self, sources: Sequence[LiveSource], *, progress: bool = False, max_workers: int = 8) -> None:
        if not sources:
            raise ValueError("MultiClusterSource needs at least one cluster")
        self.sources = list(sources)
        self.cluster = ", ".join(s.cluster for s in self.sources)
        self.progress = progress
        self.max_workers = max_workers

    def clusters(self) -> list[LiveSource]:
        """The per-cluster sources, in the order given.

        >>> [s.cluster for s in MultiClusterSource([_example("east"), _example("west")]).clusters()]
        ['east', 'west']
        """
        return list(self.sources)

    def for_each_cluster(self, fn: Callable[[LiveSource], T]) -> list[tuple[str, T | SourceError]]:
        """``fn`` on every cluster concurrently: ``[(name, result or the SourceError it raised)]``.

        >>> MultiClusterSource([_example("east"), _example("west")]).for_each_cluster(lambda s: len(s.cluster))
        [('east', 4), ('west', 4)]
        """

        def one(src: LiveSource) -> T | SourceError:
            try:
                return fn(src)
            except SourceError as exc:
                return exc

        results = fan_out(one, self.sources, desc="clusters", progress=self.progress, max_workers=self.max_workers)
        return [(s.cluster, r) for s, r in zip(self.sources, results, strict=True)]

    def now(self) -> datetime:
        """The wall clock (UTC).

        >>> MultiClusterSource([_example()]).now().tzinfo
        datetime.timezone.utc
        """
        return self.sources[0].now()

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[JSONDict]:
        """Every cluster's objects, concatenated in cluster order.

        >>> MultiClusterSource([_example()]).list_objects("services")
        Traceback (most recent call last):
        ...
        ValueError: unknown kind 'services'; the live source lists llminferenceservices, pods, nodes, namespaces
        """
        return [o for s in self.sources for o in s.list_objects(kind, namespaces)]

    def query(self, name: str, params: Mapping[str, Any] | None = None, at: datetime | None = None) -> JSONDict:
        """Every cluster's vector, concatenated.

        >>> MultiClusterSource([_example("east"), _example("west")]).query("queue_depth")
        {'resultType': 'vector', 'result': []}
        """
        return {
            "resultType": "vector",
            "result": [r for s in self.sources for r in s.query(name, params, at)["result"]],
        }

    def query_range(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        start: datetime,
        end: datetime,
        step: timedelta,
    ) -> JSONDict:
        """Every cluster's matrix, concatenated.

        >>> end = datetime(2026, 1, 1, tzinfo=UTC)
        >>> MultiClusterSource([_example()]).query_range("request_rate", None, end, end, timedelta(minutes=1))
        {'resultType': 'matrix', 'result': []}
        """
        result = [r for s in self.sources for r in s.query_range(name, params, start, end, step)["result"]]
        return {"resultType": "matrix", "result": result}

    def drain_errors(self) -> list[str]:
        """Every cluster's pending errors for the calling thread, prefixed by the cluster's name.

        >>> multi = MultiClusterSource([_example("east")])
        >>> _ = multi.query("queue_depth"); multi.drain_errors() == [f"east: {NO_PROMETHEUS}"]
        True
        """
        return [f"{s.cluster}: {m}" for s in self.sources for m in s.drain_errors()]

    def drain_stale(self) -> list[str]:
        """Every cluster's stale kinds for the calling thread, prefixed by the cluster's name.

        >>> MultiClusterSource([_example("east")]).drain_stale()
        []
        """
        return [f"{s.cluster}: {m}" for s in self.sources for m in s.drain_stale()]

    def close(self) -> None:
        """Release every cluster's connections.

        >>> MultiClusterSource([_example()]).close()
        """
        for s in self.sources:
            s.close()


LIVE_OPTIONS = frozenset(
    {
        "kubeconfig", "context", "contexts", "in_cluster", "namespace", "namespaces", "prometheus_url",
        "prometheus_token", "prometheus_token_file", "prometheus_username", "prometheus_password", "prometheus_ca",
        "prometheus_timeout", "timeout", "page_size", "retries", "backoff", "sleep", "cache_ttl", "allow_stale",
        "progress", "pod_selectors", "consistent_reads", "max_workers", "now", "clock",
    }
)  # fmt: skip
"""The keyword options of :func:`connect_live` (and of ``mtop.connect(mode="live", ...)``)."""


def _pick(options: Mapping[str, Any], key: str, default: Any) -> Any:
    """``options[key]`` unless missing or None (0 and False count: they are real choices)."""
    value = options.get(key)
    return default if value is None else value


def _read_token(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the token file {path}: {exc.strerror}", key="live.prometheus_token_file"
        ) from None


def connect_live(config: Config, **options: Any) -> LiveSource | MultiClusterSource:
    """Build the live source from ``config.live`` and keyword options (which win); see :data:`LIVE_OPTIONS`.

    ``contexts=[...]`` (or ``live.contexts``) gives a :class:`MultiClusterSource`; ``prometheus_url`` may then
    be a mapping of context to URL. ``progress=None`` means auto (:func:`~mtop.sources.transport.progress_wanted`).

    Raises:
        ConfigError: a bad kubeconfig, context, token file or Prometheus URL. TypeError: an unknown option.

    >>> from mtop.config import default_config
    >>> connect_live(default_config(), colour="red")
    Traceback (most recent call last):
    ...
    TypeError: unknown live option(s): colour
    """
    unknown = sorted(set(options) - LIVE_OPTIONS)
    if unknown:
        raise TypeError(f"unknown live option(s): {', '.join(unknown)}")
    live = config.live
    opt = options.get
    contexts = list(opt("contexts") or live.contexts or [])
    progress = progress_wanted(opt("progress"))
    namespaces = opt("namespaces")
    if namespaces is None and (opt("namespace") or live.namespace):
        namespaces = [opt("namespace") or live.namespace]
    if isinstance(namespaces, str):
        namespaces = [namespaces]
    kube_options: dict[str, Any] = {
        "page_size": opt("page_size") or live.page_size,
        "timeout": opt("timeout") or live.kube_timeout_seconds,
        "retries": _pick(options, "retries", live.retries),
        "backoff": _pick(options, "backoff", live.retry_backoff_seconds),
        "pod_selectors": tuple(_pick(options, "pod_selectors", live.pod_selectors)),
        "consistent_reads": bool(_pick(options, "consistent_reads", live.consistent_reads)),
        "progress": progress,
        "max_workers": opt("max_workers") or 8,
    }
    if opt("sleep") is not None:
        kube_options["sleep"] = opt("sleep")
    kubeconfig = opt("kubeconfig") or live.kubeconfig
    targets: list[str | None] = list(contexts) if contexts else [opt("context") or live.context]
    sources = [
        _cluster(config, options, kube_options, kubeconfig, context, namespaces, len(targets) > 1)
        for context in targets
    ]
    if len(sources) == 1:
        return sources[0]
    return MultiClusterSource(sources, progress=progress, max_workers=kube_options["max_workers"])


def _cluster(
    config: Config,
    options: Mapping[str, Any],
    kube_options: Mapping[str, Any],
    kubeconfig: str | None,
    context: str | None,
    namespaces: Sequence[str] | None,
    several: bool,
) -> LiveSource:
    live, opt = config.live, options.get
    kube = KubeSource.from_kubeconfig(kubeconfig, context, in_cluster=opt("in_cluster"), **kube_options)
    url = opt("prometheus_url") or live.prometheus_url
    if isinstance(url, Mapping):
        url = url.get(kube.cluster)
    elif url and several:
        log.info("one Prometheus URL for several clusters: it must hold only %s's series", kube.cluster)
    prom = None
    if url:
        token = opt("prometheus_token")
        token_file = opt("prometheus_token_file") or live.prometheus_token_file
        if token is None and token_file:
            token = _read_token(token_file)
        prom_options: dict[str, Any] = {
            "cluster": kube.cluster,
            "token": token,
            "username": opt("prometheus_username") or live.prometheus_username,
            "password": opt("prometheus_password") or live.prometheus_password,
            "ca": opt("prometheus_ca") or live.prometheus_ca,
            "timeout": opt("prometheus_timeout") or live.prometheus_timeout_seconds,
            "retries": kube_options["retries"],
            "backoff": kube_options["backoff"],
            "max_workers": kube_options["max_workers"],
        }
        if opt("sleep") is not None:
            prom_options["sleep"] = opt("sleep")
        prom = PromSource(str(url), **prom_options)
    extra: dict[str, Any] = {k: opt(k) for k in ("clock", "now") if opt(k) is not None}
    return LiveSource(
        kube,
        prom,
        namespaces=namespaces,
        cache_ttl=float(_pick(options, "cache_ttl", live.cache_ttl_seconds)),
        allow_stale=bool(_pick(options, "allow_stale", live.allow_stale)),
        **extra,
    )
