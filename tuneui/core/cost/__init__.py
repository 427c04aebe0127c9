"""The Cost step: what a hosted job bills and what a local run needs, before anything starts.

- `hosted_estimate(backend, model, train_tokens, ...) -> HostedEstimate` (`to_json()`, `to_estimate()`)
- `local_estimate(config, ...) -> LocalEstimate` (`to_json()`, `to_estimate()`)
- `load_prices(overrides) -> PriceTable`: the dated price table with tuneui.toml's overrides
"""

from tuneui.core.cost.hosted import EvalTokens, HostedEstimate, billed_tokens_per_epoch, default_epochs, hosted_estimate
from tuneui.core.cost.local import DEFAULT_MFU, LocalEstimate, local_estimate
from tuneui.core.cost.model_config import find_model_config
from tuneui.core.cost.memory import MemoryBreakdown, ModelShape, memory_breakdown, model_shape
from tuneui.core.cost.prices import ModelPrice, PriceTable, ProviderTerms, load_prices

__all__ = [
    "DEFAULT_MFU",
    "LocalEstimate",
    "MemoryBreakdown",
    "ModelShape",
    "find_model_config",
    "local_estimate",
    "memory_breakdown",
    "model_shape",
    "EvalTokens",
    "HostedEstimate",
    "ModelPrice",
    "PriceTable",
    "ProviderTerms",
    "billed_tokens_per_epoch",
    "default_epochs",
    "hosted_estimate",
    "load_prices",
]
