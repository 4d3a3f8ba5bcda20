"""Jupyter panels: the live fleet dashboard and the panels it is made of (ipywidgets + plotly).

>>> import mtop.panels
>>> sorted(mtop.panels.__all__)[:3]
['cost_panel', 'dashboard', 'gpu_panel']

Importing this package loads nothing heavy: each name resolves its module on first use. Where widgets
cannot render (papermill, nbconvert, a plain console, or ``static=True``) every panel renders as static
HTML instead; the pure renderers live in :mod:`mtop.panels.charts` (plotly figures) and
:mod:`mtop.panels.static` (escaped HTML), for reports to reuse.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "dashboard": "mtop.panels.fleet_dashboard",
    "services_panel": "mtop.panels.services",
    "slo_panel": "mtop.panels.slo",
    "gpu_panel": "mtop.panels.gpu",
    "cost_panel": "mtop.panels.cost",
    "rollout_panel": "mtop.panels.rollout",
}

__all__ = ["cost_panel", "dashboard", "gpu_panel", "rollout_panel", "services_panel", "slo_panel"]

if TYPE_CHECKING:
    from mtop.panels.cost import cost_panel
    from mtop.panels.fleet_dashboard import dashboard
    from mtop.panels.gpu import gpu_panel
    from mtop.panels.rollout import rollout_panel
    from mtop.panels.services import services_panel
    from mtop.panels.slo import slo_panel


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mtop.panels' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
