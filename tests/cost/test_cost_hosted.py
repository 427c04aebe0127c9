"""Hosted bills: the OpenAI cookbook's epoch rule, capped billing, the price table and its dates."""

from __future__ import annotations

import datetime as dt

import pytest

from tuneui.core.cost import EvalTokens, billed_tokens_per_epoch, default_epochs, hosted_estimate, load_prices
from tuneui.errors import TuneError

TODAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    "examples, epochs",
    [
        (1, 25),  # 100 // 1 = 100, capped at 25
        (5, 20),  # 100 // 5
        (20, 5),
        (30, 3),  # 100 // 30 = 3: the cookbook floors, so 90 examples are seen
        (34, 3),  # 102 >= 100: the target stands
        (8_333, 3),  # 24,999 <= 25,000
        (8_334, 2),  # 25,002 > 25,000 -> 25,000 // 8,334
        (10_000, 2),
        (30_000, 1),  # 25,000 // 30,000 = 0, raised to 1
    ],
)
def test_openai_epoch_rule(examples, epochs):
    assert default_epochs(examples) == epochs


def test_billing_caps_each_example():
    assert billed_tokens_per_epoch([10, 70_000, 100], cap=65_536) == 10 + 65_536 + 100
    assert billed_tokens_per_epoch([10, 70_000], cap=None) == 70_010


def test_five_examples_bill_twenty_epochs():
    estimate = hosted_estimate("openai", "gpt-4o-mini", [1000] * 5, today=TODAY)
    assert (estimate.model, estimate.epochs, estimate.tokens_per_epoch) == ("gpt-4o-mini-2024-07-18", 20, 5000)
    assert estimate.billed_tokens == 100_000
    assert estimate.cost_usd == pytest.approx(100_000 * 3.00 / 1e6)
    assert estimate.price_as_of == "2026-11-23"


def test_ten_thousand_examples_on_gpt_41_with_an_oversized_one():
    tokens = [200] * 9_999 + [80_000]
    estimate = hosted_estimate("openai", "gpt-4.1-2025-04-14", tokens, today=TODAY)
    assert estimate.epochs == 2
    assert estimate.billed_tokens == (200 * 9_999 + 65_536) * 2
    assert estimate.cost_usd == pytest.approx(estimate.billed_tokens * 25 / 1e6)
    assert any("1 example(s) exceed" in warning for warning in estimate.warnings)


def test_explicit_epochs_win():
    estimate = hosted_estimate("openai", "gpt-4.1-mini", [100] * 50, epochs=4, today=TODAY)
    assert (estimate.epochs, estimate.billed_tokens) == (4, 20_000)
    assert estimate.cost_usd == pytest.approx(20_000 * 5 / 1e6)


def test_eval_cost_counts_baseline_tuned_and_judge_by_hand():
    validation = EvalTokens(examples=10, prompt_tokens=1000, answer_tokens=200)
    plain = hosted_estimate("openai", "gpt-4o-mini", [100] * 20, validation=validation, today=TODAY)
    baseline = (1000 * 0.15 + 200 * 0.60) / 1e6
    tuned = (1000 * 0.30 + 200 * 1.20) / 1e6
    assert plain.eval_cost_usd == pytest.approx(baseline + tuned)
    judged = hosted_estimate(
        "openai", "gpt-4o-mini", [100] * 20, validation=validation, judge="openai:gpt-4.1-mini", today=TODAY
    )
    # both orders x (prompt + reference + two answers + 200 instruction tokens per example), 96 out (reason + winner)
    judge = (2 * (1000 + 3 * 200 + 200 * 10) * 0.40 + 2 * 96 * 10 * 1.60) / 1e6
    assert judged.eval_cost_usd == pytest.approx(baseline + tuned + judge)


def test_json_shape_is_exact():
    data = hosted_estimate("openai", "gpt-4o-mini", [100] * 20, today=TODAY).to_json()
    assert list(data) == [
        "backend", "model", "examples", "epochs", "tokens_per_epoch", "billed_tokens",
        "price_per_million", "price_as_of", "cost_usd", "eval_cost_usd", "warnings",
    ]  # fmt: skip
    assert data["eval_cost_usd"] is None and isinstance(data["warnings"], list)


def test_shut_down_model_is_a_clear_warning_with_alternatives():
    estimate = hosted_estimate("openai", "gpt-4.1-nano", [100] * 20, today=TODAY)
    first = estimate.warnings[0]
    assert "shut down for fine-tuning on 2026-10-23" in first
    assert "gpt-4o-mini-2024-07-18" in first and "nano" not in first.split("Choose")[1]


def test_provider_deadline_is_announced_then_enforced():
    soon = hosted_estimate("openai", "gpt-4o-mini", [100] * 20, today=TODAY)
    assert any("2027-01-06 (44 days from now)" in w for w in soon.warnings)
    late = hosted_estimate("openai", "gpt-4o-mini", [100] * 20, today=dt.date(2027, 2, 1))
    assert any("accepts no new fine-tuning jobs since 2027-01-06" in w for w in late.warnings)
    early = hosted_estimate("openai", "gpt-4o-mini", [100] * 20, today=dt.date(2026, 1, 1))
    assert not any("2027-01-06" in w for w in early.warnings)


def test_unknown_model_names_the_models_and_the_fix():
    with pytest.raises(TuneError, match="Unknown openai model 'gpt-5'") as caught:
        hosted_estimate("openai", "gpt-5", [100], today=TODAY)
    assert "gpt-4o-mini-2024-07-18" in caught.value.hint and '[prices."gpt-5"]' in caught.value.hint


def test_missing_price_gives_tokens_and_says_how_to_add_it():
    estimate = hosted_estimate("together", "Qwen/Qwen3-8B", [100] * 20, today=TODAY)
    assert (estimate.epochs, estimate.billed_tokens, estimate.cost_usd) == (1, 2000, None)
    assert any('[prices."Qwen/Qwen3-8B"]' in w for w in estimate.warnings)
    priced = load_prices({"Qwen/Qwen3-8B": {"train_per_million": 0.5}})
    estimate = hosted_estimate("together", "Qwen/Qwen3-8B", [100] * 20, epochs=3, prices=priced, today=TODAY)
    assert estimate.cost_usd == pytest.approx(6000 * 0.5 / 1e6)
    assert estimate.price_as_of == "your tuneui.toml"


def test_together_bills_its_evaluations_of_the_validation_file_too():
    validation = EvalTokens(examples=4, prompt_tokens=300, answer_tokens=100)
    priced = load_prices({"Qwen/Qwen3-8B": {"train_per_million": 0.5}})
    estimate = hosted_estimate("together", "Qwen/Qwen3-8B", [100] * 20, epochs=3, validation=validation, prices=priced, today=TODAY)
    # epochs x training tokens + n_evals (10, what tuneui sends) x validation tokens
    assert estimate.billed_tokens == 3 * 2000 + 10 * 400
    assert estimate.cost_usd == pytest.approx((6000 + 4000) * 0.5 / 1e6)
    openai = hosted_estimate("openai", "gpt-4o-mini", [100] * 20, epochs=3, validation=validation, today=TODAY)
    assert openai.billed_tokens == 6000  # OpenAI bills no validation passes


def test_hourly_model_has_no_dollar_figure():
    estimate = hosted_estimate("openai", "o4-mini", [100] * 20, today=TODAY)
    assert estimate.cost_usd is None and estimate.price_per_million is None
    assert any("$100.00/h" in w for w in estimate.warnings)


def test_azure_keeps_openai_rules_but_not_its_prices():
    estimate = hosted_estimate("azure", "gpt-4o-mini", [100] * 5, today=TODAY)
    assert (estimate.epochs, estimate.cost_usd) == (20, None)
    assert not any("2027-01-06" in w for w in estimate.warnings)


def test_azure_says_a_tuned_model_is_called_through_a_deployment_billed_by_the_hour():
    estimate = hosted_estimate("azure", "gpt-4o-mini", [100] * 5, today=TODAY)
    (hosting,) = [w for w in estimate.warnings if "per hour" in w]
    assert "deployment" in hosting and "$1.70 per hour" in hosting and "2026-11-28" in hosting
    assert not any("per hour" in w for w in hosted_estimate("openai", "gpt-4o-mini", [100] * 5, today=TODAY).warnings)


def test_model_of_another_provider_is_refused():
    with pytest.raises(TuneError, match="sold by openai, not together"):
        hosted_estimate("together", "gpt-4o-mini", [100], today=TODAY)


def test_empty_dataset_is_a_data_error():
    with pytest.raises(TuneError, match="No training examples") as caught:
        hosted_estimate("openai", "gpt-4o-mini", [], today=TODAY)
    assert caught.value.exit_code == 1


def test_overrides_replace_prices_and_keep_aliases():
    table = load_prices({"gpt-4o-mini": {"train_per_million": 2.0}})
    price = table.find("gpt-4o-mini")
    assert (price.model, price.train_per_million, price.tuned_output) == ("gpt-4o-mini-2024-07-18", 2.0, 1.20)
    assert price.as_of == "your tuneui.toml"
    assert load_prices().find("gpt-4o-mini").train_per_million == 3.0


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"train_price": 2.0}, "Unknown price key 'train_price'"),
        ({"train_per_million": -1}, "must be a number"),
        ({"train_per_million": "cheap"}, "must be a number"),
        ({"shutdown": "soon"}, "not a date"),
    ],
)
def test_bad_overrides_name_the_key(entry, message):
    with pytest.raises(TuneError, match=message):
        load_prices({"gpt-4o-mini": entry})


def test_shipped_table_is_dated_and_sourced():
    table = load_prices()
    for name, price in table.models.items():
        assert price.source.startswith("https://") and price.as_of, name
        assert price.train_per_million is not None or price.train_per_hour is not None, name
    assert table.provider("openai").no_new_jobs == dt.date(2027, 1, 6)
    assert table.find("o4-mini").shutdown == dt.date(2026, 10, 23)


def test_backend_estimate_carries_the_same_figures():
    bill = hosted_estimate("openai", "gpt-4o-mini", [1000] * 5, today=TODAY)
    estimate = bill.to_estimate()
    assert (estimate.backend, estimate.model, estimate.billed_tokens) == ("openai", "gpt-4o-mini-2024-07-18", 100_000)
    assert estimate.cost_usd == pytest.approx(0.3) and estimate.warnings == bill.warnings
