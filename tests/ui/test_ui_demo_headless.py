"""`tuneui demo DIR --headless --json`: every step on a CPU, Export included, on the real embedded model.

The end-to-end test is the point of the demo: SmolLM2-135M-Instruct, the defaults rule, and a
tuned model that beats the best prompt with an interval above zero. docs/benchmarks.md records
each step's time on a quiet machine; the timeout leaves room for a loaded CI box.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "tuneui" / "data" / "demo" / "examples.jsonl"


def _demo(target: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuneui", "demo", str(target), "--headless", "--json"],
        capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_headless_demo_on_the_real_model_beats_the_best_prompt(headless_demo) -> None:
    # The command starts when collection ends and runs beside the other tests (tests/ui/conftest.py);
    # it prepares the embedded model itself where the cache has none, as a user's first demo does.
    from backends.local.models import embedded_model_folder

    embedded_model = embedded_model_folder()
    returncode, stdout, stderr, target = headless_demo(timeout=1750)
    done = subprocess.CompletedProcess([], returncode, stdout, stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"baseline", "dataset", "cost", "train", "evaluate", "export"}
    assert f"model: {embedded_model.name}, from " in done.stderr  # the demo says where the model came from
    assert json.dumps(str(embedded_model)) in (target / "tuneui.toml").read_text(encoding="utf-8")

    # Dataset: the demo's planted problems are found, and the split is written.
    dataset = result["dataset"]
    assert dataset["errors"] == 0
    assert {"duplicate", "contradiction", "inconsistent_system"} <= set(dataset["findings"])
    assert dataset["train"] + dataset["val"] == dataset["examples"]

    # Baseline: every prompt variant scored on the real model.
    baseline = result["baseline"]
    assert set(baseline["variants"]) == {"zero-shot", "system", "3-shot"} and baseline["best"] in baseline["variants"]

    # Train: the defaults rule's plan, not settings tuned for a random model.
    train = result["train"]
    assert train["status"] == "succeeded"
    assert train["plan"]["learning_rate"] == 1e-3 and train["plan"]["reasons"]
    assert train["metrics"]["last_train_loss"] < train["metrics"]["first_train_loss"]

    # Evaluate: the tuned model beats the best prompt, and its answers end on their own.
    evaluate = result["evaluate"]
    comparison = evaluate["comparison"]
    assert comparison["baseline_variant"] == baseline["best"] and comparison["metric"] == "rouge_l"
    assert comparison["ci95"][0] > 0, evaluate["verdict"]
    assert evaluate["verdict"].startswith(f"tuned beats the {baseline['best']} prompt")
    stopped = evaluate["stopped_on_their_own"]
    # measured: 22 of 22 tuned answers end on their own (docs/benchmarks.md); without a trained
    # stop token most would run to the cap
    assert stopped["total"] == dataset["val"] and stopped["tuned"] >= 0.8 * stopped["total"]
    # The demo's house-voice rules, checked on the baseline to beat's and the tuned model's answers:
    # the tuned model passes them all more often than the prompt, and on a CPU with native bf16
    # matmuls (this project's machine), whose budget buys 43 steps, in nearly all answers. The goal,
    # 90 %, is measured by bench/demo_run.py (20 of 22 against the 3-shot prompt's 15); the test
    # keeps one answer of margin, since another CPU's bf16 kernels round differently. An fp32
    # CPU's 24 steps reach 17 of 22.
    house = {"sign-off", "next-step", "brief"}
    rules = evaluate["rules"]
    for side in ("baseline", "tuned"):
        assert rules[side]["total"] == dataset["val"] and set(rules[side]["by_rule"]) == house
    assert rules["tuned"]["passed"] > rules["baseline"]["passed"], rules
    if train["plan"]["steps"] >= 40:
        assert rules["tuned"]["passed"] >= rules["tuned"]["total"] - 3, rules
    assert set(baseline["rules"]) == set(baseline["variants"])
    assert (target / "runs" / train["run_id"] / "adapter" / "adapter_config.json").is_file()
    assert "train done in" in done.stderr  # step times go to stderr, never into the JSON

    # Export: the demo's tuned run leaves as merged safetensors, GGUF and a Modelfile, each checked.
    export = result["export"]
    assert export["run_id"] == train["run_id"] and "error" not in export, export
    assert {"README.md", "merged/", "Modelfile"} <= set(export["files"])
    assert set(export["checks"]) == {"merged_vs_adapter", "gguf_metadata", "gguf_answers", "modelfile"}
    assert all(check["ok"] for check in export["checks"].values()), export["checks"]
    assert export["checks"]["merged_vs_adapter"]["total"] == dataset["val"]
    _check_the_exported_files(target, train["run_id"], export, dataset["val"])


def _check_the_exported_files(target: Path, run_id: str, export: dict, held_out: int) -> None:
    """`tuneui export RUN --json` on the demo's tuned run (issue 20): every format, check and command."""
    folder = target / "exports" / run_id
    assert export["folder"] == str(folder) and export["ok"] is True
    # The adapter's answers are the evaluation's; the merged model and the GGUF read back are checked
    # against them by one forward pass each (bench/export.py), answering anew only where they differ.
    merged_check, gguf_check = export["checks"]["merged_vs_adapter"], export["checks"]["gguf_answers"]
    assert merged_check["adapter_answers_from"] == "evaluation" and merged_check["same"] == held_out
    assert merged_check["proven_by_forcing"] >= held_out - 2, merged_check  # answers cut at the cap are generated on
    assert gguf_check["total"] == held_out and gguf_check["rules_passed"] is not None

    # merged/: safetensors, tokenizer, chat template, and every end-of-turn token as eos.
    merged = folder / "merged"
    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()
    assert json.loads((merged / "generation_config.json").read_text())["eos_token_id"] == [2]  # <|im_end|>
    assert "<|im_start|>" in (merged / "chat_template.jinja").read_text()
    assert export["stop_tokens"] == ["<|im_end|>"] and export["checks"]["gguf_metadata"]["stop_ids"] == [2]

    # GGUF: f16 and q8_0 at least, and the Modelfile points at one that exists.
    name = f"SmolLM2-135M-Instruct-tuned-{run_id}"
    for quant in ("f16", "q8_0"):
        assert (folder / f"{name}-{quant}.gguf").stat().st_size > 50_000_000
    modelfile = (folder / "Modelfile").read_text()
    system = tomllib.loads((target / "tuneui.toml").read_text(encoding="utf-8"))["project"]["system_prompt"]
    assert modelfile.startswith(f"FROM ./{name}-q8_0.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and f'SYSTEM """{system}"""' in modelfile
    assert "{{ range .Messages }}" in modelfile

    # The model card and the commands.
    card = (folder / "README.md").read_text()
    for heading in ("## Base model", "## Data", "## Training", "## Evaluation", "## Export checks", "## How to use it"):
        assert heading in card
    assert "Licence:" in card
    commands = export["commands"]
    rank = json.loads((target / "runs" / run_id / "adapter" / "adapter_config.json").read_text())["r"]
    assert "--enable-lora --lora-modules" in commands["vllm"] and f"--max-lora-rank {rank}" in commands["vllm"]
    assert commands["llama_cpp"].startswith("llama-server -m ") and commands["ollama"].endswith(f"ollama run {name.lower()}")
    assert len(commands["transformers"].splitlines()) == 5

    # Exporting again is refused (exit 2, nothing touched); --force is tested on stand-in answers
    # in tests/export/test_export_inputs.py.
    again = subprocess.run(
        [sys.executable, "-m", "tuneui", "--project", str(target), "export", run_id, "--format", "merged"],
        capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert (folder / "Modelfile").is_file()


def _existing_project(root: Path, local_model: str, val_lines: list[str]) -> Path:
    """A project the user made earlier: the sample imported, and a split of their own."""
    from tuneui.core.workspace import init_workspace

    workspace = init_workspace(root)
    settings = workspace.settings()
    settings.models.local = local_model
    workspace.save_settings(settings)
    (workspace.data_dir / "all.jsonl").write_bytes(SAMPLE.read_bytes())  # what `tuneui data import` leaves
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    workspace.train_file.write_text("".join(line for line in lines if line not in val_lines), encoding="utf-8")
    workspace.val_file.write_text("".join(val_lines), encoding="utf-8")
    return root


@pytest.mark.integration
def test_demo_on_an_existing_project_keeps_its_split(tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    root = _existing_project(tmp_path / "mine", str(tmp_path / "no-such-model"), lines[:5])
    before = {name: (root / "data" / name).read_bytes() for name in ("train.jsonl", "val.jsonl")}
    done = _demo(root, timeout=120)
    # The made-up model folder stops the demo at the baseline, after the point where it used to re-split.
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "demo: split" not in done.stderr
    assert {name: (root / "data" / name).read_bytes() for name in before} == before


@pytest.mark.integration
def test_demo_on_a_project_without_a_local_model_spends_nothing_on_a_hosted_one(tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    root = _existing_project(tmp_path / "hosted-only", "", lines[:5])
    done = _demo(root, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "the headless demo runs only local models" in done.stderr
    assert "demo: baseline" not in done.stderr and not any((root / "baseline").glob("*.json"))
