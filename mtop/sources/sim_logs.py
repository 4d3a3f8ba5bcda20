"""Simulated container logs of vLLM pods: what ``kubectl logs`` would print for a pod of the simulated fleet.

A vLLM container logs its start-up (platform, engine config, weight loading, KV-cache sizing, graph
capture, routes), then one engine-stats line every 10 seconds (vLLM's ``VLLM_LOG_STATS_INTERVAL``)::

    INFO 11-28 14:03:10 [loggers.py:127] Engine 000: Avg prompt throughput: 1234.5 tokens/s, Avg generation
    throughput: 210.3 tokens/s, Running: 12 reqs, Waiting: 0 reqs, GPU KV cache usage: 34.5%, Prefix cache
    hit rate: 41.2%

The figures are not invented here: the caller passes :class:`PodStats` computed from the fleet's workload
model (the same counters and gauges the pod's ``/metrics`` exposes), so a log agrees with the queries.
Aborted requests get an ``Aborted request`` line each (up to three per interval). The crash-looping pod
logs its last attempt: start-up, then a CUDA out-of-memory error while sizing the KV cache, and exit.
Uvicorn access lines are left out, as deployments that pass ``--disable-uvicorn-access-log`` see them.

Everything is a pure function of the pod object, the service, the seed and the time: the same request
gives the same text. Like the kubelet, which rotates container logs, a log keeps its last
:data:`MAX_LINES` lines.

>>> from datetime import UTC, datetime
>>> line = stats_line(datetime(2026, 11, 28, 14, 3, 10, tzinfo=UTC), 0, 1234.5, 210.3, 12, 0, 0.345, 41.2)
>>> line.split(" Engine 000: ")[0]
'INFO 11-28 14:03:10 [loggers.py:127]'
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mtop.errors import SourceError

__all__ = [
    "MAX_LINES",
    "STATS_INTERVAL_S",
    "VLLM_VERSION",
    "LogSubject",
    "PodStats",
    "pod_log",
    "stats_line",
]

STATS_INTERVAL_S = 10.0
"""Seconds between engine-stats lines (vLLM's default ``VLLM_LOG_STATS_INTERVAL``)."""
MAX_LINES = 20_000
"""Lines a log keeps (the kubelet rotates container logs; this is the simulated rotation)."""
VLLM_VERSION = "0.11.0"
_MAX_ABORT_LINES = 3


@dataclass(frozen=True)
class PodStats:
    """Per-interval figures of one pod, one entry per stats time (arrays of equal length).

    ``prompt_tps``/``generation_tps`` are tokens per second over the interval ending at each time,
    ``running``/``waiting`` requests, ``kv`` the KV-cache usage (0-1) and ``aborted`` the requests
    aborted during the interval.

    >>> PodStats(*(np.zeros(2) for _ in range(6))).prompt_tps.shape
    (2,)
    """

    prompt_tps: NDArray[np.float64]
    generation_tps: NDArray[np.float64]
    running: NDArray[np.float64]
    waiting: NDArray[np.float64]
    kv: NDArray[np.float64]
    aborted: NDArray[np.float64]


StatsAt = Callable[[NDArray[np.float64]], PodStats]
"""Figures of a pod at unix times (each the end of a :data:`STATS_INTERVAL_S` interval)."""


@dataclass(frozen=True)
class LogSubject:
    """What a pod's log talks about: its service's model and sizing, and how its container ran.

    >>> LogSubject("m", "ns", "svc", "pod", 0, 1, 8.0, 81920, "cuda", 1, 0).engines
    1
    """

    model_name: str
    namespace: str
    service: str
    pod: str
    seed: int
    tensor: int
    params_b: float
    gpu_memory_mib: int
    platform: str
    """``cuda`` or ``cpu``."""
    engines: int
    """vLLM engines in this container (data-parallel ranks hosted locally; 1 otherwise)."""
    first_engine: int
    """Index of the first of them (``Engine 008`` on the second pod of a 16-way data-parallel group)."""


def _hash(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%m-%d %H:%M:%S")


def stats_line(
    t: datetime,
    engine: int,
    prompt_tps: float,
    generation_tps: float,
    running: int,
    waiting: int,
    kv: float,
    prefix_hit_percent: float,
) -> str:
    """One vLLM engine-stats line, worded as vLLM's ``LoggingStatLogger`` writes it.

    >>> stats_line(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), 1, 0.0, 0.0, 0, 0, 0.0, 0.0)  # doctest: +ELLIPSIS
    'INFO 01-02 03:04:05 [loggers.py:127] Engine 001: Avg prompt throughput: 0.0 tokens/s, ...'
    """
    return (
        f"INFO {_stamp(t)} [loggers.py:127] Engine {engine:03d}: "
        f"Avg prompt throughput: {prompt_tps:.1f} tokens/s, Avg generation throughput: {generation_tps:.1f} tokens/s, "
        f"Running: {running} reqs, Waiting: {waiting} reqs, GPU KV cache usage: {100.0 * kv:.1f}%, "
        f"Prefix cache hit rate: {prefix_hit_percent:.1f}%"
    )


def _sizing(subject: LogSubject) -> dict[str, Any]:
    """Plausible memory figures for the start-up lines (bf16 weights split over tensor-parallel ranks)."""
    h = _hash(subject.seed, subject.namespace, subject.service, "sizing")
    max_len = (4096, 8192, 16384, 32768)[h % 4]
    weights_gib = subject.params_b * 1e9 * 2 / 2**30 / max(1, subject.tensor)
    gpu_gib = subject.gpu_memory_mib / 1024.0
    kv_gib = max(0.5, 0.9 * gpu_gib - weights_gib - 1.4) if subject.platform == "cuda" else 4.0
    # Bytes of K and V per token grow with the model (an 8B Llama: 128 KiB), split over TP ranks.
    per_token = 131072.0 * math.sqrt(max(subject.params_b, 0.5) / 8.0) / max(1, subject.tensor)
    tokens = int(kv_gib * 2**30 / per_token) // 16 * 16
    return {
        "max_len": max_len,
        "weights_gib": weights_gib,
        "gpu_gib": gpu_gib,
        "kv_gib": kv_gib,
        "tokens": tokens,
        "concurrency": tokens / max_len,
        "load_s": 4.0 + weights_gib * 0.35 + (h >> 8) % 500 / 100.0,
        "compile_s": 6.0 + (h >> 16) % 900 / 100.0,
        "graph_s": 8 + (h >> 24) % 12,
        "hash": f"{h:016x}"[:10],
        "prefix_hit": 20.0 + (h >> 32) % 4000 / 100.0,
    }


def _startup(subject: LogSubject, start: datetime, crash_at: datetime | None) -> list[tuple[datetime, str]]:
    """Start-up lines at their times; for a crash, lines up to the CUDA OOM error, which lands at ``crash_at``."""
    crash = crash_at is not None
    z = _sizing(subject)
    at = [0.0]

    def line(dt: float, level: str, where: str, text: str) -> tuple[datetime, str]:
        at[0] += dt
        t = start + timedelta(seconds=at[0])
        return t, f"{level} {_stamp(t)} [{where}] {text}"

    served = [subject.model_name, f"publishers/{subject.namespace}/models/{subject.service}"]
    tp = subject.tensor
    out = [
        line(0.4, "INFO", "__init__.py:216", f"Automatically detected platform {subject.platform}."),
        line(2.1, "INFO", "api_server.py:1839", f"vLLM API server version {VLLM_VERSION}"),
        line(
            0.0,
            "INFO",
            "utils.py:233",
            f"non-default args: {{'model_tag': '/mnt/models', 'port': 8000, 'served_model_name': {served!r}, "
            f"'tensor_parallel_size': {tp}, 'max_model_len': {z['max_len']}}}",
        ),
        line(1.3, "INFO", "model.py:547", "Resolved architecture: LlamaForCausalLM"),
        line(0.1, "INFO", "model.py:1510", f"Using max model len {z['max_len']}"),
        line(0.2, "INFO", "scheduler.py:205", "Chunked prefill is enabled with max_num_batched_tokens=8192."),
        line(
            2.0,
            "INFO",
            "core.py:77",
            f"Initializing a V1 LLM engine (v{VLLM_VERSION}) with config: model='/mnt/models', "
            f"tokenizer='/mnt/models', dtype=torch.bfloat16, max_seq_len={z['max_len']}, "
            f"tensor_parallel_size={tp}, pipeline_parallel_size=1, data_parallel_size={max(1, subject.engines)}, "
            f"quantization=None, enforce_eager=False, kv_cache_dtype=auto, device_config={subject.platform}, "
            f"served_model_name={subject.model_name}, enable_prefix_caching=True, chunked_prefill_enabled=True",
        ),
        line(
            1.7,
            "INFO",
            "parallel_state.py:1208",
            f"rank 0 in world size {tp} is assigned as DP rank {subject.first_engine}, PP rank 0, TP rank 0, EP rank 0",
        ),
        line(0.4, "INFO", "gpu_model_runner.py:2602", "Starting to load model /mnt/models..."),
    ]
    if subject.platform == "cuda":
        out.append(line(0.2, "INFO", "cuda.py:366", "Using Flash Attention backend on V1 engine."))
    out += [
        line(z["load_s"], "INFO", "default_loader.py:267", f"Loading weights took {z['load_s'] - 0.6:.2f} seconds"),
        line(
            0.5,
            "INFO",
            "gpu_model_runner.py:2653",
            f"Model loading took {z['weights_gib']:.4f} GiB and {z['load_s']:.6f} seconds",
        ),
        line(
            1.1,
            "INFO",
            "backends.py:548",
            f"Using cache directory: /root/.cache/vllm/torch_compile_cache/{z['hash']}/rank_0_0/backbone "
            "for vLLM's torch.compile",
        ),
        line(z["compile_s"], "INFO", "monitor.py:34", f"torch.compile takes {z['compile_s']:.2f} s in total"),
    ]
    if crash:
        free = max(0.05, z["gpu_gib"] - z["weights_gib"] - 1.3)
        ask = round(free + 0.5 + (_hash(subject.pod, "ask") % 300) / 100.0, 2)
        error = (
            f"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate {ask:.2f} GiB. GPU 0 has a total "
            f"capacity of {z['gpu_gib']:.2f} GiB of which {free:.2f} GiB is free. Including non-PyTorch memory, "
            f"this process has {z['gpu_gib'] - free:.2f} GiB memory in use. Of the allocated memory "
            f"{z['weights_gib'] + 0.9:.2f} GiB is allocated by PyTorch, and 0.31 GiB is reserved by PyTorch but "
            "unallocated. If reserved but unallocated memory is large try setting "
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation."
        )
        out += [
            line(0.8, "ERROR", "core.py:708", "EngineCore failed to start."),
            line(0.0, "ERROR", "core.py:708", "Traceback (most recent call last):"),
            line(
                0.0,
                "ERROR",
                "core.py:708",
                '  File "/usr/local/lib/python3.12/site-packages/vllm/v1/engine/core.py", line 699, in run_engine_core',
            ),
            line(
                0.0,
                "ERROR",
                "core.py:708",
                '  File "/usr/local/lib/python3.12/site-packages/vllm/v1/worker/'
                'gpu_worker.py", line 263, in determine_available_memory',
            ),
            line(0.0, "ERROR", "core.py:708", error),
            line(
                0.3,
                "ERROR",
                "api_server.py:1886",
                "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
            ),
        ]
        # The container died at crash_at: squeeze the attempt's lines into its run time.
        span = (out[-1][0] - start).total_seconds()
        room = max(0.0, (crash_at - start).total_seconds() - 0.2) if crash_at is not None else span
        if span > room > 0:
            out = [(at, _restamp(at, text)) for at, text in ((start + (t - start) * (room / span), x) for t, x in out)]
        return out
    out += [
        line(1.9, "INFO", "gpu_worker.py:298", f"Available KV cache memory: {z['kv_gib']:.2f} GiB"),
        line(0.1, "INFO", "kv_cache_utils.py:1087", f"GPU KV cache size: {z['tokens']:,} tokens"),
        line(
            0.0,
            "INFO",
            "kv_cache_utils.py:1091",
            f"Maximum concurrency for {z['max_len']:,} tokens per request: {z['concurrency']:.2f}x",
        ),
        line(
            z["graph_s"],
            "INFO",
            "gpu_model_runner.py:3480",
            f"Graph capturing finished in {z['graph_s']} secs, took 0.61 GiB",
        ),
        line(
            0.3, "INFO", "core.py:210", f"init engine (profile, create kv cache, warmup model) took {at[0]:.2f} seconds"
        ),
        line(0.6, "INFO", "api_server.py:1634", "Supported_tasks: ['generate']"),
        line(0.1, "INFO", "api_server.py:1912", "Starting vLLM API server 0 on http://0.0.0.0:8000"),
        line(0.0, "INFO", "launcher.py:34", "Available routes are:"),
    ]
    for route, methods in (
        ("/health", "GET"),
        ("/metrics", "GET"),
        ("/v1/models", "GET"),
        ("/v1/chat/completions", "POST"),
        ("/v1/completions", "POST"),
    ):
        out.append(line(0.0, "INFO", "launcher.py:42", f"Route: {route}, Methods: {methods}"))
    t = start + timedelta(seconds=at[0])
    out += [
        (t, "INFO:     Started server process [1]"),
        (t, "INFO:     Waiting for application startup."),
        (t, "INFO:     Application startup complete."),
    ]
    return out


def _restamp(t: datetime, text: str) -> str:
    """``text`` (a ``LEVEL MM-DD HH:MM:SS [...]`` line) with its time rewritten to ``t``."""
    level, _, rest = text.partition(" ")
    return f"{level} {_stamp(t)}{rest[14:]}"


def _split(total: float, parts: int) -> list[int]:
    """An integer count spread over ``parts`` engines, the remainder on the first ones."""
    n = max(0, round(total))
    base, rest = divmod(n, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def _stats_lines(subject: LogSubject, times: NDArray[np.float64], stats: PodStats) -> list[tuple[datetime, str]]:
    prefix = _sizing(subject)["prefix_hit"]
    engines = max(1, subject.engines)
    out: list[tuple[datetime, str]] = []
    for i, unix in enumerate(times.tolist()):
        t = datetime.fromtimestamp(unix, UTC)
        aborted = min(_MAX_ABORT_LINES, int(stats.aborted[i]))
        for a in range(aborted):
            rid = f"{_hash(subject.seed, subject.pod, unix, a):032x}"
            at = t - timedelta(seconds=(a + 1) * STATS_INTERVAL_S / (aborted + 1))
            out.append((at, f"INFO {_stamp(at)} [async_llm.py:420] Aborted request chatcmpl-{rid}."))
        running = _split(float(stats.running[i]), engines)
        waiting = _split(float(stats.waiting[i]), engines)
        hit = prefix + 3.0 * math.sin(unix / 600.0) if stats.prompt_tps[i] > 0 else 0.0
        for e in range(engines):
            out.append(
                (
                    t,
                    stats_line(
                        t,
                        subject.first_engine + e,
                        float(stats.prompt_tps[i]) / engines,
                        float(stats.generation_tps[i]) / engines,
                        running[e],
                        waiting[e],
                        float(stats.kv[i]),
                        hit,
                    ),
                )
            )
    return out


def _container_times(pod: Mapping[str, Any], name: str) -> tuple[datetime, datetime | None, bool]:
    """``(start, end, crashed)`` of the container run whose log is shown (the last one if it crashed)."""
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    cs = next((c for c in statuses if c.get("name") == "main"), None)
    phase = status.get("phase")
    state = (cs or {}).get("state") or {}
    if "running" in state:
        return _parse(state["running"]["startedAt"]), None, False
    last = ((cs or {}).get("lastState") or {}).get("terminated")
    if last:  # a container waiting to restart: the kubelet still serves the last run's log
        return _parse(last["startedAt"]), _parse(last["finishedAt"]), last.get("exitCode", 0) != 0
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    scheduled = conditions.get("PodScheduled") or {}
    why = f" ({scheduled['reason']})" if scheduled.get("status") == "False" and scheduled.get("reason") else ""
    raise SourceError(
        f'container "main" in pod "{name}" is waiting to start: the pod is {phase}{why}', source="simulated"
    )


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def pod_log(
    pod: Mapping[str, Any],
    subject: LogSubject,
    stats_at: StatsAt | None,
    now: datetime,
    *,
    tail_lines: int | None = None,
    since_seconds: float | None = None,
    timestamps: bool = False,
    history_start: datetime | None = None,
) -> str:
    """The log of ``pod``'s ``main`` container at ``now``, as the pods/log API returns it.

    ``stats_at`` gives the engine figures (``None``: a pod that takes no traffic). ``since_seconds``
    keeps lines newer than ``now - since_seconds``; ``tail_lines`` keeps the last N of those;
    ``timestamps`` prefixes each line with its RFC 3339 time, as ``kubectl logs --timestamps`` does.
    ``history_start`` is where the simulated history begins (the fleet's epoch): nothing is logged before it.
    A pod whose container never started raises ``SourceError`` (the API's "waiting to start").

    >>> pod = {"status": {"phase": "Running", "containerStatuses": [
    ...     {"name": "main", "state": {"running": {"startedAt": "2026-11-28T12:00:00Z"}}}]}}
    >>> subject = LogSubject("meta-llama/Llama-3.1-8B", "prod", "llama", "llama-x", 0, 1, 8.0, 81920, "cuda", 1, 0)
    >>> text = pod_log(pod, subject, None, datetime(2026, 11, 28, 12, 5, tzinfo=UTC), tail_lines=1)
    >>> "Avg generation throughput: 0.0 tokens/s" in text
    True
    """
    name = str((pod.get("metadata") or {}).get("name", subject.pod))
    start, end, crashed = _container_times(pod, name)
    end = min(end or now, now)
    events = [e for e in _startup(subject, start, end if crashed else None) if e[0] <= end]
    if not crashed and events:
        ready = events[-1][0]
        first = math.ceil(ready.timestamp() / STATS_INTERVAL_S) * STATS_INTERVAL_S
        if history_start is not None:  # the first whole interval inside the history
            lower = max(first, (math.floor(history_start.timestamp() / STATS_INTERVAL_S) + 1) * STATS_INTERVAL_S)
        else:
            lower = first
        if history_start is not None and start < history_start:
            events = []  # started before the simulated history: its start-up has rotated out of the log
        if since_seconds is not None:
            lower = max(lower, math.ceil((now.timestamp() - since_seconds) / STATS_INTERVAL_S) * STATS_INTERVAL_S)
        # Only the intervals that can appear: the last MAX_LINES (or tail) lines, never the whole uptime.
        keep = min(MAX_LINES, tail_lines if tail_lines is not None else MAX_LINES)
        lower = max(lower, (math.floor(end.timestamp() / STATS_INTERVAL_S) - keep) * STATS_INTERVAL_S)
        times = np.arange(lower, end.timestamp() + 1e-3, STATS_INTERVAL_S, dtype=np.float64)
        if times.size:
            stats = stats_at(times) if stats_at is not None else PodStats(*(np.zeros(times.size) for _ in range(6)))
            events += _stats_lines(subject, times, stats)
    events.sort(key=lambda e: e[0])
    if since_seconds is not None:
        cutoff = now - timedelta(seconds=since_seconds)
        events = [e for e in events if e[0] >= cutoff]
    events = events[-MAX_LINES:]
    if tail_lines is not None:
        events = events[-tail_lines:] if tail_lines > 0 else []
    if timestamps:
        lines = [f"{t.strftime('%Y-%m-%dT%H:%M:%S.%f')}000Z {text}" for t, text in events]
    else:
        lines = [text for _, text in events]
    return "".join(line + "\n" for line in lines)
