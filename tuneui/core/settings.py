"""The schema of `tuneui.toml`: small nested sections, every field documented.

Plain dataclasses checked by a small validator of their own, not pydantic: this module is read on
every start of the app, and importing pydantic cost more than the rest of the CLI. Every value is
checked when a file is read (`Settings.from_dict`) and when code assigns one, and an error names
the key (`SettingsError.key`, such as `local.lora_r`).
"""

from __future__ import annotations

import math
import operator
import re
import types
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, Callable, Literal, Mapping, TypeVar, Union, get_args, get_origin, get_type_hints

from tuneui.core.rules import RuleError, parse_rules

NUMBER_BOUNDS = {
    "gt": ("greater than", operator.gt),
    "ge": ("at least", operator.ge),
    "lt": ("less than", operator.lt),
    "le": ("at most", operator.le),
}


class SettingsError(ValueError):
    """A value that breaks the schema; `key` is its dotted place in tuneui.toml."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"[{key}] {message}")
        self.key = key
        self.message = message


SectionT = TypeVar("SectionT", bound="_Section")


def _setting(default: Any, description: str, **bounds: float) -> Any:
    return field(default=default, metadata={"description": description, **bounds})


class _Section:
    """What every section shares: checked assignment, reading from and writing to plain dicts."""

    def __setattr__(self, name: str, value: Any) -> None:
        # A typo in code should fail as loudly as a typo in tuneui.toml, not add a stray attribute.
        if name not in _schema(type(self)):
            raise AttributeError(f"{type(self).__name__} has no setting {name!r}")
        object.__setattr__(self, name, _checked(type(self), name, value, _key_of(type(self), name)))

    @classmethod
    def from_dict(cls: type[SectionT], raw: Mapping[str, Any], where: str = "") -> SectionT:
        """The section from a TOML table; unknown keys and bad values raise `SettingsError`."""
        schema = _schema(cls)
        for key in raw:
            if key not in schema:
                raise SettingsError(where + str(key), f"unknown setting; the known ones here are {', '.join(schema)}")
        values = {key: _checked(cls, key, value, where + key) for key, value in raw.items()}
        section = cls.__new__(cls)
        for name, spec in schema.items():
            object.__setattr__(section, name, values[name] if name in values else spec.default_value())
        return section

    def to_dict(self) -> dict[str, Any]:
        """Plain values in the schema's order, ready for TOML; unset optional values are left out."""
        out: dict[str, Any] = {}
        for name in _schema(type(self)):
            value = getattr(self, name)
            if isinstance(value, _Section):
                value = value.to_dict()
            elif isinstance(value, dict):
                value = _without_none(value)
            elif isinstance(value, list) and not value:
                continue  # no candidates: nothing to write, so a new tuneui.toml stays as it was
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True)
class _FieldSpec:
    """One field's type as the validator needs it, read once from the dataclass."""

    kind: Any  # str, int, float, a _Section subclass, dict (a table of tables) or NamesTable
    optional: bool
    choices: tuple[str, ...]
    bounds: tuple[tuple[str, float], ...]
    default: Any
    default_factory: Any
    check: Callable[[dict[str, Any], str], dict[str, Any]] | None  # a table of tables' own validator

    def default_value(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default


@cache
def _schema(cls: type) -> dict[str, _FieldSpec]:
    hints = get_type_hints(cls)
    schema = {}
    for item in fields(cls):
        kind, optional, choices = hints[item.name], False, ()
        if get_origin(kind) in (Union, types.UnionType):
            members = [member for member in get_args(kind) if member is not type(None)]
            kind, optional = members[0], True
        if get_origin(kind) is Literal:
            kind, choices = str, get_args(kind)
        elif get_origin(kind) is dict:
            kind = NamesTable if get_args(kind)[1] is str else dict
        elif get_origin(kind) is list:
            kind = ModelList
        bounds = tuple((name, float(item.metadata[name])) for name in NUMBER_BOUNDS if name in item.metadata)
        factory = None if item.default_factory is MISSING else item.default_factory
        schema[item.name] = _FieldSpec(kind, optional, choices, bounds, item.default, factory, item.metadata.get("check"))
    return schema


def _key_of(cls: type, name: str) -> str:
    """The dotted key of field `name` of section `cls` as tuneui.toml spells it, for messages."""
    sections = {spec.kind: section for section, spec in _schema(Settings).items()}
    sections.update({kind: section for section, kind in _provider_sections().items()})
    return f"{sections[cls]}.{name}" if cls in sections else name


def _checked(cls: type, name: str, value: Any, key: str) -> Any:
    """`value` as field `name` of `cls` stores it (ints widen to floats), or `SettingsError` naming `key`."""
    spec = _schema(cls)[name]
    if value is None and spec.optional:
        return None
    kind = spec.kind
    if isinstance(kind, type) and issubclass(kind, _Section):
        if isinstance(value, kind):
            return value
        if isinstance(value, Mapping):
            return kind.from_dict(value, key + ".")
        raise SettingsError(key, f"should be a table ([{key}]), not {_shown(value)}")
    if kind is dict:
        table = _table_of_tables(value, key)
        return spec.check(table, key) if spec.check else table
    if kind is NamesTable:
        return _table_of_names(value, key)
    if kind is ModelList:
        return _model_list(value, key)
    if kind is str:
        if not isinstance(value, str):
            raise SettingsError(key, f"should be text in quotes, not {_shown(value)}")
        if spec.choices and value not in spec.choices:
            raise SettingsError(key, f"should be one of {', '.join(repr(c) for c in spec.choices)}, not {value!r}")
        return spec.check(value, key) if spec.check else value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        wanted = "a whole number" if kind is int else "a number"
        raise SettingsError(key, f"should be {wanted}, not {_shown(value)}")
    number = int(value) if kind is int else float(value)
    if kind is float and not math.isfinite(number):
        # TOML has inf and nan; neither trains, times or prices anything, and JSON cannot hold them.
        raise SettingsError(key, f"should be a finite number, not {number!r}{_range_of(spec)}")
    for bound, limit in spec.bounds:
        words, holds = NUMBER_BOUNDS[bound]
        if not holds(number, limit):
            raise SettingsError(key, f"should be {words} {limit:,.15g}, not {number!r}")
    return number


def _range_of(spec: _FieldSpec) -> str:
    words = [f"{NUMBER_BOUNDS[bound][0]} {limit:,.15g}" for bound, limit in spec.bounds]
    return f" ({' and '.join(words)})" if words else ""


def _table_of_tables(value: Any, key: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise SettingsError(key, f"should be a table ([{key}]), not {_shown(value)}")
    for name, table in value.items():
        if not isinstance(table, Mapping):
            raise SettingsError(f"{key}.{name}", f"should be a table ([{key}.\"{name}\"]), not {_shown(table)}")
    return {str(name): dict(table) for name, table in value.items()}


class NamesTable:
    """The schema kind of a `dict[str, str]` field: a TOML table of names, e.g. model -> deployment."""


class ModelList:
    """The schema kind of a `list[str]` field: a TOML list of model names, e.g. `[models] candidates`."""


MAX_CANDIDATES = 16  # each candidate is a baseline and a run: more than this is a typo, not a plan


def _model_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list):
        raise SettingsError(key, f"should be a list of models in quotes, e.g. [\"./my-model\", \"openai:gpt-4o-mini\"], not {_shown(value)}")
    if len(value) > MAX_CANDIDATES:
        raise SettingsError(key, f"should name at most {MAX_CANDIDATES} models, not {len(value)}")
    names: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or any(ord(c) < 32 for c in item):
            raise SettingsError(f"{key}[{index}]", f"should be a model name in quotes (a folder, a hub id or backend:model), not {_shown(item)}")
        if item in names:
            raise SettingsError(f"{key}[{index}]", f"names {item!r} twice; list each candidate once")
        names.append(item)
    return names


# Names that end up in a URL path (an Azure deployment): letters, digits, '-', '_' and '.'.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _table_of_names(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise SettingsError(key, f"should be a table ([{key}]), not {_shown(value)}")
    for name, item in value.items():
        if not isinstance(item, str) or not _NAME.fullmatch(item):
            raise SettingsError(
                f'{key}."{name}"',
                f"should be a name in quotes (up to 64 letters, digits, '-', '_' or '.'), not {_shown(item)}",
            )
    return {str(name): item for name, item in value.items()}


def _hosted_provider(name: str, key: str) -> str:
    from tuneui.core.providers import hosted_names  # the providers are plug-ins: the registry knows them

    if name and name not in hosted_names():
        raise SettingsError(key, f"should be one of {', '.join(repr(n) for n in hosted_names())}, not {name!r}")
    return name


def _provider_sections() -> dict[str, type["_Section"]]:
    """Each provider's own sections ([together], ...), declared with the provider (tuneui.core.providers)."""
    from tuneui.core.providers import settings_sections

    return settings_sections()


def _checked_rules(tables: dict[str, Any], key: str) -> dict[str, Any]:
    try:
        parse_rules(tables)
    except RuleError as exc:
        raise SettingsError(f"{key}.{exc.key}", exc.message) from None
    return tables


def _without_none(table: dict[str, Any]) -> dict[str, Any]:
    return {key: _without_none(value) if isinstance(value, dict) else value for key, value in table.items() if value is not None}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    kinds = {str: "text", int: "a whole number", float: "a number", dict: "a table", list: "a list"}
    return f"{kinds.get(type(value), type(value).__name__)} {value!r}"


@dataclass
class ProjectSettings(_Section):
    name: str = _setting("tuneui project", "A name for people; shown in the UI and reports.")
    task: str = _setting("", "What the model should do, in a sentence or two; the judge's rubric.")
    task_type: Literal["auto", "classification", "json", "freetext"] = _setting(
        "auto", "Chooses the metrics; 'auto' detects it from the answers in the data."
    )
    system_prompt: str = _setting("", "The system prompt used by the baseline and in training data.")


# numpy (under every trainer) refuses seeds outside 0..2**32-1, and OpenAI's API takes a 31-bit one.
MAX_SEED = 2**31


@dataclass
class DataSettings(_Section):
    val_fraction: float = _setting(0.15, "Share of examples held out for validation.", gt=0, lt=1)
    seed: int = _setting(0, "Seed of the split and of k-shot example choice.", ge=0, lt=MAX_SEED)


@dataclass
class ModelSettings(_Section):
    local: str = _setting("", "Default local base model: a Hugging Face id or a local folder.")
    hosted: str = _setting("", "Default hosted base model; empty = the hosted backend's own default.")
    hosted_backend: str = field(default="", metadata={"description": "Default hosted backend (a provider's name); empty = the first that still takes new jobs.", "check": _hosted_provider})
    judge: str = _setting("", "'backend:model' of the LLM judge; empty = no judge.")
    assistant: str = _setting("", "'backend:model' answering free-text questions in the guide.")
    candidates: list[str] = field(
        default_factory=list,
        metadata={"description": "Base models to compare (`tuneui baseline`, `tuneui train --compare`): folders, hub ids or 'backend:model'."},
    )


# Upper bounds far above any real run, low enough that a typo (1e18) fails here, not in a planner's
# loop or a trainer's allocation.
MAX_TOKENS = 2**20  # the longest context of any model tuneui plans for is far below a million tokens
MAX_LORA_RANK = 4096
MAX_BATCH_SIZE = 65_536
MAX_MINUTES = 43_200  # thirty days
MAX_LEARNING_RATE = 1.0  # LoRA rates are around 1e-4..1e-3; above 1 every step overshoots


@dataclass
class LocalSettings(_Section):
    gpu_hour_usd: float = _setting(0.0, "What an hour of this box's GPU costs you, for the Cost step.", ge=0, le=10_000)
    max_length: int = _setting(2048, "Longest training example in tokens; longer ones are truncated.", gt=0, le=MAX_TOKENS)
    lora_r: int | None = _setting(None, "LoRA rank; unset = chosen from the data's size (docs/local.md).", gt=0, le=MAX_LORA_RANK)
    lora_alpha: int | None = _setting(None, "LoRA alpha (scale = alpha / r); unset = 2 x rank.", gt=0, le=4 * MAX_LORA_RANK)
    lora_dropout: float = _setting(0.05, "Dropout on the LoRA path.", ge=0, lt=1)
    learning_rate: float | None = _setting(None, "Peak learning rate; unset = chosen from the model's size (docs/local.md).", gt=0, le=MAX_LEARNING_RATE)
    batch_size: int = _setting(4, "Examples per optimizer step (per device).", gt=0, le=MAX_BATCH_SIZE)
    time_budget_minutes: float = _setting(30.0, "Training time the default length may take; explicit steps or epochs win.", gt=0, le=MAX_MINUTES)
    measured_mfu: float | None = _setting(None, "Set by the last local run; used by the time estimate (a share of the GPU's peak).", gt=0, le=1)


@dataclass
class HostedSettings(_Section):
    poll_seconds: float = _setting(30.0, "Seconds between polls of a hosted job (TUNEUI_POLL_SECONDS wins).", gt=0, le=3600)
    adapter_max_gib: float = _setting(16.0, "Largest adapter download (and unpacked size) accepted, in GiB.", gt=0, le=1024)
    adapter_max_files: int = _setting(1000, "Most files an adapter archive may hold.", gt=0, le=1_000_000)


@dataclass
class Settings(_Section):
    project: ProjectSettings = field(default_factory=ProjectSettings)
    data: DataSettings = field(default_factory=DataSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    local: LocalSettings = field(default_factory=LocalSettings)
    hosted: HostedSettings = field(default_factory=HostedSettings)
    prices: dict[str, dict[str, Any]] = field(
        default_factory=dict, metadata={"description": "Per-model overrides of the shipped price table."}
    )
    rules: dict[str, dict[str, Any]] = field(
        default_factory=dict,
        metadata={"description": "Named task rules every good answer follows (tuneui.core.rules).", "check": _checked_rules},
    )

    # Each provider's section lives beside the core ones in tuneui.toml ([together] ...), read,
    # checked and written like them, but declared by the provider: `settings.together` finds it.
    def __post_init__(self) -> None:
        object.__setattr__(self, "_providers", {name: kind() for name, kind in _provider_sections().items()})

    def __getattr__(self, name: str) -> Any:
        providers = self.__dict__.get("_providers")
        if providers is None or name not in providers:
            raise AttributeError(f"Settings has no section {name!r}")
        return providers[name]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "") -> "Settings":
        sections = _provider_sections()
        for key in raw:
            if key not in _schema(cls) and key not in sections:
                raise SettingsError(where + str(key), f"unknown setting; the known ones here are {', '.join([*_schema(cls), *sections])}")
        settings = super().from_dict({key: value for key, value in raw.items() if key not in sections}, where)
        providers = {name: _checked_section(kind, raw[name], where + name) if name in raw else kind() for name, kind in sections.items()}
        object.__setattr__(settings, "_providers", providers)
        return settings

    def __eq__(self, other: object) -> bool:  # the providers' sections count too
        return isinstance(other, Settings) and self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update({name: section.to_dict() for name, section in self.__dict__.get("_providers", {}).items()})
        return out


def _checked_section(kind: type[_Section], value: Any, key: str) -> _Section:
    if not isinstance(value, Mapping):
        raise SettingsError(key, f"should be a table ([{key}]), not {_shown(value)}")
    return kind.from_dict(value, key + ".")


# For providers' own sections (tuneui.core.providers): the same checked fields as the core's.
Section = _Section
setting = _setting
