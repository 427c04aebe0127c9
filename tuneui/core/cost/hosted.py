"""What a hosted fine-tuning job bills: the OpenAI epoch rule, capped tokens × epochs × price, and eval.

Sources: the OpenAI cookbook "Data preparation and analysis for chat model fine-tuning" (epoch
rule, billing = Σ min(cap, tokens) × epochs), OpenAI's pricing page, and Together AI's pricing
doc (billed tokens = epochs × training tokens + evaluations × validation tokens).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

from tuneui.core.backend import Estimate
from tuneui.core.cost.prices import ModelPrice, PriceTable, load_prices
from tuneui.core.judge import JUDGE_MAX_TOKENS
from tuneui.errors import TuneError

# The cookbook's constants: aim for 3 epochs, but see at least 100 and at most 25,000 examples.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

# The pairwise judge (tuneui.core.judge) sees the prompt, the reference and both answers plus its
# instructions, twice (both orders), and answers in at most 64 tokens.
JUDGE_INSTRUCTION_TOKENS = 200
JUDGE_OUTPUT_TOKENS = JUDGE_MAX_TOKENS  # billed as if every reply used its whole budget
JUDGE_ORDERS = 2

# Warn about a provider's last day for new jobs this many days ahead.
DEADLINE_NOTICE_DAYS = 120


@dataclass(frozen=True)
class EvalTokens:
    """The validation split as the evaluation will bill it: prompts in, answers out."""

    examples: int
    prompt_tokens: int
    answer_tokens: int


@dataclass(frozen=True)
class HostedEstimate:
    """The bill of one hosted fine-tuning job. `to_json()` is the exact `tuneui estimate --json` shape."""

    backend: str
    model: str
    examples: int
    epochs: int
    tokens_per_epoch: int
    billed_tokens: int
    price_per_million: float | None
    price_as_of: str | None
    cost_usd: float | None
    eval_cost_usd: float | None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "examples": self.examples,
            "epochs": self.epochs,
            "tokens_per_epoch": self.tokens_per_epoch,
            "billed_tokens": self.billed_tokens,
            "price_per_million": self.price_per_million,
            "price_as_of": self.price_as_of,
            "cost_usd": _dollars(self.cost_usd),
            "eval_cost_usd": _dollars(self.eval_cost_usd),
            "warnings": list(self.warnings),
        }

    def to_estimate(self) -> "Estimate":
        """The same figures as the Backend interface's `Estimate` (for `Backend.estimate()`)."""
        return Estimate(
            backend=self.backend,
            model=self.model,
            billed_tokens=self.billed_tokens,
            cost_usd=_dollars(self.cost_usd),
            warnings=self.warnings,
            details=self.to_json(),
        )


def default_epochs(examples: int) -> int:
    """The OpenAI cookbook's default: 3, raised toward 100 examples seen, lowered toward 25,000.

    Floor division, as in the cookbook: 5 examples -> 20 epochs; 10,000 -> 2; 30 -> 3.
    """
    if examples <= 0:
        return TARGET_EPOCHS
    if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // examples)
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS


def billed_tokens_per_epoch(train_tokens: Sequence[int], cap: int | None) -> int:
    """Σ min(cap, tokens): an example over the cap is truncated, and billed, at the cap."""
    if cap is None:
        return sum(train_tokens)
    return sum(min(cap, count) for count in train_tokens)


def hosted_estimate(
    backend: str,
    model: str,
    train_tokens: Sequence[int],
    *,
    epochs: int | None = None,
    validation: EvalTokens | None = None,
    judge: str | None = None,
    prices: PriceTable | None = None,
    today: dt.date | None = None,
) -> HostedEstimate:
    """The bill of fine-tuning `model` on `backend` with examples of `train_tokens` tokens each.

    `train_tokens` are exact counts (`tuneui.core.tokens.count_examples`); `validation` adds the
    cost of evaluating the baseline and the tuned model (and `judge`, 'backend:model') on the
    validation split. Raises TuneError for an empty dataset or a model the provider does not sell.
    """
    if not train_tokens:
        raise TuneError("No training examples to estimate", "Import and split your data first: `tuneui data split`.", exit_code=1)
    if epochs is not None and not 1 <= epochs <= MAX_DEFAULT_EPOCHS * 2:
        raise TuneError(f"--epochs {epochs} is out of range", "Choose 1 to 50 epochs (OpenAI's default rule gives 1 to 25).")
    table = prices or load_prices()
    today = today or dt.date.today()
    rules = table.provider(backend).same_models_as or backend
    price = _price_for(table, backend, rules, model)
    terms = table.provider(rules)
    warnings: list[str] = []
    name = price.model if price else model

    if price and price.shutdown and today >= price.shutdown:
        warnings.append(
            f"{name} was shut down for fine-tuning on {price.shutdown.isoformat()}: a new job would be refused. "
            f"Choose another model ({', '.join(_open_models(table, rules, today)) or 'none left'})."
        )
    if terms.no_new_jobs and backend == rules:
        days = (terms.no_new_jobs - today).days
        if days <= 0:
            warnings.append(f"{rules} accepts no new fine-tuning jobs since {terms.no_new_jobs.isoformat()}.")
        elif days <= DEADLINE_NOTICE_DAYS:
            warnings.append(f"{rules} stops accepting new fine-tuning jobs on {terms.no_new_jobs.isoformat()} ({days} days from now).")

    if epochs is None:
        epochs = default_epochs(len(train_tokens)) if terms.default_epochs == "openai-rule" else int(terms.default_epochs)
    cap = price.max_tokens_per_example if price else None
    over = sum(1 for count in train_tokens if cap is not None and count > cap)
    if over:
        warnings.append(f"{over} example(s) exceed {name}'s limit of {cap:,} tokens: they are truncated, and billed, at the limit.")
    per_epoch = billed_tokens_per_epoch(train_tokens, cap)
    billed = per_epoch * epochs
    if validation and terms.training_evaluations:
        # Together evaluates on the whole validation file n_evals times during training, and bills it.
        billed += terms.training_evaluations * (validation.prompt_tokens + validation.answer_tokens)

    per_million = price.train_per_million if price else None
    cost = billed * per_million / 1e6 if per_million is not None else None
    if price and price.train_per_hour is not None and per_million is None:
        warnings.append(
            f"{name} is billed by the hour of training (${price.train_per_hour:,.2f}/h), which tuneui cannot predict."
        )
    elif per_million is None:
        warnings.append(_missing_price(name, backend, terms))

    hosting = table.provider(backend).hosting_per_hour
    if hosting is not None:
        warnings.append(
            f"To call the tuned model, {backend} needs a deployment of it, billed about ${hosting:,.2f} per hour "
            f"while it exists (price table of {table.provider(backend).as_of}); tokens are billed on top."
        )

    eval_cost = _eval_cost(table, price, validation, judge, warnings) if validation else None
    return HostedEstimate(
        backend=backend,
        model=name,
        examples=len(train_tokens),
        epochs=epochs,
        tokens_per_epoch=per_epoch,
        billed_tokens=billed,
        price_per_million=per_million,
        price_as_of=(price.as_of or None) if price else None,
        cost_usd=cost,
        eval_cost_usd=eval_cost,
        warnings=tuple(warnings),
    )


def _price_for(table: PriceTable, backend: str, rules: str, model: str) -> ModelPrice | None:
    price = table.find(model)
    sells = table.known_models(rules)
    if price is None:
        if backend == rules and sells:
            raise TuneError(
                f"Unknown {backend} model {model!r}: it is not in the price table",
                f"Fine-tunable models: {', '.join(sells)}. For another model, add "
                f'[prices."{model}"] with train_per_million to tuneui.toml.',
            )
        return None
    if price.provider not in (None, rules):
        raise TuneError(
            f"{price.model} is sold by {price.provider}, not {backend}",
            f"Use --backend {price.provider}, or pick a model {backend} fine-tunes.",
        )
    if backend != rules and not price.overridden:
        # The shipped entry is the other provider's list price: keep its rules, drop its rates.
        return ModelPrice(model=price.model, provider=price.provider, max_tokens_per_example=price.max_tokens_per_example,
                          shutdown=price.shutdown, methods=price.methods)  # fmt: skip
    return price


def _missing_price(model: str, backend: str, terms: Any) -> str:
    where = f" {terms.note}" if terms.note else ""
    return (
        f"No {backend} training price for {model} in the price table, so no dollar figure.{where} "
        f'Set it in tuneui.toml: [prices."{model}"] train_per_million = <dollars>.'
    )


def _eval_cost(
    table: PriceTable, price: ModelPrice | None, validation: EvalTokens, judge: str | None, warnings: list[str]
) -> float | None:
    if price is None or None in (price.base_input, price.base_output, price.tuned_input, price.tuned_output):
        warnings.append("Inference prices are missing, so the evaluation cost is not included.")
        return None
    prompt, answer = validation.prompt_tokens, validation.answer_tokens
    total = (prompt * price.base_input + answer * price.base_output) / 1e6  # type: ignore[operator]
    total += (prompt * price.tuned_input + answer * price.tuned_output) / 1e6  # type: ignore[operator]
    if judge:
        judge_model = judge.split(":", 1)[1] if ":" in judge else judge
        judge_price = table.find(judge_model)
        if judge_price is None or judge_price.base_input is None or judge_price.base_output is None:
            warnings.append(f"The judge {judge_model!r} has no inference price in the table; its cost is not included.")
        else:
            judge_in = JUDGE_ORDERS * (prompt + 3 * answer + JUDGE_INSTRUCTION_TOKENS * validation.examples)
            judge_out = JUDGE_ORDERS * JUDGE_OUTPUT_TOKENS * validation.examples
            total += (judge_in * judge_price.base_input + judge_out * judge_price.base_output) / 1e6
    return total


def _open_models(table: PriceTable, provider: str, today: dt.date) -> list[str]:
    return [
        name
        for name in table.known_models(provider)
        if not (table.models[name].shutdown and today >= table.models[name].shutdown)  # type: ignore[operator]
        and table.models[name].train_per_million is not None
    ]


def _dollars(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
