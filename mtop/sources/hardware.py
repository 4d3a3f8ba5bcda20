"""The machines of the simulated fleet: GPU node types with their real labels, sizes and power.

Values are what the real systems report: GFD ``nvidia.com/gpu.product`` and ``.memory`` (MiB), DCGM
``modelName``, AWS instance types and their GPU counts (``reference/domain.md`` sections 4-5).
Idle and peak (TDP) power are typical board figures, used only to shape ``DCGM_FI_DEV_POWER_USAGE``.

>>> HARDWARE["H100"].instance_type, HARDWARE["H100"].gpus_per_node
('p5.48xlarge', 8)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CPU_NODE", "HARDWARE", "CpuNodeType", "GPUHardware"]


@dataclass(frozen=True)
class GPUHardware:
    """One GPU node type: the GPU model and the instance that carries it.

    >>> HARDWARE["L4"].product, HARDWARE["L4"].memory_mib
    ('NVIDIA-L4', 23034)
    """

    key: str
    product: str
    """GFD label ``nvidia.com/gpu.product``."""
    dcgm_name: str
    """DCGM ``modelName`` label."""
    memory_mib: int
    family: str
    compute: tuple[int, int]
    instance_type: str
    gpus_per_node: int
    cpu: int
    memory_gi: int
    idle_w: float
    tdp_w: float
    driver: tuple[int, int, int] = (550, 54, 15)
    cuda_runtime: tuple[int, int] = (12, 4)


@dataclass(frozen=True)
class CpuNodeType:
    """The general-purpose node type for CPU-only pods (endpoint pickers, CPU models).

    >>> CPU_NODE.instance_type
    'm7i.8xlarge'
    """

    instance_type: str
    cpu: int
    memory_gi: int


HARDWARE: dict[str, GPUHardware] = {
    h.key: h
    for h in (
        GPUHardware("H100", "NVIDIA-H100-80GB-HBM3", "NVIDIA H100 80GB HBM3", 81559, "hopper", (9, 0),
                    "p5.48xlarge", 8, 192, 2048, 90.0, 700.0),
        GPUHardware("H200", "NVIDIA-H200", "NVIDIA H200", 143771, "hopper", (9, 0),
                    "p5e.48xlarge", 8, 192, 2048, 100.0, 700.0),
        GPUHardware("A100", "NVIDIA-A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", 81920, "ampere", (8, 0),
                    "p4de.24xlarge", 8, 96, 1152, 60.0, 400.0),
        GPUHardware("L40S", "NVIDIA-L40S", "NVIDIA L40S", 46068, "ada-lovelace", (8, 9),
                    "g6e.12xlarge", 4, 48, 384, 35.0, 350.0),
        GPUHardware("L4", "NVIDIA-L4", "NVIDIA L4", 23034, "ada-lovelace", (8, 9),
                    "g6.12xlarge", 4, 48, 192, 16.0, 72.0),
    )
}  # fmt: skip
"""GPU node types by short key (the keys the fleet spec uses; config keys come from ``match_product``)."""

CPU_NODE = CpuNodeType("m7i.8xlarge", 32, 128)
