"""The query catalogue: every metric question mtop asks, by name, with the PromQL the live source runs.

The simulated fleet answers the same names from its model and returns the same ``data`` shape, so
collectors parse one shape whatever the source. Per-service queries group by ``namespace`` and
``service``; ``service`` is the LLMInferenceService name, recovered from the pod name that KServe
gives every workload pod (``<service>-kserve-...``) with ``label_replace``. Metric renames across
vLLM and endpoint-picker versions are handled inside the PromQL with ``or``: the first name that
has series wins, so one query serves every version.

Parameters: ``window`` (rate window, a Prometheus duration, default ``5m``) and ``q`` (quantile,
for the ``*_quantile`` names). Render one with :func:`render`:

>>> render("request_rate", {"window": "1m"})  # doctest: +ELLIPSIS
'sum by (namespace, service) (label_replace(rate(vllm:request_success_total[1m]), ...'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mtop.errors import UnknownQueryError

__all__ = ["CATALOGUE", "E2E_BUCKETS", "ITL_BUCKETS", "TTFT_BUCKETS", "QuerySpec", "parse_duration", "render"]

# vLLM's real histogram buckets (seconds), from vllm/v1/metrics/loggers.py (see reference/domain.md section 2.1).
TTFT_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
ITL_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
E2E_BUCKETS: tuple[float, ...] = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip

_SERVICE = 'label_replace({expr}, "service", "$1", "pod", "(.+)-kserve-.*")'
_BY_SERVICE = "sum by (namespace, service) (" + _SERVICE + ")"


def _rate(metric: str) -> str:
    return f"rate({metric}[{{window}}])"


def _quantile(*metrics: str) -> str:
    inner = " or ".join(
        f"sum by (namespace, service, le) ({_SERVICE.format(expr=_rate(m + '_bucket'))})" for m in metrics
    )
    return f"histogram_quantile({{q}}, {inner})"


def _sum_rate(metric: str, selector: str = "") -> str:
    return _BY_SERVICE.format(expr=_rate(metric + selector))


def _epp(suffix: str) -> str:
    # The endpoint picker's prefix changed three times; every generation is still seen in the wild.
    prefixes = ("inference_objective_", "inference_model_", "llm_d_router_epp_", "llm_d_epp_")
    return " or ".join(f"sum by (namespace, model_name) (rate({p}{suffix}[{{window}}]))" for p in prefixes)


@dataclass(frozen=True)
class QuerySpec:
    """One named query: its PromQL template, its result labels and unit."""

    name: str
    promql: str
    labels: tuple[str, ...]
    unit: str
    description: str
    params: tuple[str, ...] = ("window",)


_SVC = ("namespace", "service")
_GPU_LABELS = ("Hostname", "gpu", "UUID", "modelName", "namespace", "pod")

CATALOGUE: dict[str, QuerySpec] = {
    q.name: q
    for q in (
        QuerySpec(
            "ttft_quantile",
            _quantile("vllm:time_to_first_token_seconds"),
            _SVC,
            "s",
            "Time to first token at quantile q, from the vLLM histogram.",
            ("window", "q"),
        ),
        QuerySpec(
            "itl_quantile",
            _quantile("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
            _SVC,
            "s",
            "Inter-token latency at quantile q (falls back to the pre-0.11 name time_per_output_token).",
            ("window", "q"),
        ),
        QuerySpec(
            "e2e_quantile",
            _quantile("vllm:e2e_request_latency_seconds"),
            _SVC,
            "s",
            "End-to-end request latency at quantile q.",
            ("window", "q"),
        ),
        QuerySpec(
            "request_rate",
            _sum_rate("vllm:request_success_total"),
            _SVC,
            "1/s",
            "Finished requests per second (every finished_reason).",
        ),
        QuerySpec(
            "error_request_rate",
            _sum_rate("vllm:request_success_total", '{{finished_reason=~"abort|error"}}'),
            _SVC,
            "1/s",
            "Requests per second that finished with reason abort or error.",
        ),
        QuerySpec(
            "generation_tokens_rate",
            _sum_rate("vllm:generation_tokens_total"),
            _SVC,
            "1/s",
            "Output tokens per second.",
        ),
        QuerySpec(
            "prompt_tokens_rate",
            _sum_rate("vllm:prompt_tokens_total"),
            _SVC,
            "1/s",
            "Prompt (prefill) tokens per second.",
        ),
        QuerySpec(
            "queue_depth",
            _BY_SERVICE.format(expr="vllm:num_requests_waiting"),
            _SVC,
            "requests",
            "Requests waiting, summed over the service's pods.",
            (),
        ),
        QuerySpec(
            "requests_running",
            _BY_SERVICE.format(expr="vllm:num_requests_running"),
            _SVC,
            "requests",
            "Requests in the running batch, summed over the service's pods.",
            (),
        ),
        QuerySpec(
            "kv_cache_usage",
            "avg by (namespace, service) ("
            + _SERVICE.format(expr="(vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc)")
            + ")",
            _SVC,
            "0-1",
            "KV-cache usage averaged over the service's pods (falls back to the pre-0.9 gpu_cache_usage_perc).",
            (),
        ),
        QuerySpec(
            "gpu_utilization",
            "DCGM_FI_DEV_GPU_UTIL",
            _GPU_LABELS,
            "%",
            "DCGM GPU utilization per GPU.",
            (),
        ),
        QuerySpec(
            "gpu_memory_used",
            "DCGM_FI_DEV_FB_USED",
            _GPU_LABELS,
            "MiB",
            "DCGM framebuffer memory used per GPU.",
            (),
        ),
        QuerySpec(
            "gpu_memory_total",
            "DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE + DCGM_FI_DEV_FB_RESERVED",
            _GPU_LABELS,
            "MiB",
            "DCGM framebuffer size per GPU (used + free + reserved).",
            (),
        ),
        QuerySpec(
            "gpu_power",
            "DCGM_FI_DEV_POWER_USAGE",
            _GPU_LABELS,
            "W",
            "DCGM power draw per GPU.",
            (),
        ),
        QuerySpec(
            "epp_request_rate",
            _epp("request_total"),
            ("namespace", "model_name"),
            "1/s",
            "Requests per second seen by the endpoint picker, by model name.",
        ),
        QuerySpec(
            "epp_error_rate",
            _epp("request_error_total"),
            ("namespace", "model_name"),
            "1/s",
            "Request errors per second seen by the endpoint picker, by model name.",
        ),
    )
}

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration (``"5m"`` -> 300.0); ``ValueError`` names a bad one.

    >>> parse_duration("90s")
    90.0
    """
    m = _DURATION.match(str(text).strip())
    if not m:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 30s, 5m, 1h)")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def spec(name: str) -> QuerySpec:
    """The catalogue entry for ``name``; ``UnknownQueryError`` lists the known names.

    >>> spec("queue_depth").unit
    'requests'
    """
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownQueryError(f"unknown query {name!r}; known: {', '.join(sorted(CATALOGUE))}") from None


def normalize_params(name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults filled in and values checked: ``window`` a duration, ``q`` in [0, 1].

    >>> normalize_params("ttft_quantile", {"q": 0.95})
    {'window': '5m', 'q': 0.95}
    """
    entry = spec(name)
    given = dict(params or {})
    unknown = set(given) - set(entry.params)
    if unknown:
        raise ValueError(f"query {name!r} takes {list(entry.params)}, not {sorted(unknown)}")
    out: dict[str, Any] = {}
    if "window" in entry.params:
        window = str(given.get("window", "5m"))
        try:
            parse_duration(window)
        except ValueError as exc:
            raise ValueError(f"query {name!r} parameter 'window': {exc}") from None
        out["window"] = window
    if "q" in entry.params:
        q = float(given.get("q", 0.95))
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile q must be within [0, 1], got {q}")
        out["q"] = q
    return out


def render(name: str, params: Mapping[str, Any] | None = None) -> str:
    """The PromQL the live source sends for a named query.

    >>> render("ttft_quantile", {"q": 0.5}).startswith("histogram_quantile(0.5, ")
    True
    """
    return spec(name).promql.format(**normalize_params(name, params))
