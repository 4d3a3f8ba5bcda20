"""A real JupyterLab on 127.0.0.1 and headless Chromium driven by Playwright (one of each per session).

JupyterLab serves a temporary copy of ``notebooks/`` with a token, its own config, settings, workspace
and runtime directories (the "news" announcements toast disabled), and the kernel importing this
checkout. It is started with :class:`servers.ManagedProcess` and stopped by its PID (its kernels stop
with it). Chromium is Debian's package (``chromium`` on PATH), launched by Playwright through
``executable_path`` with the flags that work headless in a container.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from servers import ManagedProcess, free_port, require

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class JupyterLab:
    """A running JupyterLab: where it listens, its token, the folder it serves."""

    url: str
    token: str
    root_dir: Path
    process: ManagedProcess

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"


def _lab_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / sub)
    # The "Jupyter news?" toast would cover the notebook: disable the announcements plugin.
    labconfig = base / "config" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    disabled = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
    (labconfig / "page_config.json").write_text(json.dumps(disabled))
    # The kernel imports this checkout (and tests/ for the test's source wrappers).
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("MTOP_STATIC", None)
    env.pop("PAPERMILL_EXECUTION", None)
    return env


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab serving a temporary copy of notebooks/, on 127.0.0.1:<free port>, stopped by PID."""
    lab_bin = Path(sys.executable).with_name("jupyter-lab")
    require(str(lab_bin), hint="pip install jupyterlab (the dev extra)")
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "notebooks"
    shutil.copytree(ROOT / "notebooks", root)
    port, token = free_port(), secrets.token_hex(16)
    argv = [
        str(lab_bin), "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False",
    ]  # fmt: skip
    process = ManagedProcess("jupyterlab", argv, base / "jupyterlab.log", env=_lab_env(base), cwd=root)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as response:
            return bool(response.status == 200)

    try:
        process.start()
        process.wait_until(ready, timeout=120)
        yield JupyterLab(url, token, root, process)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright, per test module (two sync Playwrights cannot overlap)."""
    executable = require("chromium", hint="apt-get install chromium (scripts/install-test-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
