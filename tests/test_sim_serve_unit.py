"""``mtop sim serve`` without servers: the exposition format, the backfill, the metrics server, the writer's
create-or-replace logic against a recording fake client, the CRD manifest and the ``mtop sim`` command."""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mtop.cli import build_parser, main
from mtop.commands import sim as sim_command
from mtop.config import default_config
from mtop.errors import SourceError, SourceUnavailable
from mtop.simulation import serve as serve_module
from mtop.simulation.serve import MetricsServer, history_times, scrape_config, serve, write_backfill
from mtop.simulation.serve_exposition import Exposition, family_of, format_labels, render_text, write_history
from mtop.simulation.serve_kube import CRD_NAME, MANAGED_BY, KubeWriter, crd_manifest, strip_server_fields
from mtop.sources.simulated import SimulatedFleet

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 28, 12, tzinfo=UTC)
LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( \d+)?$")


def _fleet(services: int | None = 3, at: datetime = START) -> SimulatedFleet:
    return SimulatedFleet(default_config(), seed=4, services=services, start=START, clock=lambda: at)


def _parse(text: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """``({family: type}, [(name, labels text, value)])``, checking the layout line by line."""
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples: list[tuple[str, str, str]] = []
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            family = line.split(" ")[2]
            assert family not in helps, f"second HELP for {family}"
            helps.add(family)
        elif line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            assert family not in types, f"second TYPE for {family}: families must not be split"
            types[family] = kind
            current = family
        else:
            m = LINE.match(line)
            assert m, line
            name = m.group(1)
            assert current is not None and family_of(name)[0] == current, f"{name} outside its family {current}"
            samples.append((name, m.group(2) or "", m.group(3)))
    assert helps == set(types)
    return types, samples


# --------------------------------------------------------------------------------------------- exposition
def test_scrape_of_a_real_fleet_is_well_formed() -> None:
    fleet = _fleet()
    samples = fleet.samples()
    types, parsed = _parse(render_text(samples, 1_000))
    assert len(parsed) == len(samples)
    assert types["vllm:time_to_first_token_seconds"] == "histogram"
    assert types["vllm:request_success_total"] == "counter"
    assert types["DCGM_FI_DEV_GPU_UTIL"] == "gauge"
    assert all(kind != "counter" or family.endswith("_total") for family, kind in types.items())


def test_histograms_have_ordered_buckets_ending_in_inf_equal_to_count() -> None:
    _, parsed = _parse(render_text(_fleet().samples()))
    buckets: dict[str, list[tuple[float, float]]] = {}
    counts: dict[str, float] = {}
    for name, labels, value in parsed:
        if name == "vllm:e2e_request_latency_seconds_bucket":
            le = re.search(r'le="([^"]+)"', labels)
            assert le is not None
            series = re.sub(r',?le="[^"]+"', "", labels)
            buckets.setdefault(series, []).append((float(le.group(1)), float(value)))
        elif name == "vllm:e2e_request_latency_seconds_count":
            counts[labels] = float(value)
    assert buckets and set(buckets) == set(counts)
    for series, rows in buckets.items():
        bounds = [b for b, _ in rows]
        assert bounds == sorted(bounds) and math.isinf(bounds[-1])
        values = [v for _, v in rows]
        assert values == sorted(values)  # cumulative
        assert values[-1] == counts[series]


def test_label_values_are_escaped_and_values_formatted() -> None:
    text = render_text([("g", {"path": 'C:\\dir "x"\nnext'}, float("nan")), ("h", {}, float("-inf"))])
    assert 'g{path="C:\\\\dir \\"x\\"\\nnext"} NaN' in text.splitlines()
    assert "h -Inf" in text.splitlines()
    assert format_labels({}) == ""


def test_timestamp_is_written_after_every_value() -> None:
    lines = [x for x in render_text(_fleet().samples(), 1_795_000_000_123).splitlines() if not x.startswith("#")]
    assert lines and all(x.endswith(" 1795000000123") for x in lines)


def test_counters_never_go_down_but_gauges_may() -> None:
    ex = Exposition()
    first = ex.render([("c_total", {"a": "1"}, 10.0), ("g", {}, 5.0)])
    second = ex.render([("c_total", {"a": "1"}, 9.999999999999998), ("g", {}, 4.0)])
    assert 'c_total{a="1"} 10.0' in first and 'c_total{a="1"} 10.0' in second
    assert "g 4.0" in second


def test_history_is_openmetrics_in_series_order_with_scrape_labels() -> None:
    fleet = _fleet(services=2)
    t0 = START.timestamp()
    times = [t0 - 30, t0 - 15, t0]
    buf = io.StringIO()
    n = write_backfill(buf, fleet, list(reversed(times)), instance="127.0.0.1:9", job="j")
    lines = buf.getvalue().splitlines()
    assert lines[-1] == "# EOF" and n == len(lines) - 1 == 3 * len(fleet.samples())
    seen_families: list[str] = []
    last_time: dict[str, float] = {}
    for line in lines[:-1]:
        series, value, stamp = line.rsplit(" ", 2)
        assert series.endswith(',job="j",instance="127.0.0.1:9"}')
        family = family_of(series.split("{")[0])[0]
        if not seen_families or seen_families[-1] != family:
            assert family not in seen_families, f"family {family} split"
            seen_families.append(family)
        assert float(stamp) > last_time.get(series, -1.0)  # each series in time order
        last_time[series] = float(stamp)
        float(value)
    # The values are the fleet's at each instant.
    util = [line for line in lines if line.startswith("DCGM_FI_DEV_GPU_UTIL{") and line.endswith(f" {t0:.3f}")]
    expected = [v for name, _, v in fleet.telemetry.samples(t0) if name == "DCGM_FI_DEV_GPU_UTIL"]
    assert [float(x.split(" ")[-2]) for x in util] == expected


def test_history_include_filters_metric_names() -> None:
    buf = io.StringIO()
    write_history(buf, lambda t: [("a", {}, 1.0), ("b", {}, 2.0)], [1.0], include=lambda name: name == "b")
    assert buf.getvalue() == "b 2.0 1.000\n# EOF\n"


def test_history_times_are_tick_aligned() -> None:
    times = history_times(1000.0, 60.0, 15.0)
    assert times == [945.0, 960.0, 975.0, 990.0]
    with pytest.raises(ValueError, match="step"):
        history_times(1000.0, 60.0, 0.0)


def test_scrape_config_honours_labels() -> None:
    cfg = yaml.safe_load(scrape_config("127.0.0.1:9400", job="x", interval="1s"))
    job = cfg["scrape_configs"][0]
    assert job == {"job_name": "x", "honor_labels": True, "scrape_interval": "1s",
                   "static_configs": [{"targets": ["127.0.0.1:9400"]}]}  # fmt: skip


# ------------------------------------------------------------------------------------------ metrics server
def test_render_is_cached_for_the_ttl_and_stamped_with_its_instant() -> None:
    ticks = iter([0.0, 0.4, 0.9, 1.0, 1.2])
    clock = {"now": START}
    fleet = SimulatedFleet(default_config(), seed=4, services=2, start=START, clock=lambda: clock["now"])
    server = MetricsServer(fleet, cache_ttl=1.0, clock=lambda: next(ticks))
    first = server.render()
    clock["now"] = START + timedelta(seconds=30)
    assert server.render() is first and server.render() is first  # 0.4 s, 0.9 s: cached
    fresh = server.render()  # 1.0 s: recomputed, for the new instant
    assert fresh != first and server.renders == 2
    stamp = int((START + timedelta(seconds=30)).timestamp() * 1000)
    assert fresh.decode().splitlines()[2].endswith(f" {stamp}")


@pytest.fixture
def running() -> Iterator[MetricsServer]:
    server = MetricsServer(_fleet(services=1), port=0).start()
    try:
        yield server
    finally:
        server.stop()


def test_server_answers_metrics_and_404(running: MetricsServer) -> None:
    assert running.url == f"http://127.0.0.1:{running.port}/metrics" and running.port > 0
    with urllib.request.urlopen(running.url, timeout=10) as response:
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert response.read() == running.render()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{running.port}/nope", timeout=10)
    assert err.value.code == 404
    err.value.close()


def test_stop_frees_the_port_and_is_idempotent() -> None:
    server = MetricsServer(_fleet(services=1), port=0).start()
    url = server.url
    server.stop()
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_serve_without_metrics_returns_after_loading() -> None:
    loaded: list[Any] = []

    class Writer:
        host = "https://fake"

        def load(self, fleet: Any) -> Any:
            loaded.append(fleet)
            return serve_module.LoadReport(at=fleet.now(), counts={"pods": 1})

    fleet = _fleet(services=1)
    lines: list[str] = []
    report = serve(fleet, writer=Writer(), say=lines.append)  # type: ignore[arg-type]
    assert loaded == [fleet] and report is not None and report.counts == {"pods": 1}
    assert lines == ["mtop sim serve: wrote 1 pods (0 created, 0 replaced) in 0.0 s to https://fake"]


# ------------------------------------------------------------------------------------------------ writer
class FakeResponse:
    def __init__(self, status: int, body: Any = None) -> None:
        self.status = status
        self.reason = {200: "OK", 201: "Created", 404: "Not Found", 409: "Conflict"}.get(status, "Error")
        self._data = json.dumps(body).encode() if body is not None else b""

    def read(self) -> bytes:
        return self._data


class FakeClient:
    """Records every request; answers from a script of ``(method, path suffix) -> [status, ...]``."""

    def __init__(self, script: dict[tuple[str, str], list[int]] | None = None) -> None:
        self.configuration = type("C", (), {"host": "https://127.0.0.1:6443", "api_key": {"authorization": "s3cr3t"}})
        self.script = script or {}
        self.calls: list[tuple[str, str, Any, dict[str, str]]] = []

    def param_serialize(self, *, method: str, resource_path: str, query_params: Any, header_params: dict[str, str],
                        body: Any, auth_settings: Any) -> tuple[Any, ...]:  # fmt: skip
        return method, resource_path, dict(header_params), body

    def call_api(self, method: str, path: str, headers: dict[str, str], body: Any) -> FakeResponse:
        self.calls.append((method, path, body, headers))
        for (m, suffix), statuses in self.script.items():
            if m == method and path.endswith(suffix) and statuses:
                status = statuses.pop(0)
                return FakeResponse(status, {"message": f"scripted {status}"} if status >= 400 else _echo(body))
        return FakeResponse(200 if method != "POST" else 201, _echo(body))

    def close(self) -> None:
        pass


def _echo(body: Any) -> Any:
    out = dict(body) if isinstance(body, dict) else {}
    out.setdefault("metadata", {})
    out["metadata"] = {**out["metadata"], "resourceVersion": "7"}
    return out


def _writer(script: dict[tuple[str, str], list[int]] | None = None) -> tuple[KubeWriter, FakeClient]:
    client = FakeClient(script)
    return KubeWriter(client, workers=2, sleep=lambda s: None), client


def test_pod_is_created_without_server_fields_then_its_status_written() -> None:
    writer, client = _writer()
    pod = _fleet().list_objects("pods")[0]
    assert writer.write_pod(pod) is True
    (m1, p1, b1, h1), (m2, p2, b2, _) = client.calls
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    assert (m1, p1) == ("POST", f"/api/v1/namespaces/{ns}/pods")
    assert "status" not in b1 and not {"uid", "resourceVersion", "creationTimestamp"} & set(b1["metadata"])
    assert b1["metadata"]["labels"].items() >= MANAGED_BY.items()
    assert h1["Content-Type"] == "application/json"
    assert (m2, p2) == ("PUT", f"/api/v1/namespaces/{ns}/pods/{name}/status")
    assert b2["status"] == pod["status"]


def test_existing_pod_with_generate_name_is_replaced_not_duplicated() -> None:
    # The API server answers a create of an existing generateName pod with 500 ServerTimeout, not 409.
    writer, client = _writer({("POST", "/pods"): [500], ("GET", ""): [200]})
    pod = next(p for p in _fleet().list_objects("pods") if "generateName" in p["metadata"])
    assert writer.write_pod(pod) is False
    assert [(m, p.rsplit("/", 1)[-1]) for m, p, _, _ in client.calls] == [
        ("POST", "pods"), ("GET", pod["metadata"]["name"]), ("PUT", pod["metadata"]["name"]), ("PUT", "status"),
    ]  # fmt: skip


def test_pod_whose_spec_changed_is_deleted_and_recreated() -> None:
    writer, client = _writer({("POST", "/pods"): [409], ("PUT", ""): [422]})
    pod = _fleet().list_objects("pods")[0]
    assert writer.write_pod(pod) is True
    methods = [m for m, _, _, _ in client.calls]
    assert methods == ["POST", "PUT", "DELETE", "POST", "PUT"]
    assert client.calls[2][2] == {"gracePeriodSeconds": 0}


def test_service_is_written_with_its_own_version_and_status_with_the_resource_version() -> None:
    writer, client = _writer({("POST", "/llminferenceservices"): [409]})
    svc = next(s for s in _fleet(services=None).list_objects("llminferenceservices")
               if s["apiVersion"].endswith("v1alpha1"))  # fmt: skip
    assert writer.write_service(svc) is False
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    base = f"/apis/serving.kserve.io/v1alpha1/namespaces/{ns}/llminferenceservices"
    assert [(m, p) for m, p, _, _ in client.calls] == [
        ("POST", base), ("GET", f"{base}/{name}"), ("PUT", f"{base}/{name}"), ("PUT", f"{base}/{name}/status"),
    ]  # fmt: skip
    status_body = client.calls[-1][2]
    assert status_body["metadata"]["resourceVersion"] == "7" and status_body["status"] == svc["status"]


def test_transient_errors_are_retried_with_backoff() -> None:
    slept: list[float] = []
    client = FakeClient({("POST", "/api/v1/nodes"): [503, 429]})
    writer = KubeWriter(client, sleep=slept.append)
    node = _fleet().list_objects("nodes")[0]
    assert writer.write_node(node) is True
    assert slept == [0.2, 0.4]
    assert [m for m, _, _, _ in client.calls] == ["POST", "POST", "POST", "PUT"]


def test_a_refused_write_names_the_object_and_never_the_token() -> None:
    writer, _ = _writer({("POST", "/namespaces/production/pods"): [403]})
    pod = next(p for p in _fleet().list_objects("pods") if p["metadata"]["namespace"] == "production")
    with pytest.raises(SourceError) as err:
        writer.write_pod(pod)
    text = str(err.value)
    assert f"create pod production/{pod['metadata']['name']}: HTTP 403 scripted 403" in text
    assert "https://127.0.0.1:6443" in text and "s3cr3t" not in text


def test_an_unreachable_server_is_source_unavailable() -> None:
    from urllib3.exceptions import NewConnectionError

    class Down(FakeClient):
        def call_api(self, *args: Any) -> FakeResponse:
            raise NewConnectionError(None, "refused")  # type: ignore[arg-type]

    writer = KubeWriter(Down(), sleep=lambda s: None)
    with pytest.raises(SourceUnavailable, match="create namespace demo: NewConnectionError"):
        writer.write_namespace({"metadata": {"name": "demo"}})


def test_existing_namespace_gets_the_label_by_merge_patch() -> None:
    writer, client = _writer({("POST", "/api/v1/namespaces"): [409]})
    assert writer.write_namespace({"metadata": {"name": "demo", "uid": "u"}}) is False
    method, path, body, headers = client.calls[-1]
    assert (method, path) == ("PATCH", "/api/v1/namespaces/demo")
    assert headers["Content-Type"] == "application/merge-patch+json" and body == {"metadata": {"labels": MANAGED_BY}}


def test_load_writes_every_object_and_counts_them() -> None:
    writer, client = _writer()
    fleet = _fleet()
    report = writer.load(fleet, install_crd=False, prune=False)
    expected = {k: len(fleet.list_objects(k)) for k in ("namespaces", "nodes", "llminferenceservices", "pods")}
    assert report.counts == expected and report.created == sum(expected.values()) and report.at == START
    posts = [p for m, p, _, _ in client.calls if m == "POST"]
    assert len(posts) == sum(expected.values())


def test_prune_deletes_only_managed_objects_not_in_the_fleet() -> None:
    fleet = _fleet()
    pods = fleet.list_objects("pods")
    keep = pods[0]["metadata"]
    listing = {"items": [{"metadata": {"name": keep["name"], "namespace": keep["namespace"]}},
                         {"metadata": {"name": "old-pod", "namespace": "production"}}], "metadata": {}}  # fmt: skip

    class Listing(FakeClient):
        def call_api(self, method: str, path: str, headers: dict[str, str], body: Any) -> FakeResponse:
            self.calls.append((method, path, body, headers))
            if method == "GET" and path == "/api/v1/pods":
                return FakeResponse(200, listing)
            if method == "GET":
                return FakeResponse(200, {"items": [], "metadata": {}})
            return FakeResponse(200, {})

    client = Listing()
    writer = KubeWriter(client, sleep=lambda s: None)
    assert writer.prune([], pods, []) == 1
    deletes = [(p, b) for m, p, b, _ in client.calls if m == "DELETE"]
    assert deletes == [("/api/v1/namespaces/production/pods/old-pod", {"gracePeriodSeconds": 0})]
    gets = [h for m, _, _, h in client.calls if m == "GET"]
    assert all("PartialObjectMetadataList" in h["Accept"] for h in gets)


def test_sync_rewrites_only_statuses_that_moved() -> None:
    clock = {"now": START}
    fleet = SimulatedFleet(default_config(), seed=4, start=START, clock=lambda: clock["now"])
    writer, client = _writer()
    writer.load(fleet, install_crd=False, prune=False)
    client.calls.clear()
    assert writer.sync_pod_statuses(fleet) == 0 and client.calls == []
    clock["now"] = START + timedelta(minutes=11)
    assert writer.sync_pod_statuses(fleet) == 1  # the crash-looping pod's restart count
    assert client.calls[0][1].endswith("/status")


def test_strip_server_fields_keeps_what_the_client_owns() -> None:
    obj = {
        "apiVersion": "v1",
        "metadata": {"name": "a", "generation": 2, "labels": {"x": "1"}},
        "spec": {},
        "status": {},
    }
    assert strip_server_fields(obj) == {"apiVersion": "v1", "metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {}}


# ------------------------------------------------------------------------------------------------- CRD
def test_crd_serves_both_versions_stores_v1alpha2_and_prunes_nothing() -> None:
    crd = crd_manifest()
    assert crd["metadata"]["name"] == CRD_NAME and crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["shortNames"] == ["llmisvc"] and crd["spec"]["conversion"] == {"strategy": "None"}
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    assert {n: (v["served"], v["storage"]) for n, v in versions.items()} == {
        "v1alpha1": (True, False), "v1alpha2": (True, True)}  # fmt: skip
    for v in versions.values():
        assert v["subresources"] == {"status": {}}
        props = v["schema"]["openAPIV3Schema"]["properties"]
        assert props["spec"]["x-kubernetes-preserve-unknown-fields"] is True
        assert props["status"]["x-kubernetes-preserve-unknown-fields"] is True
        columns = [(c["name"], c["jsonPath"], c.get("priority", 0)) for c in v["additionalPrinterColumns"]]
        assert columns == [  # domain.md section 1.1
            ("URL", ".status.url", 0),
            ("Ready", ".status.conditions[?(@.type=='Ready')].status", 0),
            ("Reason", ".status.conditions[?(@.type=='Ready')].reason", 0),
            ("Age", ".metadata.creationTimestamp", 0),
            ("URLs", ".status.addresses[*].url", 1),
        ]


def test_deploy_copy_is_the_packaged_manifest() -> None:
    deployed = ROOT / "deploy" / "crd" / "llminferenceservice.yaml"
    packaged = ROOT / "mtop" / "simulation" / "llminferenceservice-crd.yaml"
    assert deployed.read_text() == packaged.read_text()


# --------------------------------------------------------------------------------------------- command
def test_sim_command_parses_serve_options() -> None:
    args = build_parser().parse_args(["sim", "serve", "--kubeconfig", "k", "--context", "c", "--metrics-port", "0",
                                      "--seed", "9", "--services", "100", "--once"])  # fmt: skip
    assert (args.kubeconfig, args.context, args.metrics_port, args.seed, args.services, args.once) == (
        "k", "c", 0, 9, 100, True)  # fmt: skip
    assert sim_command.DEFAULT_METRICS_PORT == serve_module.DEFAULT_METRICS_PORT


def test_sim_without_subcommand_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim"]) == 2
    assert capsys.readouterr().out == "usage: mtop sim {serve,reset} ...\n"


def test_a_row_without_its_module_is_a_placeholder(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sim_command, "SUBCOMMANDS", (*sim_command.SUBCOMMANDS, ("frobnicate", "planned")))
    parser = argparse.ArgumentParser()
    sim_command.add_arguments(parser)
    args = parser.parse_args(["frobnicate", "x", "--anything"])
    assert sim_command.run(args, default_config()) == 2
    assert capsys.readouterr().err == "mtop sim frobnicate: not implemented yet\n"


def test_reset_comes_from_its_own_module() -> None:
    from mtop.commands import sim_reset

    parser = argparse.ArgumentParser()
    sim_command.add_arguments(parser)
    assert parser.parse_args(["reset"]).sim_run is sim_reset.run


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--once", "--no-kube"], "--once: --once with --no-kube has nothing to do"),
        (["--services", "-1"], "--services: must be 0 or more, got -1"),
        (["--metrics-port", "70000"], "--metrics-port: not a TCP port: 70000"),
    ],
)
def test_bad_serve_options_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["sim", "serve", *argv]) == 2
    assert capsys.readouterr().err == f"mtop: error: {message}\n"


def test_missing_kubeconfig_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["sim", "serve", "--once", "--kubeconfig", str(missing), "--services", "1"]) == 2
    assert f"cannot load kubeconfig {missing}" in capsys.readouterr().err


def test_run_serve_loads_then_exits_with_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = FakeClient()
    monkeypatch.setattr(KubeWriter, "from_kubeconfig", classmethod(lambda cls, *a, **k: KubeWriter(client)))
    monkeypatch.setattr(KubeWriter, "install_crd", lambda self, *a, **k: None)
    monkeypatch.setattr(KubeWriter, "prune", lambda self, *a: 0)
    args = argparse.Namespace(no_kube=False, once=True, seed=1, services=2, kubeconfig="k", context="c",
                              metrics_port=0, resync=30.0, workers=2)  # fmt: skip
    assert sim_command.run_serve(args, default_config()) == 0
    out = capsys.readouterr().out
    assert out.startswith("mtop sim serve: seed 1, 2 services, ") and "wrote " in out
    assert any(m == "POST" and p.endswith("/pods") for m, p, _, _ in client.calls)


def test_a_listed_pod_is_replaced_without_a_failed_create() -> None:
    writer, client = _writer()
    pod = _fleet().list_objects("pods")[0]
    assert writer.write_pod(pod, known=True) is False
    assert [m for m, _, _, _ in client.calls] == ["PUT", "PUT"]  # spec, then status


def test_a_listed_service_is_replaced_at_its_listed_version_or_the_current_one() -> None:
    svc = _fleet().list_objects("llminferenceservices")[0]
    writer, client = _writer()
    assert writer.write_service(svc, rv="41") is False
    assert [m for m, _, _, _ in client.calls] == ["PUT", "PUT"]
    assert client.calls[0][2]["metadata"]["resourceVersion"] == "41"
    stale, client = _writer({("PUT", f"/{svc['metadata']['name']}"): [409]})
    assert stale.write_service(svc, rv="40") is False
    assert [m for m, _, _, _ in client.calls] == ["PUT", "GET", "PUT", "PUT"]


def test_a_listed_node_that_vanished_is_created() -> None:
    node = _fleet().list_objects("nodes")[0]
    writer, client = _writer({("PUT", f"/nodes/{node['metadata']['name']}"): [404]})
    assert writer.write_node(node, known=True) is True
    assert [m for m, _, _, _ in client.calls] == ["PUT", "POST", "PUT"]
