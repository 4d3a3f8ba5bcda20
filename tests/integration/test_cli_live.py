"""The CLI in live mode against a real kube-apiserver v1.20: list, logs (its request and error path), create, delete.

The API server has no kubelet, so ``mtop logs`` is tested at both ends of the real request path: a
node of the test's own points the API server at a small HTTPS "kubelet" on 127.0.0.1 that records the
``/containerLogs`` request the API server forwards (path, container, tailLines, sinceSeconds,
timestamps) and answers with log lines; another node points at a port where nothing listens, which
is the error path (the API server answers 500, naming the refused connection).
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures_kube import KubeCluster, start_cluster
from servers import free_port, require

import mtop
from mtop import cli
from mtop.commands.common import records
from mtop.commands.ops import list_services

LOG_TEXT = "INFO 11-28 15:00:00 [loggers.py:127] Engine 000: Avg prompt throughput: 1.0 tokens/s\n"
SERVICE = {
    "apiVersion": "serving.kserve.io/v1alpha2",
    "kind": "LLMInferenceService",
    "metadata": {"name": "my-llama", "namespace": "team"},
    "spec": {"model": {"uri": "hf://meta-llama/Llama-3.1-8B-Instruct"}, "replicas": 2},
}


class FakeKubelet:
    """An HTTPS server on 127.0.0.1 answering the API server's /containerLogs requests, recording each."""

    def __init__(self, workdir: Path) -> None:
        cert, key = workdir / "kubelet.crt", workdir / "kubelet.key"
        subprocess.run(
            [require("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
             str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                body = LOG_TEXT.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=30)


def _node(name: str, port: int) -> dict[str, Any]:
    # The API server reaches a node's kubelet at its InternalIP and daemonEndpoints port.
    status = {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
              "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}  # fmt: skip
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": status}


def _pod(service: str, name: str, node: str | None, role: str = "both") -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": service,
        "app.kubernetes.io/part-of": "llminferenceservice",
        "app.kubernetes.io/component": "llminferenceservice-workload",
        "kserve.io/component": "workload",
        "llm-d.ai/role": role,
    }
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "ghcr.io/llm-d/llm-d-cuda:v0.9.0"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "team", "labels": labels},
            "spec": spec}  # fmt: skip


@pytest.fixture(scope="module")
def logs_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KubeCluster, FakeKubelet]]:
    """A private cluster with the CRD and two services: my-llama has a pod on a live "kubelet" and one on a
    dead one; all-down has its pods on the dead one only. Tests leave it as they found it."""
    workdir = tmp_path_factory.mktemp("kube-logs")
    kubelet = FakeKubelet(workdir)
    cluster: KubeCluster | None = None
    try:
        cluster = start_cluster(workdir, "logs")
        cluster.apply_crd()
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        cluster.create(SERVICE)
        cluster.create({**SERVICE, "metadata": {"name": "all-down", "namespace": "team"}})
        cluster.create(_node("node-up", kubelet.port))
        cluster.create(_node("node-down", free_port()))  # nothing listens there
        cluster.create(_pod("my-llama", "my-llama-kserve-abc-up", "node-up"))
        cluster.create(_pod("my-llama", "my-llama-kserve-abc-down", "node-down"))
        cluster.create(_pod("all-down", "all-down-kserve-abc-1", "node-down", role="decode"))
        cluster.create(_pod("all-down", "all-down-kserve-abc-2", "node-down", role="decode"))
        yield cluster, kubelet
    finally:
        kubelet.stop()
        if cluster is not None:
            cluster.stop()


@pytest.fixture
def kubelet_requests(logs_cluster: tuple[KubeCluster, FakeKubelet]) -> list[str]:
    """The fake kubelet's request log, emptied for this test."""
    logs_cluster[1].requests.clear()
    return logs_cluster[1].requests


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "_configure_logging", lambda: None)
    monkeypatch.setenv("MTOP_WORKSPACE", str(tmp_path / "ws"))
    for name in ("MTOP_MODE", "LLD_MODE", "MTOP_PROMETHEUS_URL", "MTOP_LIVE_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)


def _live(capsys: pytest.CaptureFixture[str], cluster: KubeCluster, *argv: str) -> tuple[int, str, str]:
    code = cli.main([*argv, "--mode", "live", "--kubeconfig", str(cluster.kubeconfig), "--context", cluster.context])
    out, err = capsys.readouterr()
    return code, out, err


def test_logs_forwards_tail_since_and_timestamps_to_the_kubelet(
    capsys: pytest.CaptureFixture[str], logs_cluster: tuple[KubeCluster, FakeKubelet], kubelet_requests: list[str]
) -> None:
    cluster, _ = logs_cluster
    code, out, err = _live(capsys, cluster, "logs", "my-llama", "-n", "team", "--tail", "5", "--since", "2m",
                           "--timestamps")  # fmt: skip
    assert code == 0
    assert kubelet_requests == [
        "/containerLogs/team/my-llama-kserve-abc-up/main?sinceSeconds=120&tailLines=5&timestamps=true"
    ]
    assert out == f"[pod/my-llama-kserve-abc-up/main] {LOG_TEXT}"
    # The other pod's kubelet is down: one line on stderr, naming the pod, the status and the refusal.
    [line] = err.splitlines()
    assert line.startswith("mtop: pod my-llama-kserve-abc-down: cluster logs at https://127.0.0.1:")
    assert "HTTP 500" in line and "connection refused" in line


def test_logs_with_every_kubelet_down_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], logs_cluster: tuple[KubeCluster, FakeKubelet]
) -> None:
    cluster, _ = logs_cluster
    code, out, err = _live(capsys, cluster, "logs", "all-down", "-n", "team", "--role", "decode")
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("mtop: error: no logs for service 'all-down': 2 pod(s) without a log (cluster logs at ")
    assert "connection refused" in err


def test_logs_default_tail_and_the_kubeconfig_context_namespace(
    capsys: pytest.CaptureFixture[str],
    logs_cluster: tuple[KubeCluster, FakeKubelet],
    kubelet_requests: list[str],
    tmp_path: Path,
) -> None:
    cluster, _ = logs_cluster
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for ctx in config["contexts"]:
        ctx["context"]["namespace"] = "team"
    scoped = tmp_path / "kubeconfig-team"
    scoped.write_text(yaml.safe_dump(config))
    code = cli.main(["logs", "my-llama", "--mode", "live", "--kubeconfig", str(scoped), "--context", cluster.context])
    capsys.readouterr()
    assert code == 0  # found without -n: the context's namespace is team
    assert kubelet_requests == ["/containerLogs/team/my-llama-kserve-abc-up/main?tailLines=10"]  # kubectl's default


def test_create_and_delete_in_live_mode(
    capsys: pytest.CaptureFixture[str], logs_cluster: tuple[KubeCluster, FakeKubelet], tmp_path: Path
) -> None:
    cluster, _ = logs_cluster
    manifest = tmp_path / "new.yaml"
    manifest.write_text(yaml.safe_dump({**SERVICE, "metadata": {"name": "second", "namespace": "team"}}))
    code, out, err = _live(capsys, cluster, "create", "-f", str(manifest))
    assert (code, out, err) == (0, "llminferenceservice.serving.kserve.io/second created\n", "")
    status, stored = cluster.request(
        "GET", "/apis/serving.kserve.io/v1alpha2/namespaces/team/llminferenceservices/second"
    )
    assert status == 200 and stored["spec"]["model"]["uri"] == SERVICE["spec"]["model"]["uri"]
    code, _, err = _live(capsys, cluster, "create", "-f", str(manifest))
    assert code == 2 and err.count("\n") == 1 and "HTTP 409" in err and "already exists" in err
    code, out, _ = _live(capsys, cluster, "delete", "second", "-n", "team", "--yes")
    assert (code, out) == (0, 'llminferenceservice.serving.kserve.io "second" deleted\n')
    status, _ = cluster.request("GET", "/apis/serving.kserve.io/v1alpha2/namespaces/team/llminferenceservices/second")
    assert status == 404


def test_list_in_live_mode_matches_mock_mode(
    capsys: pytest.CaptureFixture[str], kube_fleet_cluster: tuple[KubeCluster, Any]
) -> None:
    cluster, fleet = kube_fleet_cluster
    code, out, _ = _live(capsys, cluster, "list", "-A", "-o", "json", "--sort", "name")
    assert code == 0
    live = json.loads(out)
    mock = json.loads(json.dumps(records(list_services(mtop.connect(source=fleet), sort="name"))))
    keys = ("namespace", "service", "model", "ready", "replicas", "gpus", "gpu_type", "hourly_cost")
    assert [{k: r[k] for k in keys} for r in live] == [{k: r[k] for k in keys} for r in mock]
    assert all(r["ttft_p95_ms"] is None for r in live)  # no Prometheus here: SLO columns are empty, not invented
    # Without -A, live mode reads the context's namespace ("default" here), which holds no service.
    code, out, _ = _live(capsys, cluster, "list", "-o", "json")
    assert (code, json.loads(out)) == (0, [])


def test_unreachable_api_server_is_one_line(
    capsys: pytest.CaptureFixture[str],
    logs_cluster: tuple[KubeCluster, FakeKubelet],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster, _ = logs_cluster
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    gone = tmp_path / "kubeconfig-gone"
    gone.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("MTOP_LIVE_RETRIES", "0")  # refused is final here: no backoff to wait through
    for argv in (["list", "-A"], ["logs", "x", "-A"], ["get", "x", "-A"], ["delete", "x", "-A", "--yes"]):
        code = cli.main([*argv, "--mode", "live", "--kubeconfig", str(gone), "--context", cluster.context])
        out, err = capsys.readouterr()
        assert code == 2 and out == "" and err.count("\n") == 1, (argv, err)
        assert "cannot reach the Kubernetes API server" in err and "Traceback" not in err
