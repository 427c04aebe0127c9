"""Baseline, eval and report end to end on the tiny local model, through the installed command.

The tuned model is a LoRA adapter with random (non-zero) weights on the tiny model, saved the way
a local run saves it: what matters here is that every answer really comes from the local
inference worker, base and adapter, and that the files and the JSON come out right.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuneui.core.backend import ModelRef
from backends.runs import RunFolder
from tests.evaluate.evalkit import SYSTEM, TICKETS, make_finished_run, write_split
from tuneui.cli import main

PROJECT_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # the local inference worker, through the installed command


@pytest.fixture(scope="module")
def tiny_with_adapter(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from backends.local.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny-eval")
    base = build_tiny_model(root / "base", [SYSTEM] + [t for pair in TICKETS for t in pair])
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapter = root / "adapter"
    get_peft_model(model, config).save_pretrained(adapter)
    AutoTokenizer.from_pretrained(base).save_pretrained(adapter)
    return base, adapter


def _tuneui(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tuneui", "--project", str(project), *args],
        capture_output=True, text=True, timeout=240, env=env, cwd=project,
    )  # fmt: skip


def test_eval_then_baseline_then_report_on_the_tiny_local_model(workspace, tiny_with_adapter, capsys, monkeypatch) -> None:
    monkeypatch.chdir(workspace.root)  # a relative model folder resolves from here, as in a shell
    base, adapter = tiny_with_adapter
    settings = workspace.settings()
    settings.models.local = os.path.relpath(base, workspace.root)  # as a person would write it
    workspace.save_settings(settings)
    write_split(workspace, TICKETS[:8], TICKETS[8:])
    run_id = make_finished_run(workspace, backend="local", base_model=str(base))
    ref = ModelRef(backend="local", base_model=str(base), kind="adapter", path=str(adapter))
    RunFolder(workspace.run_dir(run_id)).write_status(model_ref=ref.to_dict())

    # eval computes the missing baseline itself: one worker answers base and tuned.
    evaluated = _tuneui(workspace.root, "eval", run_id, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    out = json.loads(evaluated.stdout)
    assert out["run_id"] == run_id and out["split"] == "val" and out["examples"] == 4
    assert out["judge"] is None
    assert {"accuracy", "macro_f1", "exact_match", "normalized_match", "length_ratio"} == set(out["metrics"]["tuned"])
    # Random adapter weights: whatever the verdict says, it must follow the paired interval.
    result = json.loads((workspace.run_dir(run_id) / "eval" / "result.json").read_text())
    low, high = result["difference_ci95"]
    expected = "tuned beats" if low > 0 else "the " if high < 0 else "no clear difference: keep the prompt"
    assert out["verdict"].startswith(expected)
    assert out["verdict"].endswith("only 4 held-out examples, so read this as a hint and hold out more to be sure")
    assert "progress: baseline: 3-shot on 4 examples with local:" in evaluated.stderr

    saved = json.loads((workspace.run_dir(run_id) / "eval" / "predictions.json").read_text())
    assert len(saved["predictions"]) == 4 and saved["model"]["kind"] == "adapter"

    # The baseline was saved by eval: the command finds it instead of answering again.
    assert main(["--project", str(workspace.root), "baseline", "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["backend"] == "local" and set(summary["variants"]) == {"zero-shot", "system", "3-shot"}
    assert summary["variants"][summary["best"]] == out["metrics"]["baseline"]
    assert "baseline:" not in captured.err, "nothing is recomputed"

    assert main(["--project", str(workspace.root), "report", run_id]) == 0
    html = (workspace.reports_dir / f"{run_id}.html").read_text()
    assert out["verdict"].split(":")[0] in html and "<svg" in html
