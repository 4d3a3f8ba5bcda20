"""A ``sitecustomize`` module that makes every fleet a kernel connects to carry hostile names.

Report and browser tests write :func:`sitecustomize_source` into a directory on the kernel's
``PYTHONPATH``: each ``mtop.connect`` then wraps its source so that every string in objects and
metrics has the given substrings replaced (a service or namespace renamed to HTML/JS payloads).
"""

from __future__ import annotations

from collections.abc import Mapping


def sitecustomize_source(swaps: Mapping[str, str]) -> str:
    """Python source of the hook: ``swaps`` maps a name of the simulated fleet to its hostile stand-in."""
    return f'''
"""Test-only: every fleet the kernel connects to has names replaced by hostile text."""
import mtop.context as _context

_SWAPS = {dict(swaps)!r}


def _swap(value):
    if isinstance(value, str):
        for old, new in _SWAPS.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_swap(v) for v in value]
    if isinstance(value, dict):
        return {{k: _swap(v) for k, v in value.items()}}
    return value


class HostileSource:
    def __init__(self, inner):
        self.inner, self.kind, self.cluster = inner, inner.kind, inner.cluster

    def now(self):
        return self.inner.now()

    def list_objects(self, kind, namespaces=None):
        return _swap(self.inner.list_objects(kind, namespaces))

    def query(self, name, params=None, at=None):
        return _swap(self.inner.query(name, params, at))

    def query_range(self, name, params, start, end, step):
        return _swap(self.inner.query_range(name, params, start, end, step))


_connect = _context.connect


def connect(*args, **kwargs):
    fleet = _connect(*args, **kwargs)
    fleet.source = HostileSource(fleet.source)
    return fleet


_context.connect = connect
'''
