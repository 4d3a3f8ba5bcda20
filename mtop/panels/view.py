"""What a table shows: which columns, in which order, for which namespace and search (pure, no widgets).

The panels keep their view state (sort, namespace filter, search) here, apart from the data, so a
refresh only swaps the data and the same view is applied again: that is why a chosen sort, filter
and selection survive every refresh.

>>> import pandas as pd
>>> df = pd.DataFrame({"namespace": ["a", "b", "a"], "service": ["x", "y", "z"], "hourly_cost": [1.0, 3.0, 2.0]})
>>> sort_rows(filter_rows(df, namespace="a"), SortState("hourly_cost", descending=True))["service"].tolist()
['z', 'x']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mtop.config import ColumnConfig, DisplayConfig

__all__ = [
    "KEY",
    "SortState",
    "default_sort",
    "filter_rows",
    "namespaces_of",
    "sort_rows",
    "table_columns",
    "toggle_sort",
]

KEY: tuple[str, str] = ("namespace", "service")
"""The key of a per-service row: ties in a sort are broken by it, selections are kept by it."""


@dataclass(frozen=True)
class SortState:
    """The column a table is sorted by (a frame column name) and the direction.

    >>> SortState("ttft_p95_ms", True).describe({"ttft_p95_ms": "TTFT p95"})
    'TTFT p95 ↓'
    """

    field: str
    descending: bool = False

    def describe(self, labels: dict[str, str] | None = None) -> str:
        """``"<column> ↓"`` (descending) or ``"<column> ↑"``, with the column's display label if known."""
        name = (labels or {}).get(self.field, self.field)
        return f"{name} {'↓' if self.descending else '↑'}"


def table_columns(display: DisplayConfig, fields: Iterable[str]) -> list[ColumnConfig]:
    """The enabled configured columns whose field the frame has, in configured order.

    >>> from mtop.config import default_config
    >>> [c.field for c in table_columns(default_config().display, ["service", "hourly_cost", "nope"])]
    ['service', 'hourly_cost']
    """
    have = set(fields)
    return [c for c in display.columns if c.enabled and c.field in have]


def _first_descending(column: ColumnConfig | None) -> bool:
    # Numbers start biggest first (htop's habit: the heaviest on top); text starts A to Z.
    return column is not None and column.format != "string"


def default_sort(display: DisplayConfig, columns: Sequence[ColumnConfig] | None = None) -> SortState:
    """The configured ``display.sorting.default_key`` as a :class:`SortState`.

    >>> from mtop.config import default_config
    >>> default_sort(default_config().display)
    SortState(field='hourly_cost', descending=True)
    """
    cols = list(columns) if columns is not None else list(display.columns)
    column = next((c for c in cols if c.sort_key == display.sorting.default_key), None)
    if column is None:
        column = cols[0] if cols else None
    return SortState(column.field if column else "service", _first_descending(column))


def toggle_sort(state: SortState | None, field: str, columns: Sequence[ColumnConfig] = ()) -> SortState:
    """A header click: the same column again reverses the direction, another column starts its default.

    >>> toggle_sort(SortState("gpus", True), "gpus")
    SortState(field='gpus', descending=False)
    >>> from mtop.config import default_config
    >>> toggle_sort(SortState("gpus", True), "service", default_config().display.columns)
    SortState(field='service', descending=False)
    """
    if state is not None and state.field == field:
        return SortState(field, not state.descending)
    column = next((c for c in columns if c.field == field), None)
    return SortState(field, _first_descending(column) if column is not None else True)


def sort_rows(df: pd.DataFrame, state: SortState | None, key: Sequence[str] = KEY) -> pd.DataFrame:
    """``df`` sorted by ``state`` (missing values last either way), ties broken by ``key``; index reset.

    Text sorts case-insensitively. An unknown field leaves the key order.

    >>> df = pd.DataFrame({"namespace": ["n"] * 3, "service": ["b", "a", "c"], "v": [1.0, float("nan"), 1.0]})
    >>> sort_rows(df, SortState("v", descending=False))["service"].tolist()
    ['b', 'c', 'a']
    """
    tie = [k for k in key if k in df.columns]
    if df.empty:
        return df.reset_index(drop=True)
    by: list[str] = []
    ascending: list[bool] = []
    work = df
    if state is not None and state.field in df.columns:
        col = df[state.field]
        missing = col.isna().to_numpy(dtype=bool)
        values = col.str.lower() if _is_text(col) else col
        work = df.assign(__missing=missing, __sort=values)
        by, ascending = ["__missing", "__sort"], [True, not state.descending]
    order = work.sort_values([*by, *tie], ascending=[*ascending, *([True] * len(tie))], kind="stable")
    return df.loc[order.index].reset_index(drop=True)


def _is_text(col: pd.Series) -> bool:
    return bool(pd.api.types.is_string_dtype(col.dtype)) and not pd.api.types.is_bool_dtype(col.dtype)


def filter_rows(
    df: pd.DataFrame,
    namespace: str | None = None,
    search: str = "",
    fields: Sequence[str] = ("service", "model"),
) -> pd.DataFrame:
    """Rows in ``namespace`` (None: all) whose ``fields`` contain ``search`` (literal, case-insensitive).

    >>> df = pd.DataFrame({"namespace": ["p", "p"], "service": ["llama", "qwen"], "model": ["Meta/L", "Qwen/Q"]})
    >>> filter_rows(df, search="QW")["service"].tolist(), len(filter_rows(df, namespace="other"))
    (['qwen'], 0)
    """
    mask = np.ones(len(df), dtype=bool)
    if namespace is not None and "namespace" in df.columns:
        mask &= (df["namespace"] == namespace).fillna(False).to_numpy(dtype=bool)
    needle = search.strip().lower()
    if needle:
        hit = np.zeros(len(df), dtype=bool)
        for name in fields:
            if name in df.columns:
                text = df[name].astype("string").str.lower()
                hit |= text.str.contains(needle, regex=False).fillna(False).to_numpy(dtype=bool)
        mask &= hit
    return df if mask.all() else df[mask]


def namespaces_of(df: pd.DataFrame) -> list[str]:
    """The distinct namespaces of a frame, sorted (for the namespace filter).

    >>> namespaces_of(pd.DataFrame({"namespace": ["b", "a", "b"]}))
    ['a', 'b']
    """
    if "namespace" not in df.columns:
        return []
    return sorted(str(n) for n in df["namespace"].dropna().unique())
