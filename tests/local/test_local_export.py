"""`tuneui export RUN --format merged` on a tiny-model run: the export worker merges, checks the merged
model against the adapter, and answers again where the evaluation's saved answers are not this
adapter's. The real model's export (GGUF, Modelfile, card) is checked by the headless demo's test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.local.conftest import PROJECT_ROOT, SYSTEM


def _tuneui(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tuneui", "--project", str(project), *args],
        capture_output=True, text=True, timeout=600, env=env, cwd=project,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def _tuned_run(workspace, tiny_model: Path) -> str:
    """A succeeded local run whose adapter is a random LoRA, saved as the trainer saves one."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from backends.runs import RunFolder
    from tests.evaluate.evalkit import make_finished_run
    from tuneui.core.backend import ModelRef

    workspace.update_settings({"models.local": str(tiny_model), "project.system_prompt": SYSTEM})
    run_id = make_finished_run(workspace, backend="local", base_model=str(tiny_model))
    folder = RunFolder(workspace.run_dir(run_id))
    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model), config).save_pretrained(folder.adapter_dir)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(folder.adapter_dir)
    ref = ModelRef(backend="local", base_model=str(tiny_model), kind="adapter", path=str(folder.adapter_dir))
    folder.write_status(model_ref=ref.to_dict())
    return run_id


def test_merged_export_answers_again_where_the_saved_answers_are_not_the_adapters_and_reuses_them_where_they_are(ticket_project, tiny_model):
    from backends.runs import RunFolder
    from tuneui.core.evalset import load_eval_set
    from tuneui.core.files import atomic_write_json

    workspace = ticket_project
    run_id = _tuned_run(workspace, tiny_model)
    folder = RunFolder(workspace.run_dir(run_id))
    total = len(load_eval_set(workspace).val)

    # After an evaluation, the export compares the merged model with the evaluation's saved answers.
    evaluated = _tuneui(workspace.root, "eval", run_id, "--no-judge", "--no-forgetting")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    done = _tuneui(workspace.root, "export", run_id, "--format", "merged", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    merged_check = json.loads(done.stdout)["checks"]["merged_vs_adapter"]
    assert merged_check["ok"] and merged_check["same"] == merged_check["total"] == total, merged_check
    assert merged_check["adapter_answers_from"] == "evaluation"
    assert 0 <= merged_check["proven_by_forcing"] <= total
    merged = workspace.root / "exports" / run_id / "merged"
    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()
    assert isinstance(json.loads((merged / "generation_config.json").read_text())["eos_token_id"], list)

    # Saved for these very prompts and settings, but not what this adapter answers (as if evaluated
    # on another device): the export answers again with the adapter and compares with that.
    predictions = folder.eval_dir / "predictions.json"
    atomic_write_json(predictions, {**json.loads(predictions.read_text()), "predictions": ["x"] * total, "ended": [True] * total})
    again = _tuneui(workspace.root, "export", run_id, "--format", "merged", "--force", "--json")
    assert again.returncode == 0, again.stderr[-3000:]
    merged_check = json.loads(again.stdout)["checks"]["merged_vs_adapter"]
    assert merged_check["ok"] and merged_check["same"] == total and merged_check["adapter_answers_from"] == "export"
