"""What a local LoRA/QLoRA run needs: memory against the GPU found, hours, and dollars at your rate."""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from tuneui.core.backend import Estimate
from tuneui.core.cost.memory import (
    GIB as GIB_BYTES,
    MemoryBreakdown,
    Method,
    ModelShape,
    memory_breakdown,
    model_shape,
    packed_rows,
    training_flops,
)
from tuneui.core.cpu import available_ram_gib, cpu_cores, cpu_has_bf16
from tuneui.core.gpu import Gpu

DEFAULT_MFU = 0.25
# fp32 LoRA training FLOPs a CPU core sustains (training_flops' count of a padded batch): 4.3 s a
# step for SmolLM2-135M on the demo's data, batch 4, on this project's 2-core machine
# (docs/benchmarks.md). A loaded machine is slower; the estimate says so.
CPU_TRAIN_FLOPS_PER_CORE = 5.0e10
# bf16 autocast on a CPU with native bf16 matmuls (tuneui.core.cpu.cpu_has_bf16). The matmuls alone
# run 1.85x faster (a LoRA forward and backward of SmolLM2-135M on 250 tokens: 0.65 s against
# 1.20 s), but a whole trainer step, with the optimizer, the loss and the data, went from 4.7 s to
# 3.5 s on the demo (docs/benchmarks.md): the step is what the plan times.
CPU_BF16_SPEEDUP = 1.35
# What a CPU training process holds besides the model: Python, torch, transformers, trl, datasets.
CPU_PROCESS_GIB = 0.9
FP32_BYTES = 4
# RAM a CPU run aims to stay under: micro-batches with gradient accumulation keep it there (the
# same examples per optimizer step, so the same learning dynamics, and no extra arithmetic).
CPU_RAM_TARGET_GIB = 2.5
# Below this much headroom a run that "fits" tends to die on fragmentation or a long batch.
TIGHT_FIT_FRACTION = 0.05
# Plans in the order the local backend tries them: bf16 LoRA is faster, checkpointing is slower.
PLAN_ORDER: tuple[tuple[Method, bool], ...] = (("lora", False), ("lora", True), ("qlora", False), ("qlora", True))


@dataclass(frozen=True)
class LocalEstimate:
    """A local run's needs. `to_json()` is the exact `tuneui estimate --backend local --json` shape."""

    model: str
    method: Method
    gradient_checkpointing: bool
    memory: MemoryBreakdown
    gpu: Gpu | None
    fits: bool | None
    hours: float | None
    cost_usd: float | None
    advice: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": "local",
            "model": self.model,
            "method": self.method,
            "memory_gib": self.memory.to_json(),
            "gpu": self.gpu.to_json() if self.gpu else None,
            "fits": self.fits,
            "hours": None if self.hours is None else round(self.hours, 6),
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "advice": list(self.advice),
        }

    def to_estimate(self) -> "Estimate":
        """The same figures as the Backend interface's `Estimate` (for `Backend.estimate()`)."""
        return Estimate(
            backend="local",
            model=self.model,
            cost_usd=self.to_json()["cost_usd"],
            memory_gib=round(self.memory.total, 2),
            fits=self.fits,
            hours=self.to_json()["hours"],
            warnings=self.advice,
            details=self.to_json(),
        )


def local_estimate(
    config: Mapping[str, Any],
    *,
    model: str,
    train_tokens: Sequence[int] = (),
    epochs: int = 3,
    batch_size: int = 4,
    max_length: int = 2048,
    lora_rank: int = 16,
    lora_dropout: float = 0.05,
    gpu: Gpu | None = None,
    method: Method | None = None,
    gradient_checkpointing: bool | None = None,
    mfu: float | None = None,
    gpu_hour_usd: float = 0.0,
    fused_logits: bool = True,
    packing: bool = False,
    liger: bool = False,
    steps: int | None = None,
) -> LocalEstimate:
    """Memory, fit, hours and dollars of LoRA/QLoRA on `model` (described by its `config`).

    Without `method`/`gradient_checkpointing` the first plan of PLAN_ORDER that fits is chosen,
    as the local backend does. Without a GPU the plan is what the trainer does on a CPU: fp32
    LoRA in RAM, timed at a calibrated per-core rate (`steps` of the training plan, when given).
    `train_tokens` are per-example counts; without them the estimate assumes full `max_length`
    examples and gives no time. `packing` and `liger` are the kernels the run will use
    (backends/local/kernels.py): padding-free rows, Liger's smaller activations.
    """
    shape = model_shape(config, f"config.json of {model}")
    longest = min(max_length, max(train_tokens)) if train_tokens else max_length
    tokens_per_step = packed_rows(train_tokens, batch_size, max_length) * max_length if packing else batch_size * longest
    plans = [(m, c) for m, c in PLAN_ORDER if method in (None, m) and gradient_checkpointing in (None, c)]

    def breakdown(plan: tuple[Method, bool]) -> MemoryBreakdown:
        return memory_breakdown(
            shape, plan[0], tokens_per_step=tokens_per_step, lora_rank=lora_rank,
            gradient_checkpointing=plan[1], lora_dropout=lora_dropout > 0, fused_logits=fused_logits, liger=liger,
        )  # fmt: skip

    if gpu is None:
        return _cpu_estimate(shape, model, train_tokens, epochs, batch_size, longest, lora_rank, lora_dropout, steps)
    chosen = next((plan for plan in plans if breakdown(plan).total <= gpu.memory_gib), plans[-1])
    memory = breakdown(chosen)
    fits = memory.total <= gpu.memory_gib

    hours = cost = None
    efficiency = mfu if mfu and mfu > 0 else DEFAULT_MFU
    if gpu.peak_tflops and train_tokens:
        passes = steps * batch_size / len(train_tokens) if steps else epochs
        trained = sum(min(max_length, count) for count in train_tokens) * passes
        flops = training_flops(shape, trained, longest, chosen[1])
        hours = flops / (gpu.peak_tflops * 1e12 * efficiency) / 3600
        cost = hours * gpu_hour_usd if gpu_hour_usd > 0 else None

    advice = _advice(shape, chosen, memory, gpu, fits, breakdown, batch_size, longest, hours, gpu_hour_usd, efficiency, mfu)
    return LocalEstimate(model, chosen[0], chosen[1], memory, gpu, fits, hours, cost, tuple(advice))


def _advice(
    shape: ModelShape,
    plan: tuple[Method, bool],
    memory: MemoryBreakdown,
    gpu: Gpu | None,
    fits: bool | None,
    breakdown: Any,
    batch_size: int,
    longest: int,
    hours: float | None,
    gpu_hour_usd: float,
    efficiency: float,
    measured_mfu: float | None,
) -> list[str]:
    method, checkpointing = plan
    label = f"{'QLoRA (4-bit)' if method == 'qlora' else 'bf16 LoRA'}{' with gradient checkpointing' if checkpointing else ''}"
    advice: list[str] = []
    if gpu is None:
        return advice
    spare = gpu.memory_gib - memory.total
    if fits:
        advice.append(f"{label} fits on the {gpu.name} with {spare:.1f} GiB to spare.")
        if spare < gpu.memory_gib * TIGHT_FIT_FRACTION:
            advice.append("That is a tight fit: a longer batch than estimated may run out of memory.")
    else:
        advice.append(
            f"{label} does not fit: it needs {memory.total:.1f} GiB, the {gpu.name} has {gpu.memory_gib:.1f} GiB. "
            + "; ".join(_ways_to_fit(plan, memory, gpu, breakdown, batch_size, longest))
            + "."
        )
    if memory.logits > memory.activations and memory.logits > 1.0:
        advice.append(
            f"Logits take {memory.logits:.1f} GiB ({shape.vocab:,}-token vocabulary): a smaller batch or max length shrinks them."
        )
    if hours is None and gpu.peak_tflops is None:
        advice.append(f"No time estimate: the peak throughput of a {gpu.name} is not in tuneui's GPU table.")
    if hours is not None:
        source = "measured by this box's last run" if measured_mfu else "a typical value; a local run measures yours"
        advice.append(f"Time assumes {efficiency:.0%} of the GPU's peak throughput ({source}).")
        if gpu_hour_usd <= 0:
            advice.append("Set [local] gpu_hour_usd in tuneui.toml to see what those hours cost.")
    return advice


# A forward pass alone runs faster per FLOP than a training step (no autograd bookkeeping, no
# optimizer): the demo's validation pass (22 examples, 3,834 tokens, SmolLM2-135M, 2-core CPU) took
# 7.7 s where the training step's rate predicts 10.5 s.
FORWARD_SPEEDUP = 1.35


def seconds_per_step(shape: ModelShape, batch_size: int, train_tokens: Sequence[int], max_length: int,
                     gpu: Gpu | None, mfu: float | None = None) -> float | None:  # fmt: skip
    """One optimizer step's time: a padded batch of typical examples at the device's rate."""
    if not train_tokens:
        return None
    kept = sorted(min(max_length, count) for count in train_tokens)
    typical_longest = kept[int(0.9 * (len(kept) - 1))]  # a batch is padded to its longest member
    return _seconds(training_flops(shape, batch_size * typical_longest, typical_longest, False), gpu, mfu)


def seconds_per_validation(shape: ModelShape, val_tokens: Sequence[int], max_length: int,
                           gpu: Gpu | None, mfu: float | None = None) -> float | None:  # fmt: skip
    """One pass over the validation examples: a forward pass each, no backward (about half of a
    training token's FLOPs with a frozen base), at the training rate times FORWARD_SPEEDUP. Each of
    a run's passes adds this to its time."""
    if not val_tokens:
        return None
    kept = [min(max_length, count) for count in val_tokens]
    longest = max(kept)
    flops = sum(kept) * (2 * shape.matmul_parameters + 2 * longest * shape.q_dim * shape.layers)
    seconds = _seconds(flops, gpu, mfu)
    return None if seconds is None else seconds / FORWARD_SPEEDUP


def _seconds(flops: float, gpu: Gpu | None, mfu: float | None) -> float | None:
    if gpu is None:
        speedup = CPU_BF16_SPEEDUP if cpu_has_bf16() else 1.0
        return flops / (cpu_cores() * CPU_TRAIN_FLOPS_PER_CORE * speedup)
    if not gpu.peak_tflops:
        return None
    return flops / (gpu.peak_tflops * 1e12 * (mfu if mfu and mfu > 0 else DEFAULT_MFU))


def cpu_memory(shape: ModelShape, micro_batch: int, longest: int, lora_rank: int, lora_dropout: float) -> MemoryBreakdown:
    """RAM of fp32 LoRA training: the GPU terms in fp32, and the process instead of a CUDA context."""
    bf16 = memory_breakdown(
        shape, "lora", tokens_per_step=micro_batch * longest, lora_rank=lora_rank,
        gradient_checkpointing=False, lora_dropout=lora_dropout > 0, fused_logits=True,
    )  # fmt: skip
    # The same tensors as on a GPU, in fp32: weights and saved activations take twice the bytes.
    return MemoryBreakdown(
        weights=shape.parameters * FP32_BYTES / GIB_BYTES,
        adapters_and_optimizer=bf16.adapters_and_optimizer,
        activations=bf16.activations * 2,
        logits=bf16.logits * 2,
        overhead=CPU_PROCESS_GIB,
    )


def cpu_micro_batch(shape: ModelShape, batch_size: int, longest: int, lora_rank: int, lora_dropout: float) -> int:
    """The largest micro-batch (a divisor of the batch) whose RAM stays under CPU_RAM_TARGET_GIB."""
    # Only the divisors are tried, found up to the square root: walking every number below a
    # batch size of 10**11 took minutes.
    small = [d for d in range(1, math.isqrt(batch_size) + 1) if batch_size % d == 0]
    for micro in sorted({*small, *(batch_size // d for d in small)}, reverse=True):
        if cpu_memory(shape, micro, longest, lora_rank, lora_dropout).total <= CPU_RAM_TARGET_GIB:
            return micro
    return 1


def _cpu_estimate(shape: ModelShape, model: str, train_tokens: Sequence[int], epochs: int, batch_size: int,
                  longest: int, lora_rank: int, lora_dropout: float, steps: int | None) -> LocalEstimate:  # fmt: skip
    """fp32 LoRA in RAM: what the trainer does without a GPU, against the RAM that is free."""
    micro = cpu_micro_batch(shape, batch_size, longest, lora_rank, lora_dropout)
    memory = cpu_memory(shape, micro, longest, lora_rank, lora_dropout)
    free = available_ram_gib()
    fits = None if free is None else memory.total <= free
    per_step = seconds_per_step(shape, batch_size, train_tokens, longest, None)
    if steps is None and train_tokens:
        steps = epochs * max(1, -(-len(train_tokens) // batch_size))
    hours = per_step * steps / 3600 if per_step is not None and steps else None
    ram = f"{memory.total:.1f} GiB of RAM" + (f" of {free:.1f} GiB free" if free is not None else "")
    batches = f" in micro-batches of {micro} (gradient accumulation {batch_size // micro})" if micro < batch_size else ""
    arithmetic = "fp32 weights with bf16 matmuls (this CPU has them)" if cpu_has_bf16() else "fp32"
    advice = [f"No NVIDIA GPU: the trainer runs LoRA in {arithmetic} on {cpu_cores()} CPU cores, in RAM{batches}; it needs about {ram}."]
    if fits is False:
        advice.append("That is more than is free: close other programs, or lower [local] batch_size or max_length.")
    if hours is not None:
        advice.append(
            f"About {hours * 60:.0f} minutes for {steps} steps at {per_step:.1f} s a step "
            f"(a calibrated CPU rate; a busy machine is slower)."
        )
    if shape.parameters > 1.5e9:
        advice.append("A model this size trains slowly on a CPU: a GPU box or a hosted backend is the practical choice.")
    return LocalEstimate(model, "lora", False, memory, None, fits, hours, None, tuple(advice))


def _ways_to_fit(
    plan: tuple[Method, bool], memory: MemoryBreakdown, gpu: Gpu, breakdown: Any, batch_size: int, longest: int
) -> list[str]:
    method, checkpointing = plan
    ways: list[str] = []
    if not checkpointing:
        ways.append(f"enable gradient checkpointing (→ {breakdown((method, True)).total:.1f} GiB)")
    if method == "lora":
        ways.append(f"use QLoRA (→ {breakdown(('qlora', checkpointing)).total:.1f} GiB)")
    per_token = (memory.activations + memory.logits) / max(1, batch_size * longest)
    fixed = memory.total - memory.activations - memory.logits
    room_tokens = int((gpu.memory_gib - fixed) / per_token) if per_token > 0 else 0
    if room_tokens >= longest and batch_size > 1:
        ways.append(f"lower the batch size to {room_tokens // longest}")
    elif room_tokens >= 64:
        ways.append(f"use batch size 1 and a max length of about {room_tokens:,} tokens")
    else:
        ways.append("the frozen weights alone nearly fill the GPU: choose a smaller model")
    return ways
