"""The report notebooks: where they are, and what their ``parameters`` cell declares.

The notebooks ship inside the package (``mtop/reports/notebooks/``, the repository's ``notebooks/``) and
are found with :mod:`importlib.resources`, so ``mtop report run fleet-overview`` works from a wheel.
A notebook is a report when one of its cells is tagged ``parameters``; that cell holds only assignments
of literal values, optionally annotated (``seed: int = 0  # the simulator's random seed``). Reading it
needs no kernel and no papermill: the notebook is JSON and the cell is parsed with :mod:`ast`.

>>> report = find_report("fleet-overview")
>>> report.parameter("seed").annotation, report.parameter("seed").default
('int', 0)
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from mtop.errors import ReportError

__all__ = ["ParamType", "Parameter", "Report", "find_report", "list_reports", "notebooks_dir", "parse_parameters"]

PARAMETERS_TAG = "parameters"
_SCALARS = ("bool", "int", "float", "str")


@dataclass(frozen=True)
class ParamType:
    """A parameter's declared type: a scalar, ``dict[str, X]`` or ``list[X]``, maybe ``| None``.

    >>> ParamType.parse("dict[str, float] | None")
    ParamType(base='dict', optional=True, item='float')
    """

    base: str
    optional: bool = False
    item: str | None = None

    @classmethod
    def parse(cls, annotation: str) -> ParamType:
        """Read an annotation's text; ``ValueError`` for a type reports cannot pass.

        >>> ParamType.parse("int").base
        'int'
        """
        try:
            node = ast.parse(annotation, mode="eval").body
        except SyntaxError:
            raise ValueError(f"cannot read the type {annotation!r}") from None
        return cls._from_node(node, annotation)

    @classmethod
    def _from_node(cls, node: ast.expr, text: str) -> ParamType:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = [node.left, node.right]
            nones = [s for s in sides if isinstance(s, ast.Constant) and s.value is None]
            if len(nones) == 1:
                inner = cls._from_node(next(s for s in sides if s not in nones), text)
                return ParamType(inner.base, True, inner.item)
        if isinstance(node, ast.Name) and node.id in _SCALARS:
            return ParamType(node.id)
        if isinstance(node, ast.Name) and node.id == "Any":  # an unannotated `x = None`: any literal
            return ParamType("any", optional=True)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in ("dict", "list"):
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            names = [a.id if isinstance(a, ast.Name) else None for a in args]
            if node.value.id == "list" and len(names) == 1 and names[0] in _SCALARS:
                return ParamType("list", item=names[0])
            if node.value.id == "dict" and len(names) == 2 and names[0] == "str" and names[1] in _SCALARS:
                return ParamType("dict", item=names[1])
        raise ValueError(
            f"unsupported type {text!r}: use bool, int, float, str, list[X], dict[str, X] (X a scalar), X | None, Any"
        )

    def __str__(self) -> str:
        if self.base == "any":
            return "Any"
        core = f"{self.base}[{'str, ' if self.base == 'dict' else ''}{self.item}]" if self.item else self.base
        return f"{core} | None" if self.optional else core


@dataclass(frozen=True)
class Parameter:
    """One parameter of a report: name, type, default and the comment that explains it.

    >>> Parameter("seed", "int", 0, "random seed").type.base
    'int'
    """

    name: str
    annotation: str
    default: Any
    help: str = ""

    @property
    def type(self) -> ParamType:
        """The parsed annotation."""
        return ParamType.parse(self.annotation)


@dataclass(frozen=True)
class Report:
    """A report notebook: its name (the file's stem), path, title, summary and parameters.

    >>> find_report("cost-report").title
    'GPU cost report'
    """

    name: str
    path: Path
    title: str
    summary: str
    parameters: tuple[Parameter, ...]

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name``; ``ReportError`` lists the valid ones.

        >>> find_report("slo-report").parameter("window").default
        '1h'
        """
        for p in self.parameters:
            if p.name == name:
                return p
        raise ReportError(f"unknown parameter {name!r}; valid: {self.describe_parameters()}", notebook=self.name)

    def defaults(self) -> dict[str, Any]:
        """Every parameter's default value.

        >>> find_report("fleet-overview").defaults()["window"]
        '5m'
        """
        return {p.name: p.default for p in self.parameters}

    def describe_parameters(self) -> str:
        """``name (type, default ...)`` for each parameter, for error messages.

        >>> "seed (int, default 0)" in find_report("fleet-overview").describe_parameters()
        True
        """
        return ", ".join(f"{p.name} ({p.annotation}, default {p.default!r})" for p in self.parameters)


def notebooks_dir() -> Path:
    """The folder of the packaged report notebooks.

    >>> (notebooks_dir() / "fleet-overview.ipynb").is_file()
    True
    """
    return Path(str(files("mtop.reports").joinpath("notebooks")))


def _comments(source: str) -> dict[int, str]:
    """Line number -> the text of the comment on that line."""
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError):  # the ast parse below reports the problem
        pass
    return out


def _infer(value: Any) -> str:
    if value is None:
        return "Any"
    if isinstance(value, (bool, int, float, str)):
        return type(value).__name__
    if isinstance(value, list) and value and len({type(v) for v in value}) == 1:
        return f"list[{type(value[0]).__name__}]"
    raise ValueError("annotate it (e.g. `name: str | None = None`): its type cannot be inferred from the value")


def parse_parameters(source: str, where: str = "parameters cell") -> tuple[Parameter, ...]:
    """The parameters a ``parameters`` cell declares; ``ReportError`` names the line that is not one.

    >>> [(p.name, p.annotation, p.default, p.help) for p in parse_parameters('seed: int = 3  # the seed')]
    [('seed', 'int', 3, 'the seed')]
    >>> parse_parameters('w = "5m"')[0].annotation
    'str'
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ReportError(f"{where}, line {exc.lineno}: {exc.msg}") from None
    comments = _comments(source)
    out: list[Parameter] = []
    for stmt in tree.body:
        line = f"{where}, line {stmt.lineno}"
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            name, value_node, annotation = stmt.target.id, stmt.value, ast.unparse(stmt.annotation)
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value_node, annotation = stmt.targets[0].id, stmt.value, ""
        else:
            raise ReportError(f"{line}: only `name: type = literal` assignments belong in the parameters cell")
        try:
            default = ast.literal_eval(value_node)
            annotation = annotation or _infer(default)
            ParamType.parse(annotation)
        except ValueError as exc:
            raise ReportError(f"{line}: {name}: {exc}") from None
        help_text = comments.get(stmt.end_lineno or stmt.lineno, "")
        out.append(Parameter(name, annotation, default, help_text))
    return tuple(out)


def _cells(nb: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from nb.get("cells") or []


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def read_report(path: Path) -> Report | None:
    """The report in the notebook at ``path``, or None if no cell is tagged ``parameters``.

    >>> read_report(notebooks_dir() / "slo-report.ipynb").name
    'slo-report'
    """
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {path}: {exc}", notebook=path.stem) from None
    cell = next((c for c in _cells(nb) if PARAMETERS_TAG in (c.get("metadata") or {}).get("tags", [])), None)
    if cell is None:
        return None
    params = parse_parameters(_source(cell), f"{path.name}: parameters cell")
    meta = (nb.get("metadata") or {}).get("mtop") or {}
    title = str(meta.get("title") or "")
    if not title:
        heading = next((_source(c) for c in _cells(nb) if c.get("cell_type") == "markdown"), "")
        title = heading.strip().splitlines()[0].lstrip("# ").strip() if heading.strip() else path.stem
    return Report(path.stem, path, title, str(meta.get("summary") or ""), params)


def list_reports(directory: Path | None = None) -> list[Report]:
    """Every report notebook in ``directory`` (default: the packaged ones), by name.

    >>> {"cost-report", "fleet-overview", "slo-report"} <= {r.name for r in list_reports()}
    True
    """
    folder = directory or notebooks_dir()
    found = (read_report(p) for p in sorted(folder.glob("*.ipynb")))
    return [r for r in found if r is not None]


def find_report(name: str, directory: Path | None = None) -> Report:
    """The report called ``name``, or the notebook at path ``name`` (``.ipynb``); ``ReportError`` lists the others.

    >>> find_report("fleet-overview").path.name
    'fleet-overview.ipynb'
    """
    if name.endswith(".ipynb"):
        path = Path(name)
        if not path.is_file():
            raise ReportError(f"no such notebook: {path}", notebook=path.stem)
        report = read_report(path)
        if report is None:
            raise ReportError(f"{path} has no cell tagged {PARAMETERS_TAG!r}", notebook=path.stem)
        return report
    reports = list_reports(directory)
    for report in reports:
        if report.name == name:
            return report
    names = ", ".join(r.name for r in reports) or "none"
    raise ReportError(f"unknown report {name!r}; available: {names}", notebook=name)
