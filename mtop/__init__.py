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
}

__all__ = [
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
    "gpu_costs",
    "gpus",
    "load_config",
    "nodes",
    "overview",
    "pods",
    "recommendations",
    "services",
    "slo_history",
    "slo_metrics",
    "what_if",
]

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mtop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
