"""The mock-mode overlay: atomic, locked writes in the workspace, and how it flows through the simulated source."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mtop
from mtop.context import Fleet, connect
from mtop.errors import SourceError
from mtop.sources.overlay import OVERLAY_FILE, OverlayState, OverlayStore, workspace_dir

START = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
NEW = {
    "apiVersion": "serving.kserve.io/v1alpha2",
    "kind": "LLMInferenceService",
    "metadata": {"name": "fresh", "namespace": "staging", "labels": {"team": "a"}},
    "spec": {
        "model": {"uri": "hf://org/fresh"},
        "replicas": 3,
        "template": {"containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]},
        "somethingNew": {"kept": True},
    },
    "status": {"ignored": "the server sets status"},
}


def _fleet(workspace: Path) -> Fleet:
    return connect(seed=0, start=START, clock="frozen", workspace=str(workspace), env={})


# --- the store ------------------------------------------------------------------------------------------------


def test_workspace_defaults_and_override() -> None:
    assert workspace_dir({"MTOP_WORKSPACE": "~/x"}) == Path.home() / "x"
    assert workspace_dir({}) == Path.home() / ".local" / "state" / "mtop"


def test_a_refused_commit_writes_nothing_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = OverlayStore(tmp_path / OVERLAY_FILE)
    store.commit(lambda s: s.with_deleted("a", "b"))
    before = store.path.read_bytes()

    def refuse() -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        store.commit(lambda s: s.with_deleted("a", "c"), before_commit=refuse)
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [OVERLAY_FILE, OVERLAY_FILE + ".lock"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = OverlayStore(tmp_path / OVERLAY_FILE)
    store.commit(lambda s: s.with_deleted("a", "b"))
    before = store.path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError):
        store.commit(lambda s: s.with_deleted("x", "y"))
    assert store.path.read_bytes() == before and len(list(tmp_path.iterdir())) == 2


def test_concurrent_commits_lose_nothing(tmp_path: Path) -> None:
    # Eight writers, each through its own store (as separate processes would be), released together.
    path = tmp_path / OVERLAY_FILE
    barrier = threading.Barrier(8, timeout=30)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            barrier.wait()
            OverlayStore(path).commit(lambda s: s.with_deleted("ns", f"svc-{i}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    state = OverlayStore(path).state()
    assert state.deleted == {("ns", f"svc-{i}") for i in range(8)} and state.revision == 8


def test_state_follows_another_writer(tmp_path: Path) -> None:
    reader, writer = OverlayStore(tmp_path / OVERLAY_FILE), OverlayStore(tmp_path / OVERLAY_FILE)
    assert reader.state().empty
    writer.commit(lambda s: s.with_deleted("a", "b"))
    assert reader.state().deleted == {("a", "b")}
    writer.reset()
    assert reader.state().empty


@pytest.mark.parametrize("content", ["{not json", '{"version": 99}', '{"version": 1, "deleted": [{"nope": 1}]}'])
def test_a_corrupt_overlay_is_an_error_naming_the_file(tmp_path: Path, content: str) -> None:
    (tmp_path / OVERLAY_FILE).write_text(content)
    with pytest.raises(SourceError, match=rf"{tmp_path / OVERLAY_FILE}.*mtop sim reset"):
        _fleet(tmp_path).source.list_objects("llminferenceservices")


def test_round_trip_of_the_file_format() -> None:
    state = OverlayState().with_created({"metadata": {"namespace": "a", "name": "z"}}).with_deleted("b", "y")
    assert OverlayState.from_json(json.loads(json.dumps(state.to_json()))) == state


# --- through the simulated source -----------------------------------------------------------------------------


def test_no_overlay_file_means_the_seeded_fleet(tmp_path: Path) -> None:
    plain = connect(seed=0, start=START, clock="frozen", workspace=False, env={})
    overlaid = _fleet(tmp_path)
    assert overlaid.source.list_objects("pods") == plain.source.list_objects("pods")
    assert overlaid.source.query("request_rate") == plain.source.query("request_rate")
    assert not (tmp_path / OVERLAY_FILE).exists()  # reading never creates the file


def test_a_deleted_service_disappears_with_its_pods_and_metrics(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path)
    src: Any = fleet.source
    pods = [p["metadata"]["name"] for p in src.list_objects("pods", ["production"])
            if p["metadata"]["labels"].get("app.kubernetes.io/name") == "gpt-4-turbo"]  # fmt: skip
    held = [lab for lab in src.query("gpu_utilization")["result"] if lab["metric"].get("pod") in pods]
    allocated = int(mtop.nodes(fleet)["gpus_allocated"].sum())
    assert pods and held
    src.delete_objects("llminferenceservices", [("production", "gpt-4-turbo")])

    assert "gpt-4-turbo" not in {o["metadata"]["name"] for o in src.list_objects("llminferenceservices")}
    assert not set(pods) & {p["metadata"]["name"] for p in src.list_objects("pods")}
    for query in ("request_rate", "ttft_quantile", "queue_depth", "kv_cache_usage"):
        assert all(r["metric"]["service"] != "gpt-4-turbo" for r in src.query(query)["result"]), query
    # The GPUs it held are still there, now idle and unallocated.
    uuids = {r["metric"]["UUID"] for r in held}
    freed = [r for r in src.query("gpu_utilization")["result"] if r["metric"]["UUID"] in uuids]
    assert len(freed) == len(held) and all("pod" not in r["metric"] and float(r["value"][1]) == 0 for r in freed)
    assert int(mtop.nodes(fleet)["gpus_allocated"].sum()) == allocated - len(held)
    # Raw series too (what `mtop sim serve` exposes).
    names = {(m, lab.get("pod")) for m, lab, _ in src.samples()}
    assert not any(pod in pods for _, pod in names)
    fb = {lab["UUID"]: v for m, lab, v in src.samples() if m == "DCGM_FI_DEV_FB_USED"}
    assert all(fb[u] == 300.0 for u in uuids)
    # And it comes back when the overlay is reset.
    assert src.reset_overlay() is True
    assert "gpt-4-turbo" in {o["metadata"]["name"] for o in src.list_objects("llminferenceservices")}


def test_range_queries_drop_a_deleted_service_too(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path)
    fleet.source.delete_objects("llminferenceservices", [("staging", "phi-3-medium-instruct")])  # type: ignore[attr-defined]
    history = mtop.slo_history(fleet, window="10m", step="5m")
    assert len(history) and "phi-3-medium-instruct" not in set(history["service"])


def test_a_created_service_is_listed_not_ready_with_no_pods(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path)
    src: Any = fleet.source
    [stored] = src.create_objects("llminferenceservices", [NEW])
    meta = stored["metadata"]
    assert meta["creationTimestamp"] == "2026-11-28T15:00:00Z" and meta["generation"] == 1 and meta["uid"]
    assert stored["spec"]["somethingNew"] == {"kept": True}  # unknown fields preserved
    assert stored["status"]["conditions"][-1] == {
        "type": "Ready", "status": "False", "lastTransitionTime": "2026-11-28T15:00:00Z",
        "reason": "Progressing", "message": stored["status"]["conditions"][-1]["message"],
    }  # fmt: skip
    svc = mtop.services(fleet, ["staging"]).set_index("name").loc["fresh"]
    assert (bool(svc["ready"]), int(svc["replicas"]), int(svc["ready_replicas"]), int(svc["gpus"])) == (False, 3, 0, 6)
    assert "fresh" not in set(mtop.pods(fleet)["service"].dropna())
    assert np.isnan(mtop.slo_metrics(fleet, ["staging"]).set_index("service").loc["fresh", "ttft_p95_ms"])
    assert mtop.gpu_costs(fleet, ["staging"]).set_index("service").loc["fresh", "hourly_cost"] == 0
    # Listing order stays the API server's: by namespace, then name.
    keys = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in src.list_objects("llminferenceservices")]
    assert keys == sorted(keys)


def test_create_conflicts_and_unknown_namespaces_change_nothing(tmp_path: Path) -> None:
    src: Any = _fleet(tmp_path).source
    taken = {**NEW, "metadata": {"name": "gemini-pro", "namespace": "production"}}
    elsewhere = {**NEW, "metadata": {"name": "fresh", "namespace": "no-such-ns"}}
    for bad in (taken, elsewhere):
        with pytest.raises(SourceError):
            src.create_objects("llminferenceservices", [NEW, bad])
        assert not (tmp_path / OVERLAY_FILE).exists()
    # A deleted seeded service's name can be created again; deleting that removes the new one only.
    src.delete_objects("llminferenceservices", [("production", "gemini-pro")])
    src.create_objects("llminferenceservices", [taken])
    names = [o["metadata"]["name"] for o in src.list_objects("llminferenceservices", ["production"])]
    assert names.count("gemini-pro") == 1
    src.delete_objects("llminferenceservices", [("production", "gemini-pro")])
    assert "gemini-pro" not in {o["metadata"]["name"] for o in src.list_objects("llminferenceservices")}
    with pytest.raises(SourceError, match='"gemini-pro" not found'):
        src.delete_objects("llminferenceservices", [("production", "gemini-pro")])


def test_two_fleets_share_the_workspace(tmp_path: Path) -> None:
    first, second = _fleet(tmp_path), _fleet(tmp_path)
    first.source.create_objects("llminferenceservices", [NEW])  # type: ignore[attr-defined]
    assert "fresh" in {o["metadata"]["name"] for o in second.source.list_objects("llminferenceservices")}
