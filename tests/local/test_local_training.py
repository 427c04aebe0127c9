"""Training on the tiny model on CPU: a detached run, losses, early stopping, the saved adapter."""

from __future__ import annotations

import json

import pytest

from tuneui.core.backend import GenerationParams, TrainSpec
from backends.local.backend import LocalBackend
from backends.local.launch import read_pid, worker_alive
from backends.runs import RunFolder
from tuneui.core.workspace import init_workspace

from .conftest import SYSTEM, TICKETS, chat, run_cli, wait_for, write_jsonl

pytestmark = pytest.mark.slow  # real training runs in worker processes

STATUS_KEYS = {"run_id", "backend", "status", "job_id", "model_ref", "metrics"}
METRIC_KEYS = {"steps", "first_train_loss", "last_train_loss", "last_valid_loss", "best_valid_loss", "best_step"}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, tiny_model):
    """A run started by `tuneui train` (no --wait) and followed by `tuneui status` in new processes."""
    project = init_workspace(tmp_path_factory.mktemp("cli") / "project")
    settings = project.settings()
    settings.local.learning_rate = 5e-3  # the random tiny model needs a push to show a falling loss
    project.save_settings(settings)
    write_jsonl(project.train_file, [chat(u, a) for u, a in TICKETS * 2])
    write_jsonl(project.val_file, [chat(u, a) for u, a in TICKETS[::3]])
    started = run_cli(project.root, "train", "--backend", "local", "--model", str(tiny_model), "--steps", "12", "--save-every", "6", "--json")
    assert started.returncode == 0, started.stderr
    at_start = json.loads(started.stdout)
    folder = RunFolder(project.run_dir(at_start["run_id"]))
    alive_after_cli_exit = worker_alive(read_pid(folder))

    wait_for(lambda: folder.read_status().get("status") in ("succeeded", "failed", "cancelled"), timeout=150)
    out = run_cli(project.root, "status", at_start["run_id"], "--json")  # a new process reattaches
    assert out.returncode == 0, out.stderr
    final = json.loads(out.stdout)
    return {"project": project, "start": at_start, "final": final, "folder": folder, "alive": alive_after_cli_exit}


def test_train_returns_at_once_and_the_run_outlives_it(cli_run):
    assert cli_run["start"]["status"] in ("queued", "running")
    assert cli_run["start"]["job_id"]  # the worker's pid, persisted before `train` returned
    assert cli_run["alive"], "the worker should still be running after `tuneui train` exited"
    assert cli_run["final"]["status"] == "succeeded", cli_run["folder"].log_path.read_text()[-2000:]


def test_status_json_has_exactly_the_interface_keys(cli_run):
    assert set(cli_run["start"]) == STATUS_KEYS | {"plan"}  # `train --json` adds the plan it follows
    assert set(cli_run["final"]) == STATUS_KEYS
    for obj in (cli_run["start"], cli_run["final"]):
        assert set(obj["metrics"]) == METRIC_KEYS
    assert cli_run["final"]["backend"] == "local"
    assert cli_run["final"]["model_ref"] == str(cli_run["folder"].adapter_dir)


def test_the_plan_is_shown_before_training_and_the_stop_token_is_checked(cli_run):
    plan = cli_run["start"]["plan"]
    assert (plan["learning_rate"], plan["steps"], plan["batch_size"]) == (5e-3, 12, 4)
    assert "learning rate 0.005: as set" in plan["reasons"] and "12 steps: as set" in plan["reasons"]
    notes = [e.data["message"] for e in cli_run["folder"].read_events() if e.type == "log"]
    assert "Plan: learning rate 0.005: as set" in notes
    assert "The loss covers the answer and its end-of-turn token: the model learns to stop." in notes


def test_flags_set_the_recipe_and_win_over_the_rule(workspace, tiny_model):
    write_jsonl(workspace.train_file, [chat(u, a) for u, a in TICKETS])
    started = run_cli(workspace.root, "train", "--backend", "local", "--model", str(tiny_model), "--steps", "1",
                      "--learning-rate", "0.004", "--batch-size", "2", "--max-length", "48", "--lora-r", "4",
                      "--lora-alpha", "8", "--json")  # fmt: skip
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    LocalBackend(workspace).cancel(run_id)
    spec = RunFolder(workspace.run_dir(run_id)).read_spec()
    assert (spec.learning_rate, spec.batch_size, spec.max_length, spec.lora_r, spec.lora_alpha) == (0.004, 2, 48, 4, 8)
    bad = run_cli(workspace.root, "train", "--backend", "local", "--model", str(tiny_model), "--learning-rate", "fast")
    assert bad.returncode == 2 and "'fast' is not a number" in bad.stderr


def test_training_loss_falls_and_validation_loss_is_reported(cli_run):
    metrics = cli_run["final"]["metrics"]
    assert metrics["steps"] == 12
    assert metrics["last_train_loss"] < metrics["first_train_loss"] - 0.3
    assert metrics["last_valid_loss"] is not None and metrics["best_step"] in (6, 12)
    events = cli_run["folder"].read_events()
    train_points = [e.data for e in events if e.type == "metrics" and "train_loss" in e.data]
    assert all({"step", "total_steps", "learning_rate", "tokens_per_second"} <= set(p) for p in train_points)
    assert [e.data["step"] for e in events if e.type == "checkpoint"] == [6, 12]


def test_the_adapter_reloads_with_peft_and_answers_through_the_chat_template(cli_run, tiny_model):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = cli_run["folder"].adapter_dir
    config = json.loads((adapter / "training_config.json").read_text())
    assert config["spec"]["lora_r"] == 16 and config["plan"]["loss_on"] == "assistant"
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    assert "{% generation %}" in tokenizer.chat_template
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TICKETS[0][0]}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        base_logits = base(**prompt).logits
        tuned = PeftModel.from_pretrained(base, adapter).eval()
        tuned_logits = tuned(**prompt).logits
        output = tuned.generate(**prompt, max_new_tokens=4, do_sample=False)
    assert not torch.allclose(base_logits, tuned_logits)  # the adapter holds trained weights
    assert output.shape[1] > prompt["input_ids"].shape[1]


def test_backend_generates_with_the_adapter_and_runs_lists_the_run(cli_run):
    backend = LocalBackend(cli_run["project"])
    try:
        ref = backend.result(cli_run["start"]["run_id"])
        assert ref.kind == "adapter"
        answers = backend.generate(ref, [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": u}] for u, _ in TICKETS[:3]], GenerationParams(max_new_tokens=4))
        assert len(answers) == 3
    finally:
        backend.close()
    listing = run_cli(cli_run["project"].root, "runs")
    assert cli_run["start"]["run_id"] in listing.stdout and "succeeded" in listing.stdout


def test_early_stopping_keeps_the_best_checkpoint_when_validation_loss_rises(workspace, tiny_model):
    # Train says every ticket is billing, validation says question: the better the model learns
    # train, the worse validation gets. QLoRA (NF4) is forced to exercise the 4-bit path on CPU.
    write_jsonl(workspace.train_file, [chat(u, "billing") for u, _ in TICKETS])
    write_jsonl(workspace.val_file, [chat(u, "question") for u, _ in TICKETS[:4]])
    backend = LocalBackend(workspace)
    spec = TrainSpec(
        run_id=workspace.new_run_id(), backend="local", model=str(tiny_model),
        train_file=str(workspace.train_file), val_file=str(workspace.val_file),
        steps=30, eval_every=1, save_every=1, early_stopping_patience=2, learning_rate=1e-2,
        options={"quantization": "nf4"},
    )  # fmt: skip
    run_id = backend.start(spec)
    final = wait_for(lambda: (s := backend.status(run_id)).status in ("succeeded", "failed") and s, timeout=150)
    folder = RunFolder(workspace.run_dir(run_id))
    assert final.status == "succeeded", folder.log_path.read_text()[-2000:]
    metrics = final.metrics
    assert metrics["steps"] < 30
    assert metrics["best_step"] < metrics["steps"]
    assert metrics["last_valid_loss"] > metrics["best_valid_loss"]
    messages = [e.data["message"] for e in folder.read_events() if e.type == "log"]
    assert any("Early stop" in m for m in messages)
    config = json.loads((folder.adapter_dir / "training_config.json").read_text())
    assert config["best_step"] == metrics["best_step"]
    assert config["plan"]["quantization"] == "nf4"
