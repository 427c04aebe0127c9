"""Backend name -> backend class, imported only when asked for (hosted SDKs and torch are slow)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from backends.base import BackendError

if TYPE_CHECKING:
    from backends.base import Backend
    from tuneui.core.workspace import Workspace

# "module:Class". The local backend's module imports no torch at import time: its worker does.
BACKENDS: dict[str, str] = {
    "local": "backends.local.backend:LocalBackend",
    "openai": "backends.openai_ft:OpenAIBackend",
    "azure": "backends.azure_ft:AzureOpenAIBackend",
    "together": "backends.together_ft:TogetherBackend",
}


def backend_names() -> list[str]:
    return list(BACKENDS)


def get_backend(name: str, workspace: "Workspace") -> "Backend":
    """An instance of the named backend bound to a workspace (its settings and runs/ folder)."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise BackendError(f"Unknown backend {name!r}", f"Choose one of: {', '.join(BACKENDS)}.") from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(
            f"The {name} backend cannot be loaded: {exc}",
            "Install its extra, e.g. `pip install 'tuneui[local]'` for local training.",
        ) from None
    return getattr(module, class_name)(workspace)
