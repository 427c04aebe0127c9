"""Facts of this machine's CPU that a CPU training run depends on: cores, free RAM, bf16 matmuls.

Standard library only: the Cost step reads them in the UI process, and the worker reads the same
facts (then confirms bf16 with torch), so both plan the same run.
"""

from __future__ import annotations

import os
from functools import lru_cache

# Instruction-set flags of /proc/cpuinfo under which oneDNN runs bf16 matmuls natively (AVX-512
# BF16 dot products, AMX tiles). Without them torch emulates bf16 on a CPU, slower than fp32.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def available_ram_gib() -> float | None:
    """MemAvailable of /proc/meminfo: what a new process can take without swapping."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return None


@lru_cache(maxsize=None)
def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU multiplies bf16 natively (its `flags` name AVX-512 BF16 or AMX BF16).

    Read once per process: the flags do not change, and /proc/cpuinfo of a many-core machine is
    hundreds of KB that every estimate would otherwise read again."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return not BF16_FLAGS.isdisjoint(line.split(":", 1)[-1].split())
    except OSError:
        pass
    return False
