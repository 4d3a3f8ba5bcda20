"""Decode Kubernetes list responses keeping only the fields mtop reads (pods and nodes).

A model pod as the API server sends it is about 11 KB of JSON, most of it ``managedFields``, volumes, env
and probes that no mtop frame reads. Decoding all of it into Python dicts costs more than the network
(and feeds the garbage collector millions of objects), so the live source decodes pod and node lists
with ``msgspec`` into the :class:`Pod`/:class:`Node` shapes below: plain dicts holding only these
fields, skipped fields never materialised. Everything else (LLMInferenceServices, namespaces) is
decoded whole. Without ``msgspec`` (it ships in the ``live`` extra) lists are decoded whole too.

Adding a field a frame needs: add it here; ``tests/test_projection.py`` checks that every frame
built from projected objects equals the frame built from whole ones, so a missing field fails there.

>>> page = b'{"kind": "PodList", "items": [{"metadata": {"name": "p", "managedFields": [{}]}, "spec": {}}]}'
>>> decode_list("pods", page)["items"]
[{'metadata': {'name': 'p'}, 'spec': {}}]
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypedDict

from mtop.interfaces import JSONDict
from mtop.sources.transport import json_loads

__all__ = ["PROJECTED_KINDS", "Node", "Pod", "decode_list"]


class _Meta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    labels: dict[str, str]
    creationTimestamp: str


class _Condition(TypedDict, total=False):
    type: str
    status: str
    reason: str


class _Resources(TypedDict, total=False):
    limits: dict[str, Any]  # quantities: strings in the API ("8"), left as sent
    requests: dict[str, Any]


class _Container(TypedDict, total=False):
    name: str
    resources: _Resources


class _PodSpec(TypedDict, total=False):
    nodeName: str
    containers: list[_Container]


class _Reason(TypedDict, total=False):
    reason: str


class _State(TypedDict, total=False):
    waiting: _Reason
    terminated: _Reason


class _ContainerStatus(TypedDict, total=False):
    restartCount: int
    state: _State


class _PodStatus(TypedDict, total=False):
    phase: str
    reason: str
    conditions: list[_Condition]
    containerStatuses: list[_ContainerStatus]


class Pod(TypedDict, total=False):
    """The fields of a pod that mtop reads (frames, logs, service membership)."""

    apiVersion: str
    kind: str
    metadata: _Meta
    spec: _PodSpec
    status: _PodStatus


class _NodeStatus(TypedDict, total=False):
    allocatable: dict[str, Any]
    conditions: list[_Condition]


class Node(TypedDict, total=False):
    """The fields of a node that mtop reads (GPU labels, allocatable GPUs, readiness)."""

    apiVersion: str
    kind: str
    metadata: _Meta
    status: _NodeStatus


class _PodList(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: dict[str, Any]  # resourceVersion, continue (a keyword: no TypedDict field)
    items: list[Pod]


class _NodeList(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: dict[str, Any]
    items: list[Node]


PROJECTED_KINDS = frozenset({"pods", "nodes"})
"""Kinds whose lists are decoded to the projection; other kinds are decoded whole."""


def decode_list(kind: str, data: bytes) -> JSONDict:
    """A list response of ``kind`` decoded: projected for :data:`PROJECTED_KINDS`, whole otherwise.

    Raises:
        ValueError: the bytes are not JSON, or a kept field has the wrong type (the message names the
            field's path, e.g. ``$.items[3].metadata.labels``).

    >>> decode_list("nodes", b'{"items": [{"metadata": {"name": "n", "labels": {"a": 1}}}]}')
    Traceback (most recent call last):
    ...
    ValueError: Expected `str`, got `int` - at `$.items[0].metadata.labels[...]`
    """
    decoder = _decoder(kind) if kind in PROJECTED_KINDS else None
    if decoder is None:
        out: JSONDict = json_loads(data)
        return out
    return decoder(data)


@cache
def _decoder(kind: str) -> Callable[[bytes], JSONDict] | None:
    try:
        import msgspec
    except ImportError:  # the live extra is not installed: whole objects, still correct
        return None
    shape = _PodList if kind == "pods" else _NodeList
    decoder = msgspec.json.Decoder(shape)

    def decode(data: bytes) -> JSONDict:
        try:
            out: JSONDict = dict(decoder.decode(data))  # a TypedDict is a dict: this copies 4 keys
        except msgspec.ValidationError as exc:
            raise ValueError(str(exc)) from None  # names the path, never a value
        except msgspec.DecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        return out

    return decode
