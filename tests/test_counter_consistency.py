"""Simulated counters are one float per instant, whatever order they are read in, and never step back.

Prometheus treats any decrease of a counter as a reset; a base integral cached at one tick and
extended to another must therefore give exactly the floats a fresh integration from the epoch gives.
"""

from __future__ import annotations

import numpy as np
import pytest

from mtop.sources.telemetry import Telemetry
from mtop.sources.topology import plan_fleet
from mtop.sources.workload import HISTOGRAMS, TICK, WorkloadModel

EPOCH = 1_780_000_000 // int(TICK)
FAMILIES = ["finished", "tokens", next(iter(HISTOGRAMS))]


def _telemetry() -> Telemetry:
    plan = plan_fleet(5, 12)
    return Telemetry(plan, WorkloadModel(plan, baseline_qps=8.0, spike_multiplier=4.0, epoch_tick=EPOCH))


@pytest.mark.parametrize("family", FAMILIES)
def test_any_read_order_gives_the_floats_of_a_fresh_integration(family: str) -> None:
    rng = np.random.default_rng(7)
    times = EPOCH * TICK + rng.uniform(0, 4 * 3600, 40)
    fresh = {t: _telemetry().counters_at(family, t) for t in times}  # each from the epoch
    shared = _telemetry()
    for t in rng.permutation(times):  # later and earlier reads mixed: cache extended and recomputed
        assert np.array_equal(shared.counters_at(family, t), fresh[t]), t
    ordered = np.stack([fresh[t] for t in np.sort(times)])
    assert np.all(np.diff(ordered, axis=0) >= 0)  # and never a step back


def test_the_initial_value_is_accumulated_onto_tick_by_tick() -> None:
    plan = plan_fleet(5, 4)
    model = WorkloadModel(plan, baseline_qps=8.0, spike_multiplier=4.0, epoch_tick=EPOCH)
    k = EPOCH + 100
    whole = model.counters("tokens", EPOCH, [k * TICK, (k + 7.5) * TICK])
    base = model.counters("tokens", EPOCH, [k * TICK])[:, :, 0]
    resumed = model.counters("tokens", k, [(k + 7.5) * TICK], initial=base, chunk=3)
    assert np.array_equal(resumed[:, :, 0], whole[:, :, 1])
