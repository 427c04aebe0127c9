"""`tuneui data check` against the OpenAI cookbook's method, on the same 100,000-example chat files.

    .venv/bin/python bench/dataset_check.py [--examples 100000] [--file PATH]

Without --file it runs on three files it makes: `chat_N.jsonl`, whose paragraph-long system prompt
repeats in 95 % of the examples, `varied_N.jsonl`, a short system prompt and user and assistant
text where nearly nothing repeats (a 20,000-word made-up vocabulary, numbers, prices, codes), and
`random_N.jsonl`, random strings: the worst case for counting remembered pre-tokens, where nearly
every piece is new.

The cookbook method is the notebook "Data preparation and analysis for chat model fine-tuning":
json.loads per line, its format checks, then tiktoken per message for every example's total and
again for its assistant messages. Each side runs in its own fresh interpreter so that its peak
memory (ru_maxrss) is its own; both load the same tiktoken encoding from the same offline cache.
Prints both timings, the ratio, both peak memories and whether the token totals agree.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import string
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
ENCODING = "o200k_base"
# A production system prompt is a paragraph of instructions, and it is the same in every example:
# here it is about 45 % of the file's text, as in a typical support-bot dataset. A second, short
# prompt on 5 % of the examples exercises the inconsistent_system check.
SYSTEM_PROMPTS = (
    "You are Marv, the support assistant of Harbor Hardware, a chain of twelve hardware stores. Answer "
    "customers' questions about orders, deliveries, returns, refunds, warranties, opening hours and "
    "products in two to four short sentences, politely and in plain words. Never promise a refund or a "
    "delivery date yourself: say what the policy is and offer to pass the case to a colleague. If a "
    "question is about safety (electricity, gas, ladders, power tools), tell the customer to stop and "
    "to call the store. Do not discuss competitors, prices of other shops, or anything outside the "
    "store's products and services; say politely that you can only help with Harbor Hardware.",
    "You are a concise assistant.",
)


WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from or one had by "
    "word but not what all were we when your can said there use an each which she do how their if will up "
    "other about out many then them these so some her would make like him into time has look two more write "
    "go see number no way could people my than first water been call who oil its now find long down day did "
    "get come made may part order refund drill screws delivery invoice warranty store return account password "
    "shipping tracking battery charger hammer paint brush ladder garden hose discount receipt manager weekend "
    "opening hours exchange size colour stock available tomorrow sorry thanks please help question answer"
).split()


def make_file(path: Path, examples: int, seed: int = 0) -> None:
    """Chat examples of about 1.2 KB: the system prompt above, then English-like user and assistant text."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(examples):
            system = SYSTEM_PROMPTS[0] if n % 20 else SYSTEM_PROMPTS[1]
            user = " ".join(rng.choices(WORDS, k=rng.randint(15, 35))).capitalize() + "?"
            sentences = (" ".join(rng.choices(WORDS, k=rng.randint(8, 16))).capitalize() for _ in range(rng.randint(3, 6)))
            record = {"messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
                {"role": "assistant", "content": ". ".join(sentences) + "."},
            ]}
            handle.write(json.dumps(record) + "\n")


def make_varied_file(path: Path, examples: int, seed: int = 0) -> None:
    """Chat examples where almost no text repeats: a short system prompt, then user and assistant
    text drawn from a large vocabulary with numbers, names and punctuation (support tickets, code,
    prices), so that counting each distinct string once saves nothing."""
    rng = random.Random(seed)
    syllables = [a + b for a in "bcdfghjklmnprstvwz" for b in "aeiouy"] + ["th", "sh", "ch", "qu", "str", "ing", "tion"]
    vocabulary = [
        "".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(20_000)
    ] + WORDS  # fmt: skip
    extras = ("#{}", "${}.{:02d}", "v{}.{}", "{}%", "order-{}", "({})", "'{}'", "{}-{}")

    def sentence(low: int, high: int) -> str:
        words = []
        for _ in range(rng.randint(low, high)):
            if rng.random() < 0.12:
                words.append(rng.choice(extras).format(rng.randint(0, 9999), rng.randint(0, 99)))
            else:
                word = rng.choice(vocabulary)
                words.append(word.capitalize() if rng.random() < 0.1 else word)
        return " ".join(words)

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(examples):
            record = {"messages": [
                {"role": "system", "content": SYSTEM_PROMPTS[1]},
                {"role": "user", "content": sentence(12, 40).capitalize() + "?"},
                {"role": "assistant", "content": ". ".join(sentence(6, 18).capitalize() for _ in range(rng.randint(2, 6))) + "."},
            ]}
            handle.write(json.dumps(record) + "\n")


def make_random_file(path: Path, examples: int, seed: int = 0) -> None:
    """Chat examples of random letters, digits and punctuation: almost no piece of text repeats."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "+/=-_.,!? "
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(examples):
            record = {"messages": [
                {"role": "system", "content": "Decode the string."},
                {"role": "user", "content": "".join(rng.choices(alphabet, k=rng.randint(50, 300)))},
                {"role": "assistant", "content": "".join(rng.choices(alphabet, k=rng.randint(50, 500)))},
            ]}
            handle.write(json.dumps(record) + "\n")


def run_cookbook(path: Path) -> int:
    """The cookbook's code, kept as written there (its encoding swapped for the offline o200k_base)."""
    from collections import defaultdict

    from tuneui.core.tokens import get_encoding

    with open(path, "r", encoding="utf-8") as f:
        dataset = [json.loads(line) for line in f]

    format_errors: dict[str, int] = defaultdict(int)
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            format_errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1
            if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
                format_errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1
        if not any(message.get("role", None) == "assistant" for message in messages):
            format_errors["example_missing_assistant_message"] += 1

    encoding = get_encoding(ENCODING)

    def num_tokens_from_messages(messages, tokens_per_message=3, tokens_per_name=1):  # type: ignore[no-untyped-def]
        num_tokens = 0
        for message in messages:
            num_tokens += tokens_per_message
            for key, value in message.items():
                num_tokens += len(encoding.encode(value))
                if key == "name":
                    num_tokens += tokens_per_name
        num_tokens += 3
        return num_tokens

    def num_assistant_tokens_from_messages(messages):  # type: ignore[no-untyped-def]
        num_tokens = 0
        for message in messages:
            if message["role"] == "assistant":
                num_tokens += len(encoding.encode(message["content"]))
        return num_tokens

    n_missing_system = n_missing_user = 0
    n_messages, convo_lens, assistant_message_lens = [], [], []
    for ex in dataset:
        messages = ex["messages"]
        if not any(message["role"] == "system" for message in messages):
            n_missing_system += 1
        if not any(message["role"] == "user" for message in messages):
            n_missing_user += 1
        n_messages.append(len(messages))
        convo_lens.append(num_tokens_from_messages(messages))
        assistant_message_lens.append(num_assistant_tokens_from_messages(messages))
    n_too_long = sum(length > 65_536 for length in convo_lens)
    print(f"cookbook: {dict(format_errors)} missing system {n_missing_system}, too long {n_too_long}", file=sys.stderr)
    return sum(convo_lens)


def run_tuneui(path: Path) -> int:
    """The `tuneui data check FILE --json` code path, its JSON output parsed back."""
    import contextlib
    import io

    from tuneui.cli import main

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        code = main(["data", "check", str(path), "--json"])
    if code not in (0, 1):
        raise SystemExit(f"tuneui data check exited {code}")
    return json.loads(captured.getvalue())["tokens"]["total"]


def measure(side: str, path: Path) -> dict[str, float]:
    """Run one side in a fresh interpreter; returns its seconds, peak MB and token total."""
    out = subprocess.run(
        [sys.executable, __file__, "--side", side, "--file", str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--file", type=Path, default=None, help="reuse this chat JSONL instead of making one")
    parser.add_argument("--side", choices=("cookbook", "tuneui"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        before = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = before.ru_utime + before.ru_stime
        start = time.perf_counter()
        total = (run_cookbook if args.side == "cookbook" else run_tuneui)(args.file)
        seconds = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_SELF)
        # tuneui counts in helper processes (one per core but one): their CPU counts, and their peak
        # memory is added to this process's as if every helper peaked at the same moment.
        helpers = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = usage.ru_utime + usage.ru_stime - cpu_before + helpers.ru_utime + helpers.ru_stime
        helper_peak = helpers.ru_maxrss * max(1, (os.cpu_count() or 1) - 1) if helpers.ru_maxrss else 0
        print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": (usage.ru_maxrss + helper_peak) / 1024, "tokens": total}))
        return 0
    if args.file is not None:
        return compare(args.file)
    # One file whose long system prompt repeats (counted once), one of varied text where nothing
    # repeats but words and the short system prompt, one where not even words repeat.
    for maker, name in ((make_file, "chat"), (make_varied_file, "varied"), (make_random_file, "random")):
        path = OUT / f"{name}_{args.examples}.jsonl"
        if not path.exists():
            maker(path, args.examples)
        compare(path)
        print()
    return 0


def compare(path: Path) -> int:
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    cookbook = measure("cookbook", path)
    ours = measure("tuneui", path)
    for name, result in (("cookbook method", cookbook), ("tuneui data check", ours)):
        print(
            f"{name:<18} {result['seconds']:7.2f} s wall  {result['cpu']:7.2f} s CPU  "
            f"peak {result['peak_mb']:6.0f} MB  tokens {int(result['tokens']):,}"
        )
    # CPU time is printed too because wall time moves with whatever else the machine is running.
    print(f"speed-up: {cookbook['seconds'] / ours['seconds']:.2f}x wall, {cookbook['cpu'] / ours['cpu']:.2f}x CPU (goal >= 3x)")
    print(f"peak memory: {ours['peak_mb'] / cookbook['peak_mb']:.2f}x the cookbook's (goal <= 1x)")
    print(f"token totals agree: {'yes' if cookbook['tokens'] == ours['tokens'] else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
