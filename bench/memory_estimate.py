"""How close tuneui's memory estimate (tuneui.core.cost.memory) comes to what training allocates.

GPU mode (a CUDA device is visible): random-init models built from the real configs of
Qwen2.5-0.5B, Llama-3.2-1B and Llama-3.1-8B (bench/model_configs.py; nothing is downloaded) run a
few LoRA and QLoRA steps the way the local backend does (trl's fused LM head, peft LoRA on all
linear layers, AdamW, bf16 autocast, and Liger's kernels where the recipe would use them) at two
sequence lengths, with and without gradient checkpointing. Each case compares
`torch.cuda.max_memory_allocated` with the estimate minus its CUDA-context term (the allocator
does not see the context). Goal: within ±10 %. Each model is loaded once per method.

CPU mode (no GPU, or --cpu): loads 4-bit (NF4, double quantization) copies of a tiny and a small
random Llama on the CPU with bitsandbytes and compares their real footprint with the weights term.

    .venv/bin/python bench/memory_estimate.py            # GPU mode where CUDA is available
    .venv/bin/python bench/memory_estimate.py --cpu      # weights term only
    .venv/bin/python bench/memory_estimate.py --models qwen2.5-0.5b --steps 2 --json out.json
    .venv/bin/python bench/memory_estimate.py --cpu-smoke  # GPU mode's code on a CPU, tiny configs
"""

from __future__ import annotations

import argparse
import gc
import json
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
SMOKE_SEQUENCE_LENGTHS = (32, 64)  # the code paths, not the sizes: a loaded CPU does this in seconds

from model_configs import CONFIGS, SMOKE_CONFIGS  # noqa: E402

# CPU mode: big enough that bitsandbytes' per-matrix constants are noise, small enough for a laptop.
CPU_SMALL = {
    "model_type": "llama", "hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 4,
    "num_attention_heads": 16, "num_key_value_heads": 4, "vocab_size": 32000, "tie_word_embeddings": False,
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="check only the weights term, on the CPU")
    parser.add_argument("--cpu-smoke", action="store_true", help="run GPU mode's code on the CPU with tiny configs (no measurement)")
    parser.add_argument("--models", default=None, help="comma-separated, from: " + ", ".join(CONFIGS))
    parser.add_argument("--steps", type=int, default=3, help="training steps per case")
    parser.add_argument("--work", type=Path, default=None,
                        help="where random-init checkpoints go, one folder per model, reused when there (default: a temp folder)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="also write every case here")
    args = parser.parse_args()

    import torch

    cases: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tuneui-bench-") as scratch:
        work = args.work or Path(scratch)
        if args.cpu_smoke:
            print("CPU smoke: GPU mode's code with tiny configs; the CPU has no allocator peak to compare")
            cases = gpu_mode(work, _names(args.models, SMOKE_CONFIGS), 1, "cpu", SMOKE_SEQUENCE_LENGTHS, args.json)
        elif args.cpu or not torch.cuda.is_available():
            print("CPU mode: the 4-bit weights term against bitsandbytes' real footprint (no CUDA device here)")
            cases = [{"error": error} for error in cpu_mode(work)]
        else:
            print(f"GPU mode on {torch.cuda.get_device_name(0)}: max_memory_allocated vs estimate - {CUDA_OVERHEAD_GIB} GiB context")
            cases = gpu_mode(work, _names(args.models, CONFIGS), args.steps, "cuda", SEQUENCE_LENGTHS, args.json)
    if args.json:
        args.json.write_text(json.dumps(cases, indent=1))
    errors = [case["error"] for case in cases if case.get("error") is not None]
    if args.cpu_smoke:
        print(f"{len(cases)} case(s) ran")
        return 0 if cases else 1
    if not errors:
        print("no case ran")
        return 1
    worst = max(errors, key=abs)
    print(f"worst error {worst:+.1%} over {len(errors)} case(s); goal ±{GOAL:.0%}: {'met' if abs(worst) <= GOAL else 'NOT met'}")
    return 0


def _names(chosen: str | None, table: dict) -> list[str]:
    names = [name.strip() for name in (chosen or ",".join(table)).split(",") if name.strip()]
    unknown = [name for name in names if name not in table]
    if unknown:
        raise SystemExit(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(table)}")
    return names


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


def gpu_mode(work: Path, names: list[str], steps: int, device: str, lengths: tuple[int, ...], json_path: Path | None) -> list[dict]:
    """Every case of every model; a model is loaded once per method and its cases run in turn.

    The cases so far are written to `json_path` after each model, so a run cut short by a time
    limit still leaves its numbers.
    """
    import torch

    from backends.local.kernels import choose_kernels, probe_machine

    device_gib = torch.cuda.get_device_properties(0).total_memory / GIB if device == "cuda" else float("inf")
    cases = []
    for name in names:
        values = {**CONFIGS, **SMOKE_CONFIGS}[name]
        folder = _save_random(work, name, values, device)
        shape = model_shape(values)
        # The estimate follows the recipe: Liger's kernels where the worker would use them here.
        liger = choose_kernels(probe_machine(device == "cuda"), values["model_type"]).liger
        for method in ("qlora", "lora"):
            plan = [(sequence, checkpointing) for sequence in lengths for checkpointing in (True, False)]
            started = time.perf_counter()
            measured = _train_cases(folder, method, liger, plan, steps, values["vocab_size"], device)
            took = time.perf_counter() - started
            for (sequence, checkpointing), peak in zip(plan, measured):
                estimate = memory_breakdown(
                    shape, method, tokens_per_step=BATCH_SIZE * sequence, lora_rank=LORA_RANK,
                    gradient_checkpointing=checkpointing, lora_dropout=True, liger=liger,
                )  # fmt: skip
                cases.append(_case(name, method, sequence, checkpointing, liger, estimate, peak, device_gib))
            print(f"  ({name} {method}: {len(plan)} cases in {took:.0f} s)", flush=True)
        _remove(folder)
        if json_path:
            json_path.write_text(json.dumps(cases, indent=1))
    return cases


def _case(name, method, sequence, checkpointing, liger, estimate, peak, device_gib) -> dict:
    label = f"{name:13s} {method:5s} seq {sequence:4d} {'ckpt' if checkpointing else 'full'}{' liger' if liger else ''}"
    expected = estimate.total - CUDA_OVERHEAD_GIB
    case = {"model": name, "method": method, "sequence": sequence, "checkpointing": checkpointing, "liger": liger,
            "estimated_gib": round(expected, 3), "measured_gib": None, "error": None}  # fmt: skip
    if peak == "oom":
        verdict = "agrees" if estimate.total > device_gib else "DISAGREES"
        print(f"  {label}  out of memory; estimate {estimate.total:6.1f} GiB of {device_gib:.1f}: {verdict}")
        case["out_of_memory"] = verdict
    elif peak is None:
        print(f"  {label}  ran (no allocator peak on a CPU); estimated {expected:6.2f} GiB")
    else:
        case.update(measured_gib=round(peak, 3), error=expected / peak - 1)
        terms = ", ".join(f"{k} {v:.2f}" for k, v in estimate.to_json().items() if k != "total")
        print(f"  {label}  measured {peak:6.2f} GiB  estimated {expected:6.2f} GiB  error {case['error']:+6.1%}  ({terms})")
    return case


def _train_cases(folder: Path, method: str, liger: bool, plan: list, steps: int, vocab: int, device: str) -> list:
    """Peak GiB the allocator handed out for each (sequence, checkpointing) case; "oom" where it ran out.

    One model, set up in the order trl's SFTTrainer uses (fused head, checkpointing, adapters,
    Liger at the start of training). Each case's peak is measured from before the model was
    loaded, so weights, adapters and optimizer state count in every case, as in the estimate.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from trl.trainer.utils import add_fused_lm_head

    cuda = device == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated() if cuda else 0
    model = _load(folder, method, device)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"))
    if method == "qlora":
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.data = parameter.data.to(torch.bfloat16)  # as trl does for QLoRA adapters
    if liger:
        from transformers.integrations.liger import apply_liger_kernel

        apply_liger_kernel(model, {"fused_linear_cross_entropy": False})  # what Trainer.train() does
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    peaks: list = []
    try:
        for sequence, checkpointing in plan:
            _set_checkpointing(model.get_base_model(), checkpointing)
            if cuda:
                torch.cuda.empty_cache()
                # Quantizing while loading passes each tensor through in bf16: not a training peak.
                torch.cuda.reset_peak_memory_stats()
            try:
                for _ in range(steps):
                    ids = torch.randint(0, vocab, (BATCH_SIZE, sequence), device=device)
                    with torch.autocast(device, dtype=torch.bfloat16):
                        loss = model(input_ids=ids, labels=ids, fused_lm_head=True, use_cache=False).loss
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                if cuda:
                    torch.cuda.synchronize()
                peaks.append((torch.cuda.max_memory_allocated() - before) / GIB if cuda else None)
            except torch.cuda.OutOfMemoryError:
                optimizer.zero_grad(set_to_none=True)
                peaks.append("oom")
    finally:
        del model, optimizer
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    return peaks


def _set_checkpointing(model, on: bool) -> None:
    """Activation checkpointing on or off, by the name this transformers uses (renamed in 5.2x)."""
    enable = getattr(model, "activation_checkpointing_enable", None)
    if on and enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    elif on:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        (getattr(model, "activation_checkpointing_disable", None) or model.gradient_checkpointing_disable)()


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
