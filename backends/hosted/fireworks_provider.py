"""Fireworks AI's declaration (see `tuneui.core.providers`); the backend is `backends.hosted.fireworks_ft`."""

from dataclasses import dataclass

from tuneui.core.providers import Provider
from tuneui.core.settings import Section, setting


@dataclass
class FireworksSettings(Section):
    account_id: str = setting("", "Your Fireworks account id (every dataset, job and model lives under it).")
    base_url: str = setting("https://api.fireworks.ai", "Fireworks AI API address.")
    local_base_model: str = setting("", "Folder or Hugging Face id of a fine-tune's base model on this machine, to run a downloaded adapter locally when Fireworks does not serve the tuned model.")


PROVIDER = Provider(
    name="fireworks",
    title="Fireworks AI",
    backend="backends.hosted.fireworks_ft:FireworksBackend",
    keys=("FIREWORKS_API_KEY",),
    settings={"fireworks": FireworksSettings},
    prices="backends.hosted.prices:fireworks.toml",
    inference="provider-or-local",
    abilities=frozenset({"downloads_adapter"}),
    trains_families=("llama", "qwen", "deepseek", "gemma", "phi"),
    default_model="accounts/fireworks/models/llama-v3p1-8b-instruct",
    preference=40,
)
