"""What Azure OpenAI does differently from OpenAI, per its published authoring API (2025-04-01-preview).

Azure's fine-tuning job has no `metadata` and its supervised method carries no hyperparameters
(they stay top-level); a suffix is at most 40 characters of `[A-Za-z0-9-_]`; its status words
include `pending`, `pausing` and `resuming`. Above all, Azure answers a chat request only through
a *deployment*, made in Azure Resource Manager with an Entra sign-in (not the API key) and billed
by the hour: tuneui never creates one, it says exactly how to, and calls the one named in
`[azure.deployments]`.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, Mapping

from tuneui.core.backend import BackendError, ModelRef, NotReadyError, TrainSpec
from backends.hosted.errors import safe_error
from backends.hosted.openai_wire import hyperparameters_of

STATUS_MAP = {
    "created": "queued",
    "pending": "queued",
    "running": "running",
    "pausing": "running",
    "paused": "running",
    "resuming": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}
SUFFIX_MAX = 40
_NOT_SUFFIX = re.compile(r"[^A-Za-z0-9_-]+")
_NOT_DEPLOYMENT = re.compile(r"[^A-Za-z0-9_-]+")
DEPLOYMENT_NAME_MAX = 64
# Fine-tuned models are deployed as version "1" of the model named by the job's `fine_tuned_model`.
TUNED_MODEL_VERSION = "1"
PLACEHOLDER_RESOURCE_GROUP = "<RESOURCE_GROUP>"
PLACEHOLDER_ACCOUNT = "<ACCOUNT>"


def suffix_of(spec: TrainSpec) -> str | None:
    """The run's suffix as Azure accepts it: other characters become '-', cut to 40."""
    if not spec.suffix:
        return None
    cleaned = _NOT_SUFFIX.sub("-", spec.suffix).strip("-")[:SUFFIX_MAX]
    return cleaned or None


def job_request(spec: TrainSpec, files: Mapping[str, str], training_type: str = "") -> dict[str, Any]:
    """The `FineTuningJobCreation` body: only fields the spec names, plus `trainingType` if configured."""
    hyperparameters = hyperparameters_of(spec)
    request: dict[str, Any] = {"model": spec.model, "training_file": files["train"], "seed": spec.seed}
    if hyperparameters:
        request["hyperparameters"] = hyperparameters
    if files.get("validation"):
        request["validation_file"] = files["validation"]
    suffix = suffix_of(spec)
    if suffix:
        request["suffix"] = suffix
    if training_type:
        # Not in the published spec; live clients report Azure asking for it, as a name or (LiteLLM)
        # the number 1. Sent only when set; digits are sent as a number.
        request["extra_body"] = {"trainingType": int(training_type) if training_type.isdigit() else training_type}
    return request


def is_this_runs_job(job: Mapping[str, Any], files: Mapping[str, str], suffix: str | None) -> bool:
    """Without metadata, a job is this run's when it trains on this run's uploaded files (ids no
    other run has: `files` as persisted in status.json) with this run's suffix (when Azure reports one)."""
    if job.get("training_file") != files["train"]:
        return False
    if (job.get("validation_file") or None) != (files.get("validation") or None):
        return False
    return "suffix" not in job or (job.get("suffix") or None) == (suffix or None)


def deployment_for(model: ModelRef, settings: Any) -> str | None:
    """The deployment that serves `model`: named in `[azure.deployments]`; a base model not named
    there is called by its own name (a common way to name a base deployment); a fine-tuned model
    not named there has none (None)."""
    deployments = settings.azure.deployments
    if model.model_id:
        return deployments.get(model.model_id)
    return deployments.get(model.base_model, model.base_model)


def missing_deployment(model_id: str, settings: Any, prices: Any) -> BackendError:
    """A fine-tuned model with no deployment named: what to run, what it costs, what to write."""
    name = suggested_deployment(model_id)
    return safe_error(
        f"The fine-tuned model {model_id} has no Azure deployment named in tuneui.toml",
        f"{_why_and_cost(settings, prices)} Create one:\n  {deploy_command(settings, model_id, name)}\n"
        f'then name it in tuneui.toml:\n  [azure.deployments]\n  "{model_id}" = "{name}"\n'
        f"{_placeholder_note(settings)}Delete it when you are done: {delete_command(settings, name)}",
        NotReadyError,
    )


def deployment_not_found(deployment: str, model: ModelRef, settings: Any, prices: Any) -> BackendError:
    """Azure said 404 DeploymentNotFound for the deployment tuneui called."""
    model_name = model.model_id or model.base_model
    if model.model_id:
        create = (
            f"{_why_and_cost(settings, prices)} Create it:\n  {deploy_command(settings, model_name, deployment)}\n"
            f"{_placeholder_note(settings)}"
        )
    else:
        create = f"Deploy {model_name} (a base model bills per token, not by the hour), e.g. in the Azure AI Foundry portal.\n"
    return safe_error(
        f"Azure OpenAI has no deployment named {deployment!r} (for {model_name})",
        f"{create}Or correct its name in tuneui.toml:\n  [azure.deployments]\n  \"{model_name}\" = \"<DEPLOYMENT>\"\n"
        "A deployment made in the last few minutes may not answer yet.",
        NotReadyError,
    )


def suggested_deployment(model_id: str) -> str:
    """`gpt-4o-mini-2024-07-18.ft-0e20...-tickets` -> `tuneui-0e20...-tickets` (64 characters at most)."""
    tail = model_id.split(".ft-", 1)[-1]
    return ("tuneui-" + _NOT_DEPLOYMENT.sub("-", tail).strip("-"))[:DEPLOYMENT_NAME_MAX]


def deploy_command(settings: Any, model_id: str, deployment: str) -> str:
    group, account = _names(settings)
    return (
        f"az cognitiveservices account deployment create --resource-group {group} --name {account} "
        f"--deployment-name {deployment} --model-name {model_id} --model-version {TUNED_MODEL_VERSION} "
        f"--model-format OpenAI --sku-name {settings.azure.deployment_sku} --sku-capacity 1"
    )


def delete_command(settings: Any, deployment: str) -> str:
    group, account = _names(settings)
    return f"az cognitiveservices account deployment delete --resource-group {group} --name {account} --deployment-name {deployment}"


def account_of(endpoint: str) -> str | None:
    """`https://my-resource.openai.azure.com` -> `my-resource`; None for other hosts."""
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    for domain in (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"):
        if host.endswith(domain):
            return host[: -len(domain)] or None
    return None


def _names(settings: Any) -> tuple[str, str]:
    account = settings.azure.account or account_of(settings.openai.azure_endpoint) or PLACEHOLDER_ACCOUNT
    return settings.azure.resource_group or PLACEHOLDER_RESOURCE_GROUP, account


def _placeholder_note(settings: Any) -> str:
    group, account = _names(settings)
    missing = [word for word in (group, account) if word.startswith("<")]
    if not missing:
        return ""
    return f"Replace {' and '.join(missing)} with yours (or set resource_group and account under [azure]).\n"


def _why_and_cost(settings: Any, prices: Any) -> str:
    sku = settings.azure.deployment_sku
    why = (
        "Azure answers a fine-tuned model only through a deployment. tuneui does not create it: that "
        "takes an Azure sign-in (Entra ID) to Azure Resource Manager, not the API key."
    )
    if sku == "Developer":
        return f"{why} A Developer deployment has no hourly fee (tokens only) and is removed after 24 hours."
    terms = prices.provider("azure")
    if terms.hosting_per_hour is None:
        return f"{why} A {sku} deployment is billed by the hour while it exists, used or not."
    return (
        f"{why} A {sku} deployment costs about ${terms.hosting_per_hour:,.2f} per hour while it exists, used or not "
        f"(price table of {terms.as_of}; tokens on top)."
    )
