from __future__ import annotations

import asyncio
import gc
import inspect
import io
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mtop.cache import AsyncCache, CacheManager, CacheStats, LRUCache, StreamingJSONParser


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- LRUCache ------------------------------------------------------------------------------------


def test_cached_none_is_a_hit() -> None:
    cache: LRUCache[str, None] = LRUCache()
    cache.put("k", None)
    assert cache.get("k", "missing") is None
    assert (cache.stats().hits, cache.stats().misses) == (1, 0)
    calls: list[int] = []
    assert cache.get_or_compute("k", lambda: calls.append(1)) is None
    assert calls == []  # not recomputed


def test_ttl_expires_at_exactly_ttl_seconds(clock: FakeClock) -> None:
    cache: LRUCache[str, int] = LRUCache(ttl=10, clock=clock)
    cache.put("k", 1)
    clock.advance(9.999)
    assert cache.get("k") == 1
    clock.advance(0.001)
    assert cache.get("k") is None
    assert cache.stats().expirations == 1


def test_per_put_ttl_overrides_the_default(clock: FakeClock) -> None:
    cache: LRUCache[str, str] = LRUCache(ttl=10, clock=clock)
    cache.put("short", "s", ttl=1)
    cache.put("default", "d")
    cache.put("forever", "f", ttl=None)
    cache.put("nothing", "n", ttl=0)  # a TTL of 0 stores nothing
    assert "nothing" not in cache
    clock.advance(5)
    assert cache.keys() == ["default", "forever"]
    clock.advance(1_000_000)
    assert cache.keys() == ["forever"]


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_size must be at least 1"):
        LRUCache(max_size=0)
    with pytest.raises(ValueError, match="ttl must be"):
        LRUCache(ttl=-1)
    with pytest.raises(ValueError, match="ttl must be"):
        LRUCache().put("k", 1, ttl=float("nan"))


def test_lru_eviction_respects_recent_use_and_is_counted() -> None:
    cache: LRUCache[str, int] = LRUCache(max_size=3)
    for i, key in enumerate("abc"):
        cache.put(key, i)
    assert cache.get("a") == 0  # "a" is now the most recently used; "b" the least
    cache.put("d", 3)
    cache.put("e", 4)
    assert cache.keys() == ["a", "d", "e"]
    assert cache.stats().evictions == 2
    cache.put("a", 10)  # updating an existing key evicts nothing
    assert cache.stats().evictions == 2 and len(cache) == 3


def test_len_and_size_count_only_live_entries(clock: FakeClock) -> None:
    cache: LRUCache[int, int] = LRUCache(ttl=5, clock=clock)
    for i in range(3):
        cache.put(i, i)
    cache.put(99, 99, ttl=None)
    clock.advance(5)
    assert len(cache) == 1
    assert cache.stats() == CacheStats(hits=0, misses=0, evictions=0, expirations=3, size=1)


def test_cleanup_expired_really_purges(clock: FakeClock) -> None:
    cache: LRUCache[int, int] = LRUCache(ttl=1, clock=clock)
    for i in range(4):
        cache.put(i, i)
    clock.advance(2)
    assert cache.cleanup_expired() == 4
    assert cache.cleanup_expired() == 0
    assert cache.stats().size == 0


def test_invalidate_and_clear() -> None:
    cache: LRUCache[str, int] = LRUCache()
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.invalidate("a") is True
    assert cache.invalidate("a") is False
    assert cache.get("a") is None and cache.get("b") == 2
    cache.clear()
    assert len(cache) == 0
    assert cache.stats().hits == 1  # counters survive clear()


def test_get_or_compute_does_not_cache_failures() -> None:
    cache: LRUCache[str, int] = LRUCache()

    def boom() -> int:
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", boom)
    assert "k" not in cache
    assert cache.get_or_compute("k", lambda: 5) == 5


def test_get_or_compute_runs_once_for_concurrent_threads() -> None:
    cache: LRUCache[str, int] = LRUCache()
    calls: list[int] = []
    entered = threading.Event()
    release = threading.Event()

    def compute() -> int:
        calls.append(1)
        entered.set()
        release.wait(timeout=10)
        return 42

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute("k", compute))) for _ in range(6)]
    threads[0].start()
    assert entered.wait(timeout=10)
    for t in threads[1:]:
        t.start()
    release.set()
    for t in threads:
        t.join(timeout=10)
    assert results == [42] * 6
    assert calls == [1]


def test_get_or_compute_does_not_block_other_keys() -> None:
    cache: LRUCache[str, str] = LRUCache()
    a_started = threading.Event()
    release_a = threading.Event()
    a_done = threading.Event()

    def slow_a() -> str:
        a_started.set()
        release_a.wait(timeout=10)
        return "a"

    def run_a() -> None:
        cache.get_or_compute("a", slow_a)
        a_done.set()

    thread = threading.Thread(target=run_a)
    thread.start()
    assert a_started.wait(timeout=10)
    assert cache.get_or_compute("b", lambda: "b") == "b"
    assert not a_done.is_set()  # "b" finished while "a" was still computing: no global lock
    release_a.set()
    thread.join(timeout=10)
    assert cache.get("a") == "a"
    assert cache._key_locks == {}  # per-key locks are released when unused


def test_thread_safety_under_mixed_load() -> None:
    cache: LRUCache[int, int] = LRUCache(max_size=50)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        barrier.wait()
        try:
            for i in range(2_000):
                cache.put((i + offset) % 120, i)
                cache.get(i % 120)
                if i % 50 == 0:
                    cache.invalidate(i % 120)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n * 7,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    stats = cache.stats()
    assert len(cache) <= 50 and stats.hits + stats.misses == 8_000


# -- AsyncCache ----------------------------------------------------------------------------------


async def test_concurrent_awaits_of_one_key_compute_once() -> None:
    cache: AsyncCache[str, str] = AsyncCache()
    calls: list[int] = []
    started = asyncio.Event()
    release = asyncio.Event()

    async def fetch() -> str:
        calls.append(1)
        started.set()
        await release.wait()
        return "pods"

    waiters = [asyncio.create_task(cache.get_or_compute("pods", fetch)) for _ in range(5)]
    await started.wait()
    release.set()
    assert await asyncio.gather(*waiters) == ["pods"] * 5
    assert await cache.get_or_compute("pods", fetch) == "pods"
    assert calls == [1]


async def test_different_keys_never_wait_on_each_other() -> None:
    cache: AsyncCache[str, str] = AsyncCache()
    a_started = asyncio.Event()
    release_a = asyncio.Event()

    async def slow_a() -> str:
        a_started.set()
        await release_a.wait()  # only released after "b" completed
        return "a"

    async def fast_b() -> str:
        return "b"

    task_a = asyncio.create_task(cache.get_or_compute("a", slow_a))
    await a_started.wait()
    # If one lock were held across computations this would hang; wait_for is only a deadlock guard.
    assert await asyncio.wait_for(cache.get_or_compute("b", fast_b), timeout=5) == "b"
    assert not task_a.done()
    release_a.set()
    assert await task_a == "a"


async def test_failures_reach_every_waiter_and_are_not_cached() -> None:
    cache: AsyncCache[str, int] = AsyncCache()
    calls: list[int] = []
    started = asyncio.Event()
    release = asyncio.Event()

    async def failing() -> int:
        calls.append(1)
        started.set()
        await release.wait()
        raise ConnectionError("prometheus down")

    waiters = [asyncio.create_task(cache.get_or_compute("q", failing)) for _ in range(3)]
    await started.wait()
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert calls == [1]

    async def working() -> int:
        return 7

    assert await cache.get_or_compute("q", working) == 7  # the failure was not cached


async def test_cancelling_one_waiter_does_not_cancel_the_shared_computation() -> None:
    cache: AsyncCache[str, str] = AsyncCache()
    started = asyncio.Event()
    release = asyncio.Event()
    seen_cancel: list[bool] = []

    async def fetch() -> str:
        started.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            seen_cancel.append(True)
            raise
        return "value"

    first = asyncio.create_task(cache.get_or_compute("k", fetch))  # the one that started the computation
    await started.wait()
    second = asyncio.create_task(cache.get_or_compute("k", fetch))
    await asyncio.sleep(0)  # let "second" join the in-flight computation
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await second == "value"
    assert seen_cancel == []


async def test_computation_finishes_and_is_cached_when_every_waiter_is_cancelled() -> None:
    cache: AsyncCache[str, str] = AsyncCache()
    started = asyncio.Event()
    release = asyncio.Event()
    finished = asyncio.Event()

    async def fetch() -> str:
        started.set()
        await release.wait()
        finished.set()
        return "late"

    only = asyncio.create_task(cache.get_or_compute("k", fetch))
    await started.wait()
    only.cancel()
    release.set()
    await finished.wait()
    await asyncio.sleep(0)  # let the computation task store its result
    assert cache.get("k") == "late"


async def test_async_ttl_uses_the_injected_clock(clock: FakeClock) -> None:
    cache: AsyncCache[str, int] = AsyncCache(ttl=30, clock=clock)
    counter = iter(range(100))

    async def next_value() -> int:
        return next(counter)

    assert await cache.get_or_compute("k", next_value) == 0
    clock.advance(29)
    assert await cache.get_or_compute("k", next_value) == 0
    clock.advance(1)
    assert await cache.get_or_compute("k", next_value) == 1
    assert await cache.get_or_compute("k2", next_value, ttl=0) == 2  # returned, not stored
    assert cache.get("k2") is None


async def test_accepts_callables_returning_awaitables_and_bare_coroutines() -> None:
    cache: AsyncCache[str, int] = AsyncCache()

    async def five() -> int:
        return 5

    assert await cache.get_or_compute("lambda", lambda: five()) == 5
    assert await cache.get_or_compute("coro", five()) == 5
    assert await cache.get_or_compute("sync", lambda: 6) == 6  # type: ignore[arg-type,return-value]


async def test_an_unneeded_coroutine_is_closed_not_leaked() -> None:
    cache: AsyncCache[str, int] = AsyncCache()
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> int:
        started.set()
        await release.wait()
        return 1

    async def other() -> int:
        return 2

    first = asyncio.create_task(cache.get_or_compute("k", slow()))
    await started.wait()
    spare = other()
    joined = asyncio.create_task(cache.get_or_compute("k", spare))
    await asyncio.sleep(0)
    assert inspect.getcoroutinestate(spare) == inspect.CORO_CLOSED
    release.set()
    assert await asyncio.gather(first, joined) == [1, 1]
    cached_spare = other()
    assert await cache.get_or_compute("k", cached_spare) == 1
    assert inspect.getcoroutinestate(cached_spare) == inspect.CORO_CLOSED
    del spare, cached_spare
    gc.collect()  # a "never awaited" RuntimeWarning here would fail the test (warnings are errors)


async def test_invalidate_during_computation_returns_but_does_not_store() -> None:
    cache: AsyncCache[str, str] = AsyncCache()
    started = asyncio.Event()
    release = asyncio.Event()

    async def stale() -> str:
        started.set()
        await release.wait()
        return "stale"

    task = asyncio.create_task(cache.get_or_compute("k", stale))
    await started.wait()
    cache.invalidate("k")
    release.set()
    assert await task == "stale"
    assert cache.get("k") is None


async def test_async_cache_none_is_a_hit() -> None:
    cache: AsyncCache[str, None] = AsyncCache()
    calls: list[int] = []

    async def nothing() -> None:
        calls.append(1)

    assert await cache.get_or_compute("k", nothing) is None
    assert await cache.get_or_compute("k", nothing) is None
    assert calls == [1]


# -- CacheManager --------------------------------------------------------------------------------


def test_manager_returns_the_same_cache_for_the_same_settings() -> None:
    manager = CacheManager()
    pods = manager.get_cache("pods", ttl=5)
    assert manager.get_cache("pods", ttl=5) is pods
    assert manager.get_cache("pods", ttl=5, max_size=128) is pods  # the default, spelled out
    assert isinstance(manager.get_cache("queries", kind="async"), AsyncCache)
    assert manager.names() == ["pods", "queries"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttl": 6}, "cache 'pods' already exists as lru with {'max_size': 128, 'ttl': 5}; asked for lru with"),
        ({"kind": "async", "ttl": 5}, "asked for async"),
    ],
)
def test_manager_refuses_other_settings_for_an_existing_name(kwargs: dict[str, Any], message: str) -> None:
    manager = CacheManager()
    manager.get_cache("pods", ttl=5)
    with pytest.raises(ValueError) as info:
        manager.get_cache("pods", **kwargs)
    assert message in str(info.value)


def test_manager_rejects_unknown_kind_and_settings() -> None:
    manager = CacheManager()
    with pytest.raises(ValueError, match="unknown cache kind 'redis'"):
        manager.get_cache("x", kind="redis")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="bad settings for cache 'x'"):
        manager.get_cache("x", size=3)
    assert manager.names() == []


async def test_manager_stats_clear_and_cleanup_cover_every_cache(clock: FakeClock) -> None:
    manager = CacheManager(clock=clock)
    pods = manager.get_cache("pods", ttl=10)
    queries = manager.get_cache("queries", kind="async", ttl=10)
    pods.put("a", 1)
    pods.put("b", 2, ttl=None)
    queries.put("q", 3)
    assert pods.get("a") == 1
    stats = manager.stats()
    assert stats["pods"].size == 2 and stats["pods"].hits == 1 and stats["queries"].size == 1
    clock.advance(10)  # the manager's clock reached the caches it created
    assert manager.cleanup_expired() == 2
    assert manager.stats()["pods"].size == 1 and manager.stats()["queries"].size == 0
    manager.clear_all()
    assert all(s.size == 0 for s in manager.stats().values())


# -- StreamingJSONParser -------------------------------------------------------------------------

POD_LIST = {
    "apiVersion": "v1",
    "kind": "PodList",
    "metadata": {"resourceVersion": "48213", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"},
    "items": [
        {
            "metadata": {"name": "llama-decode-0", "namespace": "llm", "labels": {"app": "vllm", "tier": "decode"}},
            "spec": {
                "nodeName": "gpu-node-1",
                "containers": [
                    {"name": "vllm", "resources": {"limits": {"nvidia.com/gpu": 2, "memory": "80Gi"}}},
                    {"name": "sidecar", "resources": {}},
                ],
            },
            "status": {"phase": "Running", "ready": True, "restartCount": 0, "utilization": 0.875, "bytes": 2**40},
        },
        {
            "metadata": {"name": "llama-prefill-0", "namespace": "llm", "annotations": None},
            "spec": {"containers": []},
            "status": {"phase": "Pending", "ready": False, "ratio": 1e-3, "score": -12.5},
        },
    ],
}


@pytest.fixture(params=["ijson", "fallback"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "fallback":
        monkeypatch.setitem(sys.modules, "ijson", None)  # makes `import ijson` raise ImportError
    else:
        pytest.importorskip("ijson")
    return str(request.param)


def _numbers(obj: Any) -> Iterator[Any]:
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield obj


def test_backend_fixture_really_switches(backend: str) -> None:
    assert StreamingJSONParser.streaming() is (backend == "ijson")


@pytest.mark.parametrize("kind", ["bytes", "text", "path", "str_path", "binary_stream", "text_stream"])
def test_items_come_back_whole_from_every_source(backend: str, kind: str, tmp_path: Path) -> None:
    text = json.dumps(POD_LIST, indent=1)
    path = tmp_path / "pods.json"
    path.write_text(text)
    sources: dict[str, Any] = {
        "bytes": text.encode(),
        "text": text,
        "path": path,
        "str_path": str(path),
        "binary_stream": io.BytesIO(text.encode()),
        "text_stream": io.StringIO(text),
    }
    items = list(StreamingJSONParser(chunk_size=64).iter_items(sources[kind]))
    assert items == POD_LIST["items"]  # nested labels, containers and resources intact
    expected_types = [type(n) for n in _numbers(POD_LIST["items"])]
    assert [type(n) for n in _numbers(items)] == expected_types  # int stays int, float is float (no Decimal)


def test_read_metadata(backend: str) -> None:
    parser = StreamingJSONParser()
    assert parser.read_metadata(json.dumps(POD_LIST).encode()) == POD_LIST["metadata"]
    assert parser.read_metadata(b'{"items": []}') == {}


def test_other_prefixes(backend: str) -> None:
    parser = StreamingJSONParser()
    doc = json.dumps(POD_LIST)
    assert list(parser.iter_items(doc, "items.item.metadata.name")) == ["llama-decode-0", "llama-prefill-0"]
    assert list(parser.iter_items(doc, "")) == [POD_LIST]
    assert list(parser.iter_items(doc, "nothing.item")) == []
    assert list(parser.iter_items("[1, 2]", "item")) == [1, 2]


def test_invalid_json_names_the_source(backend: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"items": [{"a": 1}, {"b": ')
    with pytest.raises(ValueError, match=r"invalid JSON in .*broken\.json"):
        list(StreamingJSONParser().iter_items(broken))


def test_streams_owned_by_the_caller_stay_open(backend: str) -> None:
    stream = io.BytesIO(json.dumps(POD_LIST).encode())
    assert len(list(StreamingJSONParser().iter_items(stream))) == 2
    assert not stream.closed


def test_ijson_path_really_streams() -> None:
    pytest.importorskip("ijson")
    big = {"metadata": {}, "items": [{"metadata": {"name": f"pod-{i}"}, "n": i} for i in range(5_000)]}
    stream = io.BytesIO(json.dumps(big).encode())
    total = len(stream.getvalue())
    items = StreamingJSONParser(chunk_size=4096).iter_items(stream)
    assert next(items) == {"metadata": {"name": "pod-0"}, "n": 0}
    assert stream.tell() < total // 10  # the first item arrived after reading a small part of the document
    assert sum(1 for _ in items) == 4_999


async def test_bad_ttl_fails_before_computing() -> None:
    cache: AsyncCache[str, int] = AsyncCache()
    calls: list[int] = []

    async def compute() -> int:
        calls.append(1)
        return 1

    with pytest.raises(ValueError, match="ttl must be"):
        await cache.get_or_compute("k", compute, ttl=-5)
    assert calls == []


@pytest.mark.parametrize(("source", "name"), [(b"{", "<bytes>"), ("{", "<JSON text>"), (io.BytesIO(b"["), "<stream>")])
def test_invalid_json_error_says_what_the_source_was(backend: str, source: Any, name: str) -> None:
    with pytest.raises(ValueError, match=f"invalid JSON in {name}"):
        list(StreamingJSONParser().iter_items(source))
