"""Training throughput: the tuneui recipe vs plain trl SFTTrainer QLoRA, same model, same chats.

    python bench/train_throughput.py                  # CPU: the tiny model (what CI can run)
    python bench/train_throughput.py --size 1b        # GPU: random-init ~1B Llama-class config
    python bench/train_throughput.py --size 8b        # GPU: random-init ~8B Llama-class config

Each variant trains in its own subprocess (clean peak-memory numbers) for the same steps on the
same synthetic chat data, and reports real (non-padding) tokens per second and peak memory; the
ratio is tuneui / plain, measured in this run. "Plain" is trl's defaults: no packing, loss on all
tokens, gradient checkpointing on, NF4 QLoRA with the same LoRA adapter (r 16, all linear layers).
On a GPU it also reports MFU: FLOPs per token ~ 4N (frozen base: forward + input gradients)
+ attention, x1.5 with checkpointing (one more forward), over the GPU's dense bf16 peak.
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

# Real configs written out (no download): throughput needs the shapes, not trained weights.
CONFIGS = {
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256, max_position_embeddings=4096, tie_word_embeddings=True),  # Llama-3.2-1B
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256, max_position_embeddings=4096, tie_word_embeddings=False),  # Llama-3.1-8B
}  # fmt: skip
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


def build_model(size: str, folder: Path, texts: list[str]) -> None:
    from backends.local.tiny import build_tiny_model

    build_tiny_model(folder, texts)
    if size == "tiny":
        return
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokens = json.loads((folder / "config.json").read_text())
    config = LlamaConfig(**CONFIGS[size], pad_token_id=tokens["pad_token_id"], bos_token_id=tokens["bos_token_id"], eos_token_id=tokens["eos_token_id"])
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # built in bf16 on the GPU: no fp32 copy of 8B weights
    try:
        with torch.device("cuda"):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()


def run_variant(args: argparse.Namespace) -> dict:
    """Train one variant in this process and measure it (called in a subprocess)."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from backends.base import TrainSpec
    from backends.local import recipe

    records = [json.loads(line) for line in Path(args.data).read_text().splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    out = tempfile.mkdtemp(prefix="bench-")
    cuda = torch.cuda.is_available()
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    if args.variant == "tuneui":
        options = {"quantization": args.quantization} if args.quantization != "auto" else {}
        spec = TrainSpec(run_id="bench", backend="local", model=args.model_dir, train_file=args.data, steps=args.steps,
                         batch_size=args.batch_size, max_length=args.max_length, save_every=args.steps + 1,
                         options=options)  # fmt: skip
        loss_on, _ = recipe.choose_loss(tokenizer)
        counts = recipe.token_counts(tokenizer, records)
        plan = recipe.plan_run(spec, counts, False, loss_on)
        model = recipe.load_model(spec, plan)
        config = recipe.sft_config(spec, plan, Path(out))
        checkpointing, described = plan.gradient_checkpointing, plan.to_dict()
    else:
        dtype = torch.bfloat16 if cuda else torch.float32
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)
        model = AutoModelForCausalLM.from_pretrained(args.model_dir, quantization_config=quant, dtype=dtype,
                                                     device_map={"": 0} if cuda else None)  # fmt: skip
        config = SFTConfig(output_dir=out, max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                           max_length=args.max_length, learning_rate=2e-4, logging_steps=args.steps, save_strategy="no",
                           report_to="none", disable_tqdm=True, include_num_input_tokens_seen="non_padding",
                           use_cpu=not cuda)  # fmt: skip
        checkpointing = config.gradient_checkpointing
        described = {"quantization": "nf4", "gradient_checkpointing": checkpointing, "loss_on": "all tokens", "packing": False, "attention": "sdpa"}
    config.include_num_input_tokens_seen = "non_padding"

    class Clock(TrainerCallback):
        """Times the steps after warm-up (first steps compile kernels and fill caches)."""

        def __init__(self) -> None:
            self.start = self.tokens_at_start = None

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

    clock = Clock()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(records), processing_class=tokenizer,
                         peft_config=lora, callbacks=[clock])  # fmt: skip
    trainer.train()
    # Tokens seen after warm-up include the step being timed at the warm-up boundary; close enough
    # for a ratio, and identical for both variants.
    tokens_per_second = clock.tokens / clock.seconds
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    result = {"variant": args.variant, "tokens_per_second": tokens_per_second, "peak_memory_gib": peak,
              "timed_steps": args.steps - args.warmup, "plan": described}  # fmt: skip
    if cuda:
        result.update(mfu(model.config, tokens_per_second, args.mean_tokens, checkpointing))
    return result


def mfu(config, tokens_per_second: float, mean_tokens: float, checkpointing: bool) -> dict:
    """Model FLOPs utilization with the Cost step's FLOP count (4N + attention, x1.5 checkpointed)."""
    import torch

    from tuneui.core.cost.memory import model_shape, training_flops
    from tuneui.core.gpu import peak_tflops

    per_token = training_flops(model_shape(config.to_dict()), 1, int(mean_tokens), checkpointing)
    name = torch.cuda.get_device_name()
    peak = peak_tflops(name)
    return {"gpu": name, "flops_per_token": per_token, "mfu": tokens_per_second * per_token / (peak * 1e12) if peak else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("tiny", "1b", "8b"), default="tiny")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per variant (default: 40 CPU, 30 GPU)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--quantization", choices=("auto", "nf4", "none"), default="auto",
                        help="tuneui's weights: auto = bf16 LoRA when it fits (faster, more memory); nf4 = same "
                             "memory class as plain QLoRA, isolating packing, loss masking and checkpointing")  # fmt: skip
    parser.add_argument("--variant", choices=("tuneui", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--mean-tokens", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    gpu = args.size != "tiny"
    args.steps = args.steps or (30 if gpu else 40)
    args.batch_size = args.batch_size or (8 if args.size == "1b" else 4)
    args.max_length = args.max_length or (2048 if gpu else 512)
    if args.variant:
        print("RESULT " + json.dumps(run_variant(args)), flush=True)
        return 0

    work = Path(tempfile.mkdtemp(prefix="tuneui-bench-"))
    chats = synthetic_chats(args.examples, mean_words=150 if gpu else 60)
    data = work / "train.jsonl"
    data.write_text("".join(json.dumps(c) + "\n" for c in chats))
    started = time.perf_counter()
    build_model(args.size, work / "model", [m["content"] for c in chats[:200] for m in c["messages"]])
    print(f"model {args.size} ready in {time.perf_counter() - started:.0f}s in {work / 'model'}", flush=True)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(work / "model")
    lengths = [
        min(len(tokenizer.apply_chat_template(c["messages"], tokenize=True, return_dict=True)["input_ids"]), args.max_length)
        for c in chats[:300]
    ]
    mean_tokens = sum(lengths) / len(lengths)
    results = {}
    for variant in ("plain", "tuneui"):
        command = [sys.executable, __file__, "--variant", variant, "--model-dir", str(work / "model"), "--data", str(data),
                   "--size", args.size, "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch-size",
                   str(args.batch_size), "--max-length", str(args.max_length), "--mean-tokens", str(mean_tokens),
                   "--quantization", args.quantization]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True)
        line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
            return 1
        results[variant] = json.loads(line[len("RESULT "):])
    print(f"\n{args.size} model, {args.steps} steps ({args.warmup} untimed), batch {args.batch_size}, mean {mean_tokens:.0f} tokens/example")
    for variant, r in results.items():
        extra = f"  MFU {r['mfu']:.1%}" if r.get("mfu") is not None else ""
        plan = {k: r["plan"].get(k) for k in ("quantization", "gradient_checkpointing", "loss_on", "packing", "attention")}
        print(f"  {variant:<7} {r['tokens_per_second']:>10,.0f} real tokens/s   peak {r['peak_memory_gib']:.2f} GiB{extra}   {plan}")
    ratio = results["tuneui"]["tokens_per_second"] / results["plain"]["tokens_per_second"]
    memory = results["tuneui"]["peak_memory_gib"] / results["plain"]["peak_memory_gib"]
    print(f"  ratio tuneui/plain: {ratio:.2f}x tokens/s, {memory:.2f}x peak memory")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
