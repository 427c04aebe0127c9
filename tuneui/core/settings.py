"""The schema of `tuneui.toml`: small nested sections, every field documented.

pydantic lives here only, at the edge where a person's file enters the program.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    # A typo in tuneui.toml should be an error naming the key, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ProjectSettings(_Section):
    name: str = Field("tuneui project", description="A name for people; shown in the UI and reports.")
    task: str = Field("", description="What the model should do, in a sentence or two; the judge's rubric.")
    task_type: Literal["auto", "classification", "json", "freetext"] = Field(
        "auto", description="Chooses the metrics; 'auto' detects it from the answers in the data."
    )
    system_prompt: str = Field("", description="The system prompt used by the baseline and in training data.")


class DataSettings(_Section):
    val_fraction: float = Field(0.15, gt=0, lt=1, description="Share of examples held out for validation.")
    seed: int = Field(0, description="Seed of the split and of k-shot example choice.")


class ModelSettings(_Section):
    local: str = Field("", description="Default local base model: a Hugging Face id or a local folder.")
    hosted: str = Field("gpt-4o-mini", description="Default hosted base model.")
    hosted_backend: Literal["openai", "azure", "together"] = Field("openai", description="Default hosted backend: openai, azure or together.")
    judge: str = Field("", description="'backend:model' of the LLM judge; empty = no judge.")
    assistant: str = Field("", description="'backend:model' answering free-text questions in the guide.")


class LocalSettings(_Section):
    gpu_hour_usd: float = Field(0.0, ge=0, description="What an hour of this box's GPU costs you, for the Cost step.")
    max_length: int = Field(2048, gt=0, description="Longest training example in tokens; longer ones are truncated.")
    lora_r: int = Field(16, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(32, gt=0, description="LoRA alpha (scale = alpha / r).")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate.")
    batch_size: int = Field(4, gt=0, description="Examples per optimizer step (per device).")
    measured_mfu: float | None = Field(None, description="Set by the last local run; used by the time estimate.")


class HostedSettings(_Section):
    poll_seconds: float = Field(30.0, gt=0, description="Seconds between polls of a hosted job (TUNEUI_POLL_SECONDS wins).")


class OpenAISettings(_Section):
    azure_endpoint: str = Field("", description="Set to use Azure OpenAI instead of api.openai.com.")
    api_version: str = Field("", description="Azure OpenAI API version, with azure_endpoint.")


class TogetherSettings(_Section):
    base_url: str = Field("https://api.together.xyz/v1", description="Together AI API address.")


class Settings(_Section):
    project: ProjectSettings = Field(default_factory=ProjectSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    local: LocalSettings = Field(default_factory=LocalSettings)
    hosted: HostedSettings = Field(default_factory=HostedSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    together: TogetherSettings = Field(default_factory=TogetherSettings)
    prices: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-model overrides of the shipped price table."
    )
