"""The training recipe: model and trainer settings a careful practitioner would choose (the data's
side is `training_data`).

Runs only in the worker process (it imports torch, transformers, peft and trl). Every choice the
recipe makes is recorded in a `RecipePlan`, saved with the adapter as `training_config.json`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tuneui.core.backend import TrainSpec
from backends.local import kernels
from backends.local.config import CPU_EVALUATIONS_PER_RUN, DEFAULT_BATCH_SIZE, EVALUATIONS_PER_RUN, model_config, plan_memory
from backends.local.kernels import KernelPlan
from tuneui.core.cost.memory import packed_rows
from tuneui.errors import TuneError

DEFAULT_EPOCHS = 3
DEFAULT_LEARNING_RATE = 2e-4
WARMUP_FRACTION = 0.05
LOG_LINES_PER_RUN = 200  # events.jsonl stays small on a 10,000-step run
CHECKPOINTS_KEPT = 2  # plus the best one, which the trainer never rotates away
# oneDNN keeps a bf16 matmul primitive per input shape: with micro-batches of one, every sequence
# length was a new shape, and the worker grew ~65 MB a step (2.3 -> 3.9 GiB on the demo). Lengths
# rounded up to a multiple of 16 reuse a dozen primitives for about 4 % more padding.
CPU_BF16_LENGTH_MULTIPLE = 16


@dataclass(frozen=True)
class RecipePlan:
    """What the recipe decided for this run and machine, and why (in `notes`)."""

    device: str
    quantization: str
    gradient_checkpointing: bool
    loss_on: str  # "assistant" (generation markers) or "completion" (last assistant turn)
    packing: bool
    attention: str
    total_steps: int
    gradient_accumulation_steps: int
    eval_steps: int | None
    save_steps: int
    logging_steps: int
    warmup_steps: int
    batch_size: int
    learning_rate: float
    notes: tuple[str, ...] = ()
    liger_kernel: bool = False
    loss_kernel: str = "chunked"  # trl's fused LM head; "full logits" on an older trl
    torch_compile: bool = False
    cpu_bf16: bool = False  # bf16 autocast on a CPU with native bf16 matmuls

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["notes"] = list(self.notes)
        return data


def choose_kernels(spec: TrainSpec) -> KernelPlan:
    """This machine's kernels for this model (backends/local/kernels.py), Liger confirmed by import."""
    import torch

    cuda = torch.cuda.is_available()
    capability = float("{}.{}".format(*torch.cuda.get_device_capability())) if cuda else None
    model_type = (model_config(spec.model) or {}).get("model_type")
    chosen = kernels.choose_kernels(kernels.probe_machine(cuda, capability), model_type, spec.options)
    chosen = kernels.confirm_cpu_bf16(chosen, torch.ops.mkldnn._is_mkldnn_bf16_supported)
    return kernels.confirm_liger(chosen, model_type)


def plan_run(
    spec: TrainSpec, train_tokens: Sequence[int], has_validation: bool, tokenizer_loss: str, kernel_plan: KernelPlan | None = None
) -> RecipePlan:
    import torch

    from tuneui.core.gpu import find_gpus

    chosen = kernel_plan or choose_kernels(spec)
    notes: list[str] = list(chosen.notes)
    cuda = torch.cuda.is_available()
    gpus = find_gpus() if cuda else []
    gpu = min(gpus, key=lambda g: g.memory_gib) if gpus else None
    memory = plan_memory(model_config(spec.model), spec, gpu, train_tokens, packing=chosen.packing, liger=chosen.liger)
    if memory.fits is False:
        notes.append(f"The memory estimate ({memory.memory_gib:.1f} GiB) exceeds the GPU; training may run out of memory.")
    attention, packing = chosen.attention, chosen.packing
    batch_size = spec.batch_size or DEFAULT_BATCH_SIZE
    steps_per_epoch = math.ceil(len(train_tokens) / batch_size)
    if packing and train_tokens:
        # A packed row holds max_length tokens; size the batch in rows so a step still sees about
        # `batch_size` examples' worth of tokens (same learning dynamics, same memory plan).
        kept = [min(count, spec.max_length) for count in train_tokens]
        batch_size = packed_rows(train_tokens, batch_size, spec.max_length)
        steps_per_epoch = math.ceil(sum(kept) / (batch_size * spec.max_length))
    total = spec.steps or (spec.epochs or DEFAULT_EPOCHS) * steps_per_epoch
    accumulation = 1
    if not cuda and train_tokens and not packing:
        accumulation = _cpu_accumulation(spec, batch_size, train_tokens)
        if accumulation > 1:
            notes.append(f"Micro-batches of {batch_size // accumulation} with gradient accumulation {accumulation}: "
                         f"the same {batch_size} examples a step in less RAM.")  # fmt: skip
    cadence = max(1, total // (EVALUATIONS_PER_RUN if cuda else CPU_EVALUATIONS_PER_RUN))
    eval_steps = (spec.eval_every or spec.save_every or cadence) if has_validation else None
    save_steps = spec.save_every or eval_steps or cadence
    if eval_steps:
        # Keeping the best checkpoint needs every save to fall on an evaluation step.
        eval_steps = math.gcd(eval_steps, save_steps)
    return RecipePlan(
        device="cuda" if cuda else "cpu",
        quantization=memory.quantization,
        gradient_checkpointing=memory.gradient_checkpointing,
        loss_on=tokenizer_loss,
        packing=packing,
        attention=attention,
        total_steps=total,
        gradient_accumulation_steps=accumulation,
        eval_steps=eval_steps,
        save_steps=save_steps,
        logging_steps=max(1, total // LOG_LINES_PER_RUN),
        warmup_steps=max(1, round(total * WARMUP_FRACTION)),
        batch_size=batch_size // accumulation,
        learning_rate=spec.learning_rate or DEFAULT_LEARNING_RATE,
        notes=tuple(notes),
        liger_kernel=chosen.liger,
        loss_kernel=chosen.loss,
        torch_compile=chosen.torch_compile,
        cpu_bf16=chosen.cpu_bf16,  # never on a GPU: the machine probe leaves it off there
    )


def plan_and_load(
    spec: TrainSpec, train_tokens: Sequence[int], has_validation: bool, tokenizer_loss: str
) -> tuple[RecipePlan, Any]:
    """The plan and its model; where attention paths compete, the plan follows their measurement.

    Measuring needs the loaded model, and the model needs the memory plan: so the plan is made
    with padded batches (the larger estimate), then redone with the measured layout, keeping the
    quantization and checkpointing the model was loaded with.
    """
    chosen = choose_kernels(spec)
    plan = plan_run(spec, train_tokens, has_validation, tokenizer_loss, chosen)
    model = load_model(spec, plan)
    if chosen.attention_candidates:
        measured = kernels.fastest_attention(model, chosen, train_tokens, spec.batch_size or DEFAULT_BATCH_SIZE, spec.max_length)
        loaded_as = {"quantization": plan.quantization, "gradient_checkpointing": plan.gradient_checkpointing}
        plan = plan_run(
            dataclasses.replace(spec, options={**(spec.options or {}), **loaded_as}), train_tokens, has_validation, tokenizer_loss, measured
        )
    return plan, model


def _cpu_accumulation(spec: TrainSpec, batch_size: int, train_tokens: Sequence[int]) -> int:
    """Gradient accumulation steps that keep a CPU run under the Cost step's RAM target."""
    from tuneui.core.cost.local import cpu_micro_batch
    from tuneui.core.cost.memory import model_shape

    config = model_config(spec.model)
    if config is None:
        return 1
    try:
        shape = model_shape(config)
    except TuneError:  # not a decoder config this estimator knows: keep the whole batch
        return 1
    longest = min(spec.max_length, max(train_tokens))
    return batch_size // cpu_micro_batch(shape, batch_size, longest, spec.lora_r, spec.lora_dropout)


def load_model(spec: TrainSpec, plan: RecipePlan):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    compute_dtype = torch.bfloat16 if plan.device == "cuda" else torch.float32
    kwargs: dict[str, Any] = {"dtype": compute_dtype, "attn_implementation": plan.attention}
    if plan.quantization == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
        )
    if plan.device == "cuda":
        import os

        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
    return AutoModelForCausalLM.from_pretrained(spec.model, **kwargs)


def lora_config(spec: TrainSpec):
    from peft import LoraConfig

    targets: Any = list(spec.lora_targets)
    if targets == ["all-linear"]:
        targets = "all-linear"
    return LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )


def sft_config(spec: TrainSpec, plan: RecipePlan, output_dir: Path):
    from trl import SFTConfig

    has_validation = plan.eval_steps is not None
    return SFTConfig(
        output_dir=str(output_dir),
        max_steps=plan.total_steps,
        per_device_train_batch_size=plan.batch_size,
        gradient_accumulation_steps=plan.gradient_accumulation_steps,
        per_device_eval_batch_size=plan.batch_size,
        # Only the loss is needed from evaluation: gathering every eval logit (examples x tokens x
        # vocabulary) was the peak of a CPU run's memory.
        prediction_loss_only=True,
        learning_rate=plan.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=plan.warmup_steps,
        logging_steps=plan.logging_steps,
        eval_strategy="steps" if has_validation else "no",
        eval_steps=plan.eval_steps,
        save_strategy="steps",
        save_steps=plan.save_steps,
        save_total_limit=CHECKPOINTS_KEPT,
        load_best_model_at_end=has_validation,
        metric_for_best_model="eval_loss" if has_validation else None,
        greater_is_better=False if has_validation else None,
        bf16=plan.device == "cuda" or plan.cpu_bf16,
        activation_checkpointing=plan.gradient_checkpointing,
        assistant_only_loss=plan.loss_on == "assistant",
        completion_only_loss=True if plan.loss_on == "completion" else None,
        packing=plan.packing,
        use_liger_kernel=plan.liger_kernel,
        torch_compile=plan.torch_compile,
        max_length=spec.max_length,
        pad_to_multiple_of=CPU_BF16_LENGTH_MULTIPLE if plan.cpu_bf16 else None,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        disable_tqdm=True,
        seed=spec.seed,
        data_seed=spec.seed,
        use_cpu=plan.device == "cpu",
        # Every LoRA weight takes part in every step: DDP's search for unused ones is a wasted
        # pass over the graph each step (and cannot be combined with checkpointing).
        ddp_find_unused_parameters=False,
    )


