"""SimulatedFleet as a Source: clock, queries, raw samples and their agreement."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mtop.catalogue import CATALOGUE
from mtop.config import default_config
from mtop.errors import UnknownQueryError
from mtop.interfaces import Source
from mtop.sources.simulated import SimulatedFleet

START = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)
COUNTER_SUFFIXES = ("_total", "_bucket", "_sum", "_count")


def _fleet(**kw: Any) -> SimulatedFleet:
    kw.setdefault("start", START)
    kw.setdefault("clock", "frozen")
    return SimulatedFleet(default_config(), **kw)


@pytest.fixture(scope="module")
def fleet() -> SimulatedFleet:
    return _fleet()


def _params(name: str) -> dict[str, Any] | None:
    return {"q": 0.95} if name.endswith("_quantile") else None


def _by(result: list[dict[str, Any]], *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(r["metric"][k] for k in keys): float(r["value"][1]) for r in result}


def _service_of_pods(fleet: SimulatedFleet) -> dict[str, str]:
    return {
        p["metadata"]["name"]: p["metadata"]["labels"]["app.kubernetes.io/name"] for p in fleet.list_objects("pods")
    }


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


# ------------------------------------------------------------------------------------------- source
def test_is_a_source(fleet: SimulatedFleet) -> None:
    assert isinstance(fleet, Source)
    assert fleet.kind == "simulated" and fleet.cluster == "simulated"


def test_clocks_and_advance() -> None:
    frozen = _fleet()
    assert frozen.now() == START and frozen.now().tzinfo is not None
    frozen.advance(timedelta(minutes=5))
    assert frozen.now() == START + timedelta(minutes=5)
    with pytest.raises(ValueError, match="non-negative"):
        frozen.advance(timedelta(seconds=-1))
    ticks = iter([START + timedelta(hours=h) for h in range(3)])
    driven = _fleet(clock=lambda: next(ticks))
    driven.advance(timedelta(seconds=30))
    assert driven.now() == START + timedelta(seconds=30)
    assert driven.now() == START + timedelta(hours=1, seconds=30)
    wall = _fleet(clock="wall")
    assert START <= wall.now() < START + timedelta(minutes=10)
    default_start = SimulatedFleet(default_config(), clock="frozen").now()
    assert default_start.microsecond == 0 and default_start.tzinfo is not None
    with pytest.raises(ValueError, match="clock"):
        _fleet(clock="sideways")  # type: ignore[arg-type]


def test_unknown_names_and_bad_params(fleet: SimulatedFleet) -> None:
    with pytest.raises(UnknownQueryError, match="not_a_query"):
        fleet.query("not_a_query")
    with pytest.raises(UnknownQueryError):
        fleet.query_range("nope", None, START - timedelta(minutes=5), START, timedelta(minutes=1))
    with pytest.raises(ValueError, match="five minutes"):
        fleet.query("request_rate", {"window": "five minutes"})
    with pytest.raises(ValueError, match="step"):
        fleet.query_range("request_rate", None, START, START, timedelta(0))
    with pytest.raises(ValueError, match="before start"):
        fleet.query_range("request_rate", None, START, START - timedelta(minutes=1), timedelta(seconds=15))


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_catalogue_query_has_the_prometheus_shape(fleet: SimulatedFleet, name: str) -> None:
    data = fleet.query(name, _params(name))
    assert data["resultType"] == "vector" and data["result"]
    labels = set(CATALOGUE[name].labels)
    for r in data["result"]:
        ts, value = r["value"]
        assert ts == START.timestamp() and isinstance(value, str)
        float(value)
        assert labels - {"namespace", "pod"} <= set(r["metric"]), (name, r["metric"])
    rng = fleet.query_range(name, _params(name), START - timedelta(minutes=2), START, timedelta(minutes=1))
    assert rng["resultType"] == "matrix"
    assert len(rng["result"]) == len(data["result"])
    stamps = [START.timestamp() - 120, START.timestamp() - 60, START.timestamp()]
    assert all([p[0] for p in r["values"]] == stamps for r in rng["result"])


def test_query_range_agrees_with_instant_queries(fleet: SimulatedFleet) -> None:
    for name in ("ttft_quantile", "request_rate", "queue_depth", "gpu_utilization", "epp_request_rate"):
        step = timedelta(seconds=150)  # shorter than the 5m window: overlapping windows share ticks
        rng = fleet.query_range(name, _params(name), START - timedelta(minutes=20), START, step)
        for r in rng["result"][:5]:
            for ts, value in r["values"][::3]:
                at = datetime.fromtimestamp(ts, UTC)
                inst = [x for x in fleet.query(name, _params(name), at=at)["result"] if x["metric"] == r["metric"]]
                assert len(inst) == 1
                assert float(inst[0]["value"][1]) == pytest.approx(float(value), rel=1e-9, nan_ok=True)


def test_same_seed_same_results_other_seed_differs() -> None:
    a, b, c = _fleet(seed=4), _fleet(seed=4), _fleet(seed=5)
    for name in ("ttft_quantile", "gpu_power", "epp_error_rate"):
        assert a.query(name, _params(name)) == b.query(name, _params(name))
        assert a.query(name, _params(name)) != c.query(name, _params(name))


def test_not_ready_services_have_no_series_and_gpus_cover_every_node(fleet: SimulatedFleet) -> None:
    services = {r["metric"]["service"] for r in fleet.query("queue_depth")["result"]}
    assert "claude-3-opus" not in services and "llama-3-70b-instruct" not in services
    assert "granite-3-2b-instruct" in services  # CPU-only, but it serves
    gpus = fleet.query("gpu_utilization")["result"]
    nodes = fleet.list_objects("nodes")
    assert len(gpus) == sum(int(n["status"]["allocatable"].get("nvidia.com/gpu", "0")) for n in nodes)


# --------------------------------------------------------------------------------------------- GPUs
def test_gpu_series_follow_pod_allocation(fleet: SimulatedFleet) -> None:
    pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in fleet.list_objects("pods")}
    util = fleet.query("gpu_utilization")["result"]
    held: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for r in util:
        m = r["metric"]
        assert m["UUID"].startswith("GPU-") and m["device"] == f"nvidia{m['gpu']}" and m["Hostname"]
        if "pod" in m:
            assert m["container"] == "main"
            held[(m["namespace"], m["pod"])].append(m)
        else:
            assert float(r["value"][1]) == 0.0  # an unallocated GPU is idle
    for key, pod in pods.items():
        limit = int(pod["spec"]["containers"][0]["resources"]["limits"].get("nvidia.com/gpu", "0"))
        if "nodeName" not in pod["spec"] or limit == 0:
            assert key not in held
            continue
        series = held[key]
        assert len(series) == limit and {m["Hostname"] for m in series} == {pod["spec"]["nodeName"]}
        indexes = sorted(int(m["gpu"]) for m in series)
        assert indexes == list(range(indexes[0], indexes[0] + limit))  # consecutive devices
    used = _by(fleet.query("gpu_memory_used")["result"], "UUID")
    total = _by(fleet.query("gpu_memory_total")["result"], "UUID")
    power = _by(fleet.query("gpu_power")["result"], "UUID")
    assert all(0 < used[u] < total[u] for u in total) and all(10 < power[u] <= 700 for u in power)
    assert sum(1 for u in used if used[u] > 0.85 * total[u]) > 50  # vLLM preallocates ~90 %


# ------------------------------------------------------------------------------------------ samples
def test_crash_looping_restarts_grow_with_time() -> None:
    fleet = _fleet()

    def restarts() -> int:
        for pod in fleet.list_objects("pods", namespaces=["staging"]):
            cs = (pod["status"].get("containerStatuses") or [{}])[0]
            if (cs.get("state", {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                return int(cs["restartCount"])
        raise AssertionError("no crash-looping pod")

    before = restarts()
    fleet.advance(timedelta(minutes=31))
    assert restarts() == before + 6  # one restart per 5-minute back-off


def test_counters_never_decrease_across_advance() -> None:
    fleet = _fleet()
    first = {(n, _key(lab)): v for n, lab, v in fleet.samples() if n.endswith(COUNTER_SUFFIXES)}
    fleet.advance(timedelta(minutes=7, seconds=5))
    second = {(n, _key(lab)): v for n, lab, v in fleet.samples() if n.endswith(COUNTER_SUFFIXES)}
    assert first.keys() == second.keys() and len(first) > 1000
    assert all(second[k] >= first[k] for k in first)
    assert sum(second.values()) > sum(first.values())


def test_window_rates_from_samples_equal_queries(fleet: SimulatedFleet) -> None:
    window = 300.0
    now = {(n, _key(lab)): (lab, v) for n, lab, v in fleet.samples(START)}
    ago = {(n, _key(lab)): v for n, lab, v in fleet.samples(START - timedelta(seconds=window))}
    svc_of = _service_of_pods(fleet)

    def rates(metric: str, match: dict[str, str] | None = None) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for (name, key), (labels, value) in now.items():
            if name == metric and all(labels.get(k) == v for k, v in (match or {}).items()):
                out[svc_of[labels["pod"]]] += (value - ago[(name, key)]) / window
        return out

    def query(name: str) -> dict[str, float]:
        return {k[0]: v for k, v in _by(fleet.query(name, at=START)["result"], "service").items()}

    for name, metric in (
        ("request_rate", "vllm:request_success_total"),
        ("prompt_tokens_rate", "vllm:prompt_tokens_total"),
        ("generation_tokens_rate", "vllm:generation_tokens_total"),
    ):
        expected = query(name)
        got = rates(metric)
        assert got.keys() == expected.keys()
        assert all(got[s] == pytest.approx(expected[s], rel=1e-9) for s in expected), name
    errors = {s: v for s, v in rates("vllm:request_success_total", {"finished_reason": "abort"}).items()}
    for s, v in rates("vllm:request_success_total", {"finished_reason": "error"}).items():
        errors[s] += v
    assert all(errors[s] == pytest.approx(v, rel=1e-9) for s, v in query("error_request_rate").items())
    # Finished reasons add up to every finished request, and the +Inf bucket counts them all.
    count = rates("vllm:time_to_first_token_seconds_bucket", {"le": "+Inf"})
    assert all(count[s] == pytest.approx(v, rel=1e-9) for s, v in query("request_rate").items())
    epp = defaultdict(float)
    for (name, key), (labels, value) in now.items():
        if name == "inference_objective_request_total":
            epp[(labels["namespace"], labels["model_name"])] += (value - ago[(name, key)]) / window
    queried = _by(fleet.query("epp_request_rate", at=START)["result"], "namespace", "model_name")
    assert queried.keys() == epp.keys() and all(epp[k] == pytest.approx(queried[k], rel=1e-9) for k in epp)


def test_ttft_quantile_from_sample_buckets(fleet: SimulatedFleet) -> None:
    # histogram_quantile over (buckets now - buckets 5m ago) of one service, computed by hand from samples.
    from mtop.promql import histogram_quantile

    service = "llama-3-8b-instruct"
    pods = {pod for pod, svc in _service_of_pods(fleet).items() if svc == service}

    def buckets(at: datetime) -> dict[float, float]:
        out: dict[float, float] = defaultdict(float)
        for n, lab, v in fleet.samples(at):
            if n == "vllm:time_to_first_token_seconds_bucket" and lab["pod"] in pods:
                out[float(lab["le"])] += v
        return out

    now, ago = buckets(START), buckets(START - timedelta(minutes=5))
    uppers = sorted(now)
    assert math.isinf(uppers[-1])
    expected = histogram_quantile(0.95, uppers, [(now[u] - ago[u]) / 300 for u in uppers])
    got = _by(fleet.query("ttft_quantile", {"q": 0.95}, at=START)["result"], "service")[(service,)]
    assert got == pytest.approx(expected, rel=1e-9)


def test_sample_gauges_match_instant_queries(fleet: SimulatedFleet) -> None:
    samples = fleet.samples(START)
    waiting: dict[str, float] = defaultdict(float)
    pods = _service_of_pods(fleet)
    dcgm: dict[str, dict[str, float]] = defaultdict(dict)
    for n, lab, v in samples:
        if n == "vllm:num_requests_waiting":
            waiting[pods[lab["pod"]]] += v
        elif n.startswith("DCGM_FI_DEV_FB_"):
            dcgm[lab["UUID"]][n] = v
    assert dict(waiting) == {k[0]: v for k, v in _by(fleet.query("queue_depth")["result"], "service").items()}
    total = _by(fleet.query("gpu_memory_total")["result"], "UUID")
    for (uuid,), value in total.items():
        fb = dcgm[uuid]
        assert fb["DCGM_FI_DEV_FB_USED"] + fb["DCGM_FI_DEV_FB_FREE"] + fb["DCGM_FI_DEV_FB_RESERVED"] == value


@pytest.mark.parametrize("size", [0, 1])
def test_tiny_fleets_answer_every_query(size: int) -> None:
    fleet = _fleet(services=size)
    assert len(fleet.list_objects("llminferenceservices")) == size
    for name in CATALOGUE:
        data = fleet.query(name, _params(name))
        if name.startswith("gpu_"):
            assert data["result"]  # idle GPU nodes are still there
        elif size == 0:
            assert data["result"] == []
    assert fleet.samples()


def test_raising_baseline_qps_raises_load_not_only_throughput() -> None:
    from mtop.config import load_config

    def mean_kv(qps: float) -> float:
        cfg = load_config(env={}, overrides={"workload.baseline_qps": qps})
        fleet = SimulatedFleet(cfg, seed=3, start=datetime(2026, 11, 28, 6, tzinfo=UTC), clock="frozen")
        values = [float(r["value"][1]) for r in fleet.query("kv_cache_usage")["result"]]
        return sum(values) / len(values)

    assert mean_kv(200.0) > mean_kv(100.0) + 0.1
