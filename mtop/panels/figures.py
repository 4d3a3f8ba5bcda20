"""Live plotly figures: a ``FigureWidget`` made once, then updated in place from freshly built figures.

Plotly sends every property assignment to the front end on its own; :func:`sync_figure` wraps a whole
update in ``batch_update()`` so one refresh is one message, and keeps the same widget object (and the
user's zoom, through ``layout.uirevision``) across refreshes.

>>> from mtop.panels.charts import gauge_chart
>>> w = figure_widget(gauge_chart(1.0, target=2, critical=3, title="a"))
>>> sync_figure(w, gauge_chart(5.0, target=2, critical=3, title="a")) is w, w.data[0].value
(True, 5.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["figure_widget", "sync_figure"]

_SKIP_TRACE = ("type", "uid")
_SKIP_LAYOUT = ("template",)  # the same on every build: never resent


def figure_widget(fig: go.Figure) -> go.FigureWidget:
    """A ``FigureWidget`` showing ``fig`` (made once per chart, then kept).

    >>> from mtop.panels.charts import gauge_chart
    >>> type(figure_widget(gauge_chart(1.0, target=2, critical=3, title="a"))).__name__
    'FigureWidget'
    """
    import plotly.graph_objects as go

    return go.FigureWidget(fig)


def _same(a: Any, b: Any) -> bool:
    """Whether ``b`` would change nothing over ``a`` (arrays compared by value, NaN equal to NaN)."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
        except TypeError:  # object arrays: no NaN-aware comparison
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    try:
        return bool(a == b)
    except ValueError:  # containers of arrays
        return False


def _changed(sent: Mapping[str, Any] | None, new: Mapping[str, Any], skip: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in new.items() if k not in skip and (sent is None or k not in sent or not _same(sent[k], v))}


def sync_figure(widget: go.FigureWidget, fig: go.Figure | Mapping[str, Any]) -> go.FigureWidget:
    """Make ``widget`` show ``fig`` in place: same widget, one front-end message for the whole update.

    ``fig`` is a figure or its JSON form (a builder's ``as_dict=True``: cheaper). Traces are matched by
    position; traces of a different type, or a different number of traces, are replaced (still inside
    the same widget). Only what changed since the last sync is set (plotly validates every assignment,
    and most of a chart's layout never changes); the layout's template is never resent.
    """
    spec: Mapping[str, Any] = fig if isinstance(fig, Mapping) else fig.to_plotly_json()
    new: list[Mapping[str, Any]] = list(spec.get("data", ()))
    layout: Mapping[str, Any] = spec.get("layout", {})
    old = list(widget.data)
    same_shape = len(old) == len(new) and all(a.type == b.get("type", "scatter") for a, b in zip(old, new, strict=True))
    sent: dict[str, Any] | None = getattr(widget, "_mtop_sent", None)
    if not same_shape:
        sent = None
    with widget.batch_update():
        if same_shape:
            for i, (trace, source) in enumerate(zip(old, new, strict=True)):
                update = _changed(sent["data"][i] if sent else None, source, _SKIP_TRACE)
                if update:
                    trace.update(update, overwrite=True)
        update = _changed(sent["layout"] if sent else None, layout, _SKIP_LAYOUT)
        if update:
            widget.layout.update(update, overwrite=True)
    if not same_shape:
        widget.data = ()
        if new:
            widget.add_traces([dict(t) for t in new])
    widget._mtop_sent = {"data": [dict(t) for t in new], "layout": dict(layout)}
    return widget
