"""Scenarios played on the simulated fleet: rollouts (canary, blue-green, rolling, shadow), load, convergence.

Names resolve lazily, so ``import mtop.simulation.topologies`` (what the CLI's help needs) does not
load pandas.

>>> import mtop.simulation as sim
>>> sim.TOPOLOGIES
('canary', 'blue-green', 'rolling', 'shadow')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "DESCRIPTIONS",
    "TOPOLOGIES",
    "SimulationError",
    "UnknownTopologyError",
    "canonical_topology",
    "converge",
    "load_scenarios",
    "rollout_plan",
    "simulate",
]

_LAZY = {
    "DESCRIPTIONS": "mtop.simulation.topologies",
    "TOPOLOGIES": "mtop.simulation.topologies",
    "SimulationError": "mtop.simulation.topologies",
    "UnknownTopologyError": "mtop.simulation.topologies",
    "canonical_topology": "mtop.simulation.topologies",
    "converge": "mtop.simulation.convergence",
    "load_scenarios": "mtop.simulation.load",
    "rollout_plan": "mtop.simulation.rollout",
    "simulate": "mtop.simulation.rollout",
}

if TYPE_CHECKING:
    from mtop.simulation.convergence import converge
    from mtop.simulation.load import load_scenarios
    from mtop.simulation.rollout import rollout_plan, simulate
    from mtop.simulation.topologies import (
        DESCRIPTIONS,
        TOPOLOGIES,
        SimulationError,
        UnknownTopologyError,
        canonical_topology,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mtop.simulation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
