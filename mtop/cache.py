"""Caches with injectable clocks, and a streaming reader for large Kubernetes list responses.

- ``LRUCache``: thread-safe, size-bounded LRU with a TTL per entry (on ``cachetools.TLRUCache``).
- ``AsyncCache``: ``await get_or_compute(key, fn)``; concurrent callers of one key share one
  computation, and different keys never wait on each other (no lock is held while computing).
- ``CacheManager``: named caches with combined stats, clearing and purging.
- ``StreamingJSONParser``: yields a list response's ``items`` one by one (ijson when installed).

Time comes from a ``clock`` argument (``time.monotonic`` by default), so tests advance a fake
clock instead of sleeping. Unlike the original mtop, a cached ``None`` is a hit, expired entries
are really purged and not counted, and a cache name asked for twice with other settings is an error.

>>> now = [0.0]
>>> cache = LRUCache(max_size=2, ttl=30, clock=lambda: now[0])
>>> cache.put("pods", None)
>>> cache.get("pods", "miss") is None  # a cached None is a hit
True
>>> now[0] = 31.0
>>> cache.get("pods", "miss")
'miss'
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import io
import json
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Hashable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Generic, Literal, TypeVar, cast, overload

import cachetools

__all__ = ["AsyncCache", "CacheManager", "CacheStats", "LRUCache", "StreamingJSONParser"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")
Clock = Callable[[], float]


class _Unset(enum.Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET
"""Sentinel for "use the cache's default TTL" in ``put(..., ttl=...)``."""
TTL = float | None | Literal[_Unset.UNSET]
_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters of one cache; ``size`` counts live entries only.

    >>> CacheStats(hits=3, misses=1, evictions=0, expirations=0, size=2).hit_rate
    0.75
    """

    hits: int
    misses: int
    evictions: int
    expirations: int
    size: int

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (NaN before the first lookup)."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else math.nan


class _Entry:
    __slots__ = ("ttl", "value")

    def __init__(self, value: Any, ttl: float | None) -> None:
        self.value, self.ttl = value, ttl


def _time_to_use(_key: Any, entry: _Entry, now: float) -> float:
    return math.inf if entry.ttl is None else now + entry.ttl


class _Store(cachetools.TLRUCache[Any, _Entry]):
    """``TLRUCache`` that counts what it evicts (LRU) and what it expires (TTL)."""

    def __init__(self, max_size: int, clock: Clock) -> None:
        super().__init__(maxsize=max_size, ttu=_time_to_use, timer=clock)
        self.evictions = 0
        self.expirations = 0

    def expire(self, time: float | None = None) -> list[tuple[Any, _Entry]]:
        expired = super().expire(time)
        self.expirations += len(expired)
        return expired

    def popitem(self) -> tuple[Any, _Entry]:
        item = super().popitem()  # only called by cachetools when the cache is full
        self.evictions += 1
        return item


def _check_ttl(ttl: float | None, what: str = "ttl") -> None:
    if ttl is not None and (math.isnan(ttl) or ttl < 0):
        raise ValueError(f"{what} must be a non-negative number of seconds or None, got {ttl!r}")


class LRUCache(Generic[K, V]):
    """A thread-safe LRU cache with a size bound and a TTL per entry.

    ``ttl=None`` means entries never expire; ``put(..., ttl=...)`` overrides the default for one
    entry, and a TTL of 0 stores nothing. ``len()`` counts live entries only.

    >>> c: LRUCache[str, int] = LRUCache(max_size=2)
    >>> c.put("a", 1); c.put("b", 2); _ = c.get("a"); c.put("c", 3)  # "b" is least recently used
    >>> sorted(c.keys()), c.stats().evictions
    (['a', 'c'], 1)
    """

    def __init__(self, max_size: int = 128, ttl: float | None = None, clock: Clock = time.monotonic) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size!r}")
        _check_ttl(ttl)
        self.max_size = max_size
        self.ttl = ttl
        self.clock = clock
        self._store = _Store(max_size, clock)
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        # Per-key locks for get_or_compute: [lock, number of threads using it].
        self._key_locks: dict[Any, list[Any]] = {}

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...
    def get(self, key: K, default: Any = None) -> Any:
        """The live value for ``key`` (counted as a hit), else ``default`` (a miss).

        >>> LRUCache().get("absent", 0)
        0
        """
        with self._lock:
            self._store.expire()
            entry = self._store.get(key)
            if entry is None:
                self._misses += 1
                return default
            self._hits += 1
            return entry.value

    def put(self, key: K, value: V, ttl: TTL = UNSET) -> None:
        """Store ``value`` for ``ttl`` seconds (default: the cache's ``ttl``), evicting the LRU if full.

        >>> c = LRUCache(ttl=60)
        >>> c.put("k", "v", ttl=None)  # this entry never expires
        >>> c.get("k")
        'v'
        """
        ttl = self.ttl if ttl is UNSET else ttl
        _check_ttl(ttl)
        with self._lock:
            self._store[key] = _Entry(value, ttl)

    def get_or_compute(self, key: K, fn: Callable[[], V], ttl: TTL = UNSET) -> V:
        """The cached value, or ``fn()`` stored and returned; one thread computes a key at a time.

        Other keys are not blocked while ``fn`` runs (a lock per key, not one global lock), and an
        exception from ``fn`` is raised and not cached.

        >>> c = LRUCache()
        >>> c.get_or_compute("answer", lambda: 42), c.get_or_compute("answer", lambda: 0)
        (42, 42)
        """
        value = self.get(key, _MISSING)
        if value is not _MISSING:
            return cast(V, value)
        with self._key_lock(key):
            value = self._peek(key)  # another thread may have computed it while we waited
            if value is _MISSING:
                value = fn()
                self.put(key, value, ttl)
            return cast(V, value)

    @contextlib.contextmanager
    def _key_lock(self, key: Any) -> Iterator[None]:
        with self._lock:
            slot = self._key_locks.setdefault(key, [threading.Lock(), 0])
            slot[1] += 1
        try:
            with slot[0]:
                yield
        finally:
            with self._lock:
                slot[1] -= 1
                if slot[1] == 0:
                    del self._key_locks[key]

    def _peek(self, key: Any) -> Any:
        with self._lock:
            self._store.expire()
            entry = self._store.get(key)
            return _MISSING if entry is None else entry.value

    def invalidate(self, key: K) -> bool:
        """Drop ``key``; whether a live entry was there.

        >>> c = LRUCache(); c.put("k", 1)
        >>> c.invalidate("k"), c.invalidate("k")
        (True, False)
        """
        with self._lock:
            self._store.expire()
            return self._store.pop(key, None) is not None

    def clear(self) -> None:
        """Drop every entry (counters are kept).

        >>> c = LRUCache(); c.put("k", 1); c.clear(); len(c)
        0
        """
        with self._lock:
            self._store.clear()

    def cleanup_expired(self) -> int:
        """Purge expired entries now; how many were purged.

        >>> LRUCache().cleanup_expired()
        0
        """
        with self._lock:
            return len(self._store.expire())

    def keys(self) -> list[K]:
        """Live keys, least recently used first.

        >>> c = LRUCache(); c.put("x", 1); c.keys()
        ['x']
        """
        with self._lock:
            self._store.expire()
            return list(self._store.keys())

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._store  # no stats, no reordering

    def __len__(self) -> int:
        with self._lock:
            self._store.expire()
            return len(self._store)

    def stats(self) -> CacheStats:
        """Hits, misses, evictions, expirations and live size.

        >>> c = LRUCache(); c.put("k", None); _ = c.get("k"); _ = c.get("other")
        >>> c.stats()
        CacheStats(hits=1, misses=1, evictions=0, expirations=0, size=1)
        """
        with self._lock:
            self._store.expire()
            return CacheStats(
                self._hits, self._misses, self._store.evictions, self._store.expirations, len(self._store)
            )


async def _run(fn: Any) -> Any:
    if inspect.isawaitable(fn):
        return await fn
    result = fn()
    return await result if inspect.isawaitable(result) else result


def _close_unused(fn: Any) -> None:
    if inspect.iscoroutine(fn):
        fn.close()  # not needed: close it so it is not reported as "never awaited"


def _mark_retrieved(task: asyncio.Task[Any]) -> None:
    # Nobody may be left awaiting (all waiters cancelled): fetch the exception so asyncio does
    # not report "Task exception was never retrieved".
    if not task.cancelled():
        task.exception()


class AsyncCache(Generic[K, V]):
    """An asyncio cache whose concurrent ``get_or_compute`` calls of one key run ``fn`` once.

    Each key's computation runs in its own task; waiters await it through ``asyncio.shield``, so
    cancelling one waiter never cancels the computation the others wait for. Failures reach every
    waiter and are not cached. Results are kept in an ``LRUCache`` (thread-safe); in-flight
    computations belong to one event loop at a time. ``invalidate``/``clear`` during a
    computation make its result be returned but not stored.

    >>> async def fetch() -> list[str]:
    ...     return ["pod-a"]
    >>> cache: AsyncCache[str, list[str]] = AsyncCache(ttl=5)
    >>> asyncio.run(cache.get_or_compute("pods", fetch))
    ['pod-a']
    """

    def __init__(self, ttl: float | None = None, max_size: int = 1024, clock: Clock = time.monotonic) -> None:
        self._store: LRUCache[K, V] = LRUCache(max_size=max_size, ttl=ttl, clock=clock)
        self._inflight: dict[K, asyncio.Task[V]] = {}

    async def get_or_compute(self, key: K, fn: Callable[[], Awaitable[V]] | Awaitable[V], ttl: TTL = UNSET) -> V:
        """The cached value, or ``fn()``'s result shared by every concurrent caller of ``key``.

        ``fn`` is a coroutine function or any zero-argument callable returning an awaitable; a bare
        awaitable is accepted too (and closed, if it is a coroutine, when it is not needed).

        >>> async def main() -> int:
        ...     cache: AsyncCache[str, int] = AsyncCache()
        ...     async def one() -> int:
        ...         return 1
        ...     return await cache.get_or_compute("k", one) + await cache.get_or_compute("k", one)
        >>> asyncio.run(main())
        2
        """
        if ttl is not UNSET:
            _check_ttl(ttl)  # fail before computing, not after
        value = self._store.get(key, _MISSING)
        task = None if value is not _MISSING else self._inflight.get(key)
        if value is not _MISSING or task is not None:
            _close_unused(fn)
            if value is not _MISSING:
                return cast(V, value)
        else:
            task = asyncio.ensure_future(self._compute(key, fn, ttl))
            task.add_done_callback(_mark_retrieved)
            self._inflight[key] = task
        assert task is not None
        return await asyncio.shield(task)

    async def _compute(self, key: K, fn: Any, ttl: TTL) -> V:
        this = asyncio.current_task()
        try:
            value = cast(V, await _run(fn))
        finally:
            # Still the key's computation (not invalidated meanwhile)? Then store a success.
            current = self._inflight.get(key) is this
            if current:
                del self._inflight[key]
        if current:
            self._store.put(key, value, ttl)
        return value

    def get(self, key: K, default: Any = None) -> Any:
        """The cached value without computing anything.

        >>> AsyncCache().get("k", "none")
        'none'
        """
        return self._store.get(key, default)

    def put(self, key: K, value: V, ttl: TTL = UNSET) -> None:
        """Store ``value`` directly.

        >>> c = AsyncCache(); c.put("k", 1); c.get("k")
        1
        """
        self._store.put(key, value, ttl)

    def invalidate(self, key: K) -> bool:
        """Drop ``key`` (and forget its in-flight computation); whether a live entry was there.

        >>> AsyncCache().invalidate("k")
        False
        """
        self._inflight.pop(key, None)
        return self._store.invalidate(key)

    def clear(self) -> None:
        """Drop every entry and forget in-flight computations.

        >>> AsyncCache().clear()
        """
        self._inflight.clear()
        self._store.clear()

    def cleanup_expired(self) -> int:
        """Purge expired entries now; how many were purged.

        >>> AsyncCache().cleanup_expired()
        0
        """
        return self._store.cleanup_expired()

    def __len__(self) -> int:
        return len(self._store)

    def stats(self) -> CacheStats:
        """Counters of the result store (a waiter joining a computation counts as a miss).

        >>> AsyncCache().stats().size
        0
        """
        return self._store.stats()


_KINDS: dict[str, type[Any]] = {"lru": LRUCache, "async": AsyncCache}


class CacheManager:
    """Named caches, created on first request, with combined stats and maintenance.

    ``clock`` is the default clock of the caches it creates.

    >>> m = CacheManager()
    >>> m.get_cache("pods", ttl=10) is m.get_cache("pods", ttl=10)
    True
    >>> m.get_cache("pods", ttl=99)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: cache 'pods' already exists as lru with {...'ttl': 10}; asked for lru with {...'ttl': 99}
    """

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._caches: dict[str, tuple[str, dict[str, Any], Any]] = {}
        self._lock = threading.Lock()

    @overload
    def get_cache(self, name: str, *, kind: Literal["lru"] = "lru", **kwargs: Any) -> LRUCache[Any, Any]: ...
    @overload
    def get_cache(self, name: str, *, kind: Literal["async"], **kwargs: Any) -> AsyncCache[Any, Any]: ...
    def get_cache(self, name: str, *, kind: str = "lru", **kwargs: Any) -> Any:
        """The cache called ``name``, created with ``kwargs`` the first time.

        Raises:
            ValueError: an unknown ``kind``, or ``name`` exists with another kind or settings.
        """
        if kind not in _KINDS:
            raise ValueError(f"unknown cache kind {kind!r} for cache {name!r}; expected 'lru' or 'async'")
        cls = _KINDS[kind]
        kwargs.setdefault("clock", self.clock)
        try:
            bound = inspect.signature(cls).bind(**kwargs)
        except TypeError as exc:
            raise ValueError(f"bad settings for cache {name!r}: {exc}") from None
        bound.apply_defaults()
        settings = dict(bound.arguments)
        with self._lock:
            existing = self._caches.get(name)
            if existing is None:
                cache = cls(**settings)
                self._caches[name] = (kind, settings, cache)
                return cache
            old_kind, old_settings, cache = existing
        if (old_kind, old_settings) != (kind, settings):
            raise ValueError(
                f"cache {name!r} already exists as {old_kind} with {_shown(old_settings)}; "
                f"asked for {kind} with {_shown(settings)}"
            )
        return cache

    def names(self) -> list[str]:
        """The names of the caches, sorted.

        >>> m = CacheManager(); _ = m.get_cache("b"); _ = m.get_cache("a", kind="async"); m.names()
        ['a', 'b']
        """
        with self._lock:
            return sorted(self._caches)

    def _all(self) -> list[tuple[str, Any]]:
        with self._lock:
            return [(name, entry[2]) for name, entry in sorted(self._caches.items())]

    def stats(self) -> dict[str, CacheStats]:
        """Stats of every cache, by name.

        >>> m = CacheManager(); m.get_cache("pods").put("k", 1); m.stats()["pods"].size
        1
        """
        return {name: cache.stats() for name, cache in self._all()}

    def clear_all(self) -> None:
        """Empty every cache.

        >>> m = CacheManager(); m.get_cache("pods").put("k", 1); m.clear_all(); m.stats()["pods"].size
        0
        """
        for _, cache in self._all():
            cache.clear()

    def cleanup_expired(self) -> int:
        """Purge expired entries from every cache; how many were purged in total.

        >>> CacheManager().cleanup_expired()
        0
        """
        return sum(cache.cleanup_expired() for _, cache in self._all())


def _shown(settings: dict[str, Any]) -> dict[str, Any]:
    # The clock is a callable whose repr is noise; a different clock still makes settings differ.
    return {k: v for k, v in settings.items() if k != "clock"}


# -- streaming JSON ------------------------------------------------------------------------------

Source = bytes | str | os.PathLike[str] | IO[bytes] | IO[str]


class _Utf8Reader:
    """A binary ``read`` over a text stream, so ijson gets bytes."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size).encode("utf-8")


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[Any]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(source)
    elif isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        yield io.BytesIO(source.encode("utf-8"))
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            yield fh
    elif isinstance(source.read(0), str):  # a text stream we do not own: not closed here
        yield _Utf8Reader(cast(IO[str], source))
    else:
        yield source


def _name_of(source: Source) -> str:
    """How an error message names the source: the file name, else what kind of thing it was."""
    if isinstance(source, bytes | bytearray | memoryview):
        return "<bytes>"
    if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        return "<JSON text>"
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return str(getattr(source, "name", None) or "<stream>")


def _walk(node: Any, parts: list[str]) -> Iterator[Any]:
    """What ijson's ``prefix`` selects, on an already decoded document (``item`` = each array element)."""
    if not parts:
        yield node
        return
    head, rest = parts[0], parts[1:]
    if isinstance(node, list) and head == "item":
        for element in node:
            yield from _walk(element, rest)
    elif isinstance(node, dict) and head in node:
        yield from _walk(node[head], rest)


class StreamingJSONParser:
    """Reads the ``items`` of a large Kubernetes list response one object at a time.

    With ``ijson`` installed (the ``live`` extra) the document is streamed in ``chunk_size``
    pieces and never held whole; without it the fallback is ``json.load`` of the whole document
    (correct, but not streaming). Objects come back complete (nested fields intact), numbers as
    ``int``/``float``. A ``str`` source starting with ``{`` or ``[`` is JSON text, any other ``str``
    or a path-like is a file name; binary or text streams are read but not closed.

    >>> doc = b'{"metadata": {"resourceVersion": "7"}, "items": [{"spec": {"replicas": 2}}]}'
    >>> p = StreamingJSONParser()
    >>> list(p.iter_items(doc)), p.read_metadata(doc)
    ([{'spec': {'replicas': 2}}], {'resourceVersion': '7'})
    """

    def __init__(self, *, chunk_size: int = 64 * 1024) -> None:
        self.chunk_size = chunk_size

    @staticmethod
    def streaming() -> bool:
        """Whether ``ijson`` is importable, i.e. whether parsing really streams.

        >>> isinstance(StreamingJSONParser.streaming(), bool)
        True
        """
        try:
            import ijson  # noqa: F401
        except ImportError:
            return False
        return True

    def iter_items(self, source: Source, prefix: str = "items.item") -> Generator[Any, None, None]:
        """Yield each object under ``prefix`` (ijson syntax: ``items.item`` = each of ``items``).

        Raises:
            ValueError: the document is not valid JSON (names the source).

        >>> list(StreamingJSONParser().iter_items('{"items": [1, 2.5]}'))
        [1, 2.5]
        """
        name = _name_of(source)
        try:
            import ijson
        except ImportError:
            ijson = None
        with _opened(source) as stream:
            try:
                if ijson is not None:
                    yield from ijson.items(stream, prefix, buf_size=self.chunk_size, use_float=True)
                else:
                    yield from _walk(json.load(stream), prefix.split(".") if prefix else [])
            except json.JSONDecodeError as exc:
                raise ValueError(f"invalid JSON in {name}: {exc}") from exc
            except Exception as exc:
                if ijson is not None and isinstance(exc, ijson.JSONError):
                    raise ValueError(f"invalid JSON in {name}: {exc}") from exc
                raise

    def read_metadata(self, source: Source) -> dict[str, Any]:
        """The list's ``metadata`` (``resourceVersion``, ``continue``), or ``{}`` when absent.

        >>> StreamingJSONParser().read_metadata('{"metadata": {"continue": "abc"}, "items": []}')
        {'continue': 'abc'}
        """
        found = self.iter_items(source, "metadata")
        try:
            for metadata in found:  # only the first one
                return dict(metadata) if isinstance(metadata, dict) else {}
            return {}
        finally:
            found.close()  # release the file now, not when the generator is collected
