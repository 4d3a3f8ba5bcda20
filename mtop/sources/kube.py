"""The Kubernetes half of live mode: object lists as plain dicts through the official client, fast.

:class:`KubeSource` lists ``llminferenceservices``, ``pods``, ``nodes`` and ``namespaces`` with the
official ``kubernetes`` client, which handles kubeconfig files, contexts, in-cluster service accounts,
TLS and token refresh. It never builds the generated model objects: every call passes
``_preload_content=False`` and the raw bytes are decoded by :func:`~mtop.sources.projection.decode_list`
(pods and nodes: only the fields mtop reads, with ``msgspec``; the rest whole, with ``orjson``), so a
10,000-pod list costs one GET and a lean decode, not a million model constructors.

Lists are paginated (``limit``/``continue``, ``page_size`` objects per page; a ``410 Gone`` restarts
the list). They are read from the API server's watch cache (``resourceVersion=0``, as client-go's
informers and k9s list): cheap for the server and etcd, at most a moment behind; kube-apiserver
v1.20's cache answers in one page whatever the limit (a server that pages its cache reads is followed
page by page). ``consistent_reads=True`` reads from etcd instead (a quorum read), page by page.
Pods are listed once, all of them (``pod_selectors=()``): the frames recognise model pods by their
KServe/llm-d labels, and nodes' GPU allocation counts every pod that holds GPUs. Label selectors, when
configured, narrow the list server-side (one list per selector, merged).

Behaviour under failure, all in one private request helper (:meth:`KubeSource._get`):

- transient errors (connection refused or reset, 429, 5xx) are retried ``retries`` times with
  exponential backoff (``sleep`` is injectable, so tests never sleep); a timeout is not retried;
- a ``410 Gone`` during a paginated list (the continue token outlived an etcd compaction) restarts
  the list from the first page;
- ``403`` on one namespace is not an exception: the other namespaces are returned and the refusal is
  reported in :attr:`ListResult.errors`; ``401`` raises ``AuthError``; no answer at all raises
  ``SourceUnavailable`` naming the cluster and the API server's address;
- the LLMInferenceService version is discovered (``v1alpha2`` preferred, ``v1alpha1`` fallback); a
  cluster without the CRD gives an empty list and the error :data:`CRD_MISSING`.

Messages pass through :func:`mtop.logging.redact` and never quote a token, password or key.

>>> KubeSource.__name__, CRD_MISSING
('KubeSource', 'the LLMInferenceService CRD is not installed')
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mtop.errors import AuthError, ConfigError, SourceError, SourceUnavailable
from mtop.gcpause import gc_paused
from mtop.interfaces import JSONDict
from mtop.logging import get_logger, redact
from mtop.sources.projection import decode_list
from mtop.sources.transport import (
    TRANSIENT_STATUS,
    backoff_delay,
    failure,
    fan_out,
    json_loads,
    retry_after,
    scrub,
)

__all__ = [
    "CRD_MISSING",
    "GROUP",
    "KINDS",
    "POD_SELECTORS",
    "VERSIONS",
    "KubeSource",
    "ListResult",
]

log = get_logger(__name__)

KINDS = ("llminferenceservices", "pods", "nodes", "namespaces")
GROUP = "serving.kserve.io"
PLURAL = "llminferenceservices"
VERSIONS = ("v1alpha2", "v1alpha1")
"""LLMInferenceService versions in order of preference (v1alpha2 is KServe's storage version)."""
CRD_MISSING = "the LLMInferenceService CRD is not installed"
POD_SELECTORS = ("app.kubernetes.io/part-of=llminferenceservice", "llm-d.ai/inference-serving=true")
"""Labels of model pods: KServe puts the first on every workload and scheduler pod; llm-d's Helm guides use
the second. Useful as ``pod_selectors`` where model pods are few among many (the default lists all pods)."""
_MAX_RESTARTS = 3  # 410 restarts of one list: more means the store compacts faster than we can read


@dataclass
class ListResult:
    """Objects of one kind, plus what could not be listed (403 namespaces, a missing CRD).

    >>> ListResult([{"metadata": {"name": "a"}}]).errors
    []
    """

    items: list[JSONDict]
    errors: list[str] = field(default_factory=list)


class _Status(Exception):
    """An HTTP status the list logic handles itself (403, 404, 410)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class KubeSource:
    """Lists Kubernetes objects of one cluster as plain dicts, through the official client.

    ``api_client`` is a ``kubernetes.client.ApiClient`` (:meth:`from_kubeconfig` builds one); tests pass
    one whose connection pool is a fake, so the client's own URL, auth and error handling run for real.
    Nothing connects until a list is asked for.

    >>> from kubernetes.client import ApiClient, Configuration
    >>> kube = KubeSource(ApiClient(Configuration(host="https://127.0.0.1:6443")), cluster="dev", page_size=200)
    >>> kube.cluster, kube.page_size
    ('dev', 200)
    """

    def __init__(
        self,
        api_client: Any,
        *,
        cluster: str,
        page_size: int = 500,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        max_workers: int = 8,
        pod_selectors: Sequence[str] = (),
        consistent_reads: bool = False,
        progress: bool = False,
        secrets: Sequence[str] = (),
    ) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.cluster = cluster
        self.page_size = int(page_size)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.sleep = sleep
        self.max_workers = int(max_workers)
        self.pod_selectors = tuple(pod_selectors)
        self.consistent_reads = bool(consistent_reads)
        self.progress = progress
        self._secrets = tuple(s for s in secrets if s)
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._apis = client.ApisApi(api_client)
        self._version: str | None = None
        self._version_lock = threading.Lock()

    @classmethod
    def from_kubeconfig(
        cls,
        kubeconfig: str | None = None,
        context: str | None = None,
        *,
        in_cluster: bool | None = None,
        **options: Any,
    ) -> KubeSource:
        """A source for ``context`` of ``kubeconfig`` (None: the client's defaults), or the in-cluster account.

        ``in_cluster=None`` tries the kubeconfig first and falls back to the pod's service account.

        Raises:
            ConfigError: no usable kubeconfig or context (naming both), or no service account.

        >>> KubeSource.from_kubeconfig("/nonexistent/kubeconfig", in_cluster=False)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mtop.errors.ConfigError: ...
        """
        from kubernetes import client
        from kubernetes import config as kube_config

        config: Any = kube_config  # partly typed upstream: keep mypy out of it
        cfg = client.Configuration()
        errors = (config.ConfigException, OSError, TypeError, KeyError)
        where = kubeconfig or "the default kubeconfig"
        key = "live.context" if context else "live.kubeconfig"
        name: str | None = context
        problem = ""
        if not in_cluster:
            try:
                config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=cfg, persist_config=False
                )
                name = name or config.list_kube_config_contexts(kubeconfig)[1]["name"]
            except errors as exc:
                what = f"context {context!r} of {where}" if context else where
                problem = f"cannot load {what}: {redact(str(exc))}"
                if in_cluster is False or kubeconfig is not None or context is not None:
                    raise ConfigError(f"live mode: {problem}", key=key) from None
        if in_cluster or problem:  # asked for, or the fallback when there is no kubeconfig at all
            try:
                config.load_incluster_config(client_configuration=cfg)
            except errors as exc:
                also = f"{problem}; " if problem else ""
                message = f"live mode: {also}not inside a cluster either ({redact(str(exc))})"
                raise ConfigError(message, key=key if problem else "in_cluster") from None
            name = context or "in-cluster"
        cfg.retries = 0  # retries are ours (with backoff); urllib3's would retry instantly, 3 times
        tokens = [str(v) for v in (cfg.api_key or {}).values() if v]  # "BearerToken" or "authorization"
        secrets = tuple(tokens) + tuple(t.removeprefix("Bearer ").strip() for t in tokens) + _client_key(cfg)
        return cls(client.ApiClient(cfg), cluster=str(name), secrets=secrets, **options)

    @property
    def endpoint(self) -> str:
        """The API server's address (what errors name).

        >>> from kubernetes.client import ApiClient, Configuration
        >>> KubeSource(ApiClient(Configuration(host="https://127.0.0.1:6443")), cluster="dev").endpoint
        'https://127.0.0.1:6443'
        """
        return str(self.api_client.configuration.host)

    def close(self) -> None:
        """Release the client's connections.

        >>> from kubernetes.client import ApiClient, Configuration
        >>> KubeSource(ApiClient(Configuration(host="https://127.0.0.1:6443")), cluster="dev").close()
        """
        close = getattr(self.api_client, "close", None)
        if close is not None:
            close()

    # ------------------------------------------------------------------------------------ listing
    def list_kind(self, kind: str, namespaces: Sequence[str] | None = None) -> ListResult:
        """Objects of ``kind`` in ``namespaces`` (None: all; nodes and namespaces are cluster-scoped).

        Raises:
            SourceUnavailable: the API server does not answer (after retries).
            AuthError: the credentials are refused (401).
            ValueError: ``kind`` is not one of :data:`KINDS` (checked before any request).

        >>> from kubernetes.client import ApiClient, Configuration
        >>> kube = KubeSource(ApiClient(Configuration(host="https://127.0.0.1:6443")), cluster="dev")
        >>> kube.list_kind("deployments")
        Traceback (most recent call last):
        ...
        ValueError: unknown kind 'deployments'; the live source lists llminferenceservices, pods, nodes, namespaces
        """
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; the live source lists {', '.join(KINDS)}")
        with gc_paused():
            return self._list_kind(kind, namespaces)

    def _list_kind(self, kind: str, namespaces: Sequence[str] | None) -> ListResult:
        if kind == "nodes":
            return self._cluster_scoped(self._core.list_node, "nodes")
        if kind == "namespaces":
            out = self._cluster_scoped(self._core.list_namespace, "namespaces")
            if namespaces is not None:
                wanted = set(namespaces)
                out.items = [o for o in out.items if (o.get("metadata") or {}).get("name") in wanted]
            return out
        try:
            return self._pods(namespaces) if kind == "pods" else self._services(namespaces)
        except _Status as exc:  # a status no caller expects (404 on pods): report it, list nothing
            return ListResult([], [f"{kind}: {self._reason(exc)}"])

    def _cluster_scoped(self, call: Callable[..., Any], what: str) -> ListResult:
        try:
            return ListResult(self._list_all(call, what))
        except _Status as exc:
            return ListResult([], [f"{what}: {self._reason(exc)}"])

    def _pods(self, namespaces: Sequence[str] | None) -> ListResult:
        core = self._core
        return self._namespaced(
            "pods",
            namespaces,
            self.pod_selectors or ("",),
            lambda ns, s: self._list_all(core.list_namespaced_pod, "pods", namespace=ns, label_selector=s),
            lambda s: self._list_all(core.list_pod_for_all_namespaces, "pods", label_selector=s),
        )

    def _services(self, namespaces: Sequence[str] | None) -> ListResult:
        custom = self._custom
        for attempt in range(2):
            version = self._discover(refresh=attempt > 0)
            if version is None:
                return ListResult([], [CRD_MISSING])
            try:
                return self._namespaced(
                    "llminferenceservices",
                    namespaces,
                    (version,),
                    lambda ns, v: self._list_all(
                        custom.list_namespaced_custom_object,
                        PLURAL,
                        group=GROUP,
                        version=v,
                        namespace=ns,
                        plural=PLURAL,
                    ),
                    lambda v: self._list_all(
                        custom.list_cluster_custom_object, PLURAL, group=GROUP, version=v, plural=PLURAL
                    ),
                    raise_not_found=True,
                )
            except _Status:  # 404: the version went away (CRD updated or deleted): discover again, once
                with self._version_lock:
                    self._version = None
        return ListResult([], [CRD_MISSING])

    def _namespaced(
        self,
        kind: str,
        namespaces: Sequence[str] | None,
        variants: Sequence[str],
        one: Callable[[str, str], list[JSONDict]],
        everywhere: Callable[[str], list[JSONDict]],
        raise_not_found: bool = False,
    ) -> ListResult:
        """Lists of ``kind``, one per variant (label selector or version), merged by uid.

        ``namespaces=None`` is one cluster-wide list per variant; else one list per namespace and variant,
        all run concurrently. A 403 on one namespace becomes an error, not an exception; a 403
        cluster-wide falls back to every namespace the user may list.
        """
        if namespaces is None:
            try:
                lists = fan_out(everywhere, variants, desc=f"{self.cluster}: {kind}", max_workers=self.max_workers)
                return ListResult(_merge(lists))
            except _Status as exc:
                if exc.status != 403:
                    raise
                # Not allowed cluster-wide: try each namespace the user may see (RBAC per namespace).
                listed = self._cluster_scoped(self._core.list_namespace, "namespaces")
                if not listed.items:
                    hint = " (pass namespaces=[...] to read the namespaces you may)"
                    return ListResult([], [f"{kind} in all namespaces: {self._reason(exc)}{hint}", *listed.errors])
                namespaces = [o["metadata"]["name"] for o in listed.items]

        def attempt(job: tuple[str, str]) -> list[JSONDict] | str:
            ns, variant = job
            try:
                return one(ns, variant)
            except _Status as exc:
                if exc.status == 404 and raise_not_found:
                    raise
                return f"{kind} in namespace {ns}: {self._reason(exc)}"

        jobs = [(ns, v) for ns in sorted(set(namespaces)) for v in variants]
        results = fan_out(
            attempt, jobs, desc=f"{self.cluster}: {kind}", progress=self.progress, max_workers=self.max_workers
        )
        out = ListResult([])
        per_variant: dict[str, list[JSONDict]] = {v: [] for v in variants}
        for (_, variant), r in zip(jobs, results, strict=True):
            if isinstance(r, str):
                if r not in out.errors:
                    out.errors.append(r)
            else:
                per_variant[variant].extend(r)
        out.items = _merge(list(per_variant.values()))
        return out

    def _discover(self, refresh: bool = False) -> str | None:
        """The preferred served LLMInferenceService version, or None when the group is not served."""
        with self._version_lock:
            if self._version is not None and not refresh:
                return self._version
        groups = self._get(self._apis.get_api_versions, "API groups")
        served: list[str] = []
        for group in groups.get("groups") or ():
            if group.get("name") == GROUP:
                served = [v.get("version", "") for v in group.get("versions") or ()]
        version = next((v for v in VERSIONS if v in served), None)
        if version is None and served:
            log.info("cluster %s serves %s only in %s; mtop reads %s", self.cluster, GROUP, served, VERSIONS)
        with self._version_lock:
            self._version = version
        return version

    def _list_all(self, call: Callable[..., Any], what: str, **kwargs: Any) -> list[JSONDict]:
        """Every page of one list call; a 410 Gone on a continue token restarts from the first page."""
        items: list[JSONDict] = []
        token: str | None = None
        restarts = 0
        while True:
            paging: dict[str, Any] = {"limit": self.page_size}
            if token is not None:  # a continue token carries its own resourceVersion
                paging["_continue"] = token
            elif not self.consistent_reads:  # the watch cache (v1.20's ignores limit: one answer)
                paging["resource_version"] = "0"
            try:
                page = self._get(call, what, **paging, **kwargs)
            except _Status as exc:
                if exc.status != 410 or token is None or restarts >= _MAX_RESTARTS:
                    raise
                restarts += 1
                log.info("%s: continue token expired (410 Gone); restarting the list (%d)", what, restarts)
                items, token = [], None
                continue
            batch = page.get("items") or []
            if batch and "kind" not in batch[0]:
                _fill_kind(batch, page)
            items.extend(batch)
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                return items

    # ------------------------------------------------------------------------------ one request
    def _get(self, call: Callable[..., Any], what: str, **kwargs: Any) -> JSONDict:
        """One GET through the official client, raw bytes decoded; retries transient failures.

        Raises ``_Status`` for 403/404/410 (handled by the callers), ``AuthError`` for 401,
        ``SourceUnavailable`` when there is no answer, ``SourceError`` for any other status.
        """
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        attempt = 0
        while True:
            try:
                resp = call(**kwargs, _preload_content=False, _request_timeout=(min(10.0, self.timeout), self.timeout))
                try:
                    data = resp.data
                finally:
                    resp.release_conn()
                try:
                    return decode_list(what, data)
                except ValueError as exc:
                    raise SourceError(
                        f"the API server's answer to listing {what} could not be read: {self._scrub(str(exc))}",
                        source=f"cluster {self.cluster}",
                        target=self.endpoint,
                    ) from None
            except ApiException as exc:
                status = int(exc.status or 0)
                message = _status_message(exc)
                if status in (403, 404, 410):
                    raise _Status(status, message) from None
                if status == 401:
                    raise AuthError(
                        f"the API server refused the credentials (401): {self._scrub(message)}",
                        source=f"cluster {self.cluster}",
                        target=self.endpoint,
                    ) from None
                if status in TRANSIENT_STATUS and attempt < self.retries:
                    attempt += 1
                    self._wait(attempt, what, f"HTTP {status}", retry_after(exc.headers))
                    continue
                if status == 0:  # the client's own wrapping of TLS failures
                    raise self._unavailable(what, message, attempt) from None
                raise SourceError(
                    f"listing {what} failed: HTTP {status} {self._scrub(message)}",
                    source=f"cluster {self.cluster}",
                    target=self.endpoint,
                ) from None
            except (HTTPError, OSError) as exc:
                reason, retry = failure(exc, self.timeout)
                if retry and attempt < self.retries:
                    attempt += 1
                    self._wait(attempt, what, reason, None)
                    continue
                raise self._unavailable(what, reason, attempt) from None

    def _wait(self, attempt: int, what: str, reason: str, after: float | None) -> None:
        delay = backoff_delay(attempt, self.backoff, after)
        log.warning(
            "cluster %s: listing %s: %s; retry %d/%d in %.2gs",
            self.cluster, what, self._scrub(reason), attempt, self.retries, delay,
        )  # fmt: skip
        self.sleep(delay)

    def _unavailable(self, what: str, reason: str, attempts: int) -> SourceUnavailable:
        tries = f" (after {attempts + 1} attempts)" if attempts else ""
        return SourceUnavailable(
            f"cannot reach the Kubernetes API server while listing {what}: {self._scrub(reason)}{tries}",
            source=f"cluster {self.cluster}",
            target=self.endpoint,
        )

    def _reason(self, exc: _Status) -> str:
        word = {403: "forbidden", 404: "not found", 410: "gone"}.get(exc.status, "failed")
        return f"{word} ({exc.status}): {self._scrub(exc.message)}"

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)


def _client_key(cfg: Any) -> tuple[str, ...]:
    """The client key's PEM body, if the kubeconfig has one: it must never be quoted either."""
    path = getattr(cfg, "key_file", None)
    if not path:
        return ()
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            lines = [ln.strip() for ln in fh if ln.strip() and not ln.startswith("-----")]
    except OSError:
        return ()
    return tuple(lines)


def _fill_kind(items: list[JSONDict], page: JSONDict) -> None:
    """Give each item the ``apiVersion``/``kind`` the server left on the list (built-in kinds), like kubectl."""
    api_version, kind = page.get("apiVersion"), str(page.get("kind") or "").removesuffix("List")
    for item in items:
        item.setdefault("apiVersion", api_version)
        item.setdefault("kind", kind)


def _merge(lists: Sequence[list[JSONDict]]) -> list[JSONDict]:
    """Objects of several selector lists, once each (by uid), sorted by namespace and name like the server."""
    found = [items for items in lists if items]
    if len(found) <= 1:
        return found[0] if found else []
    seen: dict[Any, JSONDict] = {}
    for items in found:
        for obj in items:
            meta = obj.get("metadata") or {}
            seen.setdefault(meta.get("uid") or (meta.get("namespace"), meta.get("name")), obj)
    return sorted(seen.values(), key=_ns_name)


def _ns_name(obj: JSONDict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _status_message(exc: Any) -> str:
    """The ``message`` of a Kubernetes ``Status`` body, else the HTTP reason (never the headers)."""
    body = getattr(exc, "body", None)
    if body:
        try:
            status = json_loads(body.encode() if isinstance(body, str) else body)
            if isinstance(status, dict) and status.get("message"):
                return str(status["message"])
        except ValueError:
            pass
    return str(getattr(exc, "reason", "") or "no reason given")
