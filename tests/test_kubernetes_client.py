"""AsyncMTop is the guide's KubernetesClient: get, create, delete and logs through one fleet."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mtop.async_cli import AsyncMTop
from mtop.commands.ops import NotFoundError
from mtop.interfaces import KubernetesClient

NEW = {
    "apiVersion": "serving.kserve.io/v1alpha2",
    "kind": "LLMInferenceService",
    "metadata": {"name": "new-model", "namespace": "staging"},
    "spec": {"model": {"uri": "hf://org/new-model"}},
}


def test_async_mtop_satisfies_the_protocol() -> None:
    assert isinstance(AsyncMTop(workspace=False), KubernetesClient)


def test_create_get_delete_round_trip(tmp_path: Path) -> None:
    api = AsyncMTop(workspace=str(tmp_path), clock="frozen")

    async def scenario() -> tuple[str, str, bool, bool]:
        stored = await api.create_resource(NEW)
        got = await api.get_resource("LLMInferenceService", "new-model", "staging")
        first = await api.delete_resource("llminferenceservices", "new-model", "staging")
        second = await api.delete_resource("llminferenceservices", "new-model", "staging")
        return stored["metadata"]["name"], got["spec"]["model"]["uri"], first, second

    assert asyncio.run(scenario()) == ("new-model", "hf://org/new-model", True, False)
    with pytest.raises(NotFoundError):
        asyncio.run(api.get_resource("LLMInferenceService", "new-model", "staging"))


def test_other_kinds_are_refused_before_any_call() -> None:
    api = AsyncMTop(workspace=False)
    with pytest.raises(ValueError, match="'Deployment'"):
        asyncio.run(api.get_resource("Deployment", "x"))
    with pytest.raises(ValueError, match="'ConfigMap'"):
        asyncio.run(api.create_resource({"kind": "ConfigMap", "metadata": {"name": "x"}}))


def test_get_logs_reads_one_pod_and_names_a_missing_one() -> None:
    api = AsyncMTop(workspace=False, clock="frozen")
    pod = asyncio.run(api.logs("gemini-pro"))[0].pod
    text = asyncio.run(api.get_logs(pod, tail=3))
    assert len(text.splitlines()) == 3 and "Avg generation throughput" in text
    with pytest.raises(NotFoundError, match="pod 'no-such-pod' not found"):
        asyncio.run(api.get_logs("no-such-pod"))
