"""Integration tests: real kube-apiserver + etcd, Prometheus, JupyterLab + Chromium.

Every test here is marked ``integration``. Server fixtures live in their own modules (one per kind of
server) and are loaded as plugins, each starting one server per session and stopping it by PID.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_jupyter import chromium, jupyter_lab  # noqa: F401

# Fixture modules, one per kind of server (tests/integration/fixtures_<kind>.py), imported here:
# "from fixtures_kube import apiserver, prometheus" (this folder is on sys.path)
from fixtures_kube import kube_cluster, kube_cluster_factory, kube_fleet_cluster  # noqa: F401
from fixtures_prom import sim_cluster, sim_prometheus  # noqa: F401


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
