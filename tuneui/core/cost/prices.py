"""The hosted price table: each provider's dated TOML rows, their aliases, and tuneui.toml overrides.

Every provider ships its own rows (its declaration's `prices`, see `tuneui.core.providers`): dollars per
1M tokens unless a key says per hour, each entry with the address it was read from and the date it
was read (`as_of`), which the Cost step shows next to every dollar figure. Any entry can be
overridden or added in tuneui.toml (`[prices."gpt-4o-mini-2024-07-18"] train_per_million = 3.00`).

Keys of a model entry (`[models."<id>"]`):
  provider                    backend that sells it
  aliases                     other names that mean this snapshot
  train_per_million           training price, per 1M billed tokens
  train_per_hour              training price per hour (reinforcement fine-tuning)
  base_input / base_cached_input / base_output     the untuned model's inference prices
  tuned_input / tuned_cached_input / tuned_output  the fine-tuned model's inference prices
  max_tokens_per_example      longer examples are truncated (and billed) at this length
  methods                     fine-tuning methods offered
  shutdown                    the day new fine-tuning jobs stopped being accepted for it
  source, as_of, note         where the numbers come from, when they were read, caveats

Keys of a provider's terms (`[providers.<name>]`): default_epochs, training_evaluations,
hosting_per_hour, same_models_as (sells another provider's models by that one's rules), source,
as_of, note; its last day for new jobs comes from its declaration.
"""

from __future__ import annotations

import math

import datetime as dt
import sys
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from typing import Any, Mapping

from tuneui.errors import TuneError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_NUMBER_KEYS = (
    "train_per_million",
    "train_per_hour",
    "base_input",
    "base_cached_input",
    "base_output",
    "tuned_input",
    "tuned_cached_input",
    "tuned_output",
)


@dataclass(frozen=True)
class ModelPrice:
    """One hosted model's prices in dollars (per 1M tokens unless per hour); None = not known."""

    model: str
    provider: str | None = None
    aliases: tuple[str, ...] = ()
    train_per_million: float | None = None
    train_per_hour: float | None = None
    base_input: float | None = None
    base_cached_input: float | None = None
    base_output: float | None = None
    tuned_input: float | None = None
    tuned_cached_input: float | None = None
    tuned_output: float | None = None
    max_tokens_per_example: int | None = None
    methods: tuple[str, ...] = ()
    shutdown: dt.date | None = None
    source: str = ""
    as_of: str = ""
    note: str = ""
    overridden: bool = False  # True when tuneui.toml set or changed it


@dataclass(frozen=True)
class ProviderTerms:
    """What holds for every model of a provider: its default epochs, the validation passes a job
    bills, its last day for new jobs, and what hosting a fine-tuned model costs by the hour where
    the provider bills that (Azure)."""

    name: str
    default_epochs: int | str = "openai-rule"
    same_models_as: str | None = None  # sells this provider's models, by its rules (Azure: openai)
    no_new_jobs: dt.date | None = None
    hosting_per_hour: float | None = None
    # Passes over the validation file billed per job (Together: the n_evals tuneui sends).
    training_evaluations: int = 0
    source: str = ""
    as_of: str = ""
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    models: Mapping[str, ModelPrice]
    providers: Mapping[str, ProviderTerms]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def canonical(self, model: str) -> str:
        """The dated snapshot an alias stands for (`gpt-4o-mini` -> `gpt-4o-mini-2024-07-18`)."""
        return self.aliases.get(model, model)

    def find(self, model: str) -> ModelPrice | None:
        return self.models.get(self.canonical(model))

    def provider(self, name: str) -> ProviderTerms:
        return self.providers.get(name) or ProviderTerms(name=name)

    def known_models(self, provider: str) -> list[str]:
        return sorted(name for name, price in self.models.items() if price.provider == provider)


def load_prices(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> PriceTable:
    """The shipped table with `tuneui.toml`'s `[prices.<model>]` entries laid over it."""
    from tuneui.core.providers import providers

    raw: dict[str, dict[str, Any]] = {"models": {}, "providers": {}}
    for declared in providers():
        if declared.prices:
            package, _, name = declared.prices.partition(":")
            rows = tomllib.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
            for part in raw:
                raw[part].update(rows.get(part, {}))
        if declared.no_new_jobs is not None:
            raw["providers"].setdefault(declared.name, {})["no_new_jobs"] = declared.no_new_jobs
    models = {name: _model_price(name, entry, "the shipped price table") for name, entry in raw["models"].items()}
    aliases = {alias: name for name, price in models.items() for alias in price.aliases}
    for name, entry in (overrides or {}).items():
        target = aliases.get(name, name)
        base = models.get(target)
        merged = {**_as_mapping(base), **dict(entry)} if base else dict(entry)
        if "as_of" not in entry:
            merged["as_of"] = "your tuneui.toml"
            merged["source"] = "tuneui.toml [prices]"
        models[target] = replace(_model_price(target, merged, "tuneui.toml"), overridden=True)
        aliases.update({alias: target for alias in models[target].aliases})
    terms = {name: _provider(name, entry) for name, entry in raw["providers"].items()}
    return PriceTable(models=models, providers=terms, aliases=aliases)


def _model_price(name: str, entry: Mapping[str, Any], where: str) -> ModelPrice:
    known = {f.name for f in fields(ModelPrice)} - {"model", "overridden"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise TuneError(
            f"Unknown price key {unknown[0]!r} for model {name!r} in {where}",
            f"Use only: {', '.join(sorted(known))}.",
        )
    values: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _NUMBER_KEYS or key == "max_tokens_per_example":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise TuneError(
                    f"Price key {key!r} of model {name!r} in {where} must be a number ≥ 0 (finite), not {value!r}",
                    f"Write it like `{key} = 3.0`.",
                )
            values[key] = int(value) if key == "max_tokens_per_example" else float(value)
        elif key in ("aliases", "methods"):
            values[key] = tuple(str(item) for item in value) if isinstance(value, (list, tuple)) else (str(value),)
        elif key == "shutdown":
            values[key] = _date(value, f"shutdown of {name!r} in {where}")
        else:
            values[key] = str(value)
    return ModelPrice(model=name, **values)


def _provider(name: str, entry: Mapping[str, Any]) -> ProviderTerms:
    no_new_jobs = entry.get("no_new_jobs")
    return ProviderTerms(
        name=name,
        default_epochs=entry.get("default_epochs", "openai-rule"),
        same_models_as=str(entry["same_models_as"]) if entry.get("same_models_as") else None,
        no_new_jobs=_date(no_new_jobs, f"no_new_jobs of {name}") if no_new_jobs else None,
        hosting_per_hour=_hourly(entry.get("hosting_per_hour"), name),
        training_evaluations=int(entry.get("training_evaluations", 0)),
        source=str(entry.get("source", "")),
        as_of=str(entry.get("as_of", "")),
        note=str(entry.get("note", "")),
    )


def _hourly(value: Any, provider: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise TuneError(
            f"hosting_per_hour of provider {provider!r} in the shipped price table must be a number ≥ 0, not {value!r}",
            "Reinstall tuneui; the shipped price table is damaged.",
        )
    return float(value)


def _as_mapping(price: ModelPrice) -> dict[str, Any]:
    return {f.name: getattr(price, f.name) for f in fields(price) if f.name not in ("model", "overridden") and getattr(price, f.name) not in (None, (), "")}


def _date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise TuneError(f"The {what} is not a date: {value!r}", "Write dates as YYYY-MM-DD.") from None
