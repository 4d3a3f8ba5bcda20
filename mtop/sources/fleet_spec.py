"""What the simulated fleet runs: the LLMInferenceServices, as plain records before any dict is built.

The default fleet is the 14 rich models of the earlier mtop (same namespaces, GPUs per replica,
replicas and readiness), plus a P/D-disaggregated service and a multi-node (LeaderWorkerSet) one in
``llm-d-prod``. ``services=N`` takes the first N, or adds generated services (open models with a
numeric suffix over about N/20 namespaces) averaging ~10 pods each. Everything seeded comes from
streams keyed by ``(seed, purpose)``, so growing the fleet never changes the services it already had.

>>> [s.name for s in build_services(0, 3)]
['claude-3-haiku', 'claude-3-opus', 'codellama-34b-instruct']
>>> len(build_services(0, None)), len(build_services(0, 40))
(16, 40)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["DEFAULT_SERVICES", "ServiceSpec", "build_services", "dns_label", "rng_for"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns_label(name: str) -> bool:
    """Whether ``name`` is a valid DNS-1123 label (what Kubernetes requires of these names).

    >>> dns_label("deepseek-r1-distill-qwen-1-5b"), dns_label("deepseek-r1-distill-qwen-1_5b")
    (True, False)
    """
    return len(name) <= 63 and bool(_DNS_LABEL.match(name))


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """An independent random stream for one purpose of one seed.

    >>> float(rng_for(1, "x").random()) == float(rng_for(1, "x").random())
    True
    """
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, *purpose.encode()])


@dataclass(frozen=True)
class ServiceSpec:
    """One LLMInferenceService as the simulator plans it (topology only; load lives in ``workload``).

    >>> pd = DEFAULT_SERVICES[14]
    >>> pd.name, pd.role, pd.multinode
    ('qwen2-7b-instruct-pd', 'decode', False)
    """

    name: str
    namespace: str
    model_name: str
    """``spec.model.name``: the OpenAI model name and vLLM's ``model_name`` label."""
    model_uri: str
    hardware: str | None
    """Key of ``hardware.HARDWARE`` pinned by the template's node selector; ``None`` for a CPU model."""
    gpus_per_pod: int
    replicas: int
    """Decode (main) replicas; under ``scaling`` the count the autoscaler currently runs."""
    params_b: float
    """Active parameters in billions: drives capacity and latency."""
    api_version: str = "v1alpha2"
    scaling: tuple[int, int] | None = None
    """``(minReplicas, maxReplicas)`` when the service autoscales instead of fixing ``replicas``."""
    prefill_replicas: int = 0
    pods_per_replica: int = 1
    """Pods of one replica: 1, or ``data / dataLocal`` for a multi-node (LeaderWorkerSet) service."""
    parallelism: Mapping[str, int | bool] = field(default_factory=dict)
    criticality: str | None = None
    scheduler: bool = True
    """Whether ``spec.router.scheduler`` is set, so an endpoint-picker (EPP) pod runs."""
    pending: bool = False
    """Planned not to fit: its pool is sized without it and it is scheduled last."""
    age_days: float = 30.0
    generation: int = 1
    cpu: str = "4"
    memory: str = "32Gi"

    @property
    def multinode(self) -> bool:
        """Whether the service runs as a LeaderWorkerSet (a ``worker`` PodSpec is present).

        >>> DEFAULT_SERVICES[-1].multinode
        True
        """
        return self.pods_per_replica > 1

    @property
    def role(self) -> str:
        """``llm-d.ai/role`` of its main pods: ``decode`` with a prefill section, else ``both``.

        >>> DEFAULT_SERVICES[0].role
        'both'
        """
        return "decode" if self.prefill_replicas > 0 else "both"


def _svc(
    name: str, ns: str, model: str, uri: str, hw: str | None, gpus: int, replicas: int, params: float, **kw: Any
) -> ServiceSpec:
    kw.setdefault("parallelism", {"tensor": gpus} if gpus else {})
    return ServiceSpec(name, ns, model, uri, hw, gpus, replicas, params, **kw)


_MULTINODE = {"data": 16, "dataLocal": 8, "tensor": 1, "expert": True}

DEFAULT_SERVICES: tuple[ServiceSpec, ...] = (
    _svc("claude-3-haiku", "production", "claude-3-haiku-20240307", "s3://anthropic-models/claude-3-haiku",
         "A100", 1, 3, 20, scaling=(2, 10), memory="16Gi"),
    _svc("claude-3-opus", "production", "claude-3-opus-20240229", "s3://anthropic-models/claude-3-opus",
         "H100", 8, 2, 175, pending=True, memory="200Gi"),
    _svc("codellama-34b-instruct", "development", "codellama/CodeLlama-34b-Instruct-hf",
         "hf://codellama/CodeLlama-34b-Instruct-hf", "A100", 4, 2, 34, memory="72Gi"),
    _svc("deepseek-r1-distill-llama-8b", "production", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
         "hf://deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "L40S", 1, 6, 8, memory="20Gi"),
    _svc("deepseek-r1-distill-qwen-1-5b", "development", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
         "hf://deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "L4", 1, 10, 1.5, memory="6Gi"),
    _svc("gemini-pro", "production", "gemini-1.0-pro", "s3://google-models/gemini-pro", "H100", 2, 5, 60,
         api_version="v1alpha1", criticality="Critical", memory="24Gi"),
    _svc("gpt-4-turbo", "production", "gpt-4-turbo-2024-04-09", "s3://openai-models/gpt-4-turbo", "H100", 4, 8, 220),
    _svc("granite-3-2b-instruct", "staging", "ibm-granite/granite-3.0-2b-instruct",
         "hf://ibm-granite/granite-3.0-2b-instruct", None, 0, 15, 2, api_version="v1alpha1",
         criticality="Sheddable", cpu="2", memory="4Gi"),
    _svc("granite-3-8b-instruct", "production", "ibm-granite/granite-3.0-8b-instruct",
         "hf://ibm-granite/granite-3.0-8b-instruct", "L4", 1, 8, 8, memory="18Gi"),
    _svc("llama-3-70b-instruct", "staging", "meta-llama/Meta-Llama-3-70B-Instruct",
         "hf://meta-llama/Meta-Llama-3-70B-Instruct", "H200", 8, 4, 70, pending=True, memory="160Gi"),
    _svc("llama-3-8b-instruct", "production", "meta-llama/Meta-Llama-3-8B-Instruct",
         "hf://meta-llama/Meta-Llama-3-8B-Instruct", "A100", 1, 12, 8, memory="20Gi"),
    _svc("mixtral-8x7b-instruct", "production", "mistralai/Mixtral-8x7B-Instruct-v0.1",
         "hf://mistralai/Mixtral-8x7B-Instruct-v0.1", "H100", 2, 6, 13, memory="48Gi"),
    _svc("phi-3-medium-instruct", "staging", "microsoft/Phi-3-medium-4k-instruct",
         "hf://microsoft/Phi-3-medium-4k-instruct", "L40S", 1, 8, 14, memory="16Gi"),
    _svc("stable-code-instruct-3b", "development", "stabilityai/stable-code-instruct-3b",
         "hf://stabilityai/stable-code-instruct-3b", "L40S", 1, 6, 3, api_version="v1alpha1",
         criticality="Standard", memory="8Gi"),
    _svc("qwen2-7b-instruct-pd", "llm-d-prod", "Qwen/Qwen2.5-7B-Instruct", "hf://Qwen/Qwen2.5-7B-Instruct",
         "L40S", 1, 2, 7, prefill_replicas=2),
    _svc("deepseek-v3", "llm-d-prod", "deepseek-ai/DeepSeek-V3", "hf://deepseek-ai/DeepSeek-V3", "H200", 8, 1, 37,
         pods_per_replica=2, parallelism=_MULTINODE, memory="1000Gi", cpu="64"),
)  # fmt: skip
"""The hand-planned default fleet, in this order (``services=N`` below 16 takes a prefix)."""

# Generated services: (base name, HF model id, active params (B), [(hardware, GPUs per pod)], weight).
_OPEN_MODELS: tuple[tuple[str, str, float, tuple[tuple[str, int], ...], int], ...] = (
    ("llama-3-1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", 8, (("L40S", 1), ("A100", 1), ("L4", 1)), 10),
    ("llama-3-2-3b-instruct", "meta-llama/Llama-3.2-3B-Instruct", 3, (("L4", 1),), 5),
    ("llama-3-1-70b-instruct", "meta-llama/Llama-3.1-70B-Instruct", 70, (("H100", 4), ("H200", 2), ("A100", 4)), 4),
    ("qwen2-5-7b-instruct", "Qwen/Qwen2.5-7B-Instruct", 7, (("L40S", 1), ("L4", 1)), 8),
    ("qwen2-5-32b-instruct", "Qwen/Qwen2.5-32B-Instruct", 32, (("A100", 2), ("H100", 1)), 3),
    ("qwen2-5-coder-14b-instruct", "Qwen/Qwen2.5-Coder-14B-Instruct", 14, (("L40S", 1), ("A100", 1)), 4),
    ("qwen2-5-72b-instruct", "Qwen/Qwen2.5-72B-Instruct", 72, (("H100", 4), ("H200", 2)), 2),
    ("mistral-7b-instruct-v0-3", "mistralai/Mistral-7B-Instruct-v0.3", 7, (("L4", 1), ("L40S", 1)), 6),
    ("mixtral-8x22b-instruct", "mistralai/Mixtral-8x22B-Instruct-v0.1", 39, (("H100", 4), ("H200", 4)), 2),
    ("gemma-2-9b-it", "google/gemma-2-9b-it", 9, (("L40S", 1), ("L4", 1)), 5),
    ("gemma-2-27b-it", "google/gemma-2-27b-it", 27, (("A100", 1), ("H100", 1)), 3),
    ("phi-3-5-mini-instruct", "microsoft/Phi-3.5-mini-instruct", 3.8, (("L4", 1),), 5),
    ("granite-3-1-8b-instruct", "ibm-granite/granite-3.1-8b-instruct", 8, (("L4", 1), ("L40S", 1)), 5),
    ("deepseek-r1-distill-qwen-14b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", 14, (("L40S", 1), ("A100", 1)), 3),
    ("deepseek-r1-distill-llama-70b", "deepseek-ai/DeepSeek-R1-Distill-Llama-70B", 70, (("H100", 4), ("H200", 2)), 2),
    ("falcon3-10b-instruct", "tiiuae/Falcon3-10B-Instruct", 10, (("L40S", 1),), 2),
    ("starcoder2-15b-instruct", "bigcode/starcoder2-15b-instruct-v0.1", 15, (("A100", 1), ("L40S", 1)), 2),
    ("olmo-2-13b-instruct", "allenai/OLMo-2-1124-13B-Instruct", 13, (("L40S", 1), ("A100", 1)), 2),
)
_TEAMS = ("search", "assistant", "support", "ads", "research", "platform", "fraud", "docs", "code", "voice")


def build_services(seed: int, services: int | None) -> list[ServiceSpec]:
    """The fleet's services for ``seed``: the default 16, a prefix of them, or more (generated).

    >>> s = build_services(1, 25)
    >>> len(s), all(dns_label(x.name) and dns_label(x.namespace) for x in s)
    (25, True)
    """
    if services is not None and services < 0:
        raise ValueError(f"services must be >= 0, got {services}")
    count = len(DEFAULT_SERVICES) if services is None else services
    rng = rng_for(seed, "default-services")
    out = []
    for spec in DEFAULT_SERVICES[:count]:
        # Not-ready services were created minutes to hours ago (stuck Pending); the rest days to months.
        age = float(rng.uniform(0.02, 0.2)) if spec.pending else float(rng.uniform(3.0, 120.0))
        out.append(replace(spec, age_days=round(age, 4), generation=int(rng.integers(1, 6))))
    out.extend(_generated(seed, count - len(out)))
    return out


def _generated(seed: int, n: int) -> list[ServiceSpec]:
    if n <= 0:
        return []
    rng = rng_for(seed, "generated-services")
    weights = np.array([m[4] for m in _OPEN_MODELS], dtype=np.float64)
    picks = rng.choice(len(_OPEN_MODELS), size=n, p=weights / weights.sum())
    n_ns = max(1, round((n + len(DEFAULT_SERVICES)) / 20))
    namespaces = [f"{_TEAMS[i % len(_TEAMS)]}-{i // len(_TEAMS) + 1:02d}" for i in range(n_ns)]
    ns_of = rng.integers(0, n_ns, size=n)
    draws = rng.random((n, 6))
    replicas = rng.integers(2, 19, size=n)
    ages = rng.uniform(1.0, 200.0, size=n)
    gens = rng.integers(1, 8, size=n)
    out = []
    for i in range(n):
        base, model, params, options, _ = _OPEN_MODELS[int(picks[i])]
        hw, gpus = options[int(draws[i, 0] * len(options))]
        d = draws[i]
        pd_split = bool(d[1] < 0.08)
        reps = int(replicas[i])
        out.append(
            ServiceSpec(
                name=f"{base}-{i + 1:04d}",
                namespace=namespaces[int(ns_of[i])],
                model_name=model,
                model_uri=f"hf://{model}",
                hardware=hw,
                gpus_per_pod=gpus,
                replicas=reps,
                params_b=params,
                api_version="v1alpha1" if d[2] < 0.1 else "v1alpha2",
                scaling=(max(1, reps - 2), reps + 6) if d[3] < 0.1 else None,
                prefill_replicas=max(1, reps // 2) if pd_split else 0,
                parallelism={"tensor": gpus},
                criticality=("Critical", "Standard", "Sheddable")[int(d[4] * 3)] if d[2] < 0.1 else None,
                scheduler=bool(d[5] < 0.9),
                age_days=round(float(ages[i]), 4),
                generation=int(gens[i]),
                memory=f"{max(8, int(params * 2.5))}Gi",
            )
        )
    return out
