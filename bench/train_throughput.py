"""Training throughput: the tuneui recipe vs plain trl SFTTrainer QLoRA vs Unsloth, same model, same chats.

    python bench/train_throughput.py                          # CPU: the tiny model (what CI can run)
    python bench/train_throughput.py --size llama-3.1-8b      # GPU: random-init Llama-3.1-8B config
    python bench/train_throughput.py --size llama-3.2-1b --json out.json
    python bench/train_throughput.py --cpu-smoke              # the GPU code paths, tiny configs, on a CPU

Each variant trains in its own subprocess (clean peak-memory numbers) for the same steps on the
same synthetic chat data, and reports real (non-padding) tokens per second and peak memory; the
ratios are against plain trl, measured in this run. "plain" is trl's defaults: no packing, loss on
all tokens, gradient checkpointing on, NF4 QLoRA, LoRA r 16 on all linear layers. "unsloth" is
Unsloth's QLoRA recipe with the same adapter, where it imports (skipped with the reason otherwise).
"tuneui" is the local backend's own plan (kernels, packing, quantization chosen for this machine);
`--quantization nf4` pins it to QLoRA, the same memory class as the other two. On a GPU it also
reports MFU (FLOPs per token ~ 4N + attention, x1.5 with checkpointing, over the GPU's dense bf16
peak) and, for tuneui, its memory estimate against the measured peak.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from model_configs import CONFIGS, SMOKE_CONFIGS  # noqa: E402

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
WORDS = ("invoice refund crash export settings password account billing order shipping delivery "
         "update login error page mobile app team plan upgrade cancel data report email").split()  # fmt: skip


def synthetic_chats(count: int, mean_words: int, seed: int = 0) -> list[dict]:
    """Chats with a long-tailed length mix, like real support data: most short, a few long."""
    rng = random.Random(seed)
    chats = []
    for _ in range(count):
        user_words = max(5, int(rng.lognormvariate(0, 0.6) * mean_words * 0.7))
        answer_words = max(3, int(rng.lognormvariate(0, 0.6) * mean_words * 0.3))
        chats.append({"messages": [
            {"role": "system", "content": "You are a helpful support assistant."},
            {"role": "user", "content": " ".join(rng.choice(WORDS) for _ in range(user_words))},
            {"role": "assistant", "content": " ".join(rng.choice(WORDS) for _ in range(answer_words))},
        ]})  # fmt: skip
    return chats


def build_model(size: str, folder: Path, texts: list[str], device: str) -> None:
    """The tiny model's tokenizer, and for a named size a random-init model of that config in bf16."""
    from backends.local.tiny import build_tiny_model

    build_tiny_model(folder, texts)
    if size == "tiny":
        return
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    tokens = json.loads((folder / "config.json").read_text())
    values = {**{**CONFIGS, **SMOKE_CONFIGS}[size], **{k: tokens[k] for k in ("pad_token_id", "bos_token_id", "eos_token_id")}}
    config = AutoConfig.for_model(**values)
    with torch.device(device):  # built where it trains: no fp32 copy of 8B weights on the host
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()


def run_variant(args: argparse.Namespace) -> dict:
    """Train one variant in this process and measure it (called in a subprocess)."""
    if args.variant == "unsloth":
        import unsloth  # noqa: F401  (Unsloth patches transformers and trl: it must come first)
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback

    cuda = torch.cuda.is_available()
    records = [json.loads(line) for line in Path(args.data).read_text().splitlines()]
    out = tempfile.mkdtemp(prefix="bench-")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    model, tokenizer, config, peft_config, described, estimate = _VARIANTS[args.variant](args, records, out, cuda)
    config.include_num_input_tokens_seen = "non_padding"

    class Clock(TrainerCallback):
        """Times the steps after warm-up (first steps compile kernels and fill caches)."""

        def on_step_begin(self, a, state, control, **kw):
            if state.global_step == args.warmup:
                if cuda:
                    torch.cuda.synchronize()
                self.start, self.tokens_at_start = time.perf_counter(), state.num_input_tokens_seen

        def on_train_end(self, a, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.seconds = time.perf_counter() - self.start
            self.tokens = state.num_input_tokens_seen - self.tokens_at_start

    from trl import SFTTrainer

    clock = Clock()
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(records), processing_class=tokenizer,
                         peft_config=peft_config, callbacks=[clock])  # fmt: skip
    trainer.train()
    tokens_per_second = clock.tokens / clock.seconds
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    result = {"variant": args.variant, "tokens_per_second": tokens_per_second, "peak_memory_gib": peak,
              "timed_steps": args.steps - args.warmup, "plan": described}  # fmt: skip
    if estimate is not None:
        result["estimate_gib"] = estimate
    if cuda or args.cpu_smoke:
        checkpointing = bool(described.get("gradient_checkpointing"))
        result.update(mfu(model.config, tokens_per_second, args.mean_tokens, checkpointing, torch.cuda.get_device_name() if cuda else None))
    return result


def _tuneui(args, records, out, cuda):
    import dataclasses

    from transformers import AutoTokenizer

    from tuneui.core.backend import TrainSpec
    from backends.local import recipe, training_data
    from backends.local.config import model_config, plan_memory
    from tuneui.core.cost.memory import CUDA_OVERHEAD_GIB
    from tuneui.core.gpu import find_gpus

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    options = {"quantization": args.quantization} if args.quantization != "auto" else {}
    spec = TrainSpec(run_id="bench", backend="local", model=args.model_dir, train_file=args.data, steps=args.steps,
                     batch_size=args.batch_size, max_length=args.max_length, save_every=args.steps + 1,
                     options=options)  # fmt: skip
    loss_on, _ = training_data.choose_loss(tokenizer)
    counts = training_data.token_counts(tokenizer, records)
    plan, model = recipe.plan_and_load(spec, counts, False, loss_on)
    config = recipe.sft_config(spec, plan, Path(out))
    estimate = None
    gpus = find_gpus() if cuda else []
    if gpus:
        as_run = dataclasses.replace(spec, options={**options, "quantization": plan.quantization,
                                                    "gradient_checkpointing": plan.gradient_checkpointing})  # fmt: skip
        # Sized by the longest example (the run's worst step): with padding, the timed steps may not meet it.
        memory = plan_memory(model_config(args.model_dir), as_run, min(gpus, key=lambda g: g.memory_gib), counts,
                             packing=plan.packing, liger=plan.liger_kernel)  # fmt: skip
        # max_memory_allocated never sees the CUDA context: compare without that term.
        estimate = memory.memory_gib - CUDA_OVERHEAD_GIB if memory.memory_gib is not None else None
    return model, tokenizer, config, recipe.lora_config(spec), plan.to_dict(), estimate


def _plain(args, records, out, cuda):
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    dtype = torch.bfloat16 if cuda else torch.float32
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, quantization_config=quant, dtype=dtype,
                                                 device_map={"": 0} if cuda else None)  # fmt: skip
    config = _plain_config(args, out, cuda)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    described = {"quantization": "nf4", "gradient_checkpointing": config.gradient_checkpointing, "loss_on": "all tokens",
                 "packing": False, "attention": "sdpa"}  # fmt: skip
    return model, tokenizer, config, lora, described, None


def _unsloth(args, records, out, cuda):
    """Unsloth's documented QLoRA recipe (FastLanguageModel, its own checkpointing) with trl's trainer."""
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(model_name=args.model_dir, max_seq_length=args.max_length,
                                                         dtype=None, load_in_4bit=True)  # fmt: skip
    model = FastLanguageModel.get_peft_model(model, r=16, lora_alpha=32, lora_dropout=0, target_modules=LORA_TARGETS,
                                             use_gradient_checkpointing="unsloth", random_state=0)  # fmt: skip
    described = {"quantization": "nf4", "gradient_checkpointing": "unsloth", "loss_on": "all tokens", "packing": False, "attention": "unsloth"}
    return model, tokenizer, _plain_config(args, out, cuda), None, described, None


def _plain_config(args, out: str, cuda: bool):
    from trl import SFTConfig

    return SFTConfig(output_dir=out, max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                     max_length=args.max_length, learning_rate=2e-4, logging_steps=args.steps, save_strategy="no",
                     report_to="none", disable_tqdm=True, use_cpu=not cuda)  # fmt: skip


_VARIANTS = {"tuneui": _tuneui, "plain": _plain, "unsloth": _unsloth}


def mfu(config, tokens_per_second: float, mean_tokens: float, checkpointing: bool, gpu_name: str | None) -> dict:
    """Model FLOPs utilization with the Cost step's FLOP count (4N + attention, x1.5 checkpointed)."""
    from tuneui.core.cost.memory import model_shape, training_flops
    from tuneui.core.gpu import peak_tflops

    per_token = training_flops(model_shape(config.to_dict()), 1, int(mean_tokens), checkpointing)
    peak = peak_tflops(gpu_name) if gpu_name else None
    return {"gpu": gpu_name, "flops_per_token": per_token, "mfu": tokens_per_second * per_token / (peak * 1e12) if peak else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("tiny", *CONFIGS, *SMOKE_CONFIGS), default="tiny")
    parser.add_argument("--variants", default=None, help="comma-separated from plain,tuneui,unsloth (default: all on a GPU, plain,tuneui on a CPU)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per variant (default: 40 CPU, 30 GPU)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--quantization", choices=("auto", "nf4", "none"), default="auto",
                        help="tuneui's weights: auto = its own plan (bf16 LoRA when it fits); nf4 = same memory class as plain QLoRA")  # fmt: skip
    parser.add_argument("--cpu-smoke", action="store_true", help="run the GPU code paths on a CPU with tiny configs (a few steps)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the random-init model in WORK/SIZE (bench/memory_estimate.py --work WORK reuses it)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=None, help="seconds per variant before it is reported as timed out")
    parser.add_argument("--variant", choices=tuple(_VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--mean-tokens", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cpu_smoke and args.size == "tiny":
        args.size = "tiny-llama"
    gpu = args.size in CONFIGS
    args.steps = args.steps or (30 if gpu else 3 if args.cpu_smoke else 40)
    args.warmup = min(args.warmup, args.steps - 2) if args.cpu_smoke else args.warmup
    args.batch_size = args.batch_size or (8 if args.size in ("llama-3.2-1b", "qwen2.5-0.5b") else 4)
    args.max_length = args.max_length or (2048 if gpu else 512)
    if args.variant:
        print("RESULT " + json.dumps(run_variant(args)), flush=True)
        return 0
    variants = (args.variants or ("plain,tuneui,unsloth" if gpu or args.cpu_smoke else "plain,tuneui")).split(",")
    return compare(args, variants, "cuda" if gpu else "cpu")


def compare(args: argparse.Namespace, variants: list[str], device: str) -> int:
    work = Path(tempfile.mkdtemp(prefix="tuneui-bench-"))
    model_dir = args.work / args.size if args.work else work / "model"
    chats = synthetic_chats(args.examples if not args.cpu_smoke else 64, mean_words=150 if device == "cuda" else 60)
    data = work / "train.jsonl"
    data.write_text("".join(json.dumps(c) + "\n" for c in chats))
    started = time.perf_counter()
    build_model(args.size, model_dir, [m["content"] for c in chats[:200] for m in c["messages"]], device)
    print(f"model {args.size} ready in {time.perf_counter() - started:.0f}s in {model_dir}", flush=True)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lengths = [
        min(len(tokenizer.apply_chat_template(c["messages"], tokenize=True, return_dict=True)["input_ids"]), args.max_length)
        for c in chats[:300]
    ]
    mean_tokens = sum(lengths) / len(lengths)
    results: dict[str, dict] = {}
    for variant in variants:
        command = [sys.executable, __file__, "--variant", variant, "--model-dir", str(model_dir), "--data", str(data),
                   "--size", args.size, "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch-size",
                   str(args.batch_size), "--max-length", str(args.max_length), "--mean-tokens", str(mean_tokens),
                   "--quantization", args.quantization] + (["--cpu-smoke"] if args.cpu_smoke else [])  # fmt: skip
        results[variant] = _run(command, variant, args.timeout)
        if args.json:  # after each variant: a session cut short still keeps what ran
            args.json.write_text(json.dumps({"size": args.size, "steps": args.steps, "batch_size": args.batch_size,
                                             "mean_tokens": mean_tokens, "results": results}, indent=1))  # fmt: skip
    _report(args, results, mean_tokens)
    # Unsloth is compared where it installs; the other variants must run.
    return 0 if all("tokens_per_second" in results[v] for v in variants if v != "unsloth") else 1


def _run(command: list[str], variant: str, timeout: float | None) -> dict:
    """One variant's result, or why it has none (not installed, crashed, timed out): the others still run."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "skipped": f"timed out after {timeout:.0f}s"}
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is not None:
        return json.loads(line[len("RESULT "):])
    tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no output"]
    if variant != "unsloth":
        print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
    return {"variant": variant, "skipped": tail[0][:300]}


def _report(args: argparse.Namespace, results: dict[str, dict], mean_tokens: float) -> None:
    print(f"\n{args.size} model, {args.steps} steps ({args.warmup} untimed), batch {args.batch_size}, mean {mean_tokens:.0f} tokens/example")
    for variant, r in results.items():
        if "skipped" in r:
            print(f"  {variant:<8} skipped: {r['skipped']}")
            continue
        extra = f"  MFU {r['mfu']:.1%}" if r.get("mfu") is not None else ""
        if r.get("estimate_gib") is not None:
            extra += f"  estimate {r['estimate_gib']:.2f} GiB ({r['estimate_gib'] / r['peak_memory_gib'] - 1:+.1%})"
        keys = ("quantization", "gradient_checkpointing", "loss_on", "packing", "attention", "liger_kernel", "loss_kernel")
        plan = {k: r["plan"].get(k) for k in keys if k in r["plan"]}
        print(f"  {variant:<8} {r['tokens_per_second']:>10,.0f} real tokens/s   peak {r['peak_memory_gib']:.2f} GiB{extra}   {plan}")
    plain = results.get("plain", {})
    for variant in ("tuneui", "unsloth"):
        r = results.get(variant, {})
        if "tokens_per_second" in r and "tokens_per_second" in plain:
            print(f"  ratio {variant}/plain: {r['tokens_per_second'] / plain['tokens_per_second']:.2f}x tokens/s, "
                  f"{r['peak_memory_gib'] / plain['peak_memory_gib']:.2f}x peak memory")  # fmt: skip
    if "tokens_per_second" in results.get("tuneui", {}) and "tokens_per_second" in results.get("unsloth", {}):
        print(f"  ratio tuneui/unsloth: {results['tuneui']['tokens_per_second'] / results['unsloth']['tokens_per_second']:.2f}x tokens/s")


if __name__ == "__main__":
    raise SystemExit(main())
