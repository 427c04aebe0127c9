"""GPU discovery through nvidia-smi (never torch), and the peak-throughput table."""

from __future__ import annotations

import os
import stat

import pytest

from tuneui.core import gpu

SMI_OUTPUT = "NVIDIA H100 PCIe, 81559\nNVIDIA GeForce RTX 4090, 24564\n"


def test_parse_nvidia_smi_lines():
    gpus = gpu.parse_nvidia_smi(SMI_OUTPUT + "Failed to initialize NVML: Driver/library version mismatch\n")
    assert [(g.name, round(g.memory_gib, 2), g.peak_tflops) for g in gpus] == [
        ("NVIDIA H100 PCIe", 79.65, 756.0),
        ("NVIDIA GeForce RTX 4090", 23.99, 165.0),
    ]


@pytest.mark.parametrize(
    "name, tflops",
    [("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H200", 989.0), ("NVIDIA A100-SXM4-40GB", 312.0),
     ("NVIDIA L40S", 362.0), ("NVIDIA L4", 121.0), ("Tesla T4", 65.0), ("Matrox G200", None)],
)  # fmt: skip
def test_peak_throughput_table(name, tflops):
    assert gpu.peak_tflops(name) == tflops


def _fake_smi(folder, output: str, code: int = 0) -> None:
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '{output}'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.integration
def test_find_gpus_runs_nvidia_smi_and_honours_visible_devices(tmp_path, monkeypatch):
    _fake_smi(tmp_path, SMI_OUTPUT.replace("\n", "\\n"))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert [g.name for g in gpu.find_gpus()] == ["NVIDIA H100 PCIe", "NVIDIA GeForce RTX 4090"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert [g.name for g in gpu.find_gpus()] == ["NVIDIA GeForce RTX 4090"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu.find_gpus() == []


@pytest.mark.integration
def test_no_driver_means_no_gpu(tmp_path, monkeypatch):
    _fake_smi(tmp_path, "NVIDIA-SMI has failed", code=9)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu.find_gpus() == []
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert gpu.find_gpus() == []
