"""What a model pod's spec holds beyond its LLMInferenceService's template, as a real cluster writes it.

KServe's LLMInferenceService controller renders its vLLM container from a template that adds
environment, probes, a restricted security context and volumes (home, shared memory, model
cache, TLS certificates), and an init container, the storage initializer, that downloads the
model before vLLM starts. Admission then adds the service-account token volume (a projected
``kube-api-access-<5>`` mounted into every container) and the not-ready/unreachable
tolerations. mtop reads none of this; the simulated fleet writes it so that a pod listed from a
real API server has the size and shape of a real one (about 11 KB of JSON with its
``managedFields``), which is what the live benchmark's numbers are about. The values follow
KServe's ``config-llm-template`` as published; they are illustrative, not a copy of any one
release.

>>> from mtop.sources.fleet_spec import DEFAULT_SERVICES
>>> parts = RuntimeParts(DEFAULT_SERVICES[0])
>>> [v["name"] for v in parts.volumes("kube-api-access-abcde")][-1]
'kube-api-access-abcde'
"""

from __future__ import annotations

from typing import Any

from mtop.sources.fleet_spec import ServiceSpec
from mtop.sources.objects import STORAGE_INITIALIZER_IMAGE

__all__ = [
    "DEFAULT_TOLERATIONS",
    "RuntimeParts",
    "token_mount",
    "token_volume",
    "token_volume_name",
]

DEFAULT_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
)
"""Added to every pod by the DefaultTolerationSeconds admission plugin."""

_TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the apiserver's utilrand alphabet: no vowels, no 0/1/3


def token_volume_name(digest: bytes) -> str:
    """The service-account token volume's name, ``kube-api-access-`` and 5 characters from ``digest``.

    >>> token_volume_name(bytes(range(5)))
    'kube-api-access-bcdfg'
    """
    return "kube-api-access-" + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:5])


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def _probe(initial_delay: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/health", "port": 8000, "scheme": "HTTPS"},
        "initialDelaySeconds": initial_delay,
        "timeoutSeconds": timeout,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": failures,
    }


_RESTRICTED = {
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": False,
    "readOnlyRootFilesystem": False,
    "allowPrivilegeEscalation": False,
    "seccompProfile": {"type": "RuntimeDefault"},
}
_VLLM_MOUNTS = (
    {"name": "home", "mountPath": "/home"},
    {"name": "dshm", "mountPath": "/dev/shm"},
    {"name": "model-cache", "mountPath": "/models"},
    {"name": "tls-certs", "readOnly": True, "mountPath": "/etc/ssl/certs"},
    {"name": "kserve-provision-location", "readOnly": True, "mountPath": "/mnt/models"},
)
_RUNTIME_DEFAULTS = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "FallbackToLogsOnError",
    "imagePullPolicy": "IfNotPresent",
}


class RuntimeParts:
    """The runtime additions one service's model pods share (built once), and the per-pod token mounts.

    >>> from mtop.sources.fleet_spec import DEFAULT_SERVICES
    >>> parts = RuntimeParts(DEFAULT_SERVICES[0])
    >>> main = parts.mount([parts.render({"name": "main", "image": "i"})], "kube-api-access-abcde")[0]
    >>> main["readinessProbe"]["httpGet"]["path"], main["volumeMounts"][-1]["name"]
    ('/health', 'kube-api-access-abcde')
    """

    def __init__(self, spec: ServiceSpec) -> None:
        self._env = [
            {"name": "HOME", "value": "/home"},
            {"name": "VLLM_LOGGING_LEVEL", "value": "INFO"},
            {"name": "HF_HUB_CACHE", "value": "/models"},
            _field_env("POD_NAME", "metadata.name"),
            _field_env("POD_NAMESPACE", "metadata.namespace"),
            _field_env("POD_IP", "status.podIP"),
        ]
        self._init = {
            "name": "storage-initializer",
            "image": STORAGE_INITIALIZER_IMAGE,
            "args": [spec.model_uri, "/mnt/models"],
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "100Mi"}},
            **_RUNTIME_DEFAULTS,
            "terminationMessagePolicy": "File",
        }
        self._volumes = [
            {"name": "home", "emptyDir": {}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
            {"name": "model-cache", "emptyDir": {}},
            {
                "name": "tls-certs",
                "secret": {"secretName": f"{spec.name}-kserve-self-signed-certs", "defaultMode": 0o644},
            },
            {"name": "kserve-provision-location", "emptyDir": {}},
        ]

    def render(self, main: dict[str, Any]) -> dict[str, Any]:
        """``main`` (the template's vLLM container) as the controller renders it: env, probes, security."""
        env = self._env + main["env"] if "env" in main else self._env
        return {
            **main,
            "env": env,
            "livenessProbe": _probe(120, 10, 3),
            "readinessProbe": _probe(10, 5, 60),
            "securityContext": _RESTRICTED,
            **_RUNTIME_DEFAULTS,
        }

    @staticmethod
    def mount(rendered: list[dict[str, Any]], token: str) -> list[dict[str, Any]]:
        """Rendered vLLM containers of one pod, each mounting its volumes and the pod's token volume."""
        return [{**c, "volumeMounts": [*_VLLM_MOUNTS, token_mount(token)]} for c in rendered]

    def init_containers(self, token: str) -> list[dict[str, Any]]:
        """The storage initializer that downloads ``spec.model.uri`` into the provision location."""
        return [{**self._init, "volumeMounts": [_PROVISION_MOUNT, token_mount(token)]}]

    def volumes(self, token: str) -> list[dict[str, Any]]:
        """The pod's volumes, the service-account token's last."""
        return [*self._volumes, token_volume(token)]


_PROVISION_MOUNT = {"name": "kserve-provision-location", "mountPath": "/mnt/models"}


_TOKEN_SOURCES = [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {
        "downwardAPI": {
            "items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]
        }
    },
]


def token_volume(name: str) -> dict[str, Any]:
    """The projected service-account token volume the ServiceAccount admission plugin adds to a pod.

    >>> token_volume("kube-api-access-bcdfg")["projected"]["sources"][0]["serviceAccountToken"]["path"]
    'token'
    """
    return {"name": name, "projected": {"sources": _TOKEN_SOURCES, "defaultMode": 0o644}}


def token_mount(name: str) -> dict[str, Any]:
    """The token volume's mount, added to every container.

    >>> token_mount("kube-api-access-bcdfg")["mountPath"]
    '/var/run/secrets/kubernetes.io/serviceaccount'
    """
    return {"name": name, "readOnly": True, "mountPath": _TOKEN_MOUNT}
