"""Which kernels a local run uses on this machine, and why: attention, packing, Liger, loss, compile.

`choose_kernels` is pure and standard-library only, so the Cost step (UI process, no torch) and
the worker make the same choice from the same facts. The worker then confirms what needs the ML
stack: that Liger really imports and knows the model family (`confirm_liger`), and, where several
attention paths could run padding-free batches, which one is fastest on this GPU with this data
(`fastest_attention`, a measurement, not an assumption). Every fall-back adds a note saying so.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from tuneui.core.cpu import cpu_has_bf16

# Liger Kernel 0.8's text decoders (liger_kernel.transformers.monkey_patch.MODEL_TYPE_TO_APPLY_LIGER_FN).
# The worker checks the installed Liger's own table; this copy lets the Cost step plan without torch.
LIGER_MODEL_TYPES = frozenset(
    "llama mistral ministral mixtral gemma gemma2 gemma3_text qwen2 qwen3 qwen3_moe phi3 olmo2 olmo3 "
    "granite glm4 smollm3 nemotron exaone4".split()
)
FLASH_MIN_CAPABILITY = 8.0  # flash-attn 2 runs on Ampere and newer
PACKED = "packed"
PADDED = "padded"
INSTALL_HINT = "pip install 'tuneui[gpu]'"


@dataclass(frozen=True)
class Machine:
    """What the kernel choice depends on; `probe_machine` fills it without importing torch."""

    cuda: bool
    compute_capability: float | None = None
    packages: frozenset[str] = frozenset()  # importable among: flash_attn, liger_kernel, triton
    trl_fused_lm_head: bool = False  # trl computes the loss in chunks, never holding whole logits
    cpu_bf16: bool = False  # no GPU, and the CPU multiplies bf16 natively (tuneui.core.cpu)


@dataclass(frozen=True)
class KernelPlan:
    attention: str  # attn_implementation for transformers
    packing: bool  # padding-free: sequences concatenated, kept apart by position_ids
    liger: bool  # Liger's RMSNorm, RoPE and SwiGLU kernels (trl keeps its own fused loss)
    loss: str  # "chunked" (trl's fused LM head) or "full logits"
    torch_compile: bool
    cpu_bf16: bool = False  # CPU training under bf16 autocast: fp32 weights, bf16 matmuls
    attention_candidates: tuple[tuple[str, str], ...] = ()  # (attention, packed|padded) to measure
    notes: tuple[str, ...] = ()


def probe_machine(cuda: bool, compute_capability: float | None = None) -> Machine:
    """Facts of this machine; `cuda` comes from nvidia-smi (UI) or torch (worker)."""
    packages = frozenset(name for name in ("flash_attn", "liger_kernel", "triton") if _importable(name))
    return Machine(cuda, compute_capability, packages, _trl_has_fused_lm_head(), not cuda and cpu_has_bf16())


def choose_kernels(machine: Machine, model_type: str | None, options: Mapping[str, Any] | None = None) -> KernelPlan:
    """The kernels a run uses by default here; `options` (TrainSpec.options) can force any of them.

    Forcing keys: `attn_implementation`, `packing`, `liger`, `torch_compile`, `cpu_bf16` (false: fp32).
    """
    options = options or {}
    notes: list[str] = []
    attention, packing, candidates = _attention(machine, options, notes)
    liger = _liger(machine, model_type, options, notes)
    if machine.trl_fused_lm_head:
        loss = "chunked"
    else:
        loss = "full logits"
        notes.append("This trl computes the loss over whole logits (vocabulary x tokens); trl >= 1.0 chunks them.")
    compile_forced = options.get("torch_compile")
    torch_compile = bool(compile_forced) and machine.cuda
    if compile_forced and not machine.cuda:
        notes.append("torch.compile was asked for but is off: it is only worth its compile time on a GPU.")
    elif not compile_forced and machine.cuda:
        # Padding-free batches change shape every step (recompiles) and bitsandbytes' 4-bit matmuls
        # break the graph; a run of a few hundred steps does not earn back the compile time.
        notes.append("torch.compile is off: variable-length batches recompile; force it with options.torch_compile.")
    cpu_bf16 = machine.cpu_bf16 and options.get("cpu_bf16") is not False
    if cpu_bf16:
        notes.append("CPU: bf16 autocast (fp32 weights, bf16 matmuls on this CPU's native bf16 units): about 1.35x faster steps.")
    return KernelPlan(attention, packing, liger, loss, torch_compile, cpu_bf16, candidates, tuple(notes))


def confirm_cpu_bf16(plan: KernelPlan, supported: Callable[[], bool]) -> KernelPlan:
    """The worker's check that torch's oneDNN runs bf16 natively here; else fp32, saying why."""
    if not plan.cpu_bf16 or supported():
        return plan
    notes = tuple(n for n in plan.notes if not n.startswith("CPU: bf16 autocast"))
    return dataclasses.replace(plan, cpu_bf16=False, notes=(*notes, "CPU: fp32: this torch build has no native bf16 matmuls."))


def _attention(machine: Machine, options: Mapping[str, Any], notes: list[str]):
    forced_attention, forced_packing = options.get("attn_implementation"), options.get("packing")
    if forced_attention and forced_attention.startswith("flash") and not _flash_usable(machine):
        notes.append(f"{forced_attention} was asked for, but flash-attn cannot run here: SDPA instead.")
        forced_attention = "sdpa"
    if forced_attention or forced_packing is not None:
        attention = forced_attention or ("flash_attention_2" if _flash_usable(machine) else "sdpa")
        return attention, bool(forced_packing if forced_packing is not None else attention.startswith("flash")), ()
    if _flash_usable(machine):
        return "flash_attention_2", True, ()
    if not machine.cuda:
        # Measured on CPUs (docs/benchmarks.md): a packed row's block-diagonal mask costs more
        # than the padding it saves, and there is no varlen kernel to skip the masked blocks.
        notes.append("CPU: padded batches with SDPA; packing pays only with a varlen GPU kernel.")
        return "sdpa", False, ()
    if "flash_attn" in machine.packages:
        notes.append(f"flash-attn needs compute capability {FLASH_MIN_CAPABILITY} or newer; this GPU has {machine.compute_capability}.")
    else:
        notes.append("flash-attn is not installed: the fastest of SDPA (padded or packed) and flex attention is measured instead.")
    candidates = [("sdpa", PADDED), ("sdpa", PACKED)]
    if "triton" in machine.packages:
        candidates.append(("flex_attention", PACKED))
    return "sdpa", False, tuple(candidates)


def _liger(machine: Machine, model_type: str | None, options: Mapping[str, Any], notes: list[str]) -> bool:
    forced = options.get("liger")
    if forced is False:
        return False
    reason = None
    if not machine.cuda:
        reason = "no GPU (its kernels are Triton, GPU only)"
    elif "liger_kernel" not in machine.packages:
        reason = f"liger-kernel is not installed ({INSTALL_HINT})"
    elif "triton" not in machine.packages:
        reason = "Triton is not installed"
    elif model_type not in LIGER_MODEL_TYPES:
        reason = f"it does not support the model family {model_type!r}"
    if reason:
        notes.append(f"Liger Kernel is off: {reason}.")
        return False
    return True


def confirm_liger(plan: KernelPlan, model_type: str | None, load_table: Callable[[], Mapping[str, Any]] | None = None) -> KernelPlan:
    """The worker's check: Liger imports and its own table has this family; else fall back, saying why."""
    if not plan.liger:
        return plan
    try:
        table = (load_table or _liger_table)()
    except Exception as exc:  # a broken Triton or CUDA toolkit shows up here, not at install time
        return _without_liger(plan, f"it failed to import ({type(exc).__name__}: {exc})")
    if model_type not in table:
        return _without_liger(plan, f"the installed version does not support the model family {model_type!r}")
    return plan


def fastest_attention(model, plan: KernelPlan, lengths: Sequence[int], batch_size: int, max_length: int, repeats: int = 2):
    """Time a forward pass per candidate on batches shaped like the data; return the plan with the fastest.

    The time is per real token, so padding counts against the padded layout. Runs in the worker
    with the model loaded; the note records every candidate's throughput.
    """
    import time

    import torch

    if len(plan.attention_candidates) < 2 or not lengths:
        return plan
    device = next(model.parameters()).device
    kept = sorted(min(count, max_length) for count in lengths)
    # A step's examples: an even spread over the length distribution, as a shuffled batch sees.
    sample = [kept[(i * len(kept)) // batch_size] for i in range(batch_size)] if len(kept) >= batch_size else kept
    speeds: dict[tuple[str, str], float] = {}
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    previous = base.config._attn_implementation
    decoder = base.base_model  # the layers without the LM head: no logits to hold
    for attention, layout in plan.attention_candidates:
        try:
            base.set_attn_implementation(attention)
            inputs = _layout_inputs(sample, layout, max_length, device)
            with torch.no_grad():
                decoder(**inputs, use_cache=False)  # warm-up: kernel selection, compilation
                _synchronize(device)
                started = time.perf_counter()
                for _ in range(repeats):
                    decoder(**inputs, use_cache=False)
                _synchronize(device)
            speeds[(attention, layout)] = sum(sample) * repeats / (time.perf_counter() - started)
        except Exception as exc:  # a candidate this torch cannot run is skipped, not fatal
            speeds.pop((attention, layout), None)
            plan = dataclasses.replace(plan, notes=plan.notes + (f"{attention} ({layout}) could not run: {type(exc).__name__}.",))
    if not speeds:
        base.set_attn_implementation(previous)
        return plan
    (attention, layout), _ = max(speeds.items(), key=lambda item: item[1])
    base.set_attn_implementation(attention)
    measured = ", ".join(f"{a} {l} {s:,.0f} tokens/s" for (a, l), s in speeds.items())
    note = f"Attention chosen by measurement on this machine: {attention} {layout} ({measured})."
    return dataclasses.replace(plan, attention=attention, packing=layout == PACKED, notes=plan.notes + (note,))


def _layout_inputs(lengths: Sequence[int], layout: str, max_length: int, device) -> dict[str, Any]:
    """Random token ids laid out as the collator would: padded rows, or packed rows with position_ids."""
    import torch

    if layout == PADDED:
        longest = max(lengths)
        ids = torch.randint(0, 100, (len(lengths), longest), device=device)
        mask = torch.tensor([[1] * n + [0] * (longest - n) for n in lengths], device=device)
        return {"input_ids": ids, "attention_mask": mask}
    rows: list[list[int]] = [[]]
    for n in sorted(lengths, reverse=True):
        if len(rows[-1]) + n > max_length:
            rows.append([])
        rows[-1].extend(range(n))
    width = max(len(r) for r in rows)
    # The last row's tail continues its positions: one more sequence, never attended to by the others.
    positions = [r + list(range(width - len(r))) for r in rows]
    return {
        "input_ids": torch.randint(0, 100, (len(rows), width), device=device),
        "position_ids": torch.tensor(positions, device=device),
    }


def _synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _without_liger(plan: KernelPlan, reason: str) -> KernelPlan:
    return dataclasses.replace(plan, liger=False, notes=plan.notes + (f"Liger Kernel is off: {reason}.",))


def _liger_table() -> Mapping[str, Any]:
    from liger_kernel.transformers.monkey_patch import MODEL_TYPE_TO_APPLY_LIGER_FN

    return MODEL_TYPE_TO_APPLY_LIGER_FN


def _flash_usable(machine: Machine) -> bool:
    capability = machine.compute_capability
    return machine.cuda and "flash_attn" in machine.packages and (capability is None or capability >= FLASH_MIN_CAPABILITY)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _trl_has_fused_lm_head() -> bool:
    """Whether trl ships its chunked LM head (trl/kernels/chunked_logprob.py), found without importing trl."""
    try:
        spec = importlib.util.find_spec("trl")
    except (ImportError, ValueError):
        return False
    locations = list(spec.submodule_search_locations or ()) if spec else []
    return any((Path(folder) / "kernels" / "chunked_logprob.py").is_file() for folder in locations)
