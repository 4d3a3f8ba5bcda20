"""A real Kubernetes API server for integration tests: etcd + kube-apiserver v1.20 on 127.0.0.1.

``start_cluster(workdir, name)`` starts etcd and the apiserver built by ``scripts/install-test-deps.sh``
(see shared/reference/environment.md section 1), waits for ``/readyz`` and writes a kubeconfig with two
contexts: ``<name>`` (an admin, group system:masters) and ``<name>-viewer`` (a user with no rights until
:meth:`KubeCluster.grant_viewer` writes explicit Roles: the aggregated ClusterRoles are empty without a
controller-manager). Fixtures:

- ``kube_cluster`` (session): one bare cluster, no objects, for tests that only read what they write;
- ``kube_cluster_factory``: ``make(name)`` starts a private cluster, stopped when the test ends
  (for tests that stop, pause or compact it: never break the shared one);
- ``kube_fleet_cluster`` (session): a private cluster holding a small simulated fleet, for read-only
  live-mode tests (it has nodes of its own, so it is kept apart from the shared cluster).

Every process is stopped by its PID in a ``finally``, even when a test fails.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from servers import CACHE_DIR, ManagedProcess, free_port, require

from mtop.sources.kube import VERSIONS

ROOT = Path(__file__).resolve().parents[2]
APISERVER = CACHE_DIR / "kube-apiserver-v1.20.2"
CRD_MANIFEST = ROOT / "mtop" / "simulation" / "llminferenceservice-crd.yaml"

_PLURALS = {
    "Namespace": "namespaces",
    "Pod": "pods",
    "Node": "nodes",
    "ConfigMap": "configmaps",
    "LLMInferenceService": "llminferenceservices",
    "CustomResourceDefinition": "customresourcedefinitions",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
}
_CLUSTER_SCOPED = {"Namespace", "Node", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


def minimal_crd(versions: tuple[str, ...] = ("v1alpha1", "v1alpha2"), storage: str = "v1alpha2") -> dict[str, Any]:
    """An LLMInferenceService CRD serving ``versions``: preserve unknown fields, status subresource."""
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "llminferenceservices.serving.kserve.io"},
        "spec": {
            "group": "serving.kserve.io",
            "scope": "Namespaced",
            "names": {
                "kind": "LLMInferenceService",
                "listKind": "LLMInferenceServiceList",
                "plural": "llminferenceservices",
                "singular": "llminferenceservice",
                "shortNames": ["llmisvc"],
            },
            "versions": [
                {"name": v, "served": True, "storage": v == storage, "subresources": {"status": {}}, "schema": schema}
                for v in versions
            ],
        },
    }


def project_crd() -> dict[str, Any]:
    """The CRD mtop ships (both versions), or the minimal one while it does not exist."""
    if CRD_MANIFEST.exists():
        doc = yaml.safe_load(CRD_MANIFEST.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
            return doc
    return minimal_crd()


@dataclass
class KubeCluster:
    """One running etcd + kube-apiserver pair and how to reach it."""

    name: str
    workdir: Path
    url: str
    ca: Path
    admin_token: str
    viewer_token: str
    kubeconfig: Path
    etcd_url: str
    etcd: ManagedProcess
    apiserver: ManagedProcess
    _http: urllib3.PoolManager = field(repr=False, default_factory=lambda: urllib3.PoolManager())

    @property
    def context(self) -> str:
        return self.name

    @property
    def viewer_context(self) -> str:
        return f"{self.name}-viewer"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """One call as the admin (or ``token``): ``(status, decoded JSON body)``."""
        headers = {"Authorization": f"Bearer {token or self.admin_token}", "Content-Type": content_type}
        resp = self._http.request(
            method, self.url + path, body=json.dumps(body) if body is not None else None, headers=headers, timeout=30
        )
        try:
            return resp.status, json.loads(resp.data or b"null")
        except ValueError:
            return resp.status, resp.data.decode(errors="replace")

    def path_of(self, obj: Mapping[str, Any], version: str | None = None) -> str:
        api_version = version or obj["apiVersion"]
        kind = obj["kind"]
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        ns = obj.get("metadata", {}).get("namespace")
        scope = "" if kind in _CLUSTER_SCOPED or ns is None else f"/namespaces/{ns}"
        return f"{base}{scope}/{_PLURALS[kind]}"

    def create(self, obj: Mapping[str, Any], *, settle: bool = True) -> Any:
        """Create ``obj``; write its ``status`` through the status subresource when it has one.

        With ``settle`` (the default), return only once the API server's watch cache holds the write, so
        a list read from the cache right after (mtop's default) sees it.
        """
        body = {k: v for k, v in obj.items() if k != "status"}
        status, out = self.request("POST", self.path_of(obj), body)
        if status == 409:  # already there (a fixture reused): fine
            return out
        assert status == 201, f"create {obj['kind']} {obj['metadata']['name']}: {status} {out}"
        written = out
        if obj.get("status") and obj["kind"] != "Namespace":
            written = self.patch_status(obj)
        if settle:
            version = str((written.get("metadata") or {}).get("resourceVersion") or "")
            self.wait_for_cache(self.path_of(obj), version, obj["metadata"]["name"])
        return out

    def wait_for_cache(self, path: str, version: str, name: str) -> None:
        """Block until the watch cache behind ``path`` has seen resourceVersion ``version``.

        A list with ``resourceVersionMatch=NotOlderThan`` and no limit is served from the cache once the
        cache reaches that version (the server waits up to 3 s, then answers 504: asked again).
        """
        query = f"resourceVersion={version}&resourceVersionMatch=NotOlderThan&fieldSelector=metadata.name%3D{name}"
        deadline = time.monotonic() + 30
        while True:
            status, out = self.request("GET", f"{path}?{query}")
            if status == 200:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the watch cache of {path} never reached {version}: {status} {out}")
            time.sleep(0.05)

    def settle(self) -> None:
        """Wait until the watch caches of every kind mtop lists hold what etcd holds.

        Each kind's cache advances only with that kind's events (v1.20 has no progress notifications),
        so a global revision cannot be waited for: a quorum list and a cache list are compared instead.
        """
        paths = ["/api/v1/pods", "/api/v1/nodes", "/api/v1/namespaces"]
        for crd_version in VERSIONS:
            path = f"/apis/serving.kserve.io/{crd_version}/llminferenceservices"
            if self.request("GET", f"{path}?limit=1")[0] == 200:
                paths.append(path)
                break

        def versions(path: str) -> dict[str, str]:
            status, out = self.request("GET", path)
            assert status == 200, f"list {path}: {status} {out}"
            return {o["metadata"]["uid"]: o["metadata"]["resourceVersion"] for o in out.get("items") or ()}

        for path in paths:
            deadline = time.monotonic() + 30
            while versions(f"{path}?resourceVersion=0") != versions(path):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the watch cache of {path} never caught up with etcd")
                time.sleep(0.05)

    def patch_status(self, obj: Mapping[str, Any]) -> Any:
        path = f"{self.path_of(obj)}/{obj['metadata']['name']}/status"
        status, out = self.request(
            "PATCH", path, {"status": obj["status"]}, content_type="application/merge-patch+json"
        )
        assert status == 200, f"status of {obj['kind']} {obj['metadata']['name']}: {status} {out}"
        return out

    def apply_crd(self, crd: Mapping[str, Any] | None = None) -> None:
        """Install the LLMInferenceService CRD and wait until it is Established and served."""
        crd = crd or project_crd()
        self.create(crd)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, got = self.request(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
            )
            conditions = (got.get("status") or {}).get("conditions") or [] if isinstance(got, dict) else []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                version = next(v["name"] for v in crd["spec"]["versions"] if v.get("served"))
                if self.request("GET", f"/apis/serving.kserve.io/{version}/llminferenceservices")[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("the LLMInferenceService CRD did not become Established")

    def delete_crd(self) -> None:
        self.request(
            "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/llminferenceservices.serving.kserve.io"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.request("GET", "/apis/serving.kserve.io")[0] == 404:
                return
            time.sleep(0.1)
        raise RuntimeError("the LLMInferenceService CRD was not removed")

    def grant_viewer(self, namespaces: list[str], *, nodes: bool = True) -> None:
        """Let the viewer user list pods and LLMInferenceServices in ``namespaces`` only (and nodes)."""
        rules = [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            {"apiGroups": ["serving.kserve.io"], "resources": ["llminferenceservices"], "verbs": ["get", "list"]},
        ]
        for ns in namespaces:
            meta = {"name": "mtop-viewer", "namespace": ns}
            self.create(
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules}
            )
            self.create(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": meta,
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "mtop-viewer"},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}],
                }
            )
        if nodes:
            meta = {"name": "mtop-viewer-nodes"}
            node_rules = [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]
            self.create(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": meta,
                    "rules": node_rules,
                }
            )
            self.create(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": meta,
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": meta["name"]},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}],
                }
            )
        time.sleep(0.5)  # the RBAC authorizer reads through an informer: let it see the new bindings

    def etcd_revision(self) -> int:
        """etcd's current revision (through the v3 HTTP gateway)."""
        body = {"key": base64.b64encode(b"/").decode()}
        resp = self._http.request("POST", f"{self.etcd_url}/v3/kv/range", body=json.dumps(body))
        return int(json.loads(resp.data)["header"]["revision"])

    def compact_etcd(self, revision: int | None = None) -> int:
        """Compact etcd up to ``revision`` (default: now): older continue tokens then answer 410 Gone."""
        rev = revision or self.etcd_revision()
        body = {"revision": str(rev), "physical": True}
        resp = self._http.request("POST", f"{self.etcd_url}/v3/kv/compaction", body=json.dumps(body))
        assert resp.status == 200, resp.data
        return rev

    def stop(self) -> None:
        try:
            self.apiserver.stop()
        finally:
            self.etcd.stop()


def load_fleet(cluster: KubeCluster, fleet: Any) -> dict[str, int]:
    """Write a SimulatedFleet's objects into ``cluster`` (CRD, namespaces, nodes, services, pods, statuses).

    Each object goes in with the ``apiVersion`` it has (v1alpha1 services through the v1alpha1 endpoint).
    Returns how many objects of each kind were written.
    """
    cluster.apply_crd()
    counts: dict[str, int] = {}
    builtin = {"namespaces": "Namespace", "nodes": "Node", "pods": "Pod"}
    for kind in ("namespaces", "nodes", "llminferenceservices", "pods"):
        items = fleet.list_objects(kind)
        for obj in items:
            meta = {k: v for k, v in obj["metadata"].items() if k in ("name", "namespace", "labels", "annotations")}
            typed = {"apiVersion": "v1", "kind": builtin[kind]} if kind in builtin else {}
            cluster.create({**typed, **obj, "metadata": meta}, settle=False)
        counts[kind] = len(items)
    cluster.settle()
    return counts


def _kubeconfig(path: Path, name: str, url: str, ca: Path, admin: str, viewer: str) -> None:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url, "certificate-authority": str(ca)}}],
        "users": [
            {"name": f"{name}-admin", "user": {"token": admin}},
            {"name": f"{name}-viewer", "user": {"token": viewer}},
        ],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": f"{name}-admin"}},
            {"name": f"{name}-viewer", "context": {"cluster": name, "user": f"{name}-viewer"}},
        ],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(cfg))


def start_cluster(workdir: Path, name: str = "mtop-it") -> KubeCluster:
    """Start etcd and kube-apiserver under ``workdir``; stop them (``.stop()``) even if a test fails."""
    apiserver_bin = require(str(APISERVER))
    etcd_bin = require("etcd")
    openssl = require("openssl")
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([openssl, "genrsa", "-out", str(workdir / "sa.key"), "2048"], check=True, capture_output=True)
    subprocess.run(
        [openssl, "rsa", "-in", str(workdir / "sa.key"), "-pubout", "-out", str(workdir / "sa.pub")],
        check=True,
        capture_output=True,
    )
    admin, viewer = secrets.token_hex(16), secrets.token_hex(16)
    (workdir / "tokens.csv").write_text(f"{admin},admin,admin-uid,system:masters\n{viewer},viewer,viewer-uid\n")
    client_port, peer_port, port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{client_port}"
    etcd = ManagedProcess(
        f"etcd-{name}",
        [
            etcd_bin, "--name", "t", "--data-dir", str(workdir / "etcd-data"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"t=http://127.0.0.1:{peer_port}", "--unsafe-no-fsync",
        ],
        workdir / "etcd.log",
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    apiserver = ManagedProcess(
        f"kube-apiserver-{name}",
        [
            apiserver_bin, f"--etcd-servers={etcd_url}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={port}", "--insecure-port=0", f"--cert-dir={workdir / 'certs'}",
            f"--token-auth-file={workdir / 'tokens.csv'}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={workdir / 'sa.pub'}",
            f"--service-account-signing-key-file={workdir / 'sa.key'}", "--service-cluster-ip-range=10.96.0.0/24",
            "--disable-admission-plugins=ServiceAccount", "--endpoint-reconciler-type=none",
        ],
        workdir / "apiserver.log",
    )  # fmt: skip
    ca = workdir / "certs" / "apiserver.crt"
    plain = urllib3.PoolManager(retries=False)  # polling: a refused connection is "not yet", not a retry

    def apiserver_ready() -> bool:
        if not ca.exists():  # the apiserver writes its self-signed certificate (our CA) at startup
            return False
        https = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(ca), retries=False)
        auth = {"Authorization": f"Bearer {admin}"}
        return bool(https.request("GET", f"{url}/readyz", headers=auth, timeout=2).status == 200)

    try:
        etcd.start()
        etcd.wait_until(lambda: plain.request("GET", f"{etcd_url}/health", timeout=1).status == 200, timeout=30)
        apiserver.start()
        apiserver.wait_until(apiserver_ready, timeout=90)
    except BaseException:
        apiserver.stop()
        etcd.stop()
        raise
    kubeconfig = workdir / "kubeconfig"
    _kubeconfig(kubeconfig, name, url, ca, admin, viewer)
    return KubeCluster(
        name, workdir, url, ca, admin, viewer, kubeconfig, etcd_url, etcd, apiserver,
        urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(ca)),
    )  # fmt: skip


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """The shared cluster: bare (no CRD, no objects). Do not stop, pause or compact it."""
    cluster = start_cluster(tmp_path_factory.mktemp("kube-shared"), "mtop-it")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def kube_cluster_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], KubeCluster]]:
    """``make(name)``: a private cluster for one test (stopped at its end), free to break."""
    started: list[KubeCluster] = []

    def make(name: str = "private") -> KubeCluster:
        cluster = start_cluster(tmp_path_factory.mktemp(f"kube-{name}"), name)
        started.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in reversed(started):
            cluster.stop()


FLEET_START = datetime(2026, 11, 28, 12, tzinfo=UTC)


def small_fleet(seed: int = 1, services: int = 3) -> Any:
    """A small simulated fleet with a frozen clock: what the live tests write into a private cluster."""
    from mtop.config import default_config
    from mtop.sources.simulated import SimulatedFleet

    return SimulatedFleet(default_config(), seed=seed, services=services, start=FLEET_START, clock="frozen")


@pytest.fixture(scope="session")
def kube_fleet_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KubeCluster, Any]]:
    """A private cluster holding :func:`small_fleet` (CRD, namespaces, nodes, services, pods): read-only use."""
    cluster = start_cluster(tmp_path_factory.mktemp("kube-fleet"), "mtop-fleet")
    try:
        fleet = small_fleet()
        load_fleet(cluster, fleet)
        yield cluster, fleet
    finally:
        cluster.stop()
