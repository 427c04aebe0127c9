"""What counting answers as they finish costs: the local worker's `complete` against its
`complete_counted` (issue 21's "answer 7 of 66"), on the embedded SmolLM2-135M-Instruct.

    .venv/bin/python bench/answer_count.py [--answers 32] [--tokens 64] [--rounds 3]

One inference worker answers the same `--answers` requests (the demo's held-out questions,
greedy, up to `--tokens` tokens) `--rounds` times each way, alternating, after one warm-up; prints
each way's best time, their ratio, and how many counts the counted way reported before the batch
ended. Goal: counted / plain within 1.05 (counting costs no speed) and counts inside the batch.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from tuneui.core.backend import GenerationParams, ModelRef
    from backends.local.backend import LocalBackend
    from backends.local.models import ensure_embedded_model
    from tuneui.core.workspace import init_workspace

    folder, _ = ensure_embedded_model()
    lines = (ROOT / "tuneui" / "data" / "demo" / "examples.jsonl").read_text(encoding="utf-8").splitlines()
    users = [m["content"] for line in lines if line.strip() for m in json.loads(line)["messages"] if m["role"] == "user"]
    conversations = [[{"role": "user", "content": text}] for text in users[: args.answers]]
    backend = LocalBackend(init_workspace(Path(tempfile.mkdtemp()) / "bench"))
    ref = ModelRef(backend="local", base_model=str(folder))
    params = GenerationParams(max_new_tokens=args.tokens)
    try:
        backend.complete(ref, conversations[:2], params)  # load the model once, outside the timings
        plain, counted, inside = [], [], 0
        for _ in range(args.rounds):
            started = time.perf_counter()
            expected = backend.complete(ref, conversations, params)
            plain.append(time.perf_counter() - started)
            counts: list[int] = []
            started = time.perf_counter()
            got = backend.complete_counted(ref, conversations, params, counts.append)
            counted.append(time.perf_counter() - started)
            assert tuple(got) == tuple(expected), "counting changed the answers"
            inside = max(inside, len([c for c in counts if c % 32 != 0 and c != len(conversations)]))
    finally:
        backend.close()
    ratio = min(counted) / min(plain)
    print(f"{len(conversations)} answers, up to {args.tokens} tokens, best of {args.rounds}:")
    print(f"  plain complete     {min(plain):6.2f} s")
    print(f"  complete_counted   {min(counted):6.2f} s   ratio {ratio:.3f} (goal <= 1.05)")
    print(f"  counts reported inside a batch: {inside}")
    return 0 if ratio <= 1.05 and inside > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
