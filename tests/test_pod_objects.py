"""Simulated pods have the shape of real ones: what KServe's controller and admission add is there."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mtop.config import default_config
from mtop.sources.simulated import SimulatedFleet

T0 = datetime(2026, 8, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def pods() -> list[dict[str, Any]]:
    fleet = SimulatedFleet(default_config(), seed=3, start=T0, clock="frozen")
    items: list[dict[str, Any]] = fleet.list_objects("pods")
    return items


def _model(pod: dict[str, Any]) -> bool:
    return pod["metadata"]["labels"].get("kserve.io/component") == "workload"


def test_every_mount_names_a_volume_of_its_pod_and_every_container_gets_the_token(pods: list[dict[str, Any]]) -> None:
    for pod in pods:
        spec = pod["spec"]
        volumes = {v["name"] for v in spec["volumes"]}
        token = [v["name"] for v in spec["volumes"] if "projected" in v]
        assert len(token) == 1 and token[0].startswith("kube-api-access-"), pod["metadata"]["name"]
        for c in spec["containers"] + spec.get("initContainers", []):
            mounts = {m["name"] for m in c["volumeMounts"]}
            assert mounts <= volumes, (pod["metadata"]["name"], c["name"], mounts - volumes)
            assert token[0] in mounts


def test_token_volumes_differ_between_pods(pods: list[dict[str, Any]]) -> None:
    names = [next(v["name"] for v in p["spec"]["volumes"] if "projected" in v) for p in pods]
    assert len(set(names)) > 0.9 * len(names)  # 27^5 names: a few collisions at most


def test_model_pods_start_with_the_storage_initializer_and_vllm_probes(pods: list[dict[str, Any]]) -> None:
    model = [p for p in pods if _model(p)]
    assert model
    for pod in model:
        (init,) = pod["spec"]["initContainers"]
        assert init["name"] == "storage-initializer" and init["args"][1] == "/mnt/models"
        main = pod["spec"]["containers"][0]
        assert main["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000, "scheme": "HTTPS"}
        assert {"HOME", "POD_NAME"} <= {e["name"] for e in main["env"]}
        if pod["status"]["phase"] == "Running":
            (done,) = pod["status"]["initContainerStatuses"]
            assert done["state"]["terminated"]["reason"] == "Completed"


def test_a_template_env_comes_after_the_controllers(pods: list[dict[str, Any]]) -> None:
    nixl = [p for p in pods if _model(p) and any(e["name"] == "VLLM_ADDITIONAL_ARGS"
                                                 for e in p["spec"]["containers"][0]["env"])]  # fmt: skip
    assert nixl, "the default fleet has P/D services"
    for pod in nixl:
        assert pod["spec"]["containers"][0]["env"][-1]["name"] == "VLLM_ADDITIONAL_ARGS"


def test_every_pod_tolerates_not_ready_and_unreachable_nodes(pods: list[dict[str, Any]]) -> None:
    for pod in pods:
        keys = {t["key"] for t in pod["spec"]["tolerations"]}
        assert {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"} <= keys


def test_a_model_pod_is_as_big_as_a_real_one_before_managed_fields(pods: list[dict[str, Any]]) -> None:
    # The API server adds ~5 KB of managedFields; a real KServe vLLM pod is about 11 KB in all.
    sizes = [len(json.dumps(p)) for p in pods if _model(p) and p["status"]["phase"] == "Running"]
    assert min(sizes) > 5000 and max(sizes) < 9000
