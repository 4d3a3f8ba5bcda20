"""The fleet table widget: an ipydatagrid ``DataGrid`` whose sort, filter and selection survive refreshes.

ipydatagrid was kept over itables' ``ITable`` widget after trying both in JupyterLab (see the README):
it sends columns as binary arrays, draws only the visible rows (a canvas: 1,000+ rows stay
responsive, and a name is drawn as text, never parsed as HTML), and reports header and cell clicks
to the kernel. The view state lives here, in Python: a header click sorts by that column (again:
reversed), the selected row is remembered by its key (namespace, service), and each refresh pushes the
new rows already sorted, then selects the same service again, wherever it moved.

>>> import pandas as pd
>>> from mtop.config import default_config
>>> t = FleetTable(default_config().display.columns)
>>> t.set_rows(pd.DataFrame({"namespace": ["p", "p"], "service": ["a", "b"], "hourly_cost": [1.0, 2.0]}))
>>> t.click_header("Cost/h"); t.rows["service"].tolist()
['b', 'a']
>>> t.click_header("Cost/h"); t.rows["service"].tolist(), t.sort
(['a', 'b'], SortState(field='hourly_cost', descending=False))
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mtop.panels.static import CELL_STYLES
from mtop.panels.view import KEY, SortState, sort_rows, toggle_sort

if TYPE_CHECKING:
    from mtop.config import ColumnConfig

__all__ = ["BACKGROUNDS", "FleetTable", "display_frame", "number_format", "threshold_expr"]

BACKGROUNDS: dict[str, str] = {name: style.split(";")[0].split(":")[1] for name, style in CELL_STYLES.items()}
"""Threshold colour name -> cell background (the static table's palette)."""

_NO_BACKGROUND = "rgba(0,0,0,0)"
_NAN_TEXT = "isValid(cell.value) && isFinite(cell.value) ? '' : '-'"  # '' keeps the formatted number
_D3_FORMATS = {
    "int": ",.0f",
    "float": ",.1f",
    "percent": ".2f",
    "currency": "$,.2f",
    "duration": ",.0f",
    "bytes": ".3s",
}


def _datagrid() -> Any:
    """``ipydatagrid``, imported quietly: its bqplot dependency emits a traitlets DeprecationWarning on import."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="traitlets")
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, message="metadata .* was set from the constructor"
        )
        import ipydatagrid

    return ipydatagrid


def number_format(column: ColumnConfig) -> str | None:
    """The d3-format string the grid draws a numeric column with (None for text).

    >>> from mtop.config import ColumnConfig
    >>> number_format(ColumnConfig("Cost/h", "hourly_cost", 9, format="currency"))
    '$,.2f'
    """
    return _D3_FORMATS.get(column.format)


def threshold_expr(column: ColumnConfig) -> str | None:
    """A Vega expression giving a cell's background from the column's thresholds; None without any.

    First match wins, bounds inclusive, like ``ColumnConfig.color_for``. Only numbers from the config
    and colours from :data:`BACKGROUNDS` reach the expression.

    >>> from mtop.config import ColumnConfig, Threshold
    >>> red = ColumnConfig("T", "t", 5, thresholds=(Threshold("red", min=1000.0),))
    >>> print(threshold_expr(red))  # doctest: +ELLIPSIS
    isValid(cell.value) && isFinite(cell.value) ? ((cell.value >= 1000.0) ? '#ffebee' : 'rgba(0,0,0,0)') : ...
    """
    if not column.thresholds:
        return None
    expr = f"'{_NO_BACKGROUND}'"
    for t in reversed(column.thresholds):
        bounds = []
        if t.min is not None:
            bounds.append(f"cell.value >= {float(t.min)!r}")
        if t.max is not None:
            bounds.append(f"cell.value <= {float(t.max)!r}")
        color = BACKGROUNDS.get(t.color, _NO_BACKGROUND)
        expr = f"({' && '.join(bounds) or 'true'}) ? '{color}' : {expr}"
    return f"isValid(cell.value) && isFinite(cell.value) ? ({expr}) : '{_NO_BACKGROUND}'"


def display_frame(rows: pd.DataFrame, columns: Sequence[ColumnConfig]) -> pd.DataFrame:
    """The grid's data: one column per configured column, headed by its name.

    Text becomes plain ``str`` ("-" when missing); numbers float64 (NaN when missing, drawn as "-").

    >>> from mtop.config import ColumnConfig
    >>> cols = [ColumnConfig("Service", "service", 9), ColumnConfig("GPUs", "gpus", 4, format="int")]
    >>> display_frame(pd.DataFrame({"service": ["a", None], "gpus": [1, 2]}), cols).to_dict("list")
    {'Service': ['a', '-'], 'GPUs': [1.0, 2.0]}
    """
    data: dict[str, Any] = {}
    for c in columns:
        col = rows[c.field] if c.field in rows.columns else pd.Series([pd.NA] * len(rows), index=rows.index)
        if number_format(c) is None or pd.api.types.is_bool_dtype(col.dtype):
            text = col.astype("string").fillna("-")
            data[c.name] = text.to_numpy(dtype=object)
        else:
            data[c.name] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


class FleetTable:
    """A sortable, selectable table of per-service rows (``grid`` is the widget to show).

    ``listeners`` are called after the user changes the sort or the selection.
    """

    def __init__(
        self,
        columns: Sequence[ColumnConfig],
        *,
        sort: SortState | None = None,
        key: Sequence[str] = KEY,
        height: str = "380px",
    ) -> None:
        DataGrid = _datagrid().DataGrid

        self.columns = list(columns)
        self.key = tuple(key)
        self.sort = sort
        self.selected: tuple[Any, ...] | None = None
        self.listeners: list[Callable[[], None]] = []
        self._field_of = {c.name: c.field for c in self.columns}
        self._rows = pd.DataFrame({c.field: [] for c in self.columns})
        self._adopting = False
        self.grid = DataGrid(
            display_frame(self._rows, self.columns),
            selection_mode="row",
            header_visibility="column",
            renderers=self._renderers(),
            column_widths={c.name: max(60, 8 * c.width + 16) for c in self.columns},
            base_row_size=22,
            base_column_header_size=26,
            layout={"height": height, "width": "100%"},
        )
        self.grid.on_cell_click(self._on_click)
        self.grid.observe(self._on_transforms, names="_transforms")

    def _renderers(self) -> dict[str, Any]:
        grid = _datagrid()
        TextRenderer, VegaExpr = grid.TextRenderer, grid.VegaExpr
        out: dict[str, Any] = {}
        for c in self.columns:
            fmt = number_format(c)
            options: dict[str, Any] = {"missing": "-"}
            if fmt is not None:
                # NaN is a number to the grid (``missing`` covers null only): draw it as "-" too.
                options.update(format=fmt, horizontal_alignment="right", text_value=VegaExpr(_NAN_TEXT))
            expr = threshold_expr(c)
            if expr is not None:
                options["background_color"] = VegaExpr(expr)
            out[c.name] = TextRenderer(**options)
        return out

    @property
    def rows(self) -> pd.DataFrame:
        """The rows shown, in the order shown (all frame columns, not only the displayed ones)."""
        return self._rows

    @property
    def labels(self) -> dict[str, str]:
        """Field -> column header, for describing the sort."""
        return {c.field: c.name for c in self.columns}

    def set_rows(self, rows: pd.DataFrame) -> None:
        """Show ``rows`` (already filtered) under the current sort, and select the remembered row again."""
        self._rows = sort_rows(rows, self.sort, self.key)
        with self.grid.hold_sync():
            self.grid.data = display_frame(self._rows, self.columns)
        self._show_selection()

    def click_header(self, name: str) -> None:
        """What a click on the header ``name`` does: sort by it, or reverse if it is the sort already."""
        field = self._field_of.get(name)
        if field is None:
            return
        self.sort = toggle_sort(self.sort, field, self.columns)
        self.set_rows(self._rows)
        self._notify()

    def select_key(self, key: tuple[Any, ...] | None) -> None:
        """Select the row with this key (None: no selection); it stays selected across refreshes."""
        self.selected = key
        self._show_selection()
        self._notify()

    def index_of(self, key: tuple[Any, ...] | None) -> int | None:
        """Where the row with ``key`` is shown now (None when absent)."""
        if key is None or self._rows.empty or not set(self.key) <= set(self._rows.columns):
            return None
        mask = np.ones(len(self._rows), dtype=bool)
        for name, value in zip(self.key, key, strict=True):
            mask &= (self._rows[name] == value).fillna(False).to_numpy(dtype=bool)
        hits = np.flatnonzero(mask)
        return int(hits[0]) if len(hits) else None

    def _show_selection(self) -> None:
        i = self.index_of(self.selected)
        last = len(self.columns) - 1
        wanted = [] if i is None else [{"r1": i, "c1": 0, "r2": i, "c2": last}]
        self.grid.selections = wanted
        # The front end drops its selection when data changes: always resend, even when unchanged here.
        self.grid.send_state("selections")

    def _key_at(self, row: int) -> tuple[Any, ...] | None:
        if not 0 <= row < len(self._rows) or not set(self.key) <= set(self._rows.columns):
            return None
        return tuple(self._rows[name].iloc[row] for name in self.key)

    def _on_click(self, info: dict[str, Any]) -> None:
        region = info.get("region")
        if region == "column-header":
            self.click_header(str(info.get("column")))
        elif region == "body":
            row = info.get("primary_key_row", info.get("row"))
            if isinstance(row, int):
                self.selected = self._key_at(row)
                self._notify()

    def _on_transforms(self, change: dict[str, Any]) -> None:
        # The grid's own column menu can also sort: adopt that sort here (so it survives refreshes like a
        # header click) and keep only its filters as front-end transforms.
        if self._adopting:
            return
        new = list(change.get("new") or [])
        sorts = [t for t in new if t.get("type") == "sort"]
        if not sorts:
            return
        field = self._field_of.get(str(sorts[-1].get("column")))
        self._adopting = True
        try:
            self.grid._transforms = [t for t in new if t.get("type") != "sort"]
        finally:
            self._adopting = False
        if field is not None:
            self.sort = SortState(field, bool(sorts[-1].get("desc", False)))
            self.set_rows(self._rows)
            self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()
