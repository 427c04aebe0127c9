"""The providers: plug-ins found by name, and the questions the rest of tuneui asks of them.

A provider is a plug-in. Its module declares a `Provider` that carries everything the rest of
tuneui needs to know about it: the backend class (imported only when asked for: hosted SDKs and
torch are slow), its `tuneui.toml` section(s), the names of its keys, its price rows, where its
tuned models answer, its CLI name and its abilities. A provider is listed by one entry point in
the `tuneui.providers` group (pyproject.toml, `name = "module:PROVIDER"`), so this module, like
every core module, names no provider and imports nothing of `backends`: the providers import the
core, never the other way. Declarations are light (no SDK, no torch): the settings read them on
every start.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from tuneui.core.backend import BackendError

ENTRY_POINT_GROUP = "tuneui.providers"
# name (the CLI's `--backend NAME`, and each run's `backend`) -> "module:attribute" of its Provider,
# read once from the installed entry points, in each provider's order of `preference` (the default
# hosted backend is the first that still takes jobs: see `default_hosted`). Tests add a row here.
BACKENDS: dict[str, str] = {}


def _installed_table() -> dict[str, str]:
    from importlib.metadata import entry_points

    found = {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}
    if not found:
        raise BackendError(
            "No provider is installed",
            "tuneui's providers are entry points of its package: reinstall it (`pip install -e .` in a checkout).",
        )
    return dict(sorted(found.items(), key=lambda row: (_attribute(row[1]).preference, row[0])))


def table() -> dict[str, str]:
    """`BACKENDS`, filled from the installed entry points on first use."""
    if not BACKENDS:
        BACKENDS.update(_installed_table())
    return BACKENDS


# Abilities a provider may declare (never probed with hasattr):
#   trains_here          trains on this machine: estimated by memory and hours, not a price table
#   shares_device        two runs may share this machine's GPU when asked (--allow-concurrent)
#   downloads_adapter    the trained LoRA adapter lands in the run folder (it also runs locally)
#   needs_deployment     a tuned model answers only once the user deploys it (billed hourly)
ABILITIES = frozenset({"trains_here", "shares_device", "downloads_adapter", "needs_deployment"})


@dataclass(frozen=True)
class Provider:
    """What tuneui knows about one provider, declared in the provider's own module."""

    name: str  # the CLI name: `--backend NAME`
    title: str  # for people: "Together AI"
    backend: str  # "module:Class" of its `Backend`, imported only when a backend is asked for
    hosted: bool = True
    keys: tuple[str, ...] = ()  # environment / keyring names of its API keys: redacted everywhere
    # tuneui.toml section name -> its `tuneui.core.settings._Section` class
    settings: Mapping[str, type] = field(default_factory=dict)
    # "package:file.toml" with its price rows ([providers.NAME] terms and [models."..."] prices)
    prices: str | None = None
    # Where a model it tuned answers: "provider" (its own API), "deployment" (one the user makes),
    # "provider-or-local" (its API, else the downloaded adapter on this machine), "here".
    inference: str = "provider"
    abilities: frozenset[str] = frozenset()
    model_prefixes: tuple[str, ...] = ()  # model ids only it sells, for `estimate --model` alone
    # Fine-tuning families it trains ("gpt-4o", "llama", ...): named when another provider closes.
    trains_families: tuple[str, ...] = ()
    # The last day it accepts a new fine-tuning job, and the day its tuned models stop answering.
    no_new_jobs: dt.date | None = None
    models_gone: dt.date | None = None
    default_model: str = ""  # proposed when it becomes the default hosted backend
    new_customers: bool = True  # False: trains only for those who already have an account (Azure)
    preference: int = 100  # lower first: the order providers are listed and the default hosted one chosen

    def can(self, ability: str) -> bool:
        return ability in self.abilities

    def accepts_jobs(self, today: dt.date) -> bool:
        return self.no_new_jobs is None or today < self.no_new_jobs

    def trains(self, model: str) -> bool:
        """Whether `model` (or the base of a fine-tune id `ft:base:...`) is of a family it trains."""
        name = (model.split(":")[1] if model.startswith("ft:") and ":" in model[3:] else model).lower()
        # A family starts the name or one of its parts: meta-llama/Meta-Llama-3.1-8B, accounts/x/models/llama-v3p1.
        return any(re.search(rf"(^|[/_-]){re.escape(family)}", name) for family in self.trains_families)

    def serves_tuned(self, model: str, today: dt.date) -> bool:
        """Whether a model it tuned from `model`'s family still answers on `today`."""
        return self.models_gone is None or today < self.models_gone or not self.trains(model)


def today() -> dt.date:
    """The date every dated rule (a provider's last day, a model's end) is checked against;
    tests replace it to see before, on and after those days."""
    return dt.date.today()


def provider(name: str) -> Provider:
    """The declaration of the provider named `name`, or a BackendError listing the known names."""
    try:
        target = table()[name]
    except (KeyError, TypeError):
        raise BackendError(f"Unknown backend {name!r}", f"Choose one of: {', '.join(table())}.") from None
    return _load(target, name)


def providers() -> list[Provider]:
    return [provider(name) for name in table()]


def backend_names() -> list[str]:
    return list(table())


def hosted_names() -> list[str]:
    return [item.name for item in providers() if item.hosted]


def settings_sections() -> dict[str, type]:
    """Every provider's own tuneui.toml sections, by section name."""
    return {section: cls for item in providers() for section, cls in item.settings.items()}


def key_names() -> tuple[str, ...]:
    return tuple(key for item in providers() for key in item.keys)


def price_sources() -> list[str]:
    return [item.prices for item in providers() if item.prices]


def default_hosted(on: dt.date) -> Provider | None:
    """The first hosted provider, in table order, open to new customers and still accepting new
    jobs on `on`."""
    return next((item for item in providers() if item.hosted and item.new_customers and item.accepts_jobs(on)), None)


def still_training(model: str, instead_of: str, on: dt.date) -> list[Provider]:
    """The providers other than `instead_of` that train `model`'s family and take jobs on `on`."""
    return [item for item in providers() if item.name != instead_of and item.trains(model) and item.accepts_jobs(on)]


def hosted_choice(configured: str, model: str, on: dt.date | None = None) -> tuple[str, str]:
    """The hosted backend and base model to use: `[models] hosted_backend` and `hosted` when set,
    else the first provider that still takes new jobs on `on` (default: today), with its default model."""
    if configured:
        return configured, model or provider(configured).default_model
    if model:
        # A model named without a backend: who sells it, open to this user today if any is.
        sellers = [item for item in providers() if item.hosted and (item.trains(model) or model.lower().startswith(item.model_prefixes))]
        open_now = [item for item in sellers if item.new_customers and item.accepts_jobs(on or today())]
        if open_now or sellers:
            return (open_now or sellers)[0].name, model
    chosen = default_hosted(on or today())
    if chosen is None:
        raise BackendError("No hosted provider takes new fine-tuning jobs today", "Train here with `--backend local`.")
    return chosen.name, model or chosen.default_model


def here() -> Provider:
    """The provider that trains on this machine (the one declaring `trains_here`)."""
    found = next((item for item in providers() if item.can("trains_here")), None)
    if found is None:
        raise BackendError("No backend trains on this machine", "Choose a hosted backend with --backend.")
    return found


def choose(models: Any, backend: str | None = None, model: str | None = None, on: dt.date | None = None) -> tuple[str, str]:
    """The (backend, base model) a command uses: `--backend` / `--model` when given; else this
    machine's backend for a model folder on disk or when `[models] local` is set; else the hosted
    choice of `[models]` (see `hosted_choice`)."""
    if not backend:
        if (model and Path(model).expanduser().is_dir()) or (not model and models.local):
            backend = here().name  # a model folder on this disk can only be trained here
        else:
            return hosted_choice(models.hosted_backend, model or models.hosted, on)
    if provider(backend).can("trains_here"):
        return backend, model or models.local
    return backend, model or models.hosted or provider(backend).default_model


def get_backend(name: str, workspace: Any) -> Any:
    """An instance of the named backend bound to a workspace (its settings and runs/ folder)."""
    declared = provider(name)
    try:
        cls: Callable[[Any], Any] = _attribute(declared.backend)
    except ImportError as exc:
        raise BackendError(
            f"The {name} backend cannot be loaded: {exc}",
            "Install its extra, e.g. `pip install 'tuneui[local]'` for local training.",
        ) from None
    return cls(workspace)


def _load(target: str, name: str) -> Provider:
    try:
        declared = _attribute(target)
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"The {name} provider cannot be loaded: {exc}", f"Check its entry point in the {ENTRY_POINT_GROUP!r} group ({target}).") from None
    if not isinstance(declared, Provider) or declared.name != name:
        raise BackendError(f"{target} does not declare the provider {name!r}", "Its PROVIDER must be a tuneui.core.providers.Provider of that name.")
    return declared


def _attribute(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
