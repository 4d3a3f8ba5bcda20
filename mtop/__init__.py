"""mtop: htop for LLM inference fleets, inside Jupyter.

>>> import mtop
>>> fleet = mtop.connect(seed=7, clock="frozen")
>>> sorted(mtop.services(fleet).columns)[:3]
['api_version', 'created', 'gpu_type']

Importing mtop is light: collectors, panels and reports load their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mtop.errors import (
    AuthError,
    ConfigError,
    MtopError,
    QueryError,
    SchemaError,
    SourceError,
    SourceUnavailable,
)

__version__ = "0.1.0"

# Public name -> module that defines it; resolved lazily by __getattr__ so `import mtop` stays light.
_LAZY: dict[str, str] = {
    "connect": "mtop.context",
    "Fleet": "mtop.context",
    "load_config": "mtop.config",
    "Config": "mtop.config",
    "services": "mtop.collect",
    "pods": "mtop.collect",
    "nodes": "mtop.collect",
    "gpus": "mtop.collect",
    "gpu_costs": "mtop.collect",
    "slo_metrics": "mtop.collect",
    "slo_history": "mtop.collect",
    "overview": "mtop.collect",
    "recommendations": "mtop.collect",
    "what_if": "mtop.collect",
    "simulate": "mtop.simulation.rollout",
    "load_scenarios": "mtop.simulation.load",
    "converge": "mtop.simulation.convergence",
    "TOPOLOGIES": "mtop.simulation.topologies",
    "AsyncMTop": "mtop.async_cli",
    "dashboard": "mtop.panels.fleet_dashboard",
}

__all__ = [
    "TOPOLOGIES",
    "AsyncMTop",
    "AuthError",
    "Config",
    "ConfigError",
    "Fleet",
    "MtopError",
    "QueryError",
    "SchemaError",
    "SourceError",
    "SourceUnavailable",
    "__version__",
    "connect",
    "converge",
    "dashboard",
    "gpu_costs",
    "gpus",
    "load_config",
    "load_scenarios",
    "nodes",
    "overview",
    "pods",
    "recommendations",
    "services",
    "simulate",
    "slo_history",
    "slo_metrics",
    "what_if",
]

if TYPE_CHECKING:
    from mtop.async_cli import AsyncMTop
    from mtop.collect import (
        gpu_costs,
        gpus,
        nodes,
        overview,
        pods,
        recommendations,
        services,
        slo_history,
        slo_metrics,
        what_if,
    )
    from mtop.config import Config, load_config
    from mtop.context import Fleet, connect
    from mtop.panels.fleet_dashboard import dashboard
    from mtop.simulation.convergence import converge
    from mtop.simulation.load import load_scenarios
    from mtop.simulation.rollout import simulate
    from mtop.simulation.topologies import TOPOLOGIES


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mtop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
