"""Cost maths (mtop.cost): hand-computed numbers on a tiny fleet."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from fleet_fakes import dcgm, llmisvc, node, pod

from mtop import schema
from mtop.config import default_config
from mtop.cost import (
    COST_BASIS,
    UnknownGPUTypeWarning,
    cost_per_million_tokens,
    fleet_totals,
    gpu_prices,
    idle_hourly_cost,
    monthly_cost,
    node_costs,
    service_costs,
)
from mtop.frames import nodes_frame, pods_frame, services_frame, with_node_gpu_type
from mtop.promframes import gpus_frame

TECH = default_config().technology  # nvidia-h100 $5.00/GPU-h, nvidia-a100 $3.00/GPU-h


def _costs(
    svc_items: list[dict], pod_items: list[dict], node_items: list[dict], dcgm_data: dict, tps: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pods_frame(pod_items)
    nodes = node_costs(nodes_frame(node_items, raw, TECH), TECH)
    pods = with_node_gpu_type(raw, nodes)
    services = services_frame(svc_items, pods, TECH)
    gpus = gpus_frame(dcgm_data, raw, nodes, TECH)
    tokens = pd.DataFrame(
        {"namespace": [k[0] for k in tps], "service": [k[1] for k in tps], "tokens_per_second": list(tps.values())}
    )
    return service_costs(services, pods, nodes, gpus, tokens).set_index("service"), nodes


def test_cost_per_million_tokens_by_hand() -> None:
    # domain.md 6.3: $4.00/h at 2,500 output tok/s = 9.0 M tok/h -> $0.444 per 1M.
    assert cost_per_million_tokens(4.0, 2500.0) == pytest.approx(4.0 / 9.0)


def test_cost_per_million_is_nan_not_inf_without_throughput() -> None:
    out = cost_per_million_tokens([5.0, 5.0, 5.0, float("nan")], [0.0, float("nan"), -1.0, 100.0])
    assert np.isnan(out).all() and not np.isinf(out).any()


def test_idle_and_monthly() -> None:
    assert idle_hourly_cost([5.0, 5.0], [25.0, -5.0]).tolist() == [3.75, 5.0]
    assert monthly_cost([2.0]).tolist() == [1460.0]


def test_service_cost_by_hand() -> None:
    pods = [
        pod("a-1", "a", node="h1", gpus=2),
        pod("a-2", "a", node="h1", gpus=2),
        pod("a-3", "a", node=None, gpus=8, phase="Pending", ready=False),  # unscheduled: costs nothing
        pod("b-1", "b", node="a1", gpus=1),
    ]
    util = dcgm(
        [("h1", 0, 20.0, "prod", "a-1"), ("h1", 1, 40.0, "prod", "a-1"), ("h1", 2, 60.0, "prod", "a-2"),
         ("h1", 3, 80.0, "prod", "a-2")]
    )  # fmt: skip
    costs, _ = _costs(
        [llmisvc("a", replicas=3, gpus=2), llmisvc("b", gpus=1), llmisvc("c", gpus=1)],
        pods,
        [node("h1"), node("a1", product="NVIDIA-A100-SXM4-80GB")],
        {"gpu_utilization": util},
        {("prod", "a"): 2500.0, ("prod", "b"): 0.0},
    )
    a = costs.loc["a"]
    assert a["gpus"] == 4 and a["hourly_cost"] == pytest.approx(4 * 5.0)  # 2 scheduled pods x 2 GPUs x $5
    assert a["cost_per_million_tokens"] == pytest.approx(20.0 / (2500 * 3600) * 1e6)  # $2.22 per 1M
    assert a["utilization_percent"] == pytest.approx(50.0)
    assert a["idle_hourly_cost"] == pytest.approx(5.0 * (0.8 + 0.6 + 0.4 + 0.2))  # $10/h
    assert a["monthly_cost"] == pytest.approx(20.0 * 730)
    b = costs.loc["b"]
    assert b["hourly_cost"] == pytest.approx(3.0) and math.isnan(b["cost_per_million_tokens"])
    assert math.isnan(b["idle_hourly_cost"]) and math.isnan(b["utilization_percent"])  # no DCGM for its GPU
    c = costs.loc["c"]  # no pods at all
    assert (c["gpus"], c["hourly_cost"]) == (0, 0.0) and math.isnan(c["tokens_per_second"])
    assert costs.attrs["cost_basis"] == COST_BASIS


def test_fleet_identity_on_a_small_fleet() -> None:
    costs, nodes = _costs(
        [llmisvc("a", replicas=2, gpus=2), llmisvc("b", gpus=1)],
        [pod("a-1", "a", node="h1", gpus=2), pod("a-2", "a", node="h2", gpus=2), pod("b-1", "b", node="h2", gpus=1)],
        [node("h1"), node("h2")],
        {},
        {},
    )
    totals = fleet_totals(costs.reset_index(), nodes)
    assert totals["total"] == pytest.approx(16 * 5.0)
    assert totals["allocated"] == pytest.approx(5 * 5.0) and totals["unallocated"] == pytest.approx(11 * 5.0)
    assert totals["allocated"] + totals["unallocated"] == pytest.approx(totals["total"])


def test_unknown_gpu_type_costs_nan_with_exactly_one_warning() -> None:
    pods = [pod("t-1", "t", node="t4-1", gpus=1), pod("t-2", "t", node="t4-2", gpus=1)]
    with pytest.warns(UnknownGPUTypeWarning) as record:
        costs, nodes = _costs(
            [llmisvc("t", replicas=2)], pods, [node("t4-1", "Tesla-T4", 1), node("t4-2", "Tesla-T4", 1)], {}, {}
        )
    assert len(record) == 1 and "Tesla-T4" in str(record[0].message)
    assert costs.loc["t", "gpu_type"] == "Tesla-T4" and math.isnan(costs.loc["t", "hourly_cost"])
    assert nodes["gpu_hourly_cost"].isna().all() and nodes["hourly_cost"].isna().all()


def test_known_types_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prices = gpu_prices(pd.Series(["nvidia-h100", None, "amd-mi300x"], dtype="string"), TECH)
    assert prices.tolist()[0] == 5.0 and math.isnan(prices.tolist()[1])


def test_empty_fleet_cost_frames() -> None:
    costs, nodes = _costs([], [], [], {}, {})
    schema.check_frame(costs.reset_index(), "gpu_costs")
    schema.check_frame(nodes, "nodes")
    assert costs.empty and nodes.empty
    assert fleet_totals(costs.reset_index(), nodes) == {"allocated": 0.0, "unallocated": 0.0, "total": 0.0}
