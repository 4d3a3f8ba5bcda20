"""Records -> frames (mtop.frames, mtop.promframes) on small hand-made dicts."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from fleet_fakes import dcgm, llmisvc, node, pod, svc_vector, vector

from mtop import schema
from mtop.config import default_config
from mtop.frames import (
    gpu_count,
    gpus_per_replica,
    nodes_frame,
    pods_frame,
    replicas_of,
    service_pods,
    services_frame,
    with_node_gpu_type,
)
from mtop.promframes import gpus_frame, matrix_frame, service_metrics, vector_frame

TECH = default_config().technology


def _typed_pods(pod_items: list[dict], node_items: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pods_frame(pod_items)
    nodes = nodes_frame(node_items, raw, TECH)
    return with_node_gpu_type(raw, nodes), nodes


def _services(svc_items: list[dict], pod_items: list[dict] = (), node_items: list[dict] = ()) -> pd.DataFrame:  # type: ignore[assignment]
    pods, _ = _typed_pods(list(pod_items), list(node_items))
    return services_frame(svc_items, pods, TECH).set_index("name")


# --- pods -------------------------------------------------------------------------------------------


def test_pods_frame_reads_labels_status_and_gpus() -> None:
    items = [
        pod("a-1", "a", gpus=2, restarts=3, waiting="CrashLoopBackOff", ready=False),
        pod("a-epp", "a", gpus=0, component="llminferenceservice-router-scheduler", role=None, node="cpu-1"),
        pod("other", None, gpus=1),
        pod("a-2", "a", node=None, phase="Pending", ready=False),
    ]
    df = pods_frame(items).set_index("name")
    assert df.loc["a-1", "gpus"] == 2 and df.loc["a-1", "restarts"] == 3
    assert df.loc["a-1", "reason"] == "CrashLoopBackOff" and not df.loc["a-1", "ready"]
    assert df.loc["a-epp", "role"] == "scheduler" and df.loc["a-epp", "gpus"] == 0
    assert pd.isna(df.loc["other", "service"])  # not part-of an LLMInferenceService
    assert pd.isna(df.loc["a-2", "node"]) and df.loc["a-2", "phase"] == "Pending"
    assert str(df["created"].dtype) == "datetime64[ns, UTC]"
    assert service_pods(pods_frame(items))["name"].tolist() == ["a-1", "a-2", "a-epp"]


def test_gpu_count_sums_vendors_and_tolerates_junk() -> None:
    assert gpu_count({"nvidia.com/gpu": "4", "amd.com/gpu": 2}) == 6
    assert gpu_count({"nvidia.com/gpu": "lots"}) == 0


def test_empty_inputs_give_full_schemas() -> None:
    pods = pods_frame([])
    nodes = nodes_frame([], pods, TECH)
    services = services_frame([], with_node_gpu_type(pods, nodes), TECH)
    for df, kind in ((pods, "pods"), (nodes, "nodes"), (services, "services")):
        schema.check_frame(df, kind)
        assert df.empty
    assert str(services["ready"].dtype) == "bool" and str(services["gpus"].dtype) == "int64"


# --- nodes ------------------------------------------------------------------------------------------


def test_nodes_allocation_counts_live_pods_only() -> None:
    pods = pods_frame(
        [
            pod("p1", "a", node="n1", gpus=4),
            pod("p2", "b", node="n1", gpus=2, phase="Pending"),  # bound but starting: holds its GPUs
            pod("p3", "b", node="n1", gpus=1, phase="Succeeded"),  # finished: released
            pod("p4", None, node="n1", gpus=1),  # not a service pod, still holds a GPU
            pod("p5", "c", node=None, gpus=8, phase="Pending"),  # unscheduled
        ]
    )
    nodes = nodes_frame([node("n1"), node("cpu-1", product=None, gpus=0)], pods, TECH)
    assert nodes["name"].tolist() == ["n1"]  # the CPU node is not a GPU node
    row = nodes.iloc[0]
    assert (row["gpus_allocatable"], row["gpus_allocated"], row["gpus_free"]) == (8, 7, 1)
    assert row["gpu_type"] == "nvidia-h100" and row["gpu_product"] == "NVIDIA-H100-80GB-HBM3"
    assert row["instance_type"] == "p5.48xlarge" and bool(row["ready"])


def test_unknown_product_keeps_its_raw_name() -> None:
    nodes = nodes_frame([node("t4", product="Tesla-T4", gpus=1)], pods_frame([]), TECH)
    assert nodes.loc[0, "gpu_type"] == "Tesla-T4"


# --- services ---------------------------------------------------------------------------------------


def test_single_node_service() -> None:
    df = _services([llmisvc("s", replicas=3, gpus=2, product="NVIDIA-H100-80GB-HBM3", ready_replicas=2)])
    row = df.loc["s"]
    assert (row["replicas"], row["gpus_per_replica"], row["gpus"], row["ready_replicas"]) == (3, 2, 6, 2)
    assert row["prefill_replicas"] == 0 and row["prefill_gpus_per_replica"] == 0
    assert row["gpu_type"] == "nvidia-h100" and row["api_version"] == "v1alpha2"
    assert row["model"] == "org/s" and row["model_uri"] == "hf://org/s"
    assert bool(row["ready"]) and pd.isna(row["reason"])


def test_multi_node_gpus_are_pods_per_replica_times_gpus_per_pod() -> None:
    # data 16 / dataLocal 8 = 2 pods per replica (leader + 1 worker), 8 GPUs each: 16 per replica.
    svc = llmisvc("mn", replicas=2, gpus=8, worker_gpus=8, parallelism={"data": 16, "dataLocal": 8, "tensor": 1})
    row = _services([svc]).loc["mn"]
    assert (row["gpus_per_replica"], row["gpus"]) == (16, 32)


def test_multi_node_worker_without_data_parallelism_is_one_pod() -> None:
    assert gpus_per_replica({"template": {}, "worker": {"containers": []}}, fallback=4) == 4


def test_prefill_decode_gpus_add_up() -> None:
    prefill = {
        "replicas": 3,
        "template": {"containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]},
    }
    row = _services([llmisvc("pd", replicas=2, gpus=1, prefill=prefill)]).loc["pd"]
    # 2 decode x 1 GPU + 3 prefill x 2 GPUs = 8
    assert (row["replicas"], row["prefill_replicas"], row["prefill_gpus_per_replica"], row["gpus"]) == (2, 3, 2, 8)


def test_scaling_replicas_count_the_replica_pods_present() -> None:
    scaling = {"minReplicas": 2, "maxReplicas": 8}
    pods = [
        pod("auto-1", "auto", ready=True),
        pod("auto-2", "auto", ready=False),
        pod("auto-3", "auto", ready=True),
        pod("auto-4", "auto", phase="Failed", ready=False),  # gone: not present
        pod("auto-epp", "auto", gpus=0, component="llminferenceservice-router-scheduler", role=None),
    ]
    svcs = [llmisvc("auto", replicas=None, scaling=scaling), llmisvc("idle", replicas=None, scaling=scaling)]
    df = _services(svcs, pods, [node("node-a")])
    assert df.loc["auto", "replicas"] == 3 and df.loc["auto", "ready_replicas"] == 2  # no status.workloads
    assert df.loc["idle", "replicas"] == 2  # no pods: minReplicas
    assert df.loc["auto", "gpus"] == 3 and df.loc["idle", "gpus"] == 2


def test_scaling_multi_node_counts_leaders_not_workers() -> None:
    leader, worker = "llminferenceservice-workload-leader", "llminferenceservice-workload-worker"
    pods = [pod(f"m-{i}-{k}", "m", component=c, gpus=8) for i in range(2) for k, c in ((0, leader), (1, worker))]
    svc = llmisvc("m", replicas=None, scaling={"minReplicas": 1}, gpus=8, worker_gpus=8, parallelism={"data": 2})
    row = _services([svc], pods, [node("node-a")]).loc["m"]
    assert (row["replicas"], row["gpus_per_replica"], row["gpus"]) == (2, 16, 32)


def test_replicas_of_rules() -> None:
    assert replicas_of({"replicas": 0, "scaling": {"minReplicas": 3}}, 5) == 0  # explicit replicas win
    assert replicas_of({}, 0) == 1  # neither: the controller's one replica


def test_gpu_type_from_selector_then_nodes_then_na() -> None:
    svcs = [
        llmisvc("pinned", product="NVIDIA-A100-SXM4-40GB"),
        llmisvc("placed"),
        llmisvc("odd", product="Tesla-T4"),
        llmisvc("nowhere"),
    ]
    pods = [pod("placed-1", "placed", node="l40s-1")]
    df = _services(svcs, pods, [node("l40s-1", product="NVIDIA-L40S")])
    assert df.loc["pinned", "gpu_type"] == "nvidia-a100-40gb"
    assert df.loc["placed", "gpu_type"] == "nvidia-l40s"
    assert df.loc["odd", "gpu_type"] == "Tesla-T4"
    assert pd.isna(df.loc["nowhere", "gpu_type"])


def test_gpus_fall_back_to_the_pods_when_the_template_names_none() -> None:
    # Resources from a preset (baseRefs) are not in the object: the pods show what each replica holds.
    row = _services([llmisvc("preset", replicas=2, gpus=None)], [pod("preset-1", "preset", gpus=4)], [node("node-a")])
    assert row.loc["preset", "gpus_per_replica"] == 4 and row.loc["preset", "gpus"] == 8


def test_not_ready_reason_and_v1alpha1() -> None:
    svc = llmisvc("bad", ready=False, reason="MinimumReplicasUnavailable", api_version="v1alpha1")
    row = _services([svc], [pod("bad-1", "bad", ready=True)], [node("node-a")]).loc["bad"]
    assert not row["ready"] and row["reason"] == "MinimumReplicasUnavailable"
    assert row["api_version"] == "v1alpha1" and row["ready_replicas"] == 1  # from the ready pod


# --- Prometheus results -----------------------------------------------------------------------------


def test_vector_frame_parses_special_values_and_missing_labels() -> None:
    data = vector([({"service": "a"}, "NaN"), ({"service": "b", "namespace": "x"}, "+Inf"), ({}, "-Inf")])
    df = vector_frame(data, ["namespace", "service"])
    assert math.isnan(df["value"][0]) and df["value"][1] == math.inf and df["value"][2] == -math.inf
    assert pd.isna(df["namespace"][0]) and str(df["service"].dtype) == "string"
    assert vector_frame(None, ["x"]).columns.tolist() == ["x", "value"]


def test_matrix_frame_is_tidy_with_utc_timestamps() -> None:
    data = {
        "resultType": "matrix",
        "result": [
            {"metric": {"service": "a"}, "values": [[1764331200, "1"], [1764331260.5, "2"]]},
            {"metric": {"service": "b"}, "values": [[1764331200, "NaN"]]},
        ],
    }
    df = matrix_frame(data, ["service"])
    assert df["service"].tolist() == ["a", "a", "b"]
    assert str(df["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert df["timestamp"][1] == pd.Timestamp("2025-11-28T12:01:00.5Z")
    assert matrix_frame(None, ["service"]).empty


def _matrix_frame_per_point(data: dict | None, labels: list[str]) -> pd.DataFrame:
    """The obvious per-point loop matrix_frame replaced (kept as the reference its fast path must equal)."""
    stamps, values, label_cols = [], [], {lab: [] for lab in labels}
    for series in (data or {}).get("result") or ():
        metric = series.get("metric") or {}
        for stamp, sample in series.get("values") or ():
            stamps.append(float(stamp))
            try:
                values.append(float(sample))
            except (TypeError, ValueError):
                values.append(math.nan)
            for lab in labels:
                label_cols[lab].append(metric.get(lab))
    millis = [round(s * 1000.0) for s in stamps]
    cols: dict = {"timestamp": pd.to_datetime(millis, unit="ms", utc=True).astype("datetime64[ns, UTC]")}
    cols.update({lab: pd.array(v, dtype="string") for lab, v in label_cols.items()})
    cols["value"] = pd.array(values, dtype="float64").to_numpy()
    return pd.DataFrame(cols)


@pytest.mark.parametrize("odd_sample", ["1.25", None, "bogus"])
def test_matrix_frame_equals_the_per_point_reference(odd_sample: str | None) -> None:
    # Special samples, a series without labels, one without values, a label absent from some series,
    # float and int stamps, and (parametrised) a sample float() refuses, which must read as NaN.
    data = {
        "resultType": "matrix",
        "result": [
            {"metric": {"service": "a", "pod": "p"}, "values": [[1764331200, "NaN"], [1764331215.125, "+Inf"]]},
            {"metric": {}, "values": [[1764331200, "-Inf"], [1764331230, "1e3"]]},
            {"metric": {"service": "b"}, "values": []},
            {"values": [[1764331245.5, odd_sample], [1764331260, "-0.5"]]},
            {"metric": {"pod": "q", "extra": "x"}, "values": [[1764331200, "7"]]},
        ],
    }
    labels = ["service", "pod", "missing"]
    got = matrix_frame(data, labels)
    pd.testing.assert_frame_equal(got, _matrix_frame_per_point(data, labels), check_exact=True)
    assert got["service"].isna().tolist() == [False, False, True, True, True, True, True]
    assert got["value"].tolist()[:4] == [pytest.approx(math.nan, nan_ok=True), math.inf, -math.inf, 1000.0]
    pd.testing.assert_frame_equal(matrix_frame({"result": []}, labels), _matrix_frame_per_point(None, labels))


def test_service_metrics_outer_joins_and_scales() -> None:
    results = {
        "ttft_p95_ms": svc_vector({("n", "a"): 0.25}),
        "requests_per_second": svc_vector({("n", "a"): 3.0, ("n", "b"): 1.0}),
        "failed": None,
    }
    df = service_metrics(results, scale={"ttft_p95_ms": 1000.0}).set_index("service")
    assert df.loc["a", "ttft_p95_ms"] == 250.0 and math.isnan(df.loc["b", "ttft_p95_ms"])
    assert df.loc["b", "requests_per_second"] == 1.0 and df["failed"].isna().all()


# --- gpus -------------------------------------------------------------------------------------------


def test_gpus_frame_joins_dcgm_series_and_pod_services() -> None:
    raw = pods_frame([pod("a-1", "a", node="n1", gpus=1)])
    nodes = nodes_frame([node("n1", gpus=2)], raw, TECH)
    rows = [("n1", 0, 40.0, "prod", "a-1"), ("n1", 1, 0.0, None, None)]
    df = gpus_frame(
        {
            "gpu_utilization": dcgm(rows),
            "gpu_memory_used": dcgm([(h, g, 70000.0, ns, p) for h, g, _, ns, p in rows]),
            "gpu_power": dcgm([("n1", 0, 350.0, "prod", "a-1")]),  # one GPU's power missing
        },
        raw,
        nodes,
        TECH,
    )
    schema.check_frame(df, "gpus")
    assert df["gpu"].tolist() == [0, 1]
    assert df["utilization_percent"].tolist() == [40.0, 0.0]
    assert df.loc[0, "service"] == "a" and pd.isna(df.loc[1, "service"]) and pd.isna(df.loc[1, "pod"])
    assert df.loc[0, "power_w"] == 350.0 and math.isnan(df.loc[1, "power_w"])
    assert df["memory_total_mib"].isna().all()  # that query returned nothing
    assert df["gpu_type"].tolist() == ["nvidia-h100", "nvidia-h100"]


def test_gpus_frame_without_dcgm_has_one_row_per_allocatable_gpu() -> None:
    raw = pods_frame([pod("b-1", "b", node="n1", gpus=2), pod("a-1", "a", node="n1", gpus=1)])
    nodes = nodes_frame([node("n1", gpus=4)], raw, TECH)
    df = gpus_frame({}, raw, nodes, TECH)
    assert df["gpu"].tolist() == [0, 1, 2, 3]
    # GPUs dealt to the node's pods in name order: a-1 takes 0, b-1 takes 1-2, 3 is free.
    assert df["pod"].tolist()[:3] == ["a-1", "b-1", "b-1"] and pd.isna(df["pod"][3])
    assert df["service"].tolist()[:3] == ["a", "b", "b"]
    assert df["utilization_percent"].isna().all() and (df["gpu_type"] == "nvidia-h100").all()


def test_gpus_frame_reads_lowercase_hostname_and_unknown_models() -> None:
    data = vector([({"hostname": "n9", "gpu": "3", "modelName": "Mystery GPU"}, 12.0)])
    df = gpus_frame({"gpu_utilization": data}, pods_frame([]), schema.empty_frame("nodes"), TECH)
    assert df[["node", "gpu", "gpu_type"]].values.tolist() == [["n9", 3, "Mystery GPU"]]


@pytest.mark.parametrize("kind", ["gpus"])
def test_gpus_frame_empty(kind: str) -> None:
    df = gpus_frame({}, pods_frame([]), schema.empty_frame("nodes"), TECH)
    schema.check_frame(df, kind)
    assert df.empty
