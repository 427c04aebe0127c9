"""Together AI's declaration (see `tuneui.core.providers`); the backend is `backends.together_ft`."""

from dataclasses import dataclass

from tuneui.core.providers import Provider
from tuneui.core.settings import Section, setting


@dataclass
class TogetherSettings(Section):
    base_url: str = setting("https://api.together.xyz/v1", "Together AI API address.")
    endpoint_max_cents_per_minute: float = setting(0.0, "Consent to start a dedicated endpoint for evaluating or chatting with a fine-tune Together serves no other way, up to this price (cents per minute); 0 never starts one.", ge=0, le=100_000)
    local_base_model: str = setting("", "Folder or Hugging Face id of a fine-tune's base model on this machine, to run a downloaded adapter locally when Together serves it only on a dedicated endpoint.")


PROVIDER = Provider(
    name="together",
    title="Together AI",
    backend="backends.together_ft:TogetherBackend",
    keys=("TOGETHER_API_KEY",),
    settings={"together": TogetherSettings},
    prices="backends.hosted.prices:together.toml",
    inference="provider-or-local",
    abilities=frozenset({"downloads_adapter"}),
    trains_families=("llama", "qwen", "mistral", "gemma", "deepseek"),
    default_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    preference=20,
)
