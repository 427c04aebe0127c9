"""OpenAI's declaration (see `tuneui.core.providers`); the backend is `backends.openai_ft`."""

import datetime as dt
from dataclasses import dataclass

from tuneui.core.providers import Provider
from tuneui.core.settings import Section, setting


@dataclass
class OpenAISettings(Section):
    azure_endpoint: str = setting("", "Set to use Azure OpenAI instead of api.openai.com.")
    api_version: str = setting("", "Azure OpenAI API version, with azure_endpoint.")


PROVIDER = Provider(
    name="openai",
    title="OpenAI",
    backend="backends.openai_ft:OpenAIBackend",
    keys=("OPENAI_API_KEY",),
    settings={"openai": OpenAISettings},
    prices="backends.hosted.prices:openai.toml",
    model_prefixes=("gpt-", "ft:", "chatgpt-", "o1", "o3", "o4"),
    trains_families=("gpt-4o", "gpt-4.1"),
    # https://platform.openai.com/docs/deprecations (read 2026-11-23)
    no_new_jobs=dt.date(2027, 1, 6),
    models_gone=dt.date(2027, 1, 14),
    default_model="gpt-4o-mini",
    preference=10,
)
