"""The GPUs of this machine, found through nvidia-smi: the UI process never imports torch to ask.

Peak dense BF16 tensor throughput (no sparsity) is from NVIDIA's datasheets; the time estimate
divides training FLOPs by it times an achieved fraction (MFU).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

MIB_PER_GIB = 1024

# Substring of the nvidia-smi name -> peak dense BF16 (FP16 where the GPU lacks BF16) TFLOPS.
# Checked in this order, so the more specific names come first.
PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("GH200", 989.0),
    ("H200", 989.0),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("RTX 6000 Ada", 364.0),
    ("A6000", 155.0),
    ("RTX 4090", 165.0),
    ("RTX 3090", 71.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("V100", 125.0),
    ("T4", 65.0),
)


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gib: float
    peak_tflops: float | None  # None for a GPU not in the table

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "memory_gib": round(self.memory_gib, 1)}


def peak_tflops(name: str) -> float | None:
    for fragment, tflops in PEAK_TFLOPS:
        if fragment.lower() in name.lower():
            return tflops
    return None


def find_gpus(timeout_s: float = 10.0) -> list[Gpu]:
    """The visible NVIDIA GPUs (honouring CUDA_VISIBLE_DEVICES); empty when there are none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return []
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        completed = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    if completed.returncode != 0:
        return []
    gpus = parse_nvidia_smi(completed.stdout)
    if visible:
        indices = [int(part) for part in visible.split(",") if part.strip().isdigit()]
        if indices:
            gpus = [gpus[i] for i in indices if i < len(gpus)]
    return gpus


def parse_nvidia_smi(output: str) -> list[Gpu]:
    """`name, memory MiB` lines -> GPUs; lines that do not parse (driver messages) are skipped."""
    gpus: list[Gpu] = []
    for line in output.splitlines():
        name, _, memory = line.rpartition(",")
        try:
            mib = float(memory.strip())
        except ValueError:
            continue
        name = name.strip()
        if name:
            gpus.append(Gpu(name=name, memory_gib=mib / MIB_PER_GIB, peak_tflops=peak_tflops(name)))
    return gpus
