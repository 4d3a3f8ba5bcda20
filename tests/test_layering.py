"""Import direction between mtop's layers, read from the table in ARCHITECTURE.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "mtop"


def _layers() -> tuple[dict[str, str], dict[str, set[str]]]:
    """module pattern -> layer, and layer -> allowed layers, from ARCHITECTURE.md's table."""
    module_layer: dict[str, str] = {}
    allowed: dict[str, set[str]] = {}
    for line in (ROOT / "ARCHITECTURE.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("layer", "") or set(cells[0]) <= {"-"}:
            continue
        layer, modules, may = cells
        allowed[layer] = {x.strip() for x in may.split(",")}
        for m in modules.split(","):
            module_layer[m.strip()] = layer
    return module_layer, allowed


def _layer_of(module: str, module_layer: dict[str, str]) -> str | None:
    if module in module_layer:
        return module_layer[module]
    for pattern, layer in module_layer.items():
        if pattern.endswith(".*") and module.startswith(pattern[:-1]):
            return layer
    return None


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            if len(parts) == 1:
                continue  # the lazy facade
            parts = [*parts[:-1], "__init__"]
        out[".".join(parts)] = path
    return out


def _runtime_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and re.search(r"TYPE_CHECKING", ast.unparse(node.test)):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if not type_only:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("mtop."))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mtop"):
                if node.module == "mtop":
                    found.update(f"mtop.{a.name}" for a in node.names)
                else:
                    found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(tree, False)
    return {name.removeprefix("mtop.") for name in found}


def test_every_module_is_in_the_architecture_table() -> None:
    module_layer, _ = _layers()
    unassigned = sorted(m for m in _modules() if _layer_of(m, module_layer) is None)
    assert not unassigned, f"add these to the layer table in ARCHITECTURE.md: {unassigned}"


def test_imports_follow_the_layers() -> None:
    module_layer, allowed = _layers()
    violations = []
    for module, path in _modules().items():
        layer = _layer_of(module, module_layer)
        assert layer is not None
        for imported in _runtime_imports(path):
            target = _layer_of(imported, module_layer) or _layer_of(imported.rsplit(".", 1)[0], module_layer)
            if target is not None and target not in allowed[layer]:
                violations.append(f"{module} ({layer}) imports {imported} ({target})")
    assert not violations, "\n".join(violations)


def test_the_table_rejects_a_bad_import() -> None:
    # The checker itself must be able to fail: collectors importing the simulator is forbidden.
    module_layer, allowed = _layers()
    assert _layer_of("sources.simulated", module_layer) == "data"
    assert "data" not in allowed[_layer_of("collect", module_layer) or ""]
