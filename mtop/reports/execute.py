"""Execute a report notebook with papermill, in a kernel of *this* Python environment.

The kernel is started from ``sys.executable`` (not whichever ``python3`` kernelspec comes first on the
Jupyter path, which may belong to another environment without mtop) over IPC sockets (no TCP port).
On a failing cell papermill still writes the executed notebook, with the traceback and a banner at the
top; :func:`execute` then raises ``ReportError`` naming the cell by its index in the *source* notebook
(the one a reader opens) and the path of the executed one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from mtop.errors import ReportError
from mtop.reports.catalog import Report

__all__ = ["execute", "failing_cell"]


@contextlib.contextmanager
def _kernel_manager_class() -> Iterator[type[Any]]:
    """A kernel manager class whose ``python3`` is this interpreter, talking over IPC sockets in a private folder.

    nbclient instantiates it, so nbclient owns the kernel and shuts it down and closes its sockets. The
    socket paths are absolute: a relative one would resolve against each side's own working directory.
    """
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class _ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())

    folder = "" if sys.platform == "win32" else tempfile.mkdtemp(prefix="mtop-kernel-")  # IPC is POSIX-only

    class _Manager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs["kernel_spec_manager"] = _ThisPython()
            if folder:
                kwargs.update(transport="ipc", ip=os.path.join(folder, "kernel"))
            super().__init__(**kwargs)

    try:
        yield _Manager
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def failing_cell(executed: Mapping[str, Any], source: Mapping[str, Any]) -> tuple[int | None, str]:
    """The index in ``source`` of the first cell of ``executed`` with an error output, and its error line.

    Cells are matched by id (papermill inserts cells, so indexes shift); None when nothing matches.

    >>> src = {"cells": [{"id": "a"}, {"id": "b"}]}
    >>> done = {"cells": [{"id": "p"}, {"id": "a"}, {"id": "b", "outputs": [
    ...     {"output_type": "error", "ename": "KeyError", "evalue": "'x'"}]}]}
    >>> failing_cell(done, src)
    (1, "KeyError: 'x'")
    """
    ids = [c.get("id") for c in source.get("cells", [])]
    for cell in executed.get("cells", []):
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                index = ids.index(cell.get("id")) if cell.get("id") in ids else None
                return index, f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".rstrip(": ")
    return None, "the kernel stopped"


def execute(
    report: Report,
    parameters: Mapping[str, Any],
    output: Path,
    *,
    timeout: float | None = None,
    start_timeout: float = 60,
) -> Path:
    """Run ``report`` with ``parameters`` and write the executed notebook to ``output``.

    Raises:
        ReportError: a cell failed (the executed notebook is still at ``output``; the error names the cell),
            the kernel died or timed out.

    >>> from mtop.reports.catalog import find_report
    >>> execute(find_report("fleet-overview"), {}, Path("/tmp/out.ipynb"))  # doctest: +SKIP
    PosixPath('/tmp/out.ipynb')
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    # papermill warns about parameters it cannot parse (`str | None`) or did not find; they were checked already.
    log = logging.getLogger("papermill")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with _kernel_manager_class() as manager:
            papermill.execute_notebook(
                str(report.path),
                str(output),
                parameters=dict(parameters),
                progress_bar=False,
                start_timeout=int(start_timeout),
                execution_timeout=int(timeout) if timeout else None,
                kernel_manager_class=manager,
                shutdown_kernel="immediate",  # nothing to save in the kernel: skip the graceful 1-5 s wait
            )
    except PapermillExecutionError as exc:
        index, error = _locate(report, output, exc.cell_index)
        raise ReportError(f"{error} (executed notebook with the traceback: {output})", notebook=report.name,
                          cell_index=index) from None  # fmt: skip
    except Exception as exc:  # the kernel died, timed out or never started: papermill and nbclient raise many kinds
        kept = f"; partial notebook: {output}" if output.exists() else ""
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ReportError(f"{type(exc).__name__}: {message}{kept}", notebook=report.name) from None
    finally:
        log.setLevel(level)
    return output


def store_outputs(path: Path, *, timeout: float = 600) -> Path:
    """Execute the notebook at ``path`` with its default parameters and save it *with* its outputs, in place.

    This is how the packaged notebooks get the outputs nbval compares against: no papermill metadata,
    no timing metadata, run in the notebook's folder (as nbval runs it). Raises ``ReportError`` on a
    failing cell and leaves the file untouched.

    >>> store_outputs(Path("notebooks/fleet-overview.ipynb"))  # doctest: +SKIP
    PosixPath('notebooks/fleet-overview.ipynb')
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = cast("Any", nbformat).read(str(path), as_version=4)
    try:
        with _kernel_manager_class() as manager:
            client = NotebookClient(nb, kernel_manager_class=manager, timeout=int(timeout), record_timing=False,
                                    shutdown_kernel="immediate",
                                    resources={"metadata": {"path": str(path.parent.resolve())}})  # fmt: skip
            client.execute()
    except CellExecutionError as exc:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # the traceback comes with terminal colours
        raise ReportError(" ".join(plain.split())[-500:], notebook=path.stem) from None
    cast("Any", nbformat).write(nb, str(path))
    return path


def _locate(report: Report, output: Path, fallback: int) -> tuple[int | None, str]:
    try:
        executed = json.loads(output.read_text(encoding="utf-8"))
        source = json.loads(report.path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return fallback, "a cell failed"
    index, error = failing_cell(executed, source)
    return (index if index is not None else fallback), error
