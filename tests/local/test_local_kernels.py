"""Kernel selection: every choice and every fall-back, on machines described by their facts."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tuneui.core.backend import TrainSpec
from backends.local import kernels as kernels_module
from tuneui.core.gpu import Gpu
from backends.local.kernels import (
    KernelPlan,
    Machine,
    choose_kernels,
    confirm_cpu_bf16,
    confirm_liger,
    fastest_attention,
    probe_machine,
)

H100_BARE = Machine(cuda=True, compute_capability=9.0, packages=frozenset({"triton"}), trl_fused_lm_head=True)
H100_FULL = Machine(True, 9.0, frozenset({"triton", "flash_attn", "liger_kernel"}), True)
T4_FULL = Machine(True, 7.5, frozenset({"triton", "flash_attn", "liger_kernel"}), True)
CPU = Machine(cuda=False, packages=frozenset({"liger_kernel", "triton"}), trl_fused_lm_head=True)


def _notes(plan: KernelPlan) -> str:
    return " ".join(plan.notes)


def test_a_gpu_with_flash_attn_and_liger_packs_padding_free_with_both():
    plan = choose_kernels(H100_FULL, "llama")
    assert (plan.attention, plan.packing, plan.liger, plan.loss) == ("flash_attention_2", True, True, "chunked")
    assert plan.attention_candidates == ()  # a varlen kernel needs no measurement


def test_without_flash_attn_the_gpu_measures_padded_and_packed_sdpa_and_flex():
    plan = choose_kernels(H100_BARE, "qwen2")
    assert plan.attention_candidates == (("sdpa", "padded"), ("sdpa", "packed"), ("flex_attention", "packed"))
    assert (plan.attention, plan.packing) == ("sdpa", False)  # until measured: the larger memory plan
    assert "flash-attn is not installed" in _notes(plan)


def test_flex_attention_is_not_a_candidate_without_triton():
    plan = choose_kernels(Machine(True, 9.0, frozenset(), True), "llama")
    assert plan.attention_candidates == (("sdpa", "padded"), ("sdpa", "packed"))


def test_flash_attn_on_a_pre_ampere_gpu_falls_back_and_says_why():
    plan = choose_kernels(T4_FULL, "llama")
    assert plan.attention == "sdpa" and plan.attention_candidates
    assert "compute capability 8.0" in _notes(plan) and "7.5" in _notes(plan)


def test_a_cpu_pads_with_sdpa_and_turns_liger_off_saying_why():
    plan = choose_kernels(CPU, "llama")
    assert (plan.attention, plan.packing, plan.liger, plan.torch_compile) == ("sdpa", False, False, False)
    assert "CPU: padded batches" in _notes(plan)
    assert "Liger Kernel is off: no GPU" in _notes(plan)


def test_a_cpu_with_native_bf16_trains_under_bf16_autocast_unless_told_not_to():
    bf16_cpu = dataclasses.replace(CPU, cpu_bf16=True)
    plan = choose_kernels(bf16_cpu, "llama")
    assert plan.cpu_bf16 and "CPU: bf16 autocast" in _notes(plan)
    assert not choose_kernels(CPU, "llama").cpu_bf16
    assert not choose_kernels(bf16_cpu, "llama", {"cpu_bf16": False}).cpu_bf16
    # the worker's torch has the last word: without native bf16 kernels it trains in fp32, saying so
    confirmed = confirm_cpu_bf16(plan, lambda: False)
    assert not confirmed.cpu_bf16 and "CPU: fp32: this torch build" in _notes(confirmed)
    assert "bf16 autocast" not in _notes(confirmed)
    assert confirm_cpu_bf16(plan, lambda: True) is plan


@pytest.mark.parametrize(
    ("machine", "model_type", "reason"),
    [
        (H100_BARE, "llama", "liger-kernel is not installed (pip install 'tuneui[gpu]')"),
        (Machine(True, 9.0, frozenset({"liger_kernel"}), True), "llama", "Triton is not installed"),
        (H100_FULL, "gpt2", "does not support the model family 'gpt2'"),
        (H100_FULL, None, "does not support the model family None"),
    ],
)
def test_liger_falls_back_with_the_reason(machine, model_type, reason):
    plan = choose_kernels(machine, model_type)
    assert plan.liger is False
    assert "Liger Kernel is off: " in _notes(plan) and reason in _notes(plan)


def test_options_force_each_kernel():
    plan = choose_kernels(H100_FULL, "llama", {"liger": False, "packing": False, "attn_implementation": "sdpa", "torch_compile": True})
    assert (plan.attention, plan.packing, plan.liger, plan.torch_compile) == ("sdpa", False, False, True)
    assert plan.attention_candidates == ()  # forced: nothing to measure


def test_forcing_flash_where_it_cannot_run_falls_back_to_sdpa():
    plan = choose_kernels(H100_BARE, "llama", {"attn_implementation": "flash_attention_2"})
    assert plan.attention == "sdpa" and "flash-attn cannot run here" in _notes(plan)


def test_torch_compile_is_off_by_default_and_never_on_a_cpu():
    assert choose_kernels(H100_FULL, "llama").torch_compile is False
    assert "torch.compile is off" in _notes(choose_kernels(H100_FULL, "llama"))
    forced_on_cpu = choose_kernels(CPU, "llama", {"torch_compile": True})
    assert forced_on_cpu.torch_compile is False and "only worth its compile time on a GPU" in _notes(forced_on_cpu)


def test_an_old_trl_without_the_chunked_head_is_named_in_the_notes():
    plan = choose_kernels(Machine(True, 9.0, frozenset({"flash_attn"}), trl_fused_lm_head=False), "llama")
    assert plan.loss == "full logits" and "whole logits" in _notes(plan)


def test_confirm_liger_keeps_a_family_the_installed_liger_knows():
    plan = choose_kernels(H100_FULL, "llama")
    assert confirm_liger(plan, "llama", lambda: {"llama": object()}).liger is True


def test_confirm_liger_falls_back_when_the_import_fails():
    def broken():
        raise ImportError("libcuda.so.1: cannot open shared object file")

    plan = confirm_liger(choose_kernels(H100_FULL, "llama"), "llama", broken)
    assert plan.liger is False and "failed to import (ImportError: libcuda.so.1" in _notes(plan)


def test_confirm_liger_falls_back_when_the_installed_version_lacks_the_family():
    plan = confirm_liger(choose_kernels(H100_FULL, "smollm3"), "smollm3", lambda: {"llama": object()})
    assert plan.liger is False and "installed version does not support the model family 'smollm3'" in _notes(plan)


@pytest.mark.integration
def test_probe_reads_this_machine_without_importing_torch():
    import subprocess
    import sys

    code = (
        "import sys; from backends.local.kernels import probe_machine; m = probe_machine(False); "
        "print(m.trl_fused_lm_head, 'torch' in sys.modules, sorted(m.packages))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["True", "False"]  # this trl chunks the loss; probing imported no torch


def test_the_measurement_picks_a_layout_and_records_every_candidate(tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa")
    plan = KernelPlan("sdpa", False, False, "chunked", False, attention_candidates=(("sdpa", "padded"), ("sdpa", "packed"), ("no_such_kernel", "packed")))
    lengths = [12, 30, 45, 60, 90, 120, 200, 300]
    measured = fastest_attention(model, plan, lengths, batch_size=4, max_length=256)
    note = measured.notes[-1]
    assert note.startswith("Attention chosen by measurement on this machine: sdpa ")
    assert "sdpa padded" in note and "sdpa packed" in note and "tokens/s" in note
    assert "no_such_kernel (packed) could not run" in _notes(measured)
    assert measured.packing == ("sdpa packed" in note.split("(")[0])
    assert model.config._attn_implementation == "sdpa"


@pytest.mark.integration
def test_the_plan_on_this_cpu_records_the_kernels_and_why(tiny_model):
    from backends.local import recipe

    spec = TrainSpec(run_id="r", backend="local", model=str(tiny_model), train_file="t.jsonl", steps=4)
    plan = recipe.plan_run(spec, [40, 50, 60], False, "assistant")
    saved = json.loads(json.dumps(plan.to_dict()))
    assert (saved["attention"], saved["packing"], saved["liger_kernel"], saved["loss_kernel"]) == ("sdpa", False, False, "chunked")
    assert any("Liger Kernel is off: no GPU" in note for note in saved["notes"])
    config = recipe.sft_config(spec, plan, tiny_model.parent / "out")
    assert config.use_liger_kernel is False and config.packing is False and config.torch_compile is False


def test_the_cost_step_estimates_with_the_kernels_the_worker_will_choose(workspace, tiny_model, monkeypatch):
    from tuneui.core.backend import TrainSpec
    from backends.local import backend as backend_module
    from backends.local import kernels
    from backends.local.backend import LocalBackend

    # A GPU box with liger-kernel and flash-attn: Liger on, padding-free rows
    monkeypatch.setattr(backend_module, "find_gpus", lambda: [Gpu("NVIDIA H100 80GB HBM3", 79.6, 989.0)])
    full = kernels.Machine(True, 9.0, frozenset({"triton", "flash_attn", "liger_kernel"}), True)
    monkeypatch.setattr(kernels, "probe_machine", lambda cuda, capability=None: full if cuda else kernels.Machine(False))
    import tuneui.core.cost as cost

    seen = {}
    real = cost.local_estimate
    monkeypatch.setattr(cost, "local_estimate", lambda config, **kw: seen.update(kw) or real(config, **kw))
    spec = TrainSpec(run_id="r", backend="local", model=str(tiny_model), train_file=str(workspace.train_file))
    LocalBackend(workspace).estimate(spec, {"train_tokens": [40, 50]})
    assert (seen["packing"], seen["liger"]) == (True, True)


def test_where_layouts_compete_the_plan_follows_the_measurement(tiny_model, monkeypatch):
    from backends.local import recipe

    competing = KernelPlan("sdpa", False, False, "chunked", False, attention_candidates=(("sdpa", "padded"), ("sdpa", "packed")), notes=("from the machine",))
    monkeypatch.setattr(recipe, "choose_kernels", lambda spec: competing)
    monkeypatch.setattr(kernels_module, "fastest_attention", lambda model, plan, *a: dataclasses.replace(
        plan, packing=True, notes=plan.notes + ("Attention chosen by measurement on this machine: sdpa packed (...).",)))
    spec = TrainSpec(run_id="r", backend="local", model=str(tiny_model), train_file="t.jsonl", batch_size=8, max_length=256)
    plan, model = recipe.plan_and_load(spec, [40] * 64, False, "assistant")
    assert plan.packing is True and plan.batch_size == 1  # 8 chats of 40 tokens fill about one row of 256
    assert plan.notes[:2] == ("from the machine", "Attention chosen by measurement on this machine: sdpa packed (...).")
    assert plan.quantization == "none" and model is not None  # the model as loaded, not re-planned
