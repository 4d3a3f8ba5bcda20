"""Write the simulated fleet into a Kubernetes API server: the CRD, namespaces, nodes, services and pods.

Uses the official ``kubernetes`` client (imported only when a writer is made). Every write is idempotent
(create, or replace what is there) and status is written through the status subresource, as a
controller or kubelet would: on a bare API server (no scheduler, controllers or kubelets) that is the
only way objects get a status. Each LLMInferenceService is written with its own ``apiVersion``: the
CRD stores ``v1alpha2`` with conversion strategy ``None``, so a ``v1alpha1`` object keeps its fields.

Server-owned metadata (``uid``, ``resourceVersion``, ``creationTimestamp``, ``generation``) is dropped
from the simulated objects before writing, so the server's ``creationTimestamp`` is the load time.
Writes run on a thread pool and send and receive plain JSON (no generated model objects). The examples
marked SKIP need a running API server.

>>> strip_server_fields({"metadata": {"name": "a", "uid": "u", "resourceVersion": "1"}, "status": {}})
{'metadata': {'name': 'a'}}
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from typing import Any, Protocol, runtime_checkable

import yaml

from mtop.errors import SourceError, SourceUnavailable
from mtop.interfaces import JSONDict

__all__ = [
    "CRD_NAME",
    "GROUP",
    "MANAGED_BY",
    "PLURAL",
    "FleetObjects",
    "KubeWriter",
    "LoadReport",
    "crd_manifest",
    "strip_server_fields",
]

GROUP = "serving.kserve.io"
PLURAL = "llminferenceservices"
CRD_NAME = f"{PLURAL}.{GROUP}"
CRD_RESOURCE = "llminferenceservice-crd.yaml"
MANAGED_BY = {"app.kubernetes.io/managed-by": "mtop-sim"}
"""The label on every object ``mtop sim serve`` writes: what a later load replaces directly or prunes."""
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
"""Ask for metadata only (no spec or status): what pruning needs of 10,000 pods."""
RETRIES = 5
"""Retries of a request the server answered with a transient status (429, 500, 502, 503, 504)."""
TRANSIENT = frozenset({429, 500, 502, 503, 504})
BACKOFF_S = 0.2
_SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


def crd_manifest() -> JSONDict:
    """The packaged ``LLMInferenceService`` CRD manifest (``deploy/crd/llminferenceservice.yaml``).

    >>> m = crd_manifest(); [v["name"] for v in m["spec"]["versions"] if v["storage"]]
    ['v1alpha2']
    """
    text = resources.files("mtop.simulation").joinpath(CRD_RESOURCE).read_text(encoding="utf-8")
    manifest: JSONDict = yaml.safe_load(text)
    return manifest


def strip_server_fields(obj: Mapping[str, Any], keep_status: bool = False) -> JSONDict:
    """A copy of ``obj`` to send on create: no server-owned metadata, no status unless ``keep_status``.

    >>> strip_server_fields({"metadata": {"generation": 3}, "status": {"a": 1}}, keep_status=True)
    {'metadata': {}, 'status': {'a': 1}}
    """
    out = {k: v for k, v in obj.items() if k != "status" or keep_status}
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_FIELDS}
    return out


def _labelled(obj: JSONDict) -> JSONDict:
    meta = obj["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), **MANAGED_BY}
    return obj


@dataclass
class LoadReport:
    """What one load wrote: objects per kind, how many were created vs replaced, and when.

    ``at`` is the simulated instant the objects describe (a crash-looping pod's restarts depend on it).

    >>> LoadReport(at=datetime(2026, 1, 1, tzinfo=UTC)).total
    0
    """

    at: datetime
    counts: dict[str, int] = field(default_factory=dict)
    created: int = 0
    replaced: int = 0
    pruned: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Objects written, all kinds together."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line for the terminal.

        >>> LoadReport(datetime(2026, 1, 1, tzinfo=UTC), {"pods": 2}, created=2, seconds=0.5).summary()
        'wrote 2 pods (2 created, 0 replaced) in 0.5 s'
        """
        kinds = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        pruned = f", deleted {self.pruned} stale" if self.pruned else ""
        return f"wrote {kinds} ({self.created} created, {self.replaced} replaced{pruned}) in {self.seconds:.1f} s"


@runtime_checkable
class FleetObjects(Protocol):
    """What the writer reads from a fleet: ``mtop.sources.simulated.SimulatedFleet`` has it.

    >>> from mtop.sources.simulated import SimulatedFleet
    >>> isinstance(SimulatedFleet(services=1, clock="frozen"), FleetObjects)
    True
    """

    def now(self) -> datetime:
        """The simulated instant the objects describe."""
        ...

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[JSONDict]:
        """Objects of ``kind`` (``namespaces``, ``nodes``, ``llminferenceservices``, ``pods``)."""
        ...


class KubeWriter:
    """Writes a simulated fleet's objects into one API server, idempotently, on ``workers`` threads.

    ``api_client`` is a ``kubernetes.client.ApiClient`` (see :meth:`from_kubeconfig`): its configuration,
    authentication and connection pool are used as they are. Requests go through ``ApiClient.call_api``
    with plain JSON bodies: the generated typed methods of client 37 validate every body against pydantic
    models (a Node without ``nodeInfo.bootID`` is refused client-side) and decode every answer into them.

    >>> KubeWriter.from_kubeconfig("/nonexistent/kubeconfig")  # doctest: +SKIP
    """

    def __init__(self, api_client: Any, *, workers: int = 16, sleep: Callable[[float], None] = time.sleep) -> None:
        self.api_client = api_client
        self.sleep = sleep
        self.workers = max(1, int(workers))
        self.host = str(getattr(api_client.configuration, "host", "") or "")
        self._written: dict[tuple[str, str], str] = {}  # (namespace, pod) -> JSON of the status written

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: str | None = None, context: str | None = None, *, workers: int = 16
    ) -> KubeWriter:
        """A writer for the cluster of ``context`` in ``kubeconfig`` (defaults: ``$KUBECONFIG``, current context).

        >>> KubeWriter.from_kubeconfig("/nonexistent/kubeconfig")  # doctest: +SKIP
        """
        from kubernetes import client, config

        configuration = client.Configuration()
        load: Callable[..., None] = config.load_kube_config  # untyped in the client
        try:
            load(config_file=kubeconfig, context=context, client_configuration=configuration)
        except (config.ConfigException, OSError) as exc:
            where = kubeconfig or "$KUBECONFIG or ~/.kube/config"
            raise SourceError(f"cannot load kubeconfig {where}: {exc}", source="kubernetes") from None
        # Enough pooled connections for every worker thread (urllib3 discards the surplus otherwise).
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, workers + 2)
        return cls(client.ApiClient(configuration), workers=workers)

    def close(self) -> None:
        """Close the client's connection pool."""
        self.api_client.close()

    # ------------------------------------------------------------------------------------------ requests
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        what: str,
        expect: tuple[int, ...] = (),
        content_type: str = "application/json",
        accept: str = "application/json",
        query: Sequence[tuple[str, str]] = (),
    ) -> tuple[int, JSONDict]:
        """One API call: ``(HTTP status, decoded JSON)``; a status in ``expect`` returns ``(status, {})``.

        Any other failure raises ``SourceError`` (``SourceUnavailable`` when the server cannot be reached)
        naming ``what``, the status and the server's message.

        >>> KubeWriter.from_kubeconfig().request("GET", "/version", what="version")  # doctest: +SKIP
        """
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        client = self.api_client
        for attempt in range(RETRIES + 1):
            headers = {"Accept": accept, "Content-Type": content_type}
            try:
                serialized = client.param_serialize(
                    method=method,
                    resource_path=path,
                    query_params=list(query),
                    header_params=headers,
                    body=body,
                    auth_settings=["BearerToken"],
                )
                response = client.call_api(*serialized)
                data = response.read()
            except ApiException as exc:  # the REST layer's wrapper of TLS and protocol errors
                if not exc.status:
                    raise SourceUnavailable(f"{what}: {exc.reason}", source="kubernetes", target=self.host) from None
                raise _api_error(exc.status, exc.reason, exc.body, what, self.host) from None
            except HTTPError as exc:
                message = f"{what}: {type(exc).__name__}"
                raise SourceUnavailable(message, source="kubernetes", target=self.host) from None
            status = int(response.status)
            if 200 <= status < 300:
                return status, json.loads(data) if data else {}
            if status in expect:
                return status, {}
            if status not in TRANSIENT or attempt == RETRIES:
                raise _api_error(status, response.reason, data, what, self.host)
            # A busy API server answers 429/5xx ("please try again"); a retried create may then meet 409.
            self.sleep(BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    # --------------------------------------------------------------------------------------------- CRD
    def install_crd(self, timeout: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        """Create or replace the LLMInferenceService CRD, then wait until it is ``Established``.

        >>> KubeWriter.from_kubeconfig().install_crd()  # doctest: +SKIP
        """
        body = crd_manifest()
        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        what = f"CRD {CRD_NAME}"
        status, current = self.request("GET", f"{base}/{CRD_NAME}", what=f"get {what}", expect=(404,))
        if status == 404:
            self.request("POST", base, body, what=f"create {what}")
        else:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self.request("PUT", f"{base}/{CRD_NAME}", body, what=f"replace {what}")
        deadline = clock() + timeout
        while True:
            _, crd = self.request("GET", f"{base}/{CRD_NAME}", what=f"get {what}")
            conditions = (crd.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                return
            if clock() > deadline:
                raise SourceError(f"{what} not Established after {timeout:.0f}s", source="kubernetes", target=self.host)
            self.sleep(0.05)

    # -------------------------------------------------------------------------------------------- load
    def load(self, fleet: FleetObjects, *, install_crd: bool = True, prune: bool = True) -> LoadReport:
        """Write every object of ``fleet``: the CRD, namespaces, nodes, then services and pods in parallel.

        With ``prune``, objects an earlier load wrote (labelled :data:`MANAGED_BY`) that are not part of
        ``fleet`` are deleted afterwards (another seed or size leaves nothing stale behind); namespaces
        are kept (without a namespace controller their deletion would never finish).

        >>> KubeWriter.from_kubeconfig().load(SimulatedFleet())  # doctest: +SKIP
        """
        started = time.perf_counter()
        if install_crd:
            self.install_crd()
        at = fleet.now()
        report = LoadReport(at=at)
        namespaces = fleet.list_objects("namespaces")
        nodes = fleet.list_objects("nodes")
        services = fleet.list_objects("llminferenceservices")
        pods = fleet.list_objects("pods")
        # What an earlier load left: replaced directly (no failed create first), or pruned.
        existing = self.inventory()
        node_known, svc_rv, pod_known = existing["nodes"], existing["services"], existing["pods"]
        with ThreadPoolExecutor(self.workers) as pool:
            _count(report, "namespaces", list(pool.map(self.write_namespace, namespaces)))
            _count(report, "nodes", list(pool.map(lambda n: self.write_node(n, known=_key(n) in node_known), nodes)))
            jobs: list[Callable[[], bool]] = [partial(self.write_service, s, rv=svc_rv.get(_key(s))) for s in services]
            jobs += [partial(self.write_pod, p, known=_key(p) in pod_known) for p in pods]
            results = list(pool.map(lambda job: job(), jobs))
        _count(report, "llminferenceservices", results[: len(services)])
        _count(report, "pods", results[len(services) :])
        if prune:
            report.pruned = self.prune(services, pods, nodes, existing)
        report.seconds = time.perf_counter() - started
        return report

    def inventory(self) -> dict[str, dict[tuple[str, str], str]]:
        """Managed objects in the cluster: ``{"services"|"pods"|"nodes": {(namespace, name): resourceVersion}}``.

        >>> KubeWriter.from_kubeconfig().inventory()["pods"]  # doctest: +SKIP
        """
        out: dict[str, dict[tuple[str, str], str]] = {}
        for kind, (collection, _) in _PATHS.items():
            out[kind] = {_key(o): str(o["metadata"].get("resourceVersion") or "") for o in self.managed(collection)}
        return out

    def managed(self, path: str) -> list[JSONDict]:
        """Metadata of every object at collection ``path`` labelled :data:`MANAGED_BY` (paginated).

        >>> KubeWriter.from_kubeconfig().managed("/api/v1/nodes")  # doctest: +SKIP
        """
        selector = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
        items: list[JSONDict] = []
        token = ""
        while True:
            query = [("labelSelector", selector), ("limit", "1000")] + ([("continue", token)] if token else [])
            _, page = self.request("GET", path, what=f"list {path}", accept=METADATA_LIST, query=query)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    def prune(
        self,
        services: Sequence[JSONDict],
        pods: Sequence[JSONDict],
        nodes: Sequence[JSONDict],
        existing: Mapping[str, Mapping[tuple[str, str], str]] | None = None,
    ) -> int:
        """Delete managed LLMInferenceServices, pods and nodes that are not among those given; how many.

        ``existing`` is an :meth:`inventory` taken before (listed again when not given).

        >>> KubeWriter.from_kubeconfig().prune([], [], [])  # doctest: +SKIP
        """
        wanted = {"services": {_key(o) for o in services}, "pods": {_key(o) for o in pods},
                  "nodes": {_key(o) for o in nodes}}  # fmt: skip
        found = existing if existing is not None else self.inventory()
        doomed = [
            _PATHS[kind][1].format(ns=ns, name=name)
            for kind in _PATHS
            for ns, name in found.get(kind, {})
            if (ns, name) not in wanted[kind]
        ]

        def delete(path: str) -> None:
            # Grace period 0: no kubelet will ever confirm a graceful pod deletion.
            self.request("DELETE", path, {"gracePeriodSeconds": 0}, what=f"delete {path}", expect=(404,))

        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(delete, doomed))
        return len(doomed)

    def sync_pod_statuses(self, fleet: FleetObjects) -> int:
        """Re-write the status of every pod whose simulated status changed since it was written; how many.

        (Only a crash-looping pod's restart count moves with time.)

        >>> KubeWriter.from_kubeconfig().sync_pod_statuses(SimulatedFleet())  # doctest: +SKIP
        """
        changed = 0
        for pod in fleet.list_objects("pods"):
            meta = pod["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            if self._written.get(key) != json.dumps(pod.get("status"), sort_keys=True):
                self._write_pod_status(pod)
                changed += 1
        return changed

    # ------------------------------------------------------------------------------------------ writers
    def write_namespace(self, obj: JSONDict) -> bool:
        """Create a namespace (or add the managed-by label to an existing one); True if created.

        >>> KubeWriter.from_kubeconfig().write_namespace({"metadata": {"name": "demo"}})  # doctest: +SKIP
        """
        body = _labelled(strip_server_fields(obj))
        name = body["metadata"]["name"]
        status, _ = self.request("POST", "/api/v1/namespaces", body, what=f"create namespace {name}", expect=(409,))
        if status == 409:
            patch = {"metadata": {"labels": body["metadata"]["labels"]}}
            self.request(
                "PATCH",
                f"/api/v1/namespaces/{name}",
                patch,
                what=f"label namespace {name}",
                content_type="application/merge-patch+json",
            )
        return status != 409

    def write_node(self, obj: JSONDict, *, known: bool = False) -> bool:
        """Create or replace a node, then write its status (capacity, allocatable, conditions); True if created.

        ``known``: the node is believed to exist, so it is replaced without trying to create it first.

        >>> KubeWriter.from_kubeconfig().write_node(node)  # doctest: +SKIP
        """
        body = _labelled(strip_server_fields(obj, keep_status=True))
        name = body["metadata"]["name"]
        path = f"/api/v1/nodes/{name}"
        created = False
        if known:
            status, _ = self.request("PUT", path, body, what=f"replace node {name}", expect=(404,))
            known = status != 404
        if not known:
            status, _ = self.request("POST", "/api/v1/nodes", body, what=f"create node {name}", expect=(409,))
            created = status != 409
            if not created:
                self.request("PUT", path, body, what=f"replace node {name}")
        self.request("PUT", f"{path}/status", body, what=f"write node {name} status")
        return created

    def write_service(self, obj: JSONDict, *, rv: str | None = None) -> bool:
        """Create or replace an LLMInferenceService with its own ``apiVersion``, then its status; True if created.

        ``rv``: the resourceVersion of the object believed to exist, replaced without trying to create it.

        >>> KubeWriter.from_kubeconfig().write_service(svc)  # doctest: +SKIP
        """
        body = _labelled(strip_server_fields(obj))
        meta = body["metadata"]
        ns, name = meta["namespace"], meta["name"]
        version = str(obj.get("apiVersion") or f"{GROUP}/v1alpha2").rpartition("/")[2]
        base = f"/apis/{GROUP}/{version}/namespaces/{ns}/{PLURAL}"
        what = f"LLMInferenceService {ns}/{name}"
        written: JSONDict = {}
        created = False
        if rv:
            replace = {**body, "metadata": {**meta, "resourceVersion": rv}}
            status, written = self.request("PUT", f"{base}/{name}", replace, what=f"replace {what}", expect=(404, 409))
            if status == 404:
                rv = None  # gone since it was listed: create it
            # 409: the listed resourceVersion is stale; replace at the current one below
        if not written and not rv:
            status, written = self.request("POST", base, body, what=f"create {what}", expect=(409,))
            created = status != 409
        if not written:
            _, current = self.request("GET", f"{base}/{name}", what=f"get {what}")
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            _, written = self.request("PUT", f"{base}/{name}", body, what=f"replace {what}")
        with_status = {**body, "metadata": {**meta, "resourceVersion": written["metadata"]["resourceVersion"]}}
        with_status["status"] = obj.get("status") or {}
        self.request("PUT", f"{base}/{name}/status", with_status, what=f"write {what} status")
        return created

    def write_pod(self, obj: JSONDict, *, known: bool = False) -> bool:
        """Create a pod (or replace it; delete and re-create if its spec changed), then its status; True if created.

        ``known``: the pod is believed to exist, so it is replaced without trying to create it first.

        >>> KubeWriter.from_kubeconfig().write_pod(pod)  # doctest: +SKIP
        """
        body = _labelled(strip_server_fields(obj))
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        base = f"/api/v1/namespaces/{ns}/pods"
        what = f"pod {ns}/{name}"
        status = 409 if known else 0
        if not known:
            status, _ = self.request("POST", base, body, what=f"create {what}", expect=(409, 500))
        if status == 500:  # (only after a create)
            # A pod with generateName that already exists is answered 500 ServerTimeout, not 409
            # (the server assumes a generated name collided): look before creating again.
            found, _ = self.request("GET", f"{base}/{name}", what=f"get {what}", expect=(404,))
            if found == 404:
                status, _ = self.request("POST", base, body, what=f"create {what}", expect=(409,))
            else:
                status = 409
        created = status != 409
        if not created:
            # Pod specs are mostly immutable: an unchanged spec replaces, a changed one is re-created.
            status, _ = self.request("PUT", f"{base}/{name}", body, what=f"replace {what}", expect=(404, 422))
            if status == 404:  # gone since it was listed
                self.request("POST", base, body, what=f"create {what}")
                created = True
            elif status == 422:
                # No kubelet will ever confirm a graceful delete: delete now (grace period 0).
                self.request("DELETE", f"{base}/{name}", {"gracePeriodSeconds": 0}, what=f"delete {what}")
                self.request("POST", base, body, what=f"create {what}")
                created = True
        self._write_pod_status(obj)
        return created

    def _write_pod_status(self, obj: JSONDict) -> None:
        body = _labelled(strip_server_fields(obj, keep_status=True))
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        path = f"/api/v1/namespaces/{ns}/pods/{name}/status"
        self.request("PUT", path, body, what=f"write pod {ns}/{name} status")
        self._written[(ns, name)] = json.dumps(obj.get("status"), sort_keys=True)


_PATHS = {
    "services": (f"/apis/{GROUP}/v1alpha2/{PLURAL}", f"/apis/{GROUP}/v1alpha2/namespaces/{{ns}}/{PLURAL}/{{name}}"),
    "pods": ("/api/v1/pods", "/api/v1/namespaces/{ns}/pods/{name}"),
    "nodes": ("/api/v1/nodes", "/api/v1/nodes/{name}"),
}
"""Per kind: the collection listed across namespaces, and one object's path."""


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return str(meta.get("namespace") or ""), str(meta["name"])


def _count(report: LoadReport, kind: str, created: Sequence[bool]) -> None:
    report.counts[kind] = report.counts.get(kind, 0) + len(created)
    n = sum(1 for c in created if c)
    report.created += n
    report.replaced += len(created) - n


class _StatusError(SourceError):
    """An API error with its HTTP status (404/409/422 are answers, not failures, for an idempotent write)."""

    def __init__(self, message: str, *, status: int, target: str | None) -> None:
        self.status = status
        super().__init__(message, source="kubernetes", target=target)


def _api_error(status: int, reason: str | None, body: Any, what: str, host: str) -> SourceError:
    message = str(reason or "")
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        message = json.loads(body).get("message") or message
    return _StatusError(f"{what}: HTTP {status} {message}".rstrip(), status=status, target=host)


def now_utc() -> datetime:
    """The wall clock in UTC (the serve loop's default clock).

    >>> now_utc().tzinfo is UTC
    True
    """
    return datetime.now(UTC)
