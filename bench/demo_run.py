"""The headless demo on the real model: each step's time, the training worker's peak memory, and
the verdict, against the goals (six minutes on a quiet 2-core CPU; at most 3 GiB for training).

    python bench/demo_run.py [DIR]        # DIR must not hold a project yet (default: a temp folder)

It runs `tuneui demo DIR --headless --json` as a user would, samples the peak resident memory
(VmHWM) of the detached training worker from /proc while it runs, and prints one line per step,
then the ratios to the goals. The machine's load average is printed too: on a shared machine wall
times stretch, while step counts, losses, memory and the verdict do not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 360
GOAL_WORKER_GIB = 3.0


def _vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _sample_worker_peak(project: Path, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        for pid_file in project.glob("runs/*/pid"):
            try:
                peak[0] = max(peak[0], _vm_hwm_kib(int(pid_file.read_text().strip())))
            except (OSError, ValueError):
                pass
        time.sleep(0.5)


def main() -> int:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="tuneui-demo-")) / "demo"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    load_before = os.getloadavg()[0]
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=_sample_worker_peak, args=(target, stop, peak), daemon=True)
    sampler.start()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tuneui", "demo", str(target), "--headless", "--json"],
                          capture_output=True, text=True, cwd=ROOT, env=env)  # fmt: skip
    total = time.monotonic() - started
    stop.set()
    sampler.join()
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    steps = dict(re.findall(r"demo: (\w+) done in ([\d.]+) s", done.stderr))
    result = json.loads(done.stdout)
    comparison = result["evaluate"].get("comparison") or {}
    plan = result["train"].get("plan") or {}
    print(f"load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} CPUs)")
    print("steps: " + ", ".join(f"{name} {float(seconds):.1f} s" for name, seconds in steps.items()))
    # Start-up, and with a cold cache the model's one-time preparation from the hub or the wheel.
    print(f"outside the steps (start-up, model preparation): {total - sum(map(float, steps.values())):.1f} s")
    rules = result["evaluate"].get("rules") or {}
    print("rules passed: " + ", ".join(f"{side} {rules[side]['passed']} of {rules[side]['total']}" for side in rules))
    print(f"total: {total:.1f} s = {total / GOAL_SECONDS:.2f}x the {GOAL_SECONDS} s goal")
    print(f"training worker peak RSS: {peak[0] / 2**20:.2f} GiB = {peak[0] / 2**20 / GOAL_WORKER_GIB:.2f}x the {GOAL_WORKER_GIB:g} GiB goal")
    print(f"plan: {plan.get('steps')} steps, learning rate {plan.get('learning_rate')}, max length {plan.get('max_length')}")
    print(f"comparison: {json.dumps(comparison)}")
    print(f"stopped on their own: {json.dumps(result['evaluate'].get('stopped_on_their_own'))}")
    print(f"verdict: {result['evaluate'].get('verdict')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
