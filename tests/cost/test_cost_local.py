"""Local estimates against hand-computed values for two real configs, GPU fit, time, failures."""

from __future__ import annotations

import json

import pytest

from tuneui.core.cost import find_model_config, local_estimate, memory_breakdown, model_shape
from tuneui.core.gpu import Gpu
from tuneui.errors import TuneError

GIB = 1024**3

# The published config.json values of Qwen2.5-0.5B-Instruct and Llama-3.1-8B-Instruct.
QWEN_05B = {
    "architectures": ["Qwen2ForCausalLM"], "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
    "vocab_size": 151936, "tie_word_embeddings": True,
}  # fmt: skip
LLAMA_8B = {
    "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "vocab_size": 128256, "tie_word_embeddings": False,
}  # fmt: skip
H100 = Gpu("NVIDIA H100 80GB HBM3", 79.6, 989.0)
L4 = Gpu("NVIDIA L4", 22.5, 121.0)


def test_parameter_counts_match_the_published_sizes():
    # Qwen2.5-0.5B: 494M (its q/k/v biases, 0.4M, are not counted); Llama-3.1-8B: 8.03B.
    assert model_shape(QWEN_05B).parameters == 494_005_120
    assert model_shape(LLAMA_8B).parameters == 8_030_261_248


def test_qwen_qlora_by_hand():
    tokens = 4 * 1024
    got = memory_breakdown(model_shape(QWEN_05B), "qlora", tokens_per_step=tokens, lora_rank=16, gradient_checkpointing=False)
    h, q, kv, i, layers, vocab = 896, 896, 128, 4864, 24, 151936
    linear = layers * (h * q * 2 + h * kv * 2 + 3 * h * i)  # 357,826,560
    weights = linear * 0.516 + (vocab * h + (2 * layers + 1) * h) * 2
    lora = layers * 16 * ((h + q) * 2 + (h + kv) * 2 + (h + i) * 3)  # 8,798,208 parameters
    # norms 2x4h, attention 4q+4kv, MLP 6i, dropout copies+masks 3x(3h + q + 2h + i), 4-bit kept 2h+2q+2h+2i
    per_layer = 8 * h + (4 * q + 4 * kv) + 6 * i + 3 * (3 * h + q + 2 * h + i) + (2 * h + 2 * q + 2 * h + 2 * i)
    assert per_layer == 86_272
    assert got.weights == pytest.approx(weights / GIB)
    # trl keeps QLoRA adapters in bf16: weight, gradient and two Adam moments, 2 bytes each
    assert got.adapters_and_optimizer == pytest.approx(lora * 8 / GIB)
    assert got.activations == pytest.approx(tokens * (layers * per_layer + 4 * h) / GIB)
    # trl's fused LM head: one bf16 tile of 4,096 tokens x 32,768 vocabulary entries, plus per token
    # a bf16 hidden copy, its fp32 gradient and 36 bytes of statistics
    fused = 4096 * 32768 * 2 + tokens * (6 * h + 36)
    assert got.logits == pytest.approx(fused / GIB)
    assert got.overhead == 1.0
    assert got.total == pytest.approx((weights + lora * 8 + tokens * (layers * per_layer + 4 * h) + fused) / GIB + 1)


def test_llama_bf16_lora_with_checkpointing_by_hand():
    tokens = 2 * 2048
    got = memory_breakdown(
        model_shape(LLAMA_8B), "lora", tokens_per_step=tokens, lora_rank=8, gradient_checkpointing=True,
        lora_dropout=False, fused_logits=False,
    )  # fmt: skip
    h, q, kv, i, layers, vocab = 4096, 4096, 1024, 14336, 32, 128256
    assert got.weights == pytest.approx(8_030_261_248 * 2 / GIB)  # 14.96 GiB
    lora = layers * 8 * ((h + q) * 2 + (h + kv) * 2 + (h + i) * 3)
    assert got.adapters_and_optimizer == pytest.approx(lora * 16 / GIB)
    # norms 8h, attention 4q+4kv, MLP 6i; fp32 adapters each keep a bf16 copy of their input
    one_layer = 8 * h + 4 * q + 4 * kv + 6 * i + 2 * (3 * h + q + 2 * h + i)
    assert got.activations == pytest.approx(tokens * (layers * 2 * h + one_layer + 4 * h) / GIB)
    # materialized logits: bf16 output 2 + fp32 copy 4 + saved log-softmax 4 bytes per entry
    assert got.logits == pytest.approx(tokens * vocab * 10 / GIB)


def test_checkpointing_and_quantization_each_save_memory():
    shape = model_shape(LLAMA_8B)
    plain = memory_breakdown(shape, "lora", tokens_per_step=8192, lora_rank=16, gradient_checkpointing=False)
    checkpointed = memory_breakdown(shape, "lora", tokens_per_step=8192, lora_rank=16, gradient_checkpointing=True)
    quantized = memory_breakdown(shape, "qlora", tokens_per_step=8192, lora_rank=16, gradient_checkpointing=True)
    assert plain.activations > 10 * checkpointed.activations
    assert quantized.weights < 0.4 * checkpointed.weights


def test_plan_is_the_fastest_that_fits():
    small = local_estimate(QWEN_05B, model="qwen", train_tokens=[300] * 100, gpu=H100)
    assert (small.method, small.gradient_checkpointing, small.fits) == ("lora", False, True)
    assert small.advice[0].startswith("bf16 LoRA fits on the NVIDIA H100 80GB HBM3 with")
    tight = local_estimate(LLAMA_8B, model="llama", train_tokens=[2048] * 100, gpu=L4)
    assert (tight.method, tight.gradient_checkpointing, tight.fits) == ("lora", True, True)
    t4 = local_estimate(LLAMA_8B, model="llama", train_tokens=[2048] * 100, gpu=Gpu("Tesla T4", 15.0, 65.0))
    assert (t4.method, t4.gradient_checkpointing, t4.fits) == ("qlora", True, True)


def test_does_not_fit_says_what_to_change():
    estimate = local_estimate(LLAMA_8B, model="llama", train_tokens=[2048] * 100, batch_size=16, gpu=L4)
    assert estimate.fits is False
    assert "does not fit" in estimate.advice[0] and "lower the batch size to" in estimate.advice[0]
    forced = local_estimate(LLAMA_8B, model="llama", train_tokens=[2048] * 100, gpu=L4, method="lora", gradient_checkpointing=False)
    assert "enable gradient checkpointing" in forced.advice[0] and "use QLoRA" in forced.advice[0]


def test_hours_and_dollars_by_hand():
    estimate = local_estimate(QWEN_05B, model="qwen", train_tokens=[500] * 100, epochs=3, gpu=H100, gpu_hour_usd=2.0)
    matmul = 357_826_560 + 151936 * 896
    flops = 150_000 * (4 * matmul + 6 * 500 * 896 * 24)
    hours = flops / (989e12 * 0.25) / 3600
    assert estimate.hours == pytest.approx(hours)
    assert estimate.cost_usd == pytest.approx(hours * 2.0)
    measured = local_estimate(QWEN_05B, model="qwen", train_tokens=[500] * 100, epochs=3, gpu=H100, mfu=0.5)
    assert measured.hours == pytest.approx(hours / 2)
    assert measured.cost_usd is None and any("gpu_hour_usd" in a for a in measured.advice)


def test_no_gpu_plans_fp32_lora_in_ram_with_ram_and_time(monkeypatch):
    from tuneui.core.cost import local as cost_local

    monkeypatch.setattr(cost_local, "available_ram_gib", lambda: 2.0)
    monkeypatch.setattr(cost_local, "cpu_cores", lambda: 2)
    monkeypatch.setattr(cost_local, "cpu_has_bf16", lambda: False)
    data = local_estimate(QWEN_05B, model="qwen", train_tokens=[500] * 10, steps=6).to_json()
    assert (data["gpu"], data["method"], data["cost_usd"]) == (None, "lora", None)
    # fp32 weights in RAM: 494M parameters x 4 bytes, more than the 2 GiB free
    assert data["memory_gib"]["weights"] == pytest.approx(494_005_120 * 4 / GIB, abs=0.01)
    assert data["fits"] is False
    assert data["advice"][0].startswith("No NVIDIA GPU: the trainer runs LoRA in fp32 on 2 CPU cores, in RAM")
    assert "of 2.0 GiB free" in data["advice"][0] and "more than is free" in data["advice"][1]
    # time: 6 steps of a padded batch of 4 x 500 tokens at the calibrated per-core rate
    per_step = cost_local.training_flops(model_shape(QWEN_05B), 4 * 500, 500, False) / (2 * cost_local.CPU_TRAIN_FLOPS_PER_CORE)
    assert data["hours"] == pytest.approx(6 * per_step / 3600, rel=1e-3)
    assert any(f"for 6 steps at {per_step:.1f} s a step" in line for line in data["advice"])


def test_a_cpu_with_bf16_matmuls_plans_faster_steps_and_says_why(monkeypatch):
    from tuneui.core.cost import local as cost_local

    monkeypatch.setattr(cost_local, "cpu_cores", lambda: 2)
    timed = {}
    for native in (False, True):
        monkeypatch.setattr(cost_local, "cpu_has_bf16", lambda native=native: native)
        timed[native] = local_estimate(QWEN_05B, model="qwen", train_tokens=[500] * 10, steps=6)
    assert timed[True].hours == pytest.approx(timed[False].hours / cost_local.CPU_BF16_SPEEDUP)
    assert "LoRA in fp32 weights with bf16 matmuls" in timed[True].advice[0]
    # the weights stay fp32 (autocast): the RAM plan does not change
    assert timed[True].memory.total == timed[False].memory.total


def test_bf16_matmuls_are_read_from_the_cpu_flags(tmp_path):
    from tuneui.core.cpu import cpu_has_bf16

    with_bf16, without = tmp_path / "zen4", tmp_path / "zen3"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n")
    assert cpu_has_bf16(str(with_bf16))
    assert not cpu_has_bf16(str(without))
    assert not cpu_has_bf16(str(tmp_path / "absent"))


def test_unknown_gpu_has_no_time_but_a_reason():
    estimate = local_estimate(QWEN_05B, model="qwen", train_tokens=[500] * 10, gpu=Gpu("Quadro X", 48.0, None))
    assert estimate.hours is None and any("not in tuneui's GPU table" in a for a in estimate.advice)


def test_json_shape_is_exact():
    data = local_estimate(QWEN_05B, model="qwen", train_tokens=[500] * 10, gpu=H100).to_json()
    assert list(data) == ["backend", "model", "method", "memory_gib", "gpu", "fits", "hours", "cost_usd", "advice"]
    assert list(data["memory_gib"]) == ["weights", "adapters_and_optimizer", "activations", "logits", "overhead", "total"]
    assert data["gpu"] == {"name": "NVIDIA H100 80GB HBM3", "memory_gib": 79.6}


def test_model_without_config_is_a_clear_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(TuneError, match="No config.json for model 'acme/unknown-7b'") as caught:
        find_model_config("acme/unknown-7b")
    assert "huggingface-cli download acme/unknown-7b" in caught.value.hint
    (tmp_path / "empty").mkdir()
    with pytest.raises(TuneError, match="No config.json"):
        find_model_config(str(tmp_path / "empty"))


def test_config_from_a_folder_the_project_or_the_cache(tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text(json.dumps(QWEN_05B))
    assert find_model_config(str(tmp_path / "model"))["hidden_size"] == 896
    assert find_model_config("model", project=tmp_path)["hidden_size"] == 896
    snapshot = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(LLAMA_8B))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert find_model_config("acme/tiny")["hidden_size"] == 4096


def test_config_that_is_not_a_decoder_is_a_clear_answer(tmp_path):
    with pytest.raises(TuneError, match="does not describe a decoder-only transformer"):
        local_estimate({"model_type": "bert"}, model="bert")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(TuneError, match="is not readable JSON"):
        find_model_config(str(tmp_path))


def test_backend_estimate_carries_the_same_figures():
    local = local_estimate(QWEN_05B, model="qwen", train_tokens=[500] * 10, gpu=H100, gpu_hour_usd=3.0)
    estimate = local.to_estimate()
    assert (estimate.backend, estimate.fits, estimate.memory_gib) == ("local", True, round(local.memory.total, 2))
    assert estimate.hours == local.to_json()["hours"] and estimate.cost_usd == local.to_json()["cost_usd"]
    assert estimate.details == local.to_json()
