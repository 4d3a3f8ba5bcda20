"""Terminal and file output of frames: the CLI's table, JSON, YAML and CSV.

``ColumnFormatter`` implements the ``Formatter`` protocol from a ``display.columns`` entry of the
config (one format vocabulary: string, int, float, percent, bytes, duration, currency);
``TextTable`` implements ``Renderer``. ``render_frame`` is what the CLI calls.

>>> import pandas as pd
>>> print(render_frame(pd.DataFrame({"a": [1, 2]}), "csv").strip())
a
1
2
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mtop.config import ColumnConfig, DisplayConfig

__all__ = ["FORMATS", "ColumnFormatter", "TextTable", "frame_records", "render_frame", "sort_frame"]

FORMATS = ("table", "json", "yaml", "csv")
_ANSI = {"green": "\033[32m", "yellow": "\033[33m", "red": "\033[31m", "blue": "\033[34m", "cyan": "\033[36m"}
_RESET = "\033[0m"


def _missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class ColumnFormatter:
    """Formats one configured column: text, sort key and threshold colour.

    >>> from mtop.config import ColumnConfig
    >>> f = ColumnFormatter(ColumnConfig(name="Cost/h", field="hourly_cost", width=9, format="currency"))
    >>> f.format(12.5), f.format(float("nan"))
    ('$12.50', '-')
    """

    column: ColumnConfig

    def format(self, value: Any) -> str:
        """The text shown for ``value`` ("-" when missing), truncated to the column's limit."""
        if _missing(value):
            return "-"
        text = self._text(value)
        limit = self.column.truncate
        if limit and len(text) > limit:
            text = text[: max(1, limit - 1)] + "…"
        return text

    def _text(self, value: Any) -> str:
        fmt = self.column.format
        if fmt == "int":
            return f"{round(float(value)):,}"
        if fmt == "float":
            return f"{float(value):,.1f}"
        if fmt == "percent":
            return f"{float(value):.2f}%"
        if fmt == "currency":
            return f"${float(value):,.2f}"
        if fmt == "duration":
            ms = float(value)
            return f"{ms / 1000:.2f}s" if ms >= 10_000 else f"{ms:.0f}ms"
        if fmt == "bytes":
            return _human_bytes(float(value))
        if isinstance(value, bool):
            return "True" if value else "False"
        return str(value)

    def get_sort_key(self, value: Any) -> Any:
        """Missing values sort last; text sorts case-insensitively."""
        if _missing(value):
            return (1, 0)
        return (0, value.lower() if isinstance(value, str) else value)

    def color(self, value: Any) -> str | None:
        """The colour of the first threshold that ``value`` falls in (bounds inclusive), if any."""
        if _missing(value) or isinstance(value, str):
            return None
        return self.column.color_for(float(value))


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}TiB"  # pragma: no cover


@dataclass
class TextTable:
    """A plain-text table that fits ``max_width``, implementing the ``Renderer`` protocol.

    >>> t = TextTable(); t.create_table(["name", "gpus"]); t.add_row(["a", "8"]); print(t.render())
    name  gpus
    a     8
    """

    max_width: int = 160
    right_align: Sequence[bool] = ()
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    colors: list[list[str | None]] = field(default_factory=list)

    def create_table(self, columns: Sequence[str]) -> None:
        """Start a new table."""
        self.columns, self.rows, self.colors = list(columns), [], []

    def add_row(self, values: Sequence[Any], colors: Sequence[str | None] | None = None) -> None:
        """Append one row of already formatted values, with optional colour names per cell."""
        self.rows.append([str(v) for v in values])
        self.colors.append(list(colors) if colors else [None] * len(values))

    def render(self) -> str:
        """The table as text; columns that do not fit ``max_width`` are dropped from the right."""
        widths = [max([len(c), *(len(r[i]) for r in self.rows)]) for i, c in enumerate(self.columns)]
        keep, used = 0, 0
        for w in widths:
            if keep and used + 2 + w > self.max_width:
                break
            used += (2 if keep else 0) + w
            keep += 1
        lines = [self._line(self.columns[:keep], widths[:keep], [None] * keep)]
        lines += [self._line(r[:keep], widths[:keep], c[:keep]) for r, c in zip(self.rows, self.colors, strict=True)]
        return "\n".join(line.rstrip() for line in lines)

    def _line(self, cells: Sequence[str], widths: Sequence[int], colors: Sequence[str | None]) -> str:
        out = []
        for i, (cell, width, color) in enumerate(zip(cells, widths, colors, strict=True)):
            right = i < len(self.right_align) and self.right_align[i]
            text = cell.rjust(width) if right else cell.ljust(width)
            out.append(f"{_ANSI[color]}{text}{_RESET}" if color in _ANSI else text)
        return "  ".join(out)


def sort_frame(df: pd.DataFrame, display: DisplayConfig, key: str | None = None) -> pd.DataFrame:
    """Sort by a display sort key (``cost``, ``ttft``, ``name`` ...): numbers descending, names ascending.

    >>> import pandas as pd
    >>> from mtop.config import default_config
    >>> df = pd.DataFrame({"service": ["b", "a"], "hourly_cost": [1.0, 2.0]})
    >>> sort_frame(df, default_config().display, "name")["service"].tolist()
    ['a', 'b']
    """
    key = key or display.sorting.default_key
    column = next((c for c in display.columns if c.sort_key == key), None)
    if column is None or column.field not in df.columns:
        return df
    ascending = column.format == "string"
    return df.sort_values(column.field, ascending=ascending, na_position="last", kind="stable").reset_index(drop=True)


def frame_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON-ready dicts (NaN/NA -> None, timestamps -> ISO 8601).

    >>> import pandas as pd
    >>> frame_records(pd.DataFrame({"x": [1.5, float("nan")]}))
    [{'x': 1.5}, {'x': None}]
    """
    records: list[dict[str, Any]] = json.loads(df.to_json(orient="records", date_format="iso", date_unit="s"))
    return records


def render_frame(
    df: pd.DataFrame,
    fmt: str = "table",
    display: DisplayConfig | None = None,
    *,
    color: bool = False,
    columns: Sequence[str] | None = None,
) -> str:
    """Render a frame as ``table`` (configured columns), ``json``, ``yaml`` or ``csv``.

    >>> import pandas as pd
    >>> print(render_frame(pd.DataFrame({"a": [1]}), "json"))
    [
      {
        "a": 1
      }
    ]
    """
    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    if fmt == "json":
        return json.dumps(frame_records(df), indent=2)
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(frame_records(df), sort_keys=False, allow_unicode=True))
    if fmt == "csv":
        buffer = io.StringIO()
        df.to_csv(buffer, index=False)
        return buffer.getvalue()
    if fmt != "table":
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return _table(df, display, color=color)


def _table(df: pd.DataFrame, display: DisplayConfig | None, *, color: bool) -> str:
    configured: list[ColumnConfig] = []
    if display is not None:
        configured = [c for c in display.columns if c.enabled and c.field in df.columns]
    if not configured:
        from mtop.config import ColumnConfig

        configured = [ColumnConfig(name=str(c), field=str(c), width=max(len(str(c)), 1)) for c in df.columns]
    formatters = [ColumnFormatter(c) for c in configured]
    table = TextTable(
        max_width=display.max_width if display else 160,
        right_align=[c.format not in ("string",) or c.justify == "right" for c in configured],
    )
    table.create_table([c.name for c in configured])
    data: Mapping[str, list[Any]] = {c.field: df[c.field].tolist() for c in configured}
    for i in range(len(df)):
        values = [data[c.field][i] for c in configured]
        table.add_row(
            [f.format(v) for f, v in zip(formatters, values, strict=True)],
            [f.color(v) if color else None for f, v in zip(formatters, values, strict=True)],
        )
    return table.render()
