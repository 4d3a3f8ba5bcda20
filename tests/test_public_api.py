"""The public surface: what `import mtop` exposes, and that importing it stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import mtop

HEAVY = ["ipywidgets", "plotly", "papermill", "nbconvert", "kubernetes", "ipydatagrid", "nbformat", "tqdm"]


def test_import_mtop_is_light() -> None:
    code = (
        "import sys, json, mtop; "
        "fleet = mtop.connect(seed=1, clock='frozen'); mtop.overview(fleet); "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_bare_import_loads_no_pandas_or_handlers() -> None:
    code = "import sys, logging, mtop; print(int('pandas' in sys.modules), len(logging.getLogger('mtop').handlers))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]


def test_all_names_resolve() -> None:
    for name in mtop.__all__:
        assert getattr(mtop, name) is not None, name


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        mtop.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
