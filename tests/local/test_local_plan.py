"""Pure parts of the local backend: the launch command, GPU counting, the memory plan, checkpoints."""

from __future__ import annotations

import pytest

import dataclasses
import subprocess
import sys

from tuneui.core.backend import TrainSpec
from backends.local.config import plan_memory
from backends.local.launch import launch_command, visible_gpu_count, worker_alive
from tuneui.core.gpu import Gpu

LLAMA_8B = {
    "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": False,
}  # fmt: skip
H200 = Gpu("NVIDIA H200", 139.8, 989.0)
RTX_4090 = Gpu("NVIDIA GeForce RTX 4090", 23.99, 165.0)
T4 = Gpu("Tesla T4", 15.0, 65.0)
SPEC = TrainSpec(run_id="r", backend="local", model="m", train_file="t.jsonl", max_length=2048, batch_size=4)


def test_one_device_runs_the_worker_module_directly():
    assert launch_command("/runs/r1", 1, python="/py") == ["/py", "-m", "backends.local.worker", "/runs/r1"]
    assert launch_command("/runs/r1", 0, python="/py") == ["/py", "-m", "backends.local.worker", "/runs/r1"]


@pytest.mark.integration
def test_several_gpus_launch_ddp_through_accelerate():
    command = launch_command("/runs/r1", 4, python="/py")
    assert command[:3] == ["/py", "-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "4"
    assert "--multi_gpu" in command
    # accelerate must run the worker as a module, with the run folder as its only argument
    assert command[-3:] == ["-m", "backends.local.worker", "/runs/r1"]


def test_visible_gpus_follow_cuda_visible_devices():
    assert visible_gpu_count({"CUDA_VISIBLE_DEVICES": "0,1,3"}) == 3
    assert visible_gpu_count({"CUDA_VISIBLE_DEVICES": ""}) == 0
    assert visible_gpu_count({"CUDA_VISIBLE_DEVICES": "-1"}) == 0


@pytest.mark.integration
def test_a_finished_process_is_not_a_live_worker():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not worker_alive(process.pid)
    assert not worker_alive(None)


@pytest.mark.integration
def test_a_live_process_that_is_not_our_worker_does_not_count():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not worker_alive(process.pid)  # pid reuse must not make a dead run look alive
    finally:
        process.kill()
        process.wait()


def test_a_roomy_gpu_trains_bf16_lora_without_checkpointing():
    plan = plan_memory(LLAMA_8B, SPEC, H200)
    assert (plan.quantization, plan.gradient_checkpointing, plan.fits) == ("none", False, True)


def test_a_16gb_gpu_gets_qlora_for_8b():
    plan = plan_memory(LLAMA_8B, SPEC, T4, train_tokens=[300] * 50)  # bf16 weights alone are 15 GiB
    assert plan.quantization == "nf4"
    assert plan.fits and plan.memory_gib < T4.memory_gib


def test_a_too_small_gpu_is_reported_as_not_fitting():
    plan = plan_memory(LLAMA_8B, SPEC, Gpu("tiny GPU", 4.0, None))
    assert plan.fits is False and plan.quantization == "nf4" and plan.gradient_checkpointing


def test_the_plan_is_the_cost_steps_estimate():
    from tuneui.core.cost import local_estimate

    plan = plan_memory(LLAMA_8B, SPEC, RTX_4090)
    estimate = local_estimate(LLAMA_8B, model="m", batch_size=4, max_length=2048, lora_rank=16, gpu=RTX_4090)
    assert (plan.quantization == "nf4") == (estimate.method == "qlora")
    assert plan.gradient_checkpointing == estimate.gradient_checkpointing
    assert plan.memory_gib == estimate.memory.total


def test_options_force_the_plan():
    forced = dataclasses.replace(SPEC, options={"quantization": "nf4"})
    assert plan_memory(LLAMA_8B, forced, H200).quantization == "nf4"
    assert plan_memory(LLAMA_8B, forced, None).quantization == "nf4"
    cpu = plan_memory(LLAMA_8B, SPEC, None)
    assert (cpu.quantization, cpu.fits) == ("none", None)  # CPU: fp32 LoRA, memory not planned


@pytest.mark.integration
def test_only_checkpoints_with_the_marker_count_for_resume(tmp_path):
    from backends.local.progress import COMPLETE_MARKER, newest_complete_checkpoint, remove_incomplete_checkpoints

    for step in (4, 8, 12):
        (tmp_path / f"checkpoint-{step}").mkdir()
    for step in (4, 8):
        (tmp_path / f"checkpoint-{step}" / COMPLETE_MARKER).write_text(str(step))
    assert newest_complete_checkpoint(tmp_path) == (tmp_path / "checkpoint-8", 8)
    remove_incomplete_checkpoints(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4", "checkpoint-8"]
    assert newest_complete_checkpoint(tmp_path / "checkpoint-4") is None


def test_backend_estimate_is_the_cost_steps_local_estimate(workspace, tiny_model):
    from backends.local.backend import LocalBackend

    spec = dataclasses.replace(SPEC, model=str(tiny_model), epochs=2)
    estimate = LocalBackend(workspace).estimate(spec, {"train_tokens": [120, 80, 200]})
    assert estimate.backend == "local" and estimate.memory_gib > 0
    assert estimate.details["method"] in ("lora", "qlora")
    assert set(estimate.details["memory_gib"]) >= {"weights", "activations", "total"}


def test_loss_falls_back_to_the_last_assistant_turn_without_generation_markers(tiny_model):
    from transformers import AutoTokenizer

    from backends.local.training_data import as_prompt_completion, choose_loss

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert choose_loss(tokenizer) == ("assistant", None)
    tokenizer.chat_template = tokenizer.chat_template.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    loss_on, note = choose_loss(tokenizer)
    assert loss_on == "completion" and "no generation markers" in note
    record = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}
    [converted] = as_prompt_completion([record])
    assert converted["completion"] == [{"role": "assistant", "content": "d"}]
    assert [m["content"] for m in converted["prompt"]] == ["a", "b", "c"]


def test_a_model_without_chat_template_gets_chatml_with_markers(tiny_model):
    from transformers import AutoTokenizer

    from backends.local.training_data import choose_loss

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.chat_template = None
    loss_on, note = choose_loss(tokenizer)
    assert loss_on == "assistant" and "ChatML" in note
    assert "{% generation %}" in tokenizer.chat_template
