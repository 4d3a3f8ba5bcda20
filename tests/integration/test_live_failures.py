"""Live mode when real servers fail: each case against a private apiserver or Prometheus that the test breaks.

The apiserver cases use ``kube_cluster_factory`` (stopped by PID, compacted under a paginated list); the
Prometheus cases start a private Prometheus here (stopped by PID, paused with SIGSTOP for "slow", TLS and
basic auth for credentials). Retries never sleep: ``sleep`` is injected.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import urllib3
import yaml
from fixtures_kube import KubeCluster, load_fleet, small_fleet
from servers import ManagedProcess, free_port, require

import mtop
from mtop import collect
from mtop.catalogue import render
from mtop.errors import SourceUnavailable
from mtop.sources.kube import CRD_MISSING, POD_SELECTORS
from mtop.sources.live import LiveSource

# bcrypt (cost 4) of BASIC_PASSWORD, for Prometheus's web config; a test-only credential.
BASIC_USER, BASIC_PASSWORD = "bob", "mtop-it-basic-pw"
BASIC_HASH = "$2b$04$lHp3msVJxyjoxwi5GVksJekwlIWCvJ62CzsQyz8kuxNL55OTtRLKC"


def no_sleep(seconds: float) -> None:
    pass


def live_fleet(cluster: KubeCluster, context: str | None = None, **options: Any) -> mtop.Fleet:
    options.setdefault("sleep", no_sleep)
    return mtop.connect(
        mode="live", kubeconfig=str(cluster.kubeconfig), context=context or cluster.context, env={}, **options
    )


# --------------------------------------------------------------------------------------- API server
def _stop_after_first_page(src: LiveSource, action: Callable[[], None], kind: str = "pods") -> list[str | None]:
    """Run ``action`` once, right after ``kind``'s first page that has a continue token; record the tokens
    sent for ``kind`` (other kinds may be listed at the same time: their requests are not recorded)."""
    tokens: list[str | None] = []
    real_get = src.kube._get
    done = [False]

    def spy(call: Any, what: str, **kwargs: Any) -> Any:
        if what != kind:
            return real_get(call, what, **kwargs)
        tokens.append(kwargs.get("_continue"))
        out = real_get(call, what, **kwargs)
        if not done[0] and (out.get("metadata") or {}).get("continue"):
            done[0] = True
            action()
        return out

    src.kube._get = spy  # type: ignore[method-assign]
    return tokens


def test_an_apiserver_stopping_mid_collection_or_gone_is_source_unavailable(kube_cluster_factory: Any) -> None:
    cluster = kube_cluster_factory("midway")
    load_fleet(cluster, small_fleet())
    fleet = live_fleet(cluster, page_size=2, pod_selectors=POD_SELECTORS[:1], retries=1, consistent_reads=True)
    assert isinstance(fleet.source, LiveSource)
    tokens = _stop_after_first_page(fleet.source, cluster.apiserver.stop)
    with pytest.raises(SourceUnavailable) as info:
        collect.pods(fleet)
    assert cluster.url in str(info.value) and cluster.context in str(info.value)
    assert tokens[0] is None and tokens[1] is not None  # it died between page 1 and page 2
    # Unreachable from the start: the same error, after retries with exponential backoff (never really slept).
    slept: list[float] = []
    with pytest.raises(SourceUnavailable) as info:
        collect.services(live_fleet(cluster, sleep=slept.append))
    message = str(info.value)
    assert f"cluster {cluster.context}" in message and cluster.url in message and "connection refused" in message
    # Each list of the pass (they run at once) backed off 0.5, 1 and 2 seconds before giving up.
    assert sorted(set(slept)) == [0.5, 1.0, 2.0] and slept.count(0.5) == slept.count(1.0) == slept.count(2.0)


def test_last_good_data_is_served_when_asked_for_and_marked_stale(kube_cluster_factory: Any) -> None:
    cluster = kube_cluster_factory("stale")
    load_fleet(cluster, small_fleet())
    fleet = live_fleet(cluster, allow_stale=True, cache_ttl=600)
    before = collect.pods(fleet)
    assert len(before) > 0 and "stale" not in before.attrs
    cluster.apiserver.stop()
    after = collect.pods(fleet)
    pd.testing.assert_frame_equal(after, before)
    assert "pods" in after.attrs["stale"]
    assert any("serving the last good list" in e and cluster.url in e for e in after.attrs["errors"])
    with pytest.raises(SourceUnavailable):  # nothing cached for services: no last good data to serve
        collect.services(live_fleet(cluster))


def test_410_gone_between_pages_restarts_the_list(kube_cluster_factory: Any) -> None:
    cluster = kube_cluster_factory("compact")
    fleet = small_fleet()
    load_fleet(cluster, fleet)
    live = live_fleet(cluster, page_size=3, pod_selectors=POD_SELECTORS[:1], consistent_reads=True)
    assert isinstance(live.source, LiveSource)

    def compact() -> None:
        # A write moves etcd past the list's revision; compacting to it expires the continue token.
        cluster.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bump", "namespace": "kube-system"}}
        )
        cluster.compact_etcd()

    tokens = _stop_after_first_page(live.source, compact)
    pods = live.source.list_objects("pods")
    assert sorted(p["metadata"]["name"] for p in pods) == sorted(
        p["metadata"]["name"] for p in fleet.list_objects("pods")
    )
    assert len(pods) == len({p["metadata"]["uid"] for p in pods})  # page 1 is not duplicated
    assert tokens[:3] == [None, tokens[1], None] and tokens[1] is not None  # token, 410, then from the start


def test_rbac_allows_some_namespaces_frames_hold_what_is_allowed(kube_fleet_cluster: tuple[KubeCluster, Any]) -> None:
    cluster, fleet = kube_fleet_cluster
    namespaces = sorted({s["metadata"]["namespace"] for s in fleet.list_objects("llminferenceservices")})
    allowed, denied = namespaces[:2]
    cluster.grant_viewer([allowed])
    viewer = live_fleet(cluster, cluster.viewer_context)
    df = collect.overview(viewer, namespaces=[allowed, denied])
    assert set(df["namespace"]) == {allowed} and len(df) > 0
    assert [e for e in df.attrs["errors"] if "403" in e and denied in e]


def test_a_cluster_without_the_crd_gives_an_empty_frame_and_a_message(kube_cluster_factory: Any) -> None:
    cluster = kube_cluster_factory("nocrd")
    cluster.create(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cpu-1"}, "status": {"allocatable": {"cpu": "8"}}}
    )
    frames = collect.collect_all(live_fleet(cluster))
    assert frames["services"].empty and CRD_MISSING in frames["services"].attrs["errors"]
    assert set(frames["overview"].columns) >= {"namespace", "service", "hourly_cost"}


# --------------------------------------------------------------------------------------- Prometheus
@dataclass
class Prom:
    process: ManagedProcess
    url: str
    ca: Path | None = None


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[..., Prom]]:
    """``start(tls=False, prefix="")``: a private Prometheus (no targets), stopped by PID at the end."""
    started: list[ManagedProcess] = []

    def start(*, tls: bool = False, prefix: str = "") -> Prom:
        binary = require("prometheus")
        work = tmp_path / f"prom-{len(started)}"
        work.mkdir()
        (work / "prometheus.yml").write_text("global: {scrape_interval: 15s}\nscrape_configs: []\n")
        port = free_port()
        scheme = "https" if tls else "http"
        url = f"{scheme}://127.0.0.1:{port}{prefix}"
        argv = [
            binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", f"--web.external-url={url}",
        ]  # fmt: skip
        ca = None
        if prefix:
            argv.append(f"--web.route-prefix={prefix}")
        if tls:
            ca, key = work / "cert.pem", work / "key.pem"
            subprocess.run(
                [require("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                 str(ca), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                check=True, capture_output=True,
            )  # fmt: skip
            web = {
                "tls_server_config": {"cert_file": str(ca), "key_file": str(key)},
                "basic_auth_users": {BASIC_USER: BASIC_HASH},
            }
            (work / "web.yml").write_text(yaml.safe_dump(web))
            argv.append(f"--web.config.file={work / 'web.yml'}")
        process = ManagedProcess(f"prometheus-{len(started)}", argv, work / "prometheus.log")
        started.append(process)
        process.start()
        http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(ca), retries=False) if ca else None
        plain = urllib3.PoolManager(retries=False)
        auth = urllib3.make_headers(basic_auth=f"{BASIC_USER}:{BASIC_PASSWORD}") if tls else {}
        process.wait_until(
            lambda: (http or plain).request("GET", f"{url}/-/ready", headers=auth, timeout=2).status == 200, timeout=30
        )
        return Prom(process, url, ca)

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()


def _slo_errors(df: pd.DataFrame) -> list[str]:
    return [e for e in df.attrs["errors"] if "Prometheus" in e or "prometheus" in e]


def test_prometheus_down_slo_columns_nan_resources_returned(
    kube_fleet_cluster: tuple[KubeCluster, Any], prometheus: Callable[..., Prom]
) -> None:
    cluster, fleet = kube_fleet_cluster
    prom = prometheus()
    prom.process.stop()
    frames = collect.collect_all(live_fleet(cluster, prometheus_url=prom.url, retries=1))
    services, slo = frames["services"], frames["slo_metrics"]
    assert len(services) == len(fleet.list_objects("llminferenceservices")) and len(slo) == len(services)
    assert slo["ttft_p95_ms"].isna().all() and slo["requests_per_second"].isna().all()
    errors = _slo_errors(slo)
    assert errors and all("cannot reach Prometheus" in e and prom.url in e for e in errors)
    assert frames["nodes"]["gpus_allocated"].sum() > 0  # allocation still from the API


def test_prometheus_slow_times_out_and_is_recorded(
    kube_fleet_cluster: tuple[KubeCluster, Any], prometheus: Callable[..., Prom]
) -> None:
    cluster, _ = kube_fleet_cluster
    prom = prometheus()
    prom.process.pause()  # SIGSTOP: accepts connections (the kernel does) but never answers
    try:
        df = collect.slo_metrics(live_fleet(cluster, prometheus_url=prom.url, prometheus_timeout=0.5))
    finally:
        prom.process.resume()
    assert len(df) > 0 and df["ttft_p95_ms"].isna().all()
    assert any("no answer within 0.5s" in e for e in _slo_errors(df))


def test_a_query_prometheus_refuses_is_recorded_with_its_name_and_status(
    kube_fleet_cluster: tuple[KubeCluster, Any], prometheus: Callable[..., Prom], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, _ = kube_fleet_cluster
    prom = prometheus()

    def broken(name: str, params: Any = None) -> str:
        return "sum(" if name == "queue_depth" else render(name, params)  # a parse error, for one query only

    monkeypatch.setattr("mtop.sources.prom.render", broken)
    df = collect.slo_metrics(live_fleet(cluster, prometheus_url=prom.url))
    assert len(df) > 0 and df["queue_depth"].isna().all()
    errors = df.attrs["errors"]
    assert len(errors) == 1 and "queue_depth" in errors[0] and "HTTP 400, bad_data" in errors[0]


def test_tls_basic_auth_and_a_path_prefix(
    kube_fleet_cluster: tuple[KubeCluster, Any], prometheus: Callable[..., Prom]
) -> None:
    cluster, _ = kube_fleet_cluster
    prom = prometheus(tls=True, prefix="/prometheus")
    assert prom.ca is not None
    ok = live_fleet(
        cluster, prometheus_url=prom.url, prometheus_ca=str(prom.ca), prometheus_username=BASIC_USER,
        prometheus_password=BASIC_PASSWORD,
    )  # fmt: skip
    assert collect.slo_metrics(ok).attrs["errors"] == []  # every query answered (no vLLM series: NaN, no error)
    wrong = live_fleet(
        cluster, prometheus_url=prom.url, prometheus_ca=str(prom.ca), prometheus_username=BASIC_USER,
        prometheus_password="wrong-password-77",
    )  # fmt: skip
    errors = collect.slo_metrics(wrong).attrs["errors"]
    assert errors and all("refused the credentials" in e and "401" in e for e in errors)
    untrusted = live_fleet(cluster, prometheus_url=prom.url, prometheus_username=BASIC_USER, prometheus_password="x")
    errors = collect.slo_metrics(untrusted).attrs["errors"]
    assert errors and all("TLS error" in e for e in errors)


def test_no_secret_in_logs_errors_or_attrs(
    kube_fleet_cluster: tuple[KubeCluster, Any],
    prometheus: Callable[..., Prom],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster, _ = kube_fleet_cluster
    prom = prometheus(tls=True)
    password, token = "s3cret-pr0m-password", "s3cret-kube-t0ken"
    with caplog.at_level(logging.DEBUG, logger="mtop"):
        df = collect.collect_all(
            live_fleet(
                cluster,
                prometheus_url=prom.url.replace("https://", f"https://{BASIC_USER}:{password}@"),
                prometheus_ca=str(prom.ca),
                retries=1,
            )
        )["overview"]
        config = yaml.safe_load(cluster.kubeconfig.read_text())
        for user in config["users"]:
            user["user"]["token"] = token
        bad = tmp_path / "kubeconfig"
        bad.write_text(yaml.safe_dump(config))
        with pytest.raises(mtop.errors.AuthError) as info:
            collect.nodes(mtop.connect(mode="live", kubeconfig=str(bad), context=cluster.context, env={}))
    assert df.attrs["errors"]  # the wrong password was refused, and said so
    seen = "\n".join([repr(df.attrs), str(info.value), caplog.text, *(r.getMessage() for r in caplog.records)])
    for secret in (password, token, cluster.admin_token):
        assert secret not in seen
