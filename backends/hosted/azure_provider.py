"""Azure OpenAI's declaration (see `tuneui.core.providers`); the backend is `backends.azure_ft`."""

from dataclasses import dataclass, field
from typing import Literal

from tuneui.core.providers import Provider
from tuneui.core.settings import Section, setting


@dataclass
class AzureSettings(Section):
    """Azure OpenAI calls a model only through a deployment, which tuneui names but never creates."""

    deployments: dict[str, str] = field(
        default_factory=dict,
        metadata={"description": "Model -> the deployment that serves it: the base model (baseline) and each fine-tuned model id."},
    )
    resource_group: str = setting("", "Resource group of the Azure OpenAI resource; fills in the `az` command tuneui suggests.")
    account: str = setting("", "Azure OpenAI resource (account) name; default: read from [openai] azure_endpoint.")
    deployment_sku: Literal["Standard", "GlobalStandard", "Developer"] = setting(
        "Standard", "Deployment type in the suggested `az` command; Standard and GlobalStandard bill hosting by the hour."
    )
    training_type: str = setting(
        "", "Sent as `trainingType` when a job is created (all digits: as a number); not in Azure's published API, so empty = not sent."
    )


PROVIDER = Provider(
    name="azure",
    title="Azure OpenAI",
    backend="backends.azure_ft:AzureOpenAIBackend",
    keys=("AZURE_OPENAI_API_KEY",),
    settings={"azure": AzureSettings},
    prices="backends.hosted.prices:azure.toml",
    inference="deployment",
    abilities=frozenset({"needs_deployment"}),
    # Azure trains the same families for existing customers into 2027 (its dates come per model).
    trains_families=("gpt-4o", "gpt-4.1"),
    default_model="gpt-4o-mini",
    new_customers=False,
    preference=30,
)
