"""The operations behind ``mtop``'s commands and :class:`mtop.async_cli.AsyncMTop`: one implementation, two faces.

Every function takes a :class:`mtop.context.Fleet` and plain arguments and returns plain data (object
dicts, frames, log chunks); the CLI prints them, ``AsyncMTop`` runs them in worker threads. Reads go
through the ``Source`` protocol. Writes and logs use optional capabilities of a source, looked up by
name so any source can offer them:

- ``read_pod_log(namespace, name, *, container, tail_lines, since_seconds, timestamps) -> str``
  (CoreV1 ``read_namespaced_pod_log``'s parameters);
- ``create_objects(kind, objects, *, before_commit) -> list[dict]`` and
  ``delete_objects(kind, [(namespace, name)], *, before_commit) -> list[dict]``, all or none;
- ``reset_overlay() -> bool`` (the simulated fleet's workspace overlay);
- ``default_namespace`` (the live context's namespace).

A live source without the first three gets them from :mod:`mtop.commands.kube_ops` (its Kubernetes client).

Cancellation: a write calls :func:`checkpoint` (through ``before_commit``) right before it commits;
when the operation runs under a cancelled :class:`CancelToken` that raises :class:`OperationCancelled`
and nothing is written, so a cancelled or timed-out write is all or nothing.

>>> import mtop
>>> fleet = mtop.connect(seed=1, clock="frozen", workspace=False)
>>> get_service(fleet, "gpt-4-turbo")["metadata"]["namespace"]
'production'
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtop.catalogue import parse_duration
from mtop.commands.kube_ops import capability
from mtop.errors import ConfigError, MtopError, SourceError
from mtop.interfaces import JSONDict
from mtop.logging import get_logger

if TYPE_CHECKING:
    import pandas as pd

    from mtop.context import Fleet

__all__ = [
    "API_VERSIONS",
    "GROUP",
    "KIND",
    "ROLES",
    "SERVICES",
    "CancelToken",
    "ManifestError",
    "NotFoundError",
    "OperationCancelled",
    "PodLog",
    "age_text",
    "check_service",
    "checkpoint",
    "conditions_frame",
    "cost_report",
    "create_services",
    "current_token",
    "delete_services",
    "describe_scope",
    "get_service",
    "list_crs",
    "list_services",
    "load_manifests",
    "parse_manifests",
    "reset_overlay",
    "running_under",
    "scope",
    "service_logs",
    "service_pods",
    "slo_report",
    "validate_service",
]

SERVICES = "llminferenceservices"
KIND = "LLMInferenceService"
GROUP = "serving.kserve.io"
API_VERSIONS = (f"{GROUP}/v1alpha1", f"{GROUP}/v1alpha2")
ROLES = ("decode", "prefill")
"""``--role`` choices: ``decode`` selects decode and ``both`` pods (both decode), ``prefill`` prefill pods."""
_ROLE_LABEL = "llm-d.ai/role"
_NAME_LABEL = "app.kubernetes.io/name"
_COMPONENT_LABEL = "app.kubernetes.io/component"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_log = get_logger(__name__)


def _trace(what: str, fleet: Fleet, **fields: Any) -> None:
    """One DEBUG record per operation (INFO for writes), with the source and the arguments as fields."""
    level = 20 if what in ("create", "delete", "reset") else 10
    _log.log(level, "%s on the %s source", what, fleet.source.kind, extra={"fields": {"operation": what, **fields}})


# --- errors and cancellation ----------------------------------------------------------------------------


class NotFoundError(MtopError, LookupError):
    """A named object does not exist where it was looked for.

    >>> str(NotFoundError("service 'x' not found in all namespaces"))
    "service 'x' not found in all namespaces"
    """


class ManifestError(ConfigError):
    """A manifest given to ``create`` is invalid; names the file, line and field.

    >>> str(ManifestError("must be an integer >= 0, got 'three'", key="spec.replicas", source="svc.yaml", line=9))
    "svc.yaml, line 9: spec.replicas: must be an integer >= 0, got 'three'"
    """


class OperationCancelled(MtopError):
    """An operation was cancelled (or timed out) before it committed anything.

    >>> isinstance(OperationCancelled("cancelled"), MtopError)
    True
    """


@dataclass
class CancelToken:
    """A flag a worker thread checks at its commit point (:func:`checkpoint`).

    >>> token = CancelToken(); token.cancel(); token.cancelled
    True
    """

    _event: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancel(self) -> None:
        """Ask the operation to stop before it commits."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled (or ``timeout`` seconds); returns whether it was cancelled.

        >>> CancelToken().wait(0)
        False
        """
        return self._event.wait(timeout)

    def check(self) -> None:
        """Raise :class:`OperationCancelled` if cancelled.

        >>> CancelToken().check()
        """
        if self._event.is_set():
            raise OperationCancelled("the operation was cancelled before it changed anything")


_TOKEN: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar("mtop_cancel_token", default=None)


def current_token() -> CancelToken | None:
    """The token of the operation running in this thread (``None`` outside :func:`running_under`).

    >>> current_token() is None
    True
    """
    return _TOKEN.get()


@contextlib.contextmanager
def running_under(token: CancelToken) -> Iterator[CancelToken]:
    """Run the body under ``token``: :func:`checkpoint` in it raises once the token is cancelled.

    >>> with running_under(CancelToken()) as t:
    ...     current_token() is t
    True
    """
    reset = _TOKEN.set(token)
    try:
        yield token
    finally:
        _TOKEN.reset(reset)


def checkpoint() -> None:
    """Raise :class:`OperationCancelled` if the current operation was cancelled (a no-op otherwise).

    >>> checkpoint()
    """
    token = _TOKEN.get()
    if token is not None:
        token.check()


# --- scope ----------------------------------------------------------------------------------------------


def _default_namespace(fleet: Fleet, fallback: str | None = None) -> str:
    return str(getattr(fleet.source, "default_namespace", None) or fallback or fleet.config.live.namespace or "default")


def scope(
    fleet: Fleet,
    namespaces: Sequence[str] | None = None,
    all_namespaces: bool = False,
    default: str | None = None,
) -> list[str] | None:
    """The namespaces a command looks at: ``-n`` if given, else all (``-A``, or mock mode), else the context's.

    The context's namespace is the source's ``default_namespace``, else ``default`` (the kubeconfig
    context's, which the caller found), else ``live.namespace``, else ``"default"``.

    >>> import mtop
    >>> fleet = mtop.connect(seed=1, clock="frozen", workspace=False)
    >>> scope(fleet) is None, scope(fleet, ["b", "a", "b"])
    (True, ['b', 'a'])
    """
    if namespaces:
        return list(dict.fromkeys(namespaces))
    if all_namespaces or fleet.mode == "mock":
        return None
    return [_default_namespace(fleet, default)]


def describe_scope(namespaces: Sequence[str] | None) -> str:
    """Words for a scope, for messages.

    >>> describe_scope(None), describe_scope(["a"]), describe_scope(["a", "b"])
    ('all namespaces', "namespace 'a'", "namespaces 'a', 'b'")
    """
    if namespaces is None:
        return "all namespaces"
    names = ", ".join(f"'{n}'" for n in namespaces)
    return f"namespace {names}" if len(namespaces) == 1 else f"namespaces {names}"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _in_scope(items: list[JSONDict], namespaces: Sequence[str] | None) -> list[JSONDict]:
    if namespaces is None:
        return items
    wanted = set(namespaces)
    return [o for o in items if _meta(o).get("namespace") in wanted]


# --- list, get, check -----------------------------------------------------------------------------------


def list_crs(fleet: Fleet, namespaces: Sequence[str] | None = None) -> list[JSONDict]:
    """Every LLMInferenceService object in scope (copies: safe to change).

    >>> import mtop
    >>> len(list_crs(mtop.connect(seed=1, clock="frozen", workspace=False))) >= 16
    True
    """
    _trace("list", fleet, namespaces=namespaces)
    items = fleet.source.list_objects(SERVICES, list(namespaces) if namespaces is not None else None)
    return copy.deepcopy(_in_scope(items, namespaces))


def list_services(
    fleet: Fleet, namespaces: Sequence[str] | None = None, sort: str | None = None, window: str = "5m"
) -> pd.DataFrame:
    """The overview frame (one row per service) sorted by a display sort key (default ``MTOP_SORT_KEY``).

    >>> import mtop
    >>> list_services(mtop.connect(seed=1, clock="frozen", workspace=False), sort="name")["service"].iloc[0]
    'claude-3-haiku'
    """
    from mtop.collect import overview
    from mtop.output import sort_frame

    display = fleet.config.display
    if sort and sort not in display.sorting.available_keys:
        keys = ", ".join(display.sorting.available_keys)
        raise ConfigError(f"unknown sort key {sort!r}; choose one of {keys}", key="--sort")
    return sort_frame(overview(fleet, namespaces=namespaces, window=window), display, sort)


def get_service(fleet: Fleet, name: str, namespaces: Sequence[str] | None = None) -> JSONDict:
    """The LLMInferenceService ``name`` in scope, as the API returns it (a copy).

    Raises:
        NotFoundError: no such service in the scope (the message names the scope).
        MtopError: the name exists in several namespaces and no ``-n`` picks one.

    >>> import mtop
    >>> get_service(mtop.connect(seed=1, clock="frozen", workspace=False), "nope", ["staging"])
    Traceback (most recent call last):
    ...
    mtop.commands.ops.NotFoundError: service 'nope' not found in namespace 'staging'
    """
    _trace("get", fleet, name=name, namespaces=namespaces)
    matches = [o for o in list_crs(fleet, namespaces) if _meta(o).get("name") == name]
    if not matches:
        raise NotFoundError(f"service '{name}' not found in {describe_scope(namespaces)}")
    if len(matches) > 1:
        where = ", ".join(sorted(str(_meta(o).get("namespace")) for o in matches))
        raise MtopError(f"service '{name}' exists in several namespaces ({where}): pass -n NAMESPACE to pick one")
    return matches[0]


def age_text(since: str | None, now: datetime) -> str:
    """kubectl-style age of an RFC 3339 time at ``now``: ``45s``, ``12m``, ``5h3m``, ``3d4h`` (``-`` if unknown).

    >>> age_text("2026-01-01T00:00:00Z", datetime(2026, 1, 1, 5, 3, tzinfo=UTC)), age_text(None, datetime.now(UTC))
    ('5h3m', '-')
    """
    if not since:
        return "-"
    try:
        then = datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "-"
    s = max(0, int((now - then).total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h{m}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d{h}h" if h else f"{d}d"


def conditions_frame(obj: Mapping[str, Any], now: datetime) -> pd.DataFrame:
    """An object's ``status.conditions`` as a frame: type, status, reason, message, last transition, age.

    >>> from datetime import UTC, datetime
    >>> obj = {"status": {"conditions": [{"type": "Ready", "status": "True",
    ...         "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
    >>> conditions_frame(obj, datetime(2026, 1, 3, 4, tzinfo=UTC))[["type", "age"]].values.tolist()
    [['Ready', '2d4h']]
    """
    import pandas as pd

    status = obj.get("status")
    raw = status.get("conditions") if isinstance(status, Mapping) else None
    conds = [c for c in raw or [] if isinstance(c, Mapping)]

    def col(key: str) -> list[str | None]:
        return [None if c.get(key) is None else str(c.get(key)) for c in conds]

    return pd.DataFrame(
        {
            "type": pd.array(col("type"), dtype="string"),
            "status": pd.array(col("status"), dtype="string"),
            "reason": pd.array(col("reason"), dtype="string"),
            "message": pd.array(col("message"), dtype="string"),
            "last_transition_time": pd.array(col("lastTransitionTime"), dtype="string"),
            "age": pd.array([age_text(c.get("lastTransitionTime"), now) for c in conds], dtype="string"),
        }
    )


def check_service(fleet: Fleet, name: str, namespaces: Sequence[str] | None = None) -> pd.DataFrame:
    """The conditions of service ``name`` (see :func:`conditions_frame`); ``df.attrs`` names it.

    >>> import mtop
    >>> df = check_service(mtop.connect(seed=1, clock="frozen", workspace=False), "claude-3-opus")
    >>> df.set_index("type").loc["Ready", "reason"]
    'MinimumReplicasUnavailable'
    """
    obj = get_service(fleet, name, namespaces)
    df = conditions_frame(obj, fleet.now())
    df.attrs = {"namespace": _meta(obj).get("namespace"), "name": name}
    return df


# --- logs -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodLog:
    """The log of one pod (``text``), or why there is none (``error``).

    >>> PodLog("p", "decode", "", "waiting to start").ok
    False
    """

    pod: str
    role: str
    text: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the log could be read."""
        return self.error is None


def _role(pod: Mapping[str, Any]) -> str:
    labels = _meta(pod).get("labels") or {}
    if str(labels.get(_COMPONENT_LABEL, "")).endswith("router-scheduler"):
        return "scheduler"
    return str(labels.get(_ROLE_LABEL) or "both")


def service_pods(fleet: Fleet, obj: Mapping[str, Any], role: str | None = None) -> list[JSONDict]:
    """The model-server pods of a service (not its endpoint picker), optionally of one ``--role``.

    >>> import mtop
    >>> fleet = mtop.connect(seed=1, clock="frozen", workspace=False)
    >>> pd_service = get_service(fleet, "qwen2-7b-instruct-pd")
    >>> sorted({_role(p) for p in service_pods(fleet, pd_service)})
    ['decode', 'prefill']
    """
    if role is not None and role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}", key="--role")
    meta = _meta(obj)
    ns, name = str(meta.get("namespace")), str(meta.get("name"))
    pods = [
        p
        for p in fleet.source.list_objects("pods", [ns])
        if _meta(p).get("namespace") == ns and (_meta(p).get("labels") or {}).get(_NAME_LABEL) == name
    ]
    wanted = {"decode": {"decode", "both"}, "prefill": {"prefill"}}.get(role or "", {"decode", "prefill", "both"})
    return [p for p in pods if _role(p) in wanted]


def service_logs(
    fleet: Fleet,
    name: str,
    namespaces: Sequence[str] | None = None,
    *,
    tail: int | None = None,
    since: str | None = None,
    role: str | None = None,
    timestamps: bool = False,
) -> list[PodLog]:
    r"""Logs of the service's model-server pods (``--tail`` lines each, newer than ``--since``).

    A pod without a log (not started yet) gets a :class:`PodLog` with ``error`` set; a service
    with no pods at all (of that role) is an error.

    >>> import mtop
    >>> logs = service_logs(mtop.connect(seed=1, clock="frozen", workspace=False), "llama-3-8b-instruct", tail=1)
    >>> all(log.text.count("\n") == 1 and "Avg generation throughput" in log.text for log in logs)
    True
    """
    if tail is not None and tail < 0:
        raise ConfigError(f"must be >= 0, got {tail}", key="--tail")
    since_s: int | None = None
    if since is not None:
        try:
            since_s = int(parse_duration(since))
        except ValueError as exc:
            raise ConfigError(str(exc), key="--since") from None
    _trace("logs", fleet, name=name, tail=tail, since=since, role=role)
    obj = get_service(fleet, name, namespaces)
    ns = str(_meta(obj).get("namespace"))
    pods = service_pods(fleet, obj, role)
    if not pods:
        which = f"{role} " if role else ""
        raise MtopError(f"service '{name}' in namespace '{ns}' has no {which}pods")
    reader = capability(fleet.source, "read_pod_log")
    if reader is None:
        raise MtopError(f"the {fleet.source.kind} source cannot read pod logs")
    out: list[PodLog] = []
    for pod in pods:
        checkpoint()
        pod_name = str(_meta(pod).get("name"))
        try:
            text = reader(ns, pod_name, container="main", tail_lines=tail, since_seconds=since_s, timestamps=timestamps)
        except SourceError as exc:
            out.append(PodLog(pod_name, _role(pod), "", str(exc)))
        else:
            out.append(PodLog(pod_name, _role(pod), str(text)))
    return out


def pod_log(fleet: Fleet, pod: str, namespaces: Sequence[str] | None = None, *, tail: int | None = None) -> str:
    """The log of one pod's ``main`` container, found by name in ``namespaces`` (None: all in scope).

    Raises:
        NotFoundError: no pod of that name in scope. MtopError: several (name a namespace), or a source
        that cannot read logs. SourceError: the source could not read it (pod not started, ...).

    >>> import mtop
    >>> fleet = mtop.connect(seed=1, clock="frozen", workspace=False)
    >>> name = service_pods(fleet, get_service(fleet, "gemini-pro"))[0]["metadata"]["name"]
    >>> "Avg generation throughput" in pod_log(fleet, name, tail=1)
    True
    """
    if tail is not None and tail < 0:
        raise ConfigError(f"must be >= 0, got {tail}", key="tail")
    found = [
        str(_meta(p).get("namespace"))
        for p in fleet.source.list_objects("pods", list(namespaces) if namespaces is not None else None)
        if _meta(p).get("name") == pod and (namespaces is None or _meta(p).get("namespace") in namespaces)
    ]
    if not found:
        where = "all namespaces" if namespaces is None else "namespace(s) " + ", ".join(namespaces)
        raise NotFoundError(f"pod '{pod}' not found in {where}")
    if len(set(found)) > 1:
        raise MtopError(f"pod '{pod}' is in several namespaces ({', '.join(sorted(set(found)))}); name one")
    reader = capability(fleet.source, "read_pod_log")
    if reader is None:
        raise MtopError(f"the {fleet.source.kind} source cannot read pod logs")
    return str(reader(found[0], pod, container="main", tail_lines=tail))


# --- create and delete ----------------------------------------------------------------------------------


def _line_index(text: str) -> dict[tuple[str | int, ...], int]:
    """Path -> 1-based line of each node of the first YAML (or JSON) document, best effort."""
    import yaml

    out: dict[tuple[str | int, ...], int] = {}

    def walk(node: Any, path: tuple[str | int, ...]) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                out[(*path, str(key.value))] = key.start_mark.line + 1
                walk(value, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    try:
        for doc_index, node in enumerate(yaml.compose_all(text, Loader=yaml.SafeLoader)):
            if node is not None:
                walk(node, (doc_index,))
    except yaml.YAMLError:
        pass
    return out


def parse_manifests(text: str, source: str = "<manifest>") -> list[tuple[JSONDict, dict[tuple[str | int, ...], int]]]:
    r"""The objects of a YAML or JSON manifest (documents, or a ``kind: List``), each with its line index.

    >>> [o["metadata"]["name"] for o, _ in parse_manifests("kind: List\nitems:\n- metadata: {name: a}\n")]
    ['a']
    """
    import yaml

    lines = _line_index(text)
    if text.lstrip().startswith(("{", "[")):
        try:
            docs: list[Any] = [json.loads(text)]
        except json.JSONDecodeError as exc:
            raise ManifestError(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from None
    else:
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise ManifestError(f"not valid YAML: {problem}", source=source,
                                line=mark.line + 1 if mark is not None else None) from None  # fmt: skip
    out: list[tuple[JSONDict, dict[tuple[str | int, ...], int]]] = []
    for i, doc in enumerate(docs):
        entries: list[tuple[Any, tuple[str | int, ...]]]
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            entries = [(item, (i, "items", j)) for j, item in enumerate(doc["items"])]
        elif isinstance(doc, list):
            entries = [(item, (i, j)) for j, item in enumerate(doc)]
        else:
            entries = [(doc, (i,))]
        for item, prefix in entries:
            sub = {k[len(prefix) :]: v for k, v in lines.items() if k[: len(prefix)] == prefix}
            if not isinstance(item, dict):
                raise ManifestError(f"expected an object, got {type(item).__name__}", source=source, line=sub.get(()))
            out.append((item, sub))
    if not out:
        raise ManifestError("no object in the file", source=source)
    return out


def _check_int(value: Any, key: str, minimum: int, fail: Callable[[str, str], ManifestError]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise fail(key, f"must be an integer >= {minimum}, got {value!r}")


def _check_pod_spec(spec: Any, key: str, fail: Callable[[str, str], ManifestError]) -> None:
    if not isinstance(spec, dict):
        raise fail(key, f"must be an object (a PodSpec), got {type(spec).__name__}")
    containers = spec.get("containers", [])
    if not isinstance(containers, list):
        raise fail(f"{key}.containers", f"must be a list, got {type(containers).__name__}")
    for i, c in enumerate(containers):
        where = f"{key}.containers[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c.get("name"):
            raise fail(where, "must be an object with a name")
        resources = c.get("resources", {})
        if not isinstance(resources, dict):
            raise fail(f"{where}.resources", "must be an object")
        for part in ("limits", "requests"):
            block = resources.get(part, {})
            if not isinstance(block, dict):
                raise fail(f"{where}.resources.{part}", "must be an object")
            gpus = block.get("nvidia.com/gpu")
            ok = gpus is None or (isinstance(gpus, int) and not isinstance(gpus, bool) and gpus >= 0)
            if not ok and not (isinstance(gpus, str) and gpus.isdigit()):
                raise fail(f"{where}.resources.{part}.nvidia.com/gpu", f"must be a whole number of GPUs, got {gpus!r}")


def _check_workload(spec: dict[str, Any], key: str, fail: Callable[[str, str], ManifestError]) -> None:
    if "replicas" in spec:
        _check_int(spec["replicas"], f"{key}.replicas", 0, fail)
    if "parallelism" in spec:
        par = spec["parallelism"]
        if not isinstance(par, dict):
            raise fail(f"{key}.parallelism", "must be an object")
        for field_name in ("tensor", "pipeline", "data", "dataLocal"):
            if field_name in par:
                _check_int(par[field_name], f"{key}.parallelism.{field_name}", 1, fail)
        if "expert" in par and not isinstance(par["expert"], bool):
            raise fail(f"{key}.parallelism.expert", f"must be true or false, got {par['expert']!r}")
    for part in ("template", "worker"):
        if part in spec:
            _check_pod_spec(spec[part], f"{key}.{part}", fail)


def validate_service(
    obj: Mapping[str, Any], *, source: str = "<manifest>", lines: Mapping[tuple[str | int, ...], int] | None = None
) -> JSONDict:
    """Check an LLMInferenceService manifest on the client; returns a copy. Unknown fields are kept.

    Checked: ``apiVersion`` (``serving.kserve.io/v1alpha1`` or ``v1alpha2``), ``kind``,
    ``metadata.name`` and ``.namespace`` (DNS-1123 labels), ``spec.model.uri``, integer fields
    (``replicas``, ``scaling``, ``parallelism``, GPU counts), ``replicas`` xor ``scaling``, and
    ``model.criticality`` (v1alpha1 only). Errors are :class:`ManifestError` naming the field (and its
    line when known).

    >>> validate_service({"apiVersion": "serving.kserve.io/v1alpha2", "kind": "LLMInferenceService",
    ...     "metadata": {"name": "m"}, "spec": {"model": {"uri": "hf://a/b"}, "replicas": "three"}})
    Traceback (most recent call last):
    ...
    mtop.commands.ops.ManifestError: <manifest>: spec.replicas: must be an integer >= 0, got 'three'
    """
    index = lines or {}

    def fail(key: str, message: str) -> ManifestError:
        path: tuple[str | int, ...] = tuple(int(p) if p.isdigit() else p for p in re.split(r"\.|\[|\]\.?", key) if p)
        line = None
        while path and line is None:
            line = index.get(path)
            path = path[:-1]
        return ManifestError(message, key=key, source=source, line=line)

    api = obj.get("apiVersion")
    if api not in API_VERSIONS:
        raise fail("apiVersion", f"must be {' or '.join(API_VERSIONS)}, got {api!r}")
    if obj.get("kind") != KIND:
        raise fail("kind", f"must be {KIND}, got {obj.get('kind')!r}")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise fail("metadata", "is missing (it needs at least a name)")
    name = meta.get("name")
    if not name:
        raise fail("metadata.name", "is missing")
    for field_name in ("name", "namespace"):
        value = meta.get(field_name)
        if value is None and field_name == "namespace":
            continue
        if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.match(value):
            raise fail(
                f"metadata.{field_name}",
                f"{value!r} is not a valid DNS-1123 label (lower-case letters, digits and '-', starting and "
                "ending with a letter or digit, at most 63 characters)",
            )
    for field_name in ("labels", "annotations"):
        block = meta.get(field_name, {})
        if not isinstance(block, dict) or not all(isinstance(v, str) for v in block.values()):
            raise fail(f"metadata.{field_name}", "must map names to strings")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise fail("spec", "is missing" if spec is None else f"must be an object, got {type(spec).__name__}")
    model = spec.get("model")
    if not isinstance(model, dict):
        raise fail("spec.model", "is missing (it needs at least a uri)" if model is None else "must be an object")
    if not isinstance(model.get("uri"), str) or not model.get("uri"):
        raise fail("spec.model.uri", f"must be a model URI such as hf://org/model, got {model.get('uri')!r}")
    if "name" in model and not isinstance(model["name"], str):
        raise fail("spec.model.name", f"must be a string, got {model['name']!r}")
    if "criticality" in model:
        if api != API_VERSIONS[0]:
            raise fail("spec.model.criticality", f"exists in {API_VERSIONS[0]} only (removed in {api})")
        if model["criticality"] not in ("Critical", "Standard", "Sheddable"):
            raise fail(
                "spec.model.criticality", f"must be Critical, Standard or Sheddable, got {model['criticality']!r}"
            )
    if "replicas" in spec and "scaling" in spec:
        raise fail("spec.scaling", "cannot be set together with spec.replicas")
    if "scaling" in spec:
        scaling = spec["scaling"]
        if not isinstance(scaling, dict):
            raise fail("spec.scaling", "must be an object")
        low, high = scaling.get("minReplicas", 1), scaling.get("maxReplicas")
        _check_int(low, "spec.scaling.minReplicas", 0, fail)
        if high is not None:
            _check_int(high, "spec.scaling.maxReplicas", 1, fail)
            if high < low:
                raise fail("spec.scaling.maxReplicas", f"must be >= minReplicas ({low}), got {high}")
    _check_workload(spec, "spec", fail)
    if "prefill" in spec:
        if not isinstance(spec["prefill"], dict):
            raise fail("spec.prefill", "must be an object")
        _check_workload(spec["prefill"], "spec.prefill", fail)
    if "router" in spec and not isinstance(spec["router"], dict):
        raise fail("spec.router", "must be an object")
    return copy.deepcopy(dict(obj))


def load_manifests(
    path: str | Path, namespace: str | None = None, *, text: str | None = None
) -> list[JSONDict]:  # fmt: skip
    r"""Read, parse and validate every object of a manifest file (``-`` is stdin's ``text``).

    ``namespace`` (``-n``) fills a missing ``metadata.namespace`` and must agree with one that is set.

    >>> load_manifests("x.yaml", text="apiVersion: v1\n")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mtop.commands.ops.ManifestError: x.yaml, line 1: apiVersion: must be serving.kserve.io/v1alpha1 or ..., got 'v1'
    """
    where = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ManifestError("no such file", source=where) from None
        except IsADirectoryError:
            raise ManifestError("is a directory, not a manifest file", source=where) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"cannot read it: {getattr(exc, 'strerror', None) or exc}", source=where) from None
    objects: list[JSONDict] = []
    for obj, lines in parse_manifests(text, where):
        checked = validate_service(obj, source=where, lines=lines)
        meta = checked["metadata"]
        given = meta.get("namespace")
        if namespace is not None and given is not None and given != namespace:
            raise ManifestError(
                f"namespace {given!r} does not match --namespace {namespace!r}",
                key="metadata.namespace",
                source=where,
                line=lines.get(("metadata", "namespace")),
            )
        if given is None and namespace is not None:
            meta["namespace"] = namespace
        objects.append(checked)
    return objects


def create_services(fleet: Fleet, objects: Sequence[Mapping[str, Any]], namespace: str | None = None) -> list[JSONDict]:
    """Validate and create services, all or none; returns them as stored.

    A missing ``metadata.namespace`` takes ``namespace``, else the context's (``default``).
    Cancellable until the commit (:func:`checkpoint`).

    >>> import mtop, tempfile
    >>> fleet = mtop.connect(seed=1, clock="frozen", workspace=tempfile.mkdtemp())
    >>> obj = {"apiVersion": "serving.kserve.io/v1alpha2", "kind": "LLMInferenceService",
    ...        "metadata": {"name": "new-model"}, "spec": {"model": {"uri": "hf://org/new"}}}
    >>> [o["metadata"]["namespace"] for o in create_services(fleet, [obj], namespace="staging")]
    ['staging']
    """
    checked = [validate_service(o) for o in objects]
    for obj in checked:
        obj["metadata"].setdefault("namespace", namespace or _default_namespace(fleet))
    creator = capability(fleet.source, "create_objects")
    if creator is None:
        raise MtopError(f"the {fleet.source.kind} source cannot create objects")
    _trace("create", fleet, names=[o["metadata"]["name"] for o in checked])
    checkpoint()
    stored: list[JSONDict] = creator(SERVICES, checked, before_commit=checkpoint)
    return stored


def delete_services(fleet: Fleet, names: Sequence[str], namespaces: Sequence[str] | None = None) -> list[JSONDict]:
    """Delete services by name, all or none; returns the deleted objects. Cancellable until the commit.

    >>> import mtop, tempfile
    >>> fleet = mtop.connect(seed=1, clock="frozen", workspace=tempfile.mkdtemp())
    >>> [o["metadata"]["name"] for o in delete_services(fleet, ["gemini-pro"])]
    ['gemini-pro']
    >>> get_service(fleet, "gemini-pro")
    Traceback (most recent call last):
    ...
    mtop.commands.ops.NotFoundError: service 'gemini-pro' not found in all namespaces
    """
    keys = []
    for name in names:
        meta = _meta(get_service(fleet, name, namespaces))
        keys.append((str(meta.get("namespace")), name))
    deleter = capability(fleet.source, "delete_objects")
    if deleter is None:
        raise MtopError(f"the {fleet.source.kind} source cannot delete objects")
    _trace("delete", fleet, keys=[f"{ns}/{n}" for ns, n in keys])
    checkpoint()
    removed: list[JSONDict] = deleter(SERVICES, keys, before_commit=checkpoint)
    return removed


def reset_overlay(fleet: Fleet) -> bool:
    """Clear the simulated fleet's workspace overlay; ``False`` when it held nothing.

    >>> import mtop, tempfile
    >>> reset_overlay(mtop.connect(seed=1, clock="frozen", workspace=tempfile.mkdtemp()))
    False
    """
    _trace("reset", fleet)
    reset = getattr(fleet.source, "reset_overlay", None)
    if reset is None:
        raise MtopError(f"the {fleet.source.kind} source has no overlay to reset (mock mode only)")
    return bool(reset())


# --- slo and cost ---------------------------------------------------------------------------------------


def slo_report(
    fleet: Fleet, namespaces: Sequence[str] | None = None, window: str = "5m", history: str = "1h", step: str = "1m"
) -> pd.DataFrame:
    """SLO figures per service now, plus ``compliance_percent``: the share of the last ``history`` it met them.

    Compliance counts the ``step`` points of :func:`mtop.collect.slo_history` where ``slo_ok`` (the
    Kleene AND of the three SLO flags) is True, over the points where it is known (NaN: never known,
    e.g. no traffic). ``df.attrs["targets"]`` holds the SLO targets.

    >>> import mtop
    >>> df = slo_report(mtop.connect(seed=1, clock="frozen", workspace=False), history="10m", step="5m")
    >>> bool(df["compliance_percent"].dropna().between(0, 100).all())
    True
    """
    import numpy as np
    import pandas as pd

    from mtop.collect import slo_history, slo_metrics
    from mtop.slo import compliance

    now = slo_metrics(fleet, namespaces=namespaces, window=window)
    hist = slo_history(fleet, window=history, step=step, namespaces=namespaces, rate_window=window)
    slo = fleet.config.slo
    needed = ["ttft_p95_ms", "error_rate_percent", "tokens_per_second", "requests_per_second"]
    wide = hist.pivot_table(
        index=["namespace", "service", "timestamp"], columns="metric", values="value", aggfunc="first", dropna=False
    ).reset_index()
    for col in needed:
        if col not in wide.columns:
            wide[col] = np.nan
    flags = compliance(
        wide[needed].astype("float64"),
        ttft_p95_ms=slo.ttft_p95_ms,
        error_rate_percent=slo.error_rate_percent,
        tokens_per_second=slo.tokens_per_second,
    )
    ok = flags["slo_ok"]
    wide["known"] = ok.notna().to_numpy()
    wide["met"] = ok.fillna(False).astype(bool).to_numpy()
    per = wide.groupby(["namespace", "service"], observed=True)[["known", "met"]].sum().reset_index()
    per["compliance_percent"] = np.where(per["known"] > 0, 100.0 * per["met"] / per["known"].clip(lower=1), np.nan)
    cols = ["namespace", "service", "model", "ttft_p95_ms", "itl_p95_ms", "error_rate_percent", "tokens_per_second",
            "requests_per_second", "ttft_ok", "error_rate_ok", "throughput_ok", "slo_ok"]  # fmt: skip
    out = now[cols].merge(per[["namespace", "service", "compliance_percent"]], on=["namespace", "service"], how="left")
    out["compliance_percent"] = out["compliance_percent"].astype("float64")
    out = pd.DataFrame(out).reset_index(drop=True)
    out.attrs = {
        **now.attrs,
        "targets": {
            "ttft_p95_ms": slo.ttft_p95_ms,
            "error_rate_percent": slo.error_rate_percent,
            "tokens_per_second": slo.tokens_per_second,
        },
        "history": history,
        "step": step,
    }
    return out


def cost_report(fleet: Fleet, namespaces: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cost per service (most expensive first) and the right-sizing recommendations (largest saving first).

    >>> import mtop
    >>> costs, recs = cost_report(mtop.connect(seed=1, clock="frozen", workspace=False))
    >>> bool(costs["hourly_cost"].is_monotonic_decreasing), list(recs.columns[:3])
    (True, ['namespace', 'service', 'action'])
    """
    from mtop.collect import gpu_costs, recommendations

    costs = gpu_costs(fleet, namespaces=namespaces)
    costs = costs.sort_values("hourly_cost", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    recs = recommendations(fleet, namespaces=namespaces)
    recs = recs.sort_values("monthly_saving", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    return costs, recs
