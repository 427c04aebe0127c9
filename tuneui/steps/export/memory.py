"""What an export needs before it starts: memory to merge in full precision, and disk for its files.

Counted from the base model's safetensors headers (no weights read, no torch): the merge reloads the
base unquantized, in fp32 on a CPU, so a QLoRA run's 4-bit base is never what gets merged.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

from tuneui.errors import TuneError

GIB = 1024**3
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
MERGE_BYTES_PER_PARAMETER = 4 * 1.25  # fp32 weights, plus the adapter, activations and the saving buffers
GGUF_BYTES_PER_PARAMETER = 2 + 1.07  # f16 and q8_0 (8.5 bits a weight)


def parameter_count(model_dir: str | Path) -> int:
    """The parameters in the model's safetensors files, from their headers."""
    total = 0
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        for name, tensor in header.items():
            if name != "__metadata__":
                count = 1
                for size in tensor["shape"]:
                    count *= size
                total += count
    return total


def available_memory() -> int | None:
    """Bytes of memory free for a new process (MemAvailable), None where the system does not say."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def free_disk(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def plan(base_model: str, build: Path) -> dict[str, Any]:
    """The bytes the export needs and has (`*_bytes`), and the same in GiB for people (`*_gib`)."""
    parameters = parameter_count(base_model)
    needs: dict[str, Any] = {
        "parameters": parameters,
        "merge_bytes": int(parameters * MERGE_BYTES_PER_PARAMETER),
        "available_bytes": available_memory(),
        "merged_disk_bytes": parameters * 4,
        "gguf_disk_bytes": int(parameters * GGUF_BYTES_PER_PARAMETER),
        "free_disk_bytes": free_disk(build),
    }
    needs.update({name.replace("_bytes", "_gib"): _gib(value) for name, value in list(needs.items()) if name.endswith("_bytes")})
    return needs


def _gib(value: int | None) -> float | None:
    return None if value is None else round(value / GIB, 2)


def sentence(needs: dict[str, Any]) -> str:
    free = "an unknown amount free" if needs["available_gib"] is None else f"{needs['available_gib']:.1f} GiB free"
    return (
        f"merging {needs['parameters'] / 1e6:,.0f} M parameters in full precision needs about {needs['merge_gib']:.1f} GiB "
        f"of memory ({free}); the files need about {needs['merged_disk_gib'] + needs['gguf_disk_gib']:.1f} GiB of disk "
        f"({needs['free_disk_gib']:.1f} GiB free)"
    )


def refuse_if_short(needs: dict[str, Any], gguf: bool) -> None:
    if needs["available_bytes"] is not None and needs["merge_bytes"] > needs["available_bytes"]:
        raise TuneError(
            f"Too little memory to merge: it needs about {_words(needs['merge_bytes'])}, and {_words(needs['available_bytes'])} are free",
            "Close other programs or export on a bigger machine. The adapter is not merged into a 4-bit base instead: "
            "that would change the answers. Until then, serve the adapter as it is (vLLM --enable-lora, see docs/export.md).",
        )
    disk = needs["merged_disk_bytes"] + (needs["gguf_disk_bytes"] if gguf else 0)
    if disk > needs["free_disk_bytes"]:
        raise TuneError(
            f"Too little disk space for the export: it needs about {_words(disk)}, and {_words(needs['free_disk_bytes'])} are free",
            "Free disk space, or export only the merged model with --format merged.",
        )


def _words(value: int) -> str:
    return f"{value / GIB:.1f} GiB" if value >= GIB / 10 else f"{value / 1024**2:.1f} MiB"
