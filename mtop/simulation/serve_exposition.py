r"""The simulated fleet's samples in the Prometheus text format (a scrape) and in OpenMetrics (a backfill).

:func:`render_text` writes one scrape of ``/metrics`` (text format 0.0.4): every family once, with its
``# HELP`` and ``# TYPE`` lines, counters by their ``_total`` name, histograms as ``_bucket{le}``,
``_sum`` and ``_count`` series, label values escaped. Each sample may carry an explicit timestamp: the
simulated instant it describes, so a cached scrape is never stamped with a later time than its values.

:func:`write_history` writes the same series at many instants as OpenMetrics text for
``promtool tsdb create-blocks-from openmetrics``, so a fresh Prometheus already holds whole rate windows.
Backfilled series must carry the labels a live scrape adds (``job``, ``instance``) to be the same series.

>>> print(render_text([("vllm:num_requests_waiting", {"pod": 'a"b'}, 3.0)]), end="")
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{pod="a\"b"} 3.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO

__all__ = [
    "CONTENT_TYPE",
    "HELP",
    "Exposition",
    "Sample",
    "SeriesKey",
    "family_of",
    "format_labels",
    "format_value",
    "render_text",
    "write_history",
]

Sample = tuple[str, Mapping[str, str], float]
"""One series' value: ``(metric name, labels, value)``, as ``SimulatedFleet.samples()`` returns it."""
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
"""A series' identity: its metric name and its labels in order."""

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of the classic Prometheus text format."""

HISTOGRAMS = frozenset(
    {
        "vllm:time_to_first_token_seconds",
        "vllm:inter_token_latency_seconds",
        "vllm:time_per_output_token_seconds",
        "vllm:e2e_request_latency_seconds",
    }
)
"""Families exposed as histograms (``_bucket``/``_sum``/``_count``)."""

HELP: dict[str, str] = {
    "vllm:num_requests_running": "Number of requests in model execution batches.",
    "vllm:num_requests_waiting": "Number of requests waiting to be processed.",
    "vllm:kv_cache_usage_perc": "KV-cache usage. 1 means 100 percent usage.",
    "vllm:request_success_total": "Count of successfully processed requests.",
    "vllm:prompt_tokens_total": "Number of prefill tokens processed.",
    "vllm:generation_tokens_total": "Number of generation tokens processed.",
    "vllm:time_to_first_token_seconds": "Histogram of time to first token in seconds.",
    "vllm:inter_token_latency_seconds": "Histogram of inter-token latency in seconds.",
    "vllm:e2e_request_latency_seconds": "Histogram of e2e request latency in seconds.",
    "inference_objective_request_total": "Counter of inference objective requests broken out for each model.",
    "inference_objective_request_error_total": "Counter of inference objective requests errors.",
    "inference_pool_average_kv_cache_utilization": "The average kv cache utilization for an inference server pool.",
    "inference_pool_average_queue_size": "The average number of requests pending in the model server queue.",
    "inference_pool_ready_pods": "The number of ready pods in the inference server pool.",
    "DCGM_FI_DEV_GPU_UTIL": "GPU utilization (in %).",
    "DCGM_FI_DEV_FB_USED": "Framebuffer memory used (in MiB).",
    "DCGM_FI_DEV_FB_FREE": "Framebuffer memory free (in MiB).",
    "DCGM_FI_DEV_FB_RESERVED": "Framebuffer memory reserved (in MiB).",
    "DCGM_FI_DEV_POWER_USAGE": "Power draw (in W).",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "Ratio of time the graphics engine is active.",
}
"""Help text per family (the exporters' own wording where known)."""

_DEFAULT_HELP = "Simulated by mtop."
_HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def family_of(name: str) -> tuple[str, str]:
    """The family a sample belongs to and its type: ``(family, "counter"|"gauge"|"histogram")``.

    Counters keep their ``_total`` name as the family (the text format 0.0.4 convention).

    >>> family_of("vllm:e2e_request_latency_seconds_bucket"), family_of("vllm:prompt_tokens_total")
    (('vllm:e2e_request_latency_seconds', 'histogram'), ('vllm:prompt_tokens_total', 'counter'))
    """
    for suffix in _HIST_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in HISTOGRAMS:
            return name[: -len(suffix)], "histogram"
    if name.endswith("_total"):
        return name, "counter"
    return name, "gauge"


def _escape(value: str) -> str:
    # The text format escapes exactly these three in label values.
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def format_labels(labels: Mapping[str, str]) -> str:
    r"""``{a="1",b="x"}`` with values escaped; empty for no labels.

    >>> format_labels({"le": "+Inf", "msg": "line\nbreak"})
    '{le="+Inf",msg="line\\nbreak"}'
    """
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: ``1.0``, ``+Inf``, ``-Inf``, ``NaN``.

    >>> format_value(2), format_value(float("inf")), format_value(float("nan"))
    ('2.0', '+Inf', 'NaN')
    """
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


class Exposition:
    """Formats samples as exposition lines, remembering each series' text (a scrape repeats the same series).

    ``extra_labels`` are appended to every series (``job``/``instance`` for a backfill). At most
    ``max_series`` series texts are remembered; beyond that they are formatted every time.

    Counters never go down (:meth:`counter_value`). The model's service counters are monotone by
    construction (integrated tick by tick in one order, see ``WorkloadModel.counters``); this is the
    safety net for anything derived from them, since Prometheus reads any decrease as a counter reset (a
    rate as large as the whole counter). An ``Exposition`` serving instants in order clamps; pass the
    same ``floors`` dict to a backfill and to the live server that follows it to clamp across both.

    >>> ex = Exposition({"job": "sim"})
    >>> ex.series("up", {"pod": "p"})
    'up{pod="p",job="sim"}'
    """

    def __init__(
        self,
        extra_labels: Mapping[str, str] | None = None,
        max_series: int = 500_000,
        floors: dict[SeriesKey, float] | None = None,
    ) -> None:
        self.extra = dict(extra_labels or {})
        self.max_series = max_series
        self._series: dict[SeriesKey, str] = {}
        self._families: dict[str, tuple[str, str]] = {}
        self.floors: dict[SeriesKey, float] = floors if floors is not None else {}

    def counter_value(self, name: str, labels: Mapping[str, str], value: float) -> float:
        """``value``, or the last value written for this series if that is larger (a counter never goes down).

        >>> ex = Exposition()
        >>> [ex.counter_value("c_total", {}, v) for v in (5.0, 4.999999999999999, 6.0)]
        [5.0, 5.0, 6.0]
        """
        key = (name, tuple(labels.items()))
        last = self.floors.get(key)
        if last is not None and value < last:
            return last
        if last is not None or len(self.floors) < self.max_series:
            self.floors[key] = value
        return value

    def family(self, name: str) -> tuple[str, str]:
        """:func:`family_of`, remembered.

        >>> Exposition().family("x_total")
        ('x_total', 'counter')
        """
        found = self._families.get(name)
        if found is None:
            found = self._families[name] = family_of(name)
        return found

    def series(self, name: str, labels: Mapping[str, str]) -> str:
        """``name{labels}`` (with the extra labels), formatted once per distinct series.

        >>> Exposition().series("g", {})
        'g'
        """
        key = (name, tuple(labels.items()))
        text = self._series.get(key)
        if text is None:
            text = name + format_labels({**labels, **self.extra} if self.extra else labels)
            if len(self._series) < self.max_series:
                self._series[key] = text
        return text

    def render(self, samples: Iterable[Sample], timestamp_ms: int | None = None) -> str:
        """One scrape in the text format 0.0.4 (see :func:`render_text`).

        >>> Exposition().render([("g", {}, 1.0)]).splitlines()[-1]
        'g 1.0'
        """
        stamp = "" if timestamp_ms is None else f" {int(timestamp_ms)}"
        groups: dict[str, tuple[str, list[str]]] = {}
        for name, labels, value in samples:
            family, kind = self.family(name)
            entry = groups.get(family)
            if entry is None:
                entry = groups[family] = (
                    kind,
                    [f"# HELP {family} {HELP.get(family, _DEFAULT_HELP)}", f"# TYPE {family} {kind}"],
                )
            if kind != "gauge":
                value = self.counter_value(name, labels, value)
            entry[1].append(f"{self.series(name, labels)} {format_value(value)}{stamp}")
        if not groups:
            return ""
        return "\n".join("\n".join(lines) for _, lines in groups.values()) + "\n"


def render_text(samples: Iterable[Sample], timestamp_ms: int | None = None) -> str:
    """One scrape in the text format 0.0.4: families grouped, each with ``# HELP`` and ``# TYPE``.

    ``timestamp_ms`` (milliseconds since the epoch) is written after every value when given.

    >>> text = render_text([("a_total", {}, 1), ("g", {"x": "1"}, 0.5), ("a_total", {"x": "2"}, 2)], 1000)
    >>> print(text, end="")  # doctest: +NORMALIZE_WHITESPACE
    # HELP a_total Simulated by mtop.
    # TYPE a_total counter
    a_total 1.0 1000
    a_total{x="2"} 2.0 1000
    # HELP g Simulated by mtop.
    # TYPE g gauge
    g{x="1"} 0.5 1000
    """
    return Exposition().render(samples, timestamp_ms)


def write_history(
    out: IO[str],
    samples_at: Callable[[float], Sequence[Sample]],
    times: Sequence[float],
    extra_labels: Mapping[str, str] | None = None,
    include: Callable[[str], bool] | None = None,
    floors: dict[SeriesKey, float] | None = None,
) -> int:
    """Write the series of ``samples_at(t)`` at every unix time in ``times`` as OpenMetrics; the number of lines.

    Families are written one after the other and each series in time order (what ``promtool tsdb
    create-blocks-from openmetrics`` needs), without type metadata (every family is ``unknown``, so
    sample names are kept as they are). ``extra_labels`` (``job``, ``instance``) are appended to every
    series; ``include(name)`` keeps only some metric names; counters never go down (``floors``: see
    :class:`Exposition`). Ends with ``# EOF``.

    >>> import io
    >>> buf = io.StringIO()
    >>> write_history(buf, lambda t: [("g", {"a": "1"}, t / 10)], [10.0, 20.0], {"job": "sim"})
    2
    >>> print(buf.getvalue(), end="")
    g{a="1",job="sim"} 1.0 10.000
    g{a="1",job="sim"} 2.0 20.000
    # EOF
    """
    ordered = sorted(float(t) for t in times)
    exposition = Exposition(extra_labels, floors=floors)
    # family -> per instant, the formatted (series, value) pairs of that instant
    families: dict[str, list[list[tuple[str, float]]]] = {}
    for i, t in enumerate(ordered):
        for name, labels, value in samples_at(t):
            if include is not None and not include(name):
                continue
            family, kind = exposition.family(name)
            per_time = families.get(family)
            if per_time is None:
                per_time = families[family] = [[] for _ in ordered]
            if kind != "gauge":
                value = exposition.counter_value(name, labels, value)
            per_time[i].append((exposition.series(name, labels), value))
    count = 0
    for per_time in families.values():
        for t, rows in zip(ordered, per_time, strict=True):
            stamp = f"{t:.3f}"
            out.write("".join(f"{series} {format_value(v)} {stamp}\n" for series, v in rows))
            count += len(rows)
    out.write("# EOF\n")
    return count
