"""Two tuneui torch processes on one CPU: a training step beside an inference child, against the step alone.

    python bench/cpu_sharing.py                 # 8 measured steps per case, the embedded SmolLM2-135M
    python bench/cpu_sharing.py --steps 12 --json out.json

Four cases, each training in a fresh process on the demo's chats (LoRA r 16 on every linear layer,
batch 2 of up to 128 tokens, AdamW, the worker's own per-step call into backends.local.cpu_share): alone and beside a
busy inference child (the real `backends.local.inference`, generating the demo's prompts in a loop
through InferenceProcess), first with `TUNEUI_CPU_SHARING=off` for both (the old behaviour: torch's
default thread count in each process), then with it on. It prints the median step time of each case
and the ratios the goal is stated in: beside/alone with sharing (at most 2.5x), and alone with
sharing against alone without (1.0x: one process alone loses nothing). The first step of each
case is a warm-up and is not counted; a case stops after --case-seconds (at least 2 measured steps),
which only the old behaviour beside inference reaches. The machine's load average is printed with the numbers: on a
shared machine, other people's work changes them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EXAMPLES = ROOT / "tuneui" / "data" / "demo" / "examples.jsonl"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _chats() -> list[list[dict]]:
    return [json.loads(line)["messages"] for line in EXAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]


def train_child(model_dir: str, steps: int, batch: int, max_length: int, budget: float) -> None:
    """Train `steps` + 1 steps as the worker does (cpu_share around the run, adjust at each step),
    or fewer when `budget` seconds are spent (at least 2 measured); print one JSON line of step seconds."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from backends.local.cpu_share import share

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32),
                           LoraConfig(r=16, lora_alpha=32, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"))  # fmt: skip
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    texts = [tokenizer.apply_chat_template(chat, tokenize=False) for chat in _chats()]
    seconds: list[float] = []
    threads: list[int] = []
    began = time.monotonic()
    with share().busy():
        for step in range(steps + 1):
            if step >= 3 and time.monotonic() - began > budget:
                break  # a case that would take hours (the old behaviour beside inference) says enough by now
            share().adjust()
            started = time.perf_counter()
            chosen = [texts[(step * batch + i) % len(texts)] for i in range(batch)]
            inputs = tokenizer(chosen, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
            loss = model(**inputs, labels=inputs["input_ids"]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            seconds.append(time.perf_counter() - started)
            threads.append(torch.get_num_threads())
    print(json.dumps({"seconds": seconds[1:], "threads": threads[1:]}), flush=True)


def inference_child(model_dir: str) -> None:
    """Keep the real inference child busy generating until killed; print 'busy' once it generates."""
    from tuneui.core.backend import GenerationParams, ModelRef
    from backends.local.inference_process import InferenceProcess

    worker = InferenceProcess()
    model = ModelRef(backend="local", base_model=model_dir)
    prompts = [[m for m in chat if m["role"] != "assistant"] for chat in _chats()]
    worker.generate(model, prompts[:1], GenerationParams(max_new_tokens=1))  # load the model first
    print("busy", flush=True)
    start = 0
    try:
        while True:
            worker.generate(model, prompts[start : start + 8], GenerationParams(max_new_tokens=48))
            start = (start + 8) % (len(prompts) - 8)
    finally:
        worker.close()


def _run_training(model_dir: str, args: argparse.Namespace, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--train-child", model_dir, "--steps", str(args.steps), "--batch", str(args.batch),
         "--max-length", str(args.max_length), "--case-seconds", str(args.case_seconds)],
        capture_output=True, text=True, env=env, timeout=3600,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the training child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _case(model_dir: str, args: argparse.Namespace, sharing: bool, beside: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNEUI_CPU_SHARING": "on" if sharing else "off"}
    neighbour = None
    if beside:
        neighbour = subprocess.Popen([sys.executable, __file__, "--inference-child", model_dir],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)  # fmt: skip
        assert neighbour.stdout is not None
        if neighbour.stdout.readline().strip() != "busy":
            raise SystemExit("the inference child did not start")
    try:
        result = _run_training(model_dir, args, env)
    finally:
        if neighbour is not None:
            neighbour.terminate()  # its InferenceProcess child ends with it (tuneui.core.children)
            neighbour.wait()
    result["median"] = statistics.median(result["seconds"])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--case-seconds", type=float, default=300.0, help="stop a case's training after this long (at least 2 measured steps)")
    parser.add_argument("--model", help="a model folder (default: the embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--train-child", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--inference-child", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_child:
        train_child(args.train_child, args.steps, args.batch, args.max_length, args.case_seconds)
        return 0
    if args.inference_child:
        inference_child(args.inference_child)
        return 0

    from backends.local.models import ensure_embedded_model

    model_dir = args.model or str(ensure_embedded_model()[0])
    print(f"cpus: {len(os.sched_getaffinity(0))}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = {}
    for sharing in (False, True):
        for beside in (False, True):
            name = f"{'sharing' if sharing else 'old'} {'beside inference' if beside else 'alone'}"
            results[name] = _case(model_dir, args, sharing, beside)
            r = results[name]
            print(f"{name:28s} median {r['median']:7.2f} s/step  threads {sorted(set(r['threads']))}  "
                  f"steps {' '.join(f'{s:.2f}' for s in r['seconds'])}", flush=True)
    old = results["old beside inference"]["median"] / results["old alone"]["median"]
    new = results["sharing beside inference"]["median"] / results["sharing alone"]["median"]
    alone = results["sharing alone"]["median"] / results["old alone"]["median"]
    print(f"slowdown beside an inference child: old {old:.2f}x, with sharing {new:.2f}x (goal: at most 2.5x)")
    print(f"alone, sharing against old: {alone:.2f}x (goal: 1.0x, nothing lost)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "slowdown_old": old, "slowdown_sharing": new, "alone_ratio": alone}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
