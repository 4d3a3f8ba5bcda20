"""The rollout panel: a player over a simulated rollout (canary, blue-green, rolling, shadow).

The rollout is computed once by :func:`mtop.simulation.rollout.simulate`; the player (an ipywidgets
``Play``: play, pause, stop, plus a Step button and a slider) moves through its steps in the front end,
and each step redraws the stacked traffic-share chart in place, the versions' figures at that step and
the decision taken, with its reason.

>>> import mtop
>>> p = rollout_panel("canary", mtop.connect(seed=0, clock="frozen"), fail_at=3, static=True)
>>> "rollback" in p.to_html(include_plotlyjs=False)
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from mtop.config import ColumnConfig, Threshold
from mtop.panels import charts
from mtop.panels.figures import figure_widget, sync_figure
from mtop.panels.static import StaticPanel, is_static_context, table_html

if TYPE_CHECKING:
    from mtop.context import Fleet

__all__ = ["STEP_COLUMNS", "RolloutPanel", "decision_html", "rollout_panel", "rollout_static_parts"]

STEP_COLUMNS: tuple[ColumnConfig, ...] = (
    ColumnConfig("Step", "step", 4, "right", "int"),
    ColumnConfig("Version", "version", 10),
    ColumnConfig("Status", "status", 10),
    ColumnConfig("Traffic", "traffic_percent", 7, "right", "percent"),
    ColumnConfig("Mirrored", "mirrored_percent", 8, "right", "percent"),
    ColumnConfig("TTFT p95", "ttft_p95_ms", 9, "right", "duration"),
    ColumnConfig("Errors", "error_rate_percent", 7, "right", "percent", (Threshold("red", min=1.0),)),
    ColumnConfig("Cost/h", "hourly_cost", 9, "right", "currency"),
    ColumnConfig("Decision", "decision", 9),
    ColumnConfig("Reason", "reason", 60),
)
"""The per-version table's columns."""

_DECISION_STYLE = {"rollback": "color:#b71c1c", "promote": "color:#1b5e20", "done": "color:#0d47a1"}


def decision_html(rollout: pd.DataFrame, step: int) -> str:
    """The decision at ``step`` and its reason (escaped), and the outcome once the rollout is done.

    >>> df = pd.DataFrame({"step": [0], "version": ["v"], "decision": ["rollback"], "reason": ["errors <b>"]})
    >>> decision_html(df, 0)
    '<div class="mtop-decision">Step 0: <b style="color:#b71c1c">rollback</b> (errors &lt;b&gt;)</div>'
    """
    rows = rollout[rollout["step"] == step]
    if rows.empty:
        return ""
    decision = str(rows["decision"].iloc[0])
    reason = str(rows["reason"].iloc[0]) if "reason" in rows.columns else ""
    style = _DECISION_STYLE.get(decision, "")
    out = (
        f'<div class="mtop-decision">Step {step}: <b style="{style}">{html.escape(decision)}</b>'
        f" ({html.escape(reason)})</div>"
    )
    outcome = rollout.attrs.get("outcome")
    if outcome and step == int(rollout["step"].max()):
        out += f'<div class="mtop-outcome">Outcome: <b>{html.escape(str(outcome).replace("_", " "))}</b></div>'
    return out


def _title(rollout: pd.DataFrame) -> str:
    attrs: Mapping[Any, Any] = rollout.attrs
    topology = attrs.get("topology", "")
    where = "/".join(str(x) for x in (attrs.get("namespace"), attrs.get("service")) if x)
    return f"Rollout: {topology} of {where}" if where else f"Rollout: {topology}"


def rollout_static_parts(rollout: pd.DataFrame) -> list[Any]:
    """The whole rollout as static parts: the traffic-share chart, every step's rows, and the outcome.

    >>> r = pd.DataFrame({"step": [0, 1], "version": ["v1", "v1"], "traffic_percent": [100.0, 100.0],
    ...                   "decision": ["continue", "done"], "reason": ["", ""]})
    >>> [type(p).__name__ for p in rollout_static_parts(r)]
    ['Figure', 'str', 'str']
    """
    last = int(rollout["step"].max()) if len(rollout) else 0
    return [charts.traffic_share_chart(rollout), table_html(rollout, STEP_COLUMNS), decision_html(rollout, last)]


class RolloutPanel(widgets.VBox):  # type: ignore[misc]
    """Play, pause, step and a slider over a rollout's steps; chart, table and decision follow the step."""

    def __init__(self, rollout: pd.DataFrame, *, interval_ms: int = 1000) -> None:
        self.rollout = rollout
        self.title = _title(rollout)
        last = int(rollout["step"].max()) if len(rollout) else 0
        self.play = widgets.Play(value=0, min=0, max=last, step=1, interval=interval_ms, description="Play")
        self.slider = widgets.IntSlider(value=0, min=0, max=last, description="Step", continuous_update=True)
        widgets.jslink((self.play, "value"), (self.slider, "value"))  # the front end moves both together
        self.step_button = widgets.Button(description="Step", icon="step-forward", layout=widgets.Layout(width="90px"))
        self.chart = figure_widget(charts.traffic_share_chart(rollout, upto_step=0))
        self.table = widgets.HTML()
        self.decision = widgets.HTML()
        heading = widgets.HTML(f"<h4>{html.escape(self.title)}</h4>")
        controls = widgets.HBox([self.play, self.step_button, self.slider])
        super().__init__(children=(heading, controls, self.chart, self.decision, self.table))
        self.add_class("mtop-rollout")
        self.slider.observe(lambda change: self.show_step(int(change["new"])), names="value")
        self.step_button.on_click(lambda _b: self.advance())
        self.show_step(0)

    @property
    def step(self) -> int:
        """The step shown."""
        return int(self.slider.value)

    def advance(self) -> None:
        """One step forward (the Step button); stays on the last step."""
        self.slider.value = min(self.step + 1, self.slider.max)

    def show_step(self, step: int) -> None:
        """Draw the chart up to ``step`` (in place), the versions at ``step`` and its decision."""
        sync_figure(self.chart, charts.traffic_share_chart(self.rollout, upto_step=step, as_dict=True))
        rows = self.rollout[self.rollout["step"] == step]
        self.table.value = table_html(rows, STEP_COLUMNS)
        self.decision.value = decision_html(self.rollout, step)

    def to_html(self, include_plotlyjs: bool | str = True, full_html: bool = False) -> str:
        """The whole rollout as static HTML."""
        return StaticPanel(self.title, rollout_static_parts(self.rollout)).to_html(include_plotlyjs, full_html)


def rollout_panel(
    topology: str,
    fleet: Fleet | None = None,
    service: str | None = None,
    fail_at: int | None = None,
    *,
    namespace: str | None = None,
    interval_ms: int = 1000,
    static: bool | None = None,
) -> RolloutPanel | StaticPanel:
    """A player over ``mtop.simulation.simulate(topology, fleet, service=..., fail_at=...)``.

    ``fail_at`` makes the new version go bad from that step (the simulator then rolls back). Where
    widgets cannot render, the whole rollout is returned as static HTML.

    >>> import mtop
    >>> p = rollout_panel("blue-green", mtop.connect(seed=0, clock="frozen"), static=False)
    >>> p.advance(); p.step, len(p.chart.data) >= 2
    (1, True)
    """
    from mtop.simulation.rollout import simulate

    rollout = simulate(topology, fleet, service=service, namespace=namespace, fail_at=fail_at)
    if is_static_context(static):
        return StaticPanel(_title(rollout), rollout_static_parts(rollout))
    return RolloutPanel(rollout, interval_ms=interval_ms)
