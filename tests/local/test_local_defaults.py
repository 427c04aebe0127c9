"""The defaults rule: learning rate from the model's size, length from the data and the budget,
and what a user set always wins."""

from __future__ import annotations

import pytest

from tuneui.core.cost.training_plan import learning_rate_for, plan_training

# SmolLM2-135M (hidden 576), Llama-3.1-8B (4096), Llama-3.1-70B (8192)
SMOL, LLAMA_8B, LLAMA_70B = 576, 4096, 8192
DEMO_TOKENS = [200] * 127 + [287]  # the demo's 128 train chats, longest 287 tokens


def plan(**given):
    base = dict(hidden_size=SMOL, train_tokens=DEMO_TOKENS, batch_size=4, max_length=2048, budget_minutes=30, seconds_per_step=4.0)
    return plan_training(**{**base, **given})


def test_learning_rate_shrinks_with_model_size_and_stays_in_the_measured_range():
    assert learning_rate_for(SMOL) == 1e-3  # capped at the highest rate measured to win
    assert learning_rate_for(LLAMA_8B) == pytest.approx(2.9e-4)  # QLoRA's 2e-4 neighbourhood
    assert learning_rate_for(LLAMA_70B) == pytest.approx(1.7e-4)
    assert learning_rate_for(None) == 2e-4  # unknown size: the QLoRA paper's rate


def test_three_epochs_when_the_budget_allows():
    chosen = plan()
    assert (chosen.steps, chosen.epochs) == (96, 3.0)  # 32 steps an epoch
    assert chosen.learning_rate == 1e-3 and (chosen.lora_r, chosen.lora_alpha) == (16, 32)
    assert any("3 epochs" in reason for reason in chosen.reasons)


def test_the_time_budget_shortens_the_run_and_says_so():
    chosen = plan(budget_minutes=2, seconds_per_step=5.0)
    assert chosen.steps == 24
    assert chosen.to_json()["minutes"] == 2.0
    assert any("2-minute budget" in reason and "5.0 s a step" in reason for reason in chosen.reasons)
    # never fewer steps than a schedule needs, even on a tiny budget
    assert plan(budget_minutes=0.1, seconds_per_step=5.0).steps == 10


def test_the_budget_pays_for_the_validation_passes_before_it_buys_steps():
    # The demo's run, measured (2-core CPU): 32 steps of 4.5 s and 4 validation passes of 7.7 s took
    # 3.1 minutes where its plan said 2.4: the passes were left out of the budget.
    chosen = plan(budget_minutes=2.4, seconds_per_step=4.4, validation=(4, 7.7))
    assert chosen.steps == 25 and chosen.steps * 4.4 + 4 * 7.7 <= 2.4 * 60
    assert chosen.to_json()["minutes"] == 2.3  # the time shown is the run's, passes included: 25 x 4.4 s + 4 x 7.7 s
    assert any("after 4 validation passes of about 8 s" in reason for reason in chosen.reasons)
    assert plan(steps=20, seconds_per_step=6.0, validation=(4, 15.0)).to_json()["minutes"] == 3.0  # set steps: the time still counts them


def test_the_plan_prices_the_validation_split_it_will_run(tmp_path):
    from backends.local.config import plan_local_run
    from tuneui.core.settings import LocalSettings

    config = {"model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
              "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152, "tie_word_embeddings": True}  # fmt: skip
    local = LocalSettings(time_budget_minutes=2.4)
    without = plan_local_run("smol", config, DEMO_TOKENS, local, None)
    with_val = plan_local_run("smol", config, DEMO_TOKENS, local, None, [175] * 22)
    assert with_val.steps < without.steps and with_val.validation_seconds > 0
    assert with_val.steps * with_val.seconds_per_step + with_val.validation_seconds <= 2.4 * 60


def test_max_length_shrinks_to_the_longest_example():
    chosen = plan()
    assert chosen.max_length == 320  # 287 rounded up to a multiple of 64
    assert plan(max_length=256).max_length == 256  # a set cap is kept: longer chats are truncated


def test_what_the_user_set_wins():
    chosen = plan(learning_rate=5e-5, steps=7, lora_r=8, lora_alpha=8)
    assert (chosen.learning_rate, chosen.steps, chosen.lora_r, chosen.lora_alpha) == (5e-5, 7, 8, 8)
    assert "learning rate 5e-05: as set" in chosen.reasons
    assert plan(epochs=2).steps == 64


def test_rank_grows_with_the_data_not_the_model():
    assert plan(hidden_size=LLAMA_70B).lora_r == 16
    assert plan(train_tokens=[100] * 20_000).lora_r == 32
