"""How close tuneui's memory estimate (tuneui.core.cost.memory) comes to what training allocates.

GPU mode (a CUDA device is visible): random-init models built from the real configs of
Qwen2.5-0.5B, Llama-3.2-1B and Llama-3.1-8B (values below; nothing is downloaded) run a few LoRA
and QLoRA steps the way the local backend does (trl's fused LM head, peft LoRA on all linear
layers, AdamW, bf16 autocast) at two sequence lengths, with and without gradient checkpointing.
Each case compares `torch.cuda.max_memory_allocated` with the estimate minus its CUDA-context
term (the allocator does not see the context). Goal: within ±10 %.

CPU mode (no GPU, or --cpu): loads 4-bit (NF4, double quantization) copies of a tiny and a small
random Llama on the CPU with bitsandbytes and compares their real footprint with the weights term.

    .venv/bin/python bench/memory_estimate.py            # GPU mode where CUDA is available
    .venv/bin/python bench/memory_estimate.py --cpu      # weights term only
    .venv/bin/python bench/memory_estimate.py --models qwen2.5-0.5b --steps 2
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from tuneui.core.cost.memory import CUDA_OVERHEAD_GIB, GIB, memory_breakdown, model_shape  # noqa: E402

GOAL = 0.10
BATCH_SIZE = 4
LORA_RANK = 16
SEQUENCE_LENGTHS = (512, 2048)

# The config.json values that matter, as published with each model.
CONFIGS: dict[str, dict] = {
    "qwen2.5-0.5b": {
        "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
        "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True,
        "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
    },
    "llama-3.2-1b": {
        "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
        "tie_word_embeddings": True, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
    },
    "llama-3.1-8b": {
        "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": False,
        "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
    },
}  # fmt: skip
# CPU mode: big enough that bitsandbytes' per-matrix constants are noise, small enough for a laptop.
CPU_SMALL = {
    "model_type": "llama", "hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 4,
    "num_attention_heads": 16, "num_key_value_heads": 4, "vocab_size": 32000, "tie_word_embeddings": False,
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="check only the weights term, on the CPU")
    parser.add_argument("--models", default=",".join(CONFIGS), help="comma-separated, from: " + ", ".join(CONFIGS))
    parser.add_argument("--steps", type=int, default=3, help="training steps per case")
    parser.add_argument("--work", type=Path, default=None, help="where random-init checkpoints go (default: a temp folder)")
    args = parser.parse_args()

    import torch

    with tempfile.TemporaryDirectory(prefix="tuneui-bench-") as scratch:
        work = args.work or Path(scratch)
        if args.cpu or not torch.cuda.is_available():
            print("CPU mode: the 4-bit weights term against bitsandbytes' real footprint (no CUDA device here)")
            errors = cpu_mode(work)
        else:
            print(f"GPU mode on {torch.cuda.get_device_name(0)}: max_memory_allocated vs estimate - {CUDA_OVERHEAD_GIB} GiB context")
            errors = gpu_mode(work, [name.strip() for name in args.models.split(",") if name.strip()], args.steps)
    if not errors:
        print("no case ran")
        return 1
    worst = max(errors, key=abs)
    print(f"worst error {worst:+.1%} over {len(errors)} case(s); goal ±{GOAL:.0%}: {'met' if abs(worst) <= GOAL else 'NOT met'}")
    return 0


# -- CPU mode -------------------------------------------------------------------------------------


def cpu_mode(work: Path) -> list[float]:
    errors = []
    for name, folder in (("tiny (backends/local/tiny.py)", _tiny_model(work)), ("small llama", _save_random(work, "cpu-small", CPU_SMALL, "cpu"))):
        config = _read_config(folder)
        estimate = memory_breakdown(model_shape(config), "qlora", tokens_per_step=1, lora_rank=LORA_RANK, gradient_checkpointing=True).weights * GIB
        model = _load(folder, "qlora", device="cpu")
        measured, per_param = _footprint(model)
        error = estimate / measured - 1
        errors.append(error)
        print(
            f"  {name:30s} {model_shape(config).parameters / 1e6:8.2f}M params  measured {measured / 2**20:8.2f} MiB  "
            f"estimated {estimate / 2**20:8.2f} MiB  error {error:+.1%}  (4-bit storage {per_param:.4f} B/param, estimate 0.516)"
        )
        del model
        gc.collect()
    return errors


def _footprint(model) -> tuple[int, float]:
    """Bytes of every distinct tensor the model holds, including 4-bit quantization state."""
    seen: set[int] = set()
    total = quantized_bytes = quantized_params = 0

    def add(tensor) -> int:
        nonlocal total
        if tensor is None or tensor.data_ptr() in seen:
            return 0
        seen.add(tensor.data_ptr())
        size = tensor.numel() * tensor.element_size()
        total += size
        return size

    for parameter in model.parameters():
        state = getattr(parameter, "quant_state", None)
        size = add(parameter)
        if state is not None:
            size += add(state.absmax) + add(state.code)
            if state.nested:
                size += add(state.state2.absmax) + add(state.state2.code) + add(getattr(state, "offset", None))
            quantized_bytes += size
            quantized_params += int(state.shape.numel())
    for buffer in model.buffers():
        add(buffer)
    return total, quantized_bytes / max(1, quantized_params)


def _tiny_model(work: Path) -> Path:
    try:
        from backends.local.tiny import build_tiny_model
    except ImportError:
        return _save_random(work, "tiny", {**CPU_SMALL, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                           "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 768}, "cpu")  # fmt: skip
    return build_tiny_model(work / "tiny")


# -- GPU mode -------------------------------------------------------------------------------------


def gpu_mode(work: Path, names: list[str], steps: int) -> list[float]:
    import torch

    device_gib = torch.cuda.get_device_properties(0).total_memory / GIB
    errors = []
    for name in names:
        values = CONFIGS[name]
        folder = _save_random(work, name, values, "cuda")
        shape = model_shape(values)
        for method in ("qlora", "lora"):
            for sequence in SEQUENCE_LENGTHS:
                for checkpointing in (True, False):
                    estimate = memory_breakdown(
                        shape, method, tokens_per_step=BATCH_SIZE * sequence, lora_rank=LORA_RANK,
                        gradient_checkpointing=checkpointing, lora_dropout=True,
                    )  # fmt: skip
                    label = f"{name:13s} {method:5s} seq {sequence:4d} {'ckpt' if checkpointing else 'full'}"
                    started = time.perf_counter()
                    measured = _train_steps(folder, method, sequence, checkpointing, steps, values["vocab_size"])
                    took = time.perf_counter() - started
                    expected = estimate.total - CUDA_OVERHEAD_GIB
                    if measured is None:
                        verdict = "agrees" if estimate.total > device_gib else "DISAGREES"
                        print(f"  {label}  out of memory; estimate {estimate.total:6.1f} GiB of {device_gib:.1f}: {verdict}")
                        continue
                    error = expected / measured - 1
                    errors.append(error)
                    terms = ", ".join(f"{k} {v:.2f}" for k, v in estimate.to_json().items() if k != "total")
                    print(f"  {label}  measured {measured:6.2f} GiB  estimated {expected:6.2f} GiB  error {error:+6.1%}  ({terms}; {took:.0f} s)")
        _remove(folder)
    return errors


def _train_steps(folder: Path, method: str, sequence: int, checkpointing: bool, steps: int, vocab: int) -> float | None:
    """Peak GiB the allocator handed out over `steps` LoRA/QLoRA steps; None on out-of-memory."""
    import torch
    from peft import LoraConfig, get_peft_model
    from trl.trainer.utils import add_fused_lm_head

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    model = optimizer = None
    try:
        model = _load(folder, method, device="cuda")
        # Quantizing while loading passes each tensor through the GPU in bf16: not a training peak.
        torch.cuda.reset_peak_memory_stats()
        # The order trl's SFTTrainer uses: fused head, checkpointing, then the adapters.
        add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
        if checkpointing:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
        model = get_peft_model(model, LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"))
        if method == "qlora":
            for parameter in model.parameters():
                if parameter.requires_grad:
                    parameter.data = parameter.data.to(torch.bfloat16)  # as trl does for QLoRA adapters
        model.train()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        for _ in range(steps):
            ids = torch.randint(0, vocab, (BATCH_SIZE, sequence), device="cuda")
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(input_ids=ids, labels=ids, fused_lm_head=True).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / GIB
    except torch.cuda.OutOfMemoryError:
        return None
    finally:
        del model, optimizer
        gc.collect()
        torch.cuda.empty_cache()


# -- shared -----------------------------------------------------------------------------------------


def _save_random(work: Path, name: str, values: dict, device: str) -> Path:
    """A random-init bf16 checkpoint of `values` (quantization needs weights to load from)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = work / name
    if (folder / "config.json").is_file():
        return folder
    config = AutoConfig.for_model(**values)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder)
    del model
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder


def _load(folder: Path, method: str, device: str):
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs: dict = {"dtype": torch.bfloat16, "device_map": {"": 0 if device == "cuda" else "cpu"}, "attn_implementation": "sdpa"}
    if method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16
        )
    return AutoModelForCausalLM.from_pretrained(folder, **kwargs)


def _read_config(folder: Path) -> dict:
    import json

    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
