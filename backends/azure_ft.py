"""Azure OpenAI: OpenAI's fine-tuning API as Azure serves it (its differences in `azure_wire`).

`[openai] azure_endpoint` + `api_version`, the key in AZURE_OPENAI_API_KEY. Creating a job is
HostedBackend's create-once; without job metadata, an earlier attempt's job is found by this
run's uploaded file ids and suffix. A model answers only through the deployment named for it in
`[azure.deployments]`: without one, eval and chat say how to make it before any request.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

from tuneui.core.backend import Conversation, GenerationParams, ModelRef, TrainSpec
from backends.hosted import azure_wire
from backends.hosted import openai_wire as wire
from backends.hosted.errors import safe_error
from backends.hosted.notices import azure_model_notes
from backends.openai_ft import OpenAIBackend
from backends.runs import RunFolder


class AzureOpenAIBackend(OpenAIBackend):
    """Azure OpenAI: `[openai] azure_endpoint` + `api_version`, key in AZURE_OPENAI_API_KEY, and
    `[azure.deployments]` naming the deployment that serves each model."""

    name = "azure"
    provider = "Azure OpenAI"
    status_map = azure_wire.STATUS_MAP

    def __init__(self, workspace: Any) -> None:
        super().__init__(workspace)
        self._deployments: dict[ModelRef, str] = {}

    def require_callable(self, model: ModelRef) -> None:
        """The deployment is named, and Azure knows it: one reply of one token, before a baseline
        spends anything (a misspelt name is otherwise found only at the tuned model's turn)."""
        self._deployment(model)
        with self._deployment_errors(model):
            super().generate(model, [[{"role": "user", "content": "ping"}]], GenerationParams(max_new_tokens=1))

    # -- what Azure does differently ----------------------------------------------------------

    def _dated_notices(self, model: str | None) -> tuple[list[str], list[str]]:
        return [], []  # OpenAI's dates are not Azure's: Azure's come with each model in its list

    @staticmethod
    def _base_of(model: str) -> str:
        return model.split(".ft-", 1)[0]

    def _model_notes(self, model: str, entry: dict[str, Any]) -> tuple[list[str], list[str]]:
        return azure_model_notes(model, entry, self.today())

    def _job_request(self, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        return azure_wire.job_request(spec, files, self._settings().azure.training_type)

    def _find_job(self, folder: RunFolder, files: dict[str, str]) -> dict[str, Any] | None:
        # Azure jobs carry no metadata: this run's uploaded file ids and suffix identify its job.
        suffix = azure_wire.suffix_of(folder.read_spec())
        return self._first_job(lambda job: azure_wire.is_this_runs_job(job, files, suffix))

    def _chat_request(self, model: ModelRef, conversation: Conversation, params: GenerationParams) -> dict[str, Any]:
        # The SDK turns `model` into /openai/deployments/{model}/chat/completions.
        return {**super()._chat_request(model, conversation, params), "model": self._deployment(model)}

    def generate(
        self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()
    ) -> list[str]:
        self._deployment(model)  # no deployment named: say so before any request is made
        with self._deployment_errors(model):
            return super().generate(model, conversations, params)

    def stream(self, model: ModelRef, conversation: Conversation, params: GenerationParams = GenerationParams()) -> Iterator[str]:
        self._deployment(model)
        with self._deployment_errors(model):
            yield from super().stream(model, conversation, params)

    # -- plumbing -----------------------------------------------------------------------------

    def _deployment(self, model: ModelRef) -> str:
        # Asked once per request: tuneui.toml is read once per model, not once per completion.
        if model not in self._deployments:
            name = azure_wire.deployment_for(model, self._settings())
            if name is None:
                raise azure_wire.missing_deployment(str(model.model_id), self._settings(), self._prices())
            self._deployments[model] = name
        return self._deployments[model]

    @contextlib.contextmanager
    def _deployment_errors(self, model: ModelRef) -> Iterator[None]:
        try:
            yield
        except wire.DeploymentNotFoundError as exc:
            name = self._deployment(model)
            raise azure_wire.deployment_not_found(name, model, self._settings(), self._prices()) from None

    def _prices(self) -> Any:
        from tuneui.core.cost import load_prices

        return load_prices()

    def _settings(self) -> Any:
        settings = super()._settings()
        if settings is None or not settings.openai.azure_endpoint:
            raise safe_error(
                "The azure backend needs an Azure OpenAI endpoint",
                "Set `azure_endpoint` and `api_version` under [openai] in tuneui.toml.",
            )
        return settings
