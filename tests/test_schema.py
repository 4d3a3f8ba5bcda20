from __future__ import annotations

import math

import pandas as pd
import pytest

from mtop import schema
from mtop.errors import SchemaError


@pytest.mark.parametrize("kind", sorted(schema.FRAMES))
def test_empty_frame_has_every_column_with_its_dtype(kind: str) -> None:
    df = schema.empty_frame(kind)
    assert list(df.columns) == list(schema.FRAMES[kind].columns)
    assert len(df) == 0
    schema.check_frame(df, kind)


@pytest.mark.parametrize("kind", sorted(schema.FRAMES))
def test_key_columns_are_columns(kind: str) -> None:
    spec = schema.FRAMES[kind]
    assert set(spec.key) <= set(spec.columns)


def test_overview_has_services_slo_and_cost_columns() -> None:
    cols = schema.FRAMES["overview"].columns
    for col in ("service", "ready", "gpus", "ttft_p95_ms", "slo_ok", "hourly_cost", "cost_per_million_tokens"):
        assert col in cols
    assert "name" not in cols


def test_conform_fills_missing_and_casts() -> None:
    df = schema.conform({"name": ["a", "b"], "gpus_allocatable": ["8", 4], "ready": [True, None]}, "nodes")
    assert df["gpus_allocatable"].tolist() == [8, 4]
    assert str(df["gpu_type"].dtype) == "string" and df["gpu_type"].isna().all()
    assert math.isnan(df["gpu_hourly_cost"][0])
    assert df["ready"].tolist() == [True, False]
    schema.check_frame(df, "nodes")


def test_conform_keeps_extra_columns_last_and_attrs() -> None:
    frame = pd.DataFrame({"name": ["a"], "cluster": ["c1"]})
    frame.attrs["source"] = "simulated"
    df = schema.conform(frame, "nodes", attrs={"collected_at": "now"})
    assert df.columns[-1] == "cluster"
    assert df.attrs == {"source": "simulated", "collected_at": "now"}


def test_conform_names_a_column_that_cannot_be_cast() -> None:
    with pytest.raises(SchemaError, match="gpus_allocatable"):
        schema.conform({"name": ["a"], "gpus_allocatable": ["eight"]}, "nodes")


def test_check_frame_names_missing_columns() -> None:
    with pytest.raises(SchemaError, match="gpu_type") as info:
        schema.check_frame(pd.DataFrame({"name": []}), "nodes")
    assert "gpu_type" in info.value.missing


def test_unknown_frame() -> None:
    with pytest.raises(SchemaError, match="unknown frame"):
        schema.empty_frame("nope")
