"""Where a Together fine-tune answers: Together serves LoRA fine-tunes serverless for a few base
models only; the others need a dedicated endpoint, billed by the minute while it runs.

So the first request of an evaluation or a chat tries serverless. When Together refuses it as not
serverless, the adapter downloaded into the run folder runs through the local backend, if the
base model is on this machine (a folder, `[together] local_base_model`, or the Hugging Face cache).
Otherwise the user is told both ways out; tuneui does not create a dedicated endpoint. The path
taken is recorded in the run's status.json (`inference`) and events, and reused after.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from backends.base import BackendError, Conversation, Event, GenerationParams, ModelRef
from backends.hosted import together_wire as wire
from backends.hosted.errors import RefusedError, provider_text
from backends.runs import RunFolder, list_runs

SERVERLESS = "serverless"
LOCAL_ADAPTER = "local-adapter"
# Together's words for "this model needs a dedicated endpoint" (HTTP 400/404 on chat completions).
_NOT_SERVERLESS = re.compile(r"non-serverless|dedicated endpoint|unable to access model|model_not_available", re.IGNORECASE)
REPLY_LIMIT = 1_000_000  # characters of one reply kept


class TogetherServing:
    """`generate` and `stream` of TogetherBackend: the first request finds where a fine-tune
    answers, later ones go there. Mixed in before HostedBackend, whose methods it extends."""

    workspace: Any
    provider: str
    _local_backend: Any = None  # made when a fine-tune runs through its local adapter

    def generate(self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()) -> list[str]:
        """Replies from wherever the model answers: serverless, else the downloaded adapter here."""
        local = self._local_route(model)
        if local is not None:
            return self._local().generate(local, conversations, params)
        if not conversations or not model.model_id:
            return super().generate(model, conversations, params)
        try:
            first = self._complete(model, conversations[0], params)  # the probe: is it served serverless?
        except BackendError as exc:
            return self._local().generate(self._fallback(model, exc), conversations, params)
        record(run_of(self.workspace, model), SERVERLESS, self.provider)
        return [first] + super().generate(model, conversations[1:], params)

    def stream(self, model: ModelRef, conversation: Conversation, params: GenerationParams = GenerationParams()) -> Iterator[str]:
        local = self._local_route(model)
        if local is not None:
            yield from self._local().stream(local, conversation, params)
            return
        request = {**self._chat_request(model, conversation, params), "stream": True}
        try:
            # The refusal comes with the answer's status, before any text: nothing was shown yet.
            chunks = wire.sse_text(self._http().stream_lines("chat/completions", request))
            first = next(chunks, None)
        except BackendError as exc:
            if not model.model_id:
                raise
            yield from self._local().stream(self._fallback(model, exc), conversation, params)
            return
        if model.model_id:
            record(run_of(self.workspace, model), SERVERLESS, self.provider)
        if first is not None:
            yield provider_text(first, REPLY_LIMIT)
            yield from (provider_text(chunk, REPLY_LIMIT) for chunk in chunks)

    def _local_route(self, model: ModelRef) -> ModelRef | None:
        """The local adapter, when an earlier request found the model is not served serverless."""
        folder = run_of(self.workspace, model) if model.model_id else None
        if folder is None or folder.read_status().get("inference") != LOCAL_ADAPTER:
            return None
        return local_route(self.workspace, folder, model)

    def _fallback(self, model: ModelRef, error: BackendError) -> ModelRef:
        """After serverless refused `model`: the downloaded adapter on this machine, or a clear error."""
        if not is_not_serverless(error):
            raise error
        folder = run_of(self.workspace, model)
        local = local_route(self.workspace, folder, model)
        if local is None:
            raise no_route(model, self.provider, self._endpoint_price(model)) from None
        record(folder, LOCAL_ADAPTER, self.provider, local.base_model)
        return local

    def _endpoint_price(self, model: ModelRef) -> str:
        """What a dedicated endpoint for `model` would cost, from `GET /hardware?model=`: the
        cheapest available configuration, or "" when Together does not say."""
        try:
            listed = wire.rows_of(self._http().json("GET", "hardware", params={"model": model.model_id}), "a hardware list")
        except BackendError:
            return ""
        return wire.cheapest_hardware(listed)

    def _local(self) -> Any:
        if self._local_backend is None:
            from backends.local.backend import LocalBackend

            self._local_backend = LocalBackend(self.workspace)
        return self._local_backend


def is_not_serverless(error: BaseException) -> bool:
    return isinstance(error, RefusedError) and error.status_code in (400, 404) and bool(_NOT_SERVERLESS.search(error.title))


def run_of(workspace: Any, model: ModelRef) -> RunFolder | None:
    """The run that trained `model`: the folder holding its adapter, or whose model.json names it."""
    if model.path and (Path(model.path).parent / "spec.json").is_file():
        return RunFolder(Path(model.path).parent)
    for folder in list_runs(workspace.runs_dir):
        if folder.model_json.is_file():
            try:
                if json.loads(folder.model_json.read_text(encoding="utf-8")).get("model_id") == model.model_id:
                    return folder
            except (OSError, ValueError):
                continue
    return None


def local_route(workspace: Any, folder: RunFolder | None, model: ModelRef) -> ModelRef | None:
    """The local backend's ModelRef for the downloaded adapter, when its base model is here."""
    adapter = folder.adapter_dir if folder is not None else None
    if adapter is None or not (adapter / "adapter_config.json").is_file():
        return None
    for base in _base_candidates(workspace, adapter, model.base_model):
        if _on_this_machine(workspace, base):
            return ModelRef("local", workspace.local_model_path(base), "adapter", path=str(adapter))
    return None


def record(folder: RunFolder | None, route: str, provider: str, detail: str = "") -> None:
    """Say in the run folder which path evaluation and chat took, once per change."""
    if folder is None or folder.read_status().get("inference") == route:
        return
    folder.write_status(inference=route)
    where = {SERVERLESS: f"{provider}'s serverless LoRA inference", LOCAL_ADAPTER: f"the downloaded adapter on this machine ({detail})"}[route]
    folder.append_events([Event("log", {"level": "info", "message": f"Evaluation and chat run through {where}."}, time.time(), id=f"inference:{route}")])


def no_route(model: ModelRef, provider: str, price: str = "") -> BackendError:
    base = _hub_name(model.base_model)
    cost = f" ({price})" if price else " (billed per minute while it runs)"
    return BackendError(
        f"{provider} serves {model.model_id} only on a dedicated endpoint, and its base model is not on this machine",
        f"Either put {base} on this machine (a folder, or `[together] local_base_model` in tuneui.toml) so the "
        f"downloaded adapter runs locally, or start a dedicated endpoint for the model at together.ai{cost} "
        f"and stop it afterwards. tuneui does not create endpoints.",
    )


def _base_candidates(workspace: Any, adapter: Path, base_model: str) -> list[str]:
    settings = workspace.settings() if workspace.exists() else None
    configured = settings.together.local_base_model if settings is not None else ""
    try:
        written = str(json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path") or "")
    except (OSError, ValueError):
        written = ""
    return [name for name in dict.fromkeys((configured, written, _hub_name(base_model))) if name]


def _hub_name(together_name: str) -> str:
    """Together names its fine-tunable copies `<hub id>-Reference`; the weights are the hub model's."""
    return together_name.removesuffix("-Reference")


def _on_this_machine(workspace: Any, name: str) -> bool:
    if Path(workspace.local_model_path(name)).is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache

        # Only what is cached already, weights included: a multi-gigabyte download is the user's call.
        cached = [try_to_load_from_cache(name, file) for file in ("config.json", "model.safetensors", "model.safetensors.index.json")]
    except Exception:  # no huggingface_hub, or a name that is no hub id: not here either way
        return False
    return isinstance(cached[0], str) and any(isinstance(path, str) for path in cached[1:])
