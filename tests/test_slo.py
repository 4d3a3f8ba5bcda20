"""SLO maths (mtop.slo): flags, Kleene AND, error rates, the slo_metrics and slo_history frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fleet_fakes import llmisvc

from mtop import schema
from mtop.config import SLOConfig, default_config
from mtop.frames import pods_frame, services_frame
from mtop.slo import compliance, error_rate_percent, slo_frame, throughput_ok, tidy_history, ttft_ok

SLO = SLOConfig(ttft_p95_ms=500, error_rate_percent=1.0, tokens_per_second=1000)
NA = pd.NA


def test_throughput_ok_is_na_without_traffic() -> None:
    flags = throughput_ok([50.0, 0.0, float("nan"), 2000.0], [2.0, 0.0, float("nan"), 3.0], 1000)
    assert flags.tolist() == [False, NA, NA, True]
    assert str(flags.dtype) == "boolean"


def test_ttft_boundary_is_inclusive() -> None:
    assert ttft_ok([500.0, 500.0001], 500).tolist() == [True, False]


def test_error_rate_percent_by_hand() -> None:
    # 0.3 failed of 12 finished per second = 2.5 %; no traffic = NaN (not 0, not inf).
    out = error_rate_percent([0.3, 0.0, 1.0], [12.0, 0.0, float("nan")])
    assert out[0] == pytest.approx(2.5) and math.isnan(out[1]) and math.isnan(out[2])
    assert math.isnan(error_rate_percent([float("nan")], [5.0], missing_is_zero=False)[0])


@pytest.mark.parametrize(
    ("ttft", "err", "tps", "expected"),
    [
        (True, True, True, True),
        (True, NA, True, NA),  # unknown, nothing failed: unknown
        (False, NA, NA, False),  # a failure decides: False even with unknowns
        (NA, NA, NA, NA),
        (True, False, NA, False),
    ],
)
def test_slo_ok_is_kleene_and(ttft: object, err: object, tps: object, expected: object) -> None:
    # Build metrics that produce the wanted flags against SLO (500 ms, 1 %, 1000 tok/s).
    rps = 0.0 if tps is NA else 5.0
    metrics = pd.DataFrame(
        {
            "ttft_p95_ms": [np.nan if ttft is NA else (100.0 if ttft else 900.0)],
            "error_rate_percent": [np.nan if err is NA else (0.0 if err else 5.0)],
            "tokens_per_second": [1500.0 if tps is True else 10.0],
            "requests_per_second": [rps],
        }
    )
    flags = compliance(metrics, ttft_p95_ms=500, error_rate_percent=1.0, tokens_per_second=1000)
    assert flags["slo_ok"].tolist() == [expected]
    assert all(str(flags[c].dtype) == "boolean" for c in flags.columns)


def _metrics(**cols: list[float]) -> pd.DataFrame:
    keys = {"namespace": ["prod", "prod"], "service": ["busy", "quiet"]}
    return pd.DataFrame({**keys, **cols})


def test_slo_frame_by_hand() -> None:
    services = services_frame(
        [llmisvc("busy"), llmisvc("quiet"), llmisvc("unseen")], pods_frame([]), default_config().technology
    )
    metrics = _metrics(
        ttft_p95_ms=[420.0, np.nan],
        requests_per_second=[10.0, 0.0],
        error_requests_per_second=[0.05, np.nan],
        tokens_per_second=[1200.0, 0.0],
        queue_depth=[3.0, 0.0],
    )
    df = slo_frame(services, metrics, SLO).set_index("service")
    schema.check_frame(df.reset_index(), "slo_metrics")
    busy, quiet, unseen = df.loc["busy"], df.loc["quiet"], df.loc["unseen"]
    assert busy["error_rate_percent"] == pytest.approx(0.5) and busy["model"] == "org/busy"
    assert (busy["ttft_ok"], busy["error_rate_ok"], busy["throughput_ok"], busy["slo_ok"]) == (True, True, True, True)
    assert math.isnan(quiet["error_rate_percent"])
    assert quiet["throughput_ok"] is NA and quiet["slo_ok"] is NA
    assert math.isnan(unseen["ttft_p95_ms"]) and unseen["slo_ok"] is NA  # a service with no metrics: NaN row
    assert math.isnan(busy["kv_cache_usage"])  # a query that returned nothing


def test_slo_frame_keeps_unknown_errors_nan_when_the_error_query_failed() -> None:
    services = services_frame([llmisvc("busy")], pods_frame([]), default_config().technology)
    metrics = _metrics(requests_per_second=[10.0, 1.0], error_requests_per_second=[np.nan, np.nan])
    df = slo_frame(services, metrics, SLO, errors_known=False)
    assert math.isnan(df.loc[0, "error_rate_percent"]) and df.loc[0, "error_rate_ok"] is NA


def test_empty_slo_frame_has_the_schema() -> None:
    df = slo_frame(schema.empty_frame("services"), pd.DataFrame({"namespace": [], "service": []}), SLO)
    schema.check_frame(df, "slo_metrics")
    assert df.empty


def test_tidy_history_derives_error_rate_point_by_point() -> None:
    t = pd.to_datetime(["2026-11-28T12:00Z", "2026-11-28T12:01Z"], utc=True).astype("datetime64[ns, UTC]")
    key = {
        "timestamp": t,
        "namespace": pd.array(["n", "n"], dtype="string"),
        "service": pd.array(["a", "a"], dtype="string"),
    }
    series = {
        "requests_per_second": pd.DataFrame({**key, "value": [10.0, 0.0]}),
        "error_requests_per_second": pd.DataFrame({**key, "value": [0.1, 0.0]}),
        "ttft_p95_ms": pd.DataFrame({**key, "value": [300.0, 310.0]}),
    }
    df = tidy_history(series)
    schema.check_frame(df, "slo_history")
    assert set(df["metric"]) == {"requests_per_second", "error_rate_percent", "ttft_p95_ms"}
    err = df[df["metric"] == "error_rate_percent"]["value"].tolist()
    assert err[0] == pytest.approx(1.0) and math.isnan(err[1])
