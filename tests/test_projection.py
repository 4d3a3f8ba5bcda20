"""The live source's projected pods and nodes lose nothing any collector reads.

Every pod and node of simulated fleets goes through JSON and :func:`decode_list` (what the live source
does with a list response); each collector's frame built from the projected objects must equal the one
built from the whole objects. A field a frame reads but the projection drops fails here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from mtop import collect
from mtop.config import default_config
from mtop.context import Fleet
from mtop.sources import projection
from mtop.sources.projection import PROJECTED_KINDS, decode_list
from mtop.sources.simulated import SimulatedFleet

START = datetime(2026, 11, 28, 15, tzinfo=UTC)


class Projected:
    """A simulated fleet whose pods and nodes arrive as the live source decodes them."""

    def __init__(self, fleet: SimulatedFleet) -> None:
        self._fleet = fleet
        self._lists: dict[tuple[str, Any], list[dict[str, Any]]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fleet, name)

    def list_objects(self, kind: str, namespaces: Sequence[str] | None = None) -> list[dict[str, Any]]:
        items = self._fleet.list_objects(kind, namespaces)
        if kind not in PROJECTED_KINDS:
            return items
        key = (kind, None if namespaces is None else tuple(namespaces))
        if key not in self._lists:
            data = json.dumps({"kind": "List", "metadata": {}, "items": items}).encode()
            self._lists[key] = decode_list(kind, data)["items"]
        return self._lists[key]


def _fleets(services: int | None) -> tuple[Fleet, Fleet]:
    cfg = default_config()
    whole = SimulatedFleet(cfg, seed=11, services=services, start=START, clock="frozen")
    return Fleet(whole, cfg), Fleet(Projected(whole), cfg)  # type: ignore[arg-type]


@pytest.mark.parametrize("services", [None, 120])
@pytest.mark.parametrize("collector", ["services", "pods", "nodes", "gpus", "slo_metrics", "gpu_costs", "overview"])
def test_every_collector_reads_the_same_from_projected_objects(services: int | None, collector: str) -> None:
    whole, projected = _fleets(services)
    expected = getattr(collect, collector)(whole)
    got = getattr(collect, collector)(projected)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(got, expected)


def test_projection_drops_what_no_frame_reads() -> None:
    whole, projected = _fleets(None)
    pod = whole.source.list_objects("pods")[0]
    slim = projected.source.list_objects("pods")[0]
    assert len(json.dumps(slim)) < len(json.dumps(pod))
    assert "image" in pod["spec"]["containers"][0] and "image" not in slim["spec"]["containers"][0]


def test_without_msgspec_lists_are_decoded_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"items": [{"metadata": {"name": "p", "managedFields": [{}]}}]}'
    projection._decoder.cache_clear()
    monkeypatch.setitem(sys.modules, "msgspec", None)  # import msgspec -> ImportError
    try:
        assert decode_list("pods", data)["items"] == [{"metadata": {"name": "p", "managedFields": [{}]}}]
    finally:
        monkeypatch.undo()
        projection._decoder.cache_clear()
    assert decode_list("pods", data)["items"] == [{"metadata": {"name": "p"}}]


def test_broken_json_is_a_value_error_not_a_crash() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        decode_list("pods", b'{"items": [')
