"""Live mode's pod logs, create and delete, through the live source's Kubernetes client.

:mod:`mtop.commands.ops` asks a source for ``read_pod_log``, ``create_objects`` and ``delete_objects``.
The simulated fleet has them; a live cluster's source exposes its official ``kubernetes`` client as
``source.kube.api_client`` and, until it offers these methods itself, this module builds them on that
client (same URL, credentials and TLS as the collection):

- logs: CoreV1 ``read_namespaced_pod_log`` (``GET /api/v1/namespaces/NS/pods/NAME/log`` with
  ``container``, ``tailLines``, ``sinceSeconds``, ``timestamps``);
- create: CustomObjects ``create_namespaced_custom_object`` per object; a failure deletes the ones
  this call already created, so a batch is all or none as far as the API allows (Kubernetes has no
  multi-object transaction);
- delete: CustomObjects ``delete_namespaced_custom_object`` per object.

Errors become ``SourceError`` (``SourceUnavailable`` when there is no answer) naming the cluster and
the API server, with the server's own message, secrets scrubbed.

>>> capability(object(), "read_pod_log") is None
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mtop.errors import SourceError, SourceUnavailable
from mtop.interfaces import JSONDict
from mtop.logging import redact

__all__ = ["LOG_TIMEOUT_S", "capability", "context_namespace"]

LOG_TIMEOUT_S = 30.0
"""Read timeout of one log or write request (seconds)."""
_GROUP, _PLURAL = "serving.kserve.io", "llminferenceservices"
_VERSIONS = ("v1alpha2", "v1alpha1")


def capability(source: Any, name: str) -> Callable[..., Any] | None:
    """``source.<name>`` if the source has it, else the client-based version for a live source, else None.

    >>> class Fake:
    ...     def read_pod_log(self) -> str:
    ...         return "hi"
    >>> capability(Fake(), "read_pod_log")()
    'hi'
    """
    own: Callable[..., Any] | None = getattr(source, name, None)
    if callable(own):
        return own
    kube = getattr(source, "kube", None)
    api_client = getattr(kube, "api_client", None)
    if api_client is None:
        return None
    builder = {"read_pod_log": _pod_log_reader, "create_objects": _creator, "delete_objects": _deleter}.get(name)
    return builder(api_client, str(getattr(kube, "cluster", "live"))) if builder is not None else None


def context_namespace(kubeconfig: str | None, context: str | None) -> str | None:
    """The namespace a kubeconfig context sets (``None``: none set, or no readable kubeconfig).

    ``kubeconfig=None`` is the client's default (``$KUBECONFIG``, else ``~/.kube/config``);
    ``context=None`` the current context.

    >>> context_namespace("/nonexistent/kubeconfig", None) is None
    True
    """
    try:
        from kubernetes import config as kube_config

        config: Any = kube_config  # untyped upstream
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except Exception:  # no kubeconfig, unreadable, malformed: the caller falls back to "default"
        return None
    chosen = next((c for c in contexts or [] if c.get("name") == context), None) if context else active
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else None


def _message(exc: Any) -> str:
    """The ``message`` of a Kubernetes ``Status`` body, else the HTTP reason."""
    import json

    body = getattr(exc, "body", None)
    if body:
        try:
            status = json.loads(body)
            if isinstance(status, dict) and status.get("message"):
                return redact(str(status["message"]))
        except ValueError:
            pass
    return redact(str(getattr(exc, "reason", "") or "no reason given"))


def _call(api_client: Any, cluster: str, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one client call ``fn(*args, **kwargs)``; map its failures to mtop's errors, naming cluster and endpoint."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    target = str(api_client.configuration.host)
    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        status = int(exc.status or 0)
        if status == 0:
            raise SourceUnavailable(f"{what}: {_message(exc)}", source=f"cluster {cluster}", target=target) from None
        raise SourceError(
            f"{what}: HTTP {status}: {_message(exc)}", source=f"cluster {cluster}", target=target
        ) from None
    except (HTTPError, OSError) as exc:
        reason = redact(str(getattr(exc, "reason", None) or exc))
        raise SourceUnavailable(f"{what}: no answer ({reason})", source=f"cluster {cluster}", target=target) from None


def _pod_log_reader(api_client: Any, cluster: str) -> Callable[..., str]:
    from kubernetes import client

    core = client.CoreV1Api(api_client)

    def read_pod_log(
        namespace: str,
        name: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        since_seconds: float | None = None,
        timestamps: bool = False,
    ) -> str:
        kwargs: dict[str, Any] = {"timestamps": timestamps, "_request_timeout": (10.0, LOG_TIMEOUT_S)}
        if container is not None:
            kwargs["container"] = container
        if tail_lines is not None:
            kwargs["tail_lines"] = int(tail_lines)
        if since_seconds is not None:
            kwargs["since_seconds"] = max(1, int(since_seconds))
        what = f"logs of pod {namespace}/{name}"
        text = _call(api_client, cluster, what, core.read_namespaced_pod_log, name, namespace, **kwargs)
        return str(text or "")

    return read_pod_log


def _version(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion", f"{_GROUP}/{_VERSIONS[0]}")).split("/")[-1]


def _creator(api_client: Any, cluster: str) -> Callable[..., list[JSONDict]]:
    from kubernetes import client

    custom = client.CustomObjectsApi(api_client)

    def delete(ns: str, name: str, version: str) -> None:
        custom.delete_namespaced_custom_object(_GROUP, version, ns, _PLURAL, name, _request_timeout=LOG_TIMEOUT_S)

    def create_objects(
        kind: str, objects: Sequence[Mapping[str, Any]], *, before_commit: Callable[[], None] | None = None
    ) -> list[JSONDict]:
        if kind != _PLURAL:
            raise SourceError(f"mtop creates llminferenceservices only, not {kind}", source=f"cluster {cluster}")
        if before_commit is not None:
            before_commit()
        created: list[JSONDict] = []
        try:
            for obj in objects:
                body = {k: v for k, v in obj.items() if k != "status"}
                ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
                created.append(
                    _call(api_client, cluster, f"creating llminferenceservice {ns}/{name}",
                          custom.create_namespaced_custom_object, _GROUP, _version(body), ns, _PLURAL, body,
                          _request_timeout=LOG_TIMEOUT_S)
                )  # fmt: skip
        except BaseException:
            for done in reversed(created):  # undo this batch: all or none, as far as the API allows
                meta = done.get("metadata") or {}
                with contextlib.suppress(Exception):  # the original error is what the caller must see
                    delete(str(meta.get("namespace")), str(meta.get("name")), _version(done))
            raise
        return created

    return create_objects


def _deleter(api_client: Any, cluster: str) -> Callable[..., list[JSONDict]]:
    from kubernetes import client

    custom = client.CustomObjectsApi(api_client)

    def delete_objects(
        kind: str, keys: Sequence[tuple[str, str]], *, before_commit: Callable[[], None] | None = None
    ) -> list[JSONDict]:
        if kind != _PLURAL:
            raise SourceError(f"mtop deletes llminferenceservices only, not {kind}", source=f"cluster {cluster}")
        found: list[tuple[str, str, JSONDict]] = []
        for ns, name in keys:  # every object first: none is deleted unless all exist
            found.append((ns, name, _get(api_client, cluster, custom, ns, name)))
        if before_commit is not None:
            before_commit()
        for ns, name, obj in found:
            what = f"deleting llminferenceservice {ns}/{name}"
            _call(api_client, cluster, what, custom.delete_namespaced_custom_object,
                  _GROUP, _version(obj), ns, _PLURAL, name, _request_timeout=LOG_TIMEOUT_S)  # fmt: skip
        return [obj for _, _, obj in found]

    return delete_objects


def _get(api_client: Any, cluster: str, custom: Any, ns: str, name: str) -> JSONDict:
    last: SourceError | None = None
    for version in _VERSIONS:
        try:
            out: JSONDict = _call(api_client, cluster, f"reading llminferenceservice {ns}/{name}",
                                  custom.get_namespaced_custom_object, _GROUP, version, ns, _PLURAL, name,
                                  _request_timeout=LOG_TIMEOUT_S)  # fmt: skip
            return out
        except SourceError as exc:
            last = exc
    assert last is not None
    raise last
