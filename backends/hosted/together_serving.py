"""Where a Together fine-tune answers: Together serves LoRA fine-tunes serverless for a few base
models only; the others need a dedicated endpoint, billed by the minute while it runs.

So the first request of an evaluation or a chat tries serverless. When Together refuses it as not
serverless, the adapter downloaded into the run folder runs through the local backend, if the
base model is on this machine (a folder, `[together] local_base_model`, or the Hugging Face cache);
else a dedicated endpoint, when the user consented to its price (`together_endpoint`); else the
user is told the ways out, the endpoint's price first. The path taken is recorded in the run's
status.json (`inference`) and events, and reused after.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from tuneui.core.backend import BackendError, Conversation, Event, GenerationParams, ModelRef
from backends.hosted import together_endpoint as endpoint
from backends.hosted import together_wire as wire
from backends.hosted.errors import RefusedError, provider_text
from tuneui.core.providers import here
from backends.runs import RunFolder, list_runs

SERVERLESS = "serverless"
LOCAL_ADAPTER = "local-adapter"
ENDPOINT = "dedicated-endpoint"
# Together's words for "this model needs a dedicated endpoint" (HTTP 400/404 on chat completions).
_NOT_SERVERLESS = re.compile(r"non-serverless|dedicated endpoint|unable to access model|model_not_available", re.IGNORECASE)
REPLY_LIMIT = 1_000_000  # characters of one reply kept


class TogetherServing:
    """`generate` and `stream` of TogetherBackend: the first request finds where a fine-tune
    answers, later ones go there. Mixed in before HostedBackend, whose methods it extends."""

    workspace: Any
    provider: str
    name: str
    poll_seconds: float
    _local_backend: Any = None  # made when a fine-tune runs through its local adapter
    # Fine-tune name -> its started endpoint's ModelRef, for this process.
    _endpoints: dict[str, ModelRef]

    def generate(self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()) -> list[str]:
        """Replies from wherever the model answers: serverless, the adapter here, or an endpoint."""
        routed = self._known_route(model)
        if routed is not None:
            return self._generate_on(routed, conversations, params)
        if not conversations or not model.model_id:
            return super().generate(model, conversations, params)
        try:
            first = self._complete(model, conversations[0], params)  # the probe: is it served serverless?
        except BackendError as exc:
            return self._generate_on(self._fallback(model, exc), conversations, params)
        record(run_of(self.workspace, model), SERVERLESS, self.provider)
        return [first] + super().generate(model, conversations[1:], params)

    def stream(self, model: ModelRef, conversation: Conversation, params: GenerationParams = GenerationParams()) -> Iterator[str]:
        routed = self._known_route(model)
        if routed is not None:
            yield from self._stream_on(routed, conversation, params)
            return
        try:
            # The refusal comes with the answer's status, before any text: nothing was shown yet.
            chunks = self._chat_stream(model, conversation, params)
            first = next(chunks, None)
        except BackendError as exc:
            if not model.model_id:
                raise
            yield from self._stream_on(self._fallback(model, exc), conversation, params)
            return
        if model.model_id:
            record(run_of(self.workspace, model), SERVERLESS, self.provider)
        if first is not None:
            yield first
            yield from chunks

    def _chat_stream(self, model: ModelRef, conversation: Conversation, params: GenerationParams) -> Iterator[str]:
        request = {**self._chat_request(model, conversation, params), "stream": True}
        return (provider_text(chunk, REPLY_LIMIT) for chunk in wire.sse_text(self._http().stream_lines("chat/completions", request)))

    def _stream_on(self, routed: ModelRef, conversation: Conversation, params: GenerationParams) -> Iterator[str]:
        if routed.backend == here().name:
            return self._local().stream(routed, conversation, params)
        return self._chat_stream(routed, conversation, params)  # a dedicated endpoint, by its name

    def _generate_on(self, routed: ModelRef, conversations: Sequence[Conversation], params: GenerationParams) -> list[str]:
        if routed.backend == here().name:
            return self._local().generate(routed, conversations, params)
        return super().generate(routed, conversations, params)  # a dedicated endpoint, by its name

    def _known_route(self, model: ModelRef) -> ModelRef | None:
        """Where an earlier request found the model answers, when that is not serverless."""
        folder = run_of(self.workspace, model) if model.model_id else None
        route = folder.read_status().get("inference") if folder is not None else None
        if route == LOCAL_ADAPTER:
            return local_route(self.workspace, folder, model)
        if route == ENDPOINT and model.model_id not in self._endpoints:
            return self._on_endpoint(folder, model, endpoint.offer_of(self._http(), model.model_id or ""))
        return self._endpoints.get(model.model_id or "")

    def _fallback(self, model: ModelRef, error: BackendError) -> ModelRef:
        """After serverless refused `model`: the downloaded adapter on this machine, else a
        dedicated endpoint the user consented to, else a clear error with the price first."""
        if not is_not_serverless(error):
            raise error
        folder = run_of(self.workspace, model)
        local = local_route(self.workspace, folder, model)
        if local is not None:
            record(folder, LOCAL_ADAPTER, self.provider, local.base_model)
            return local
        offer = endpoint.offer_of(self._http(), model.model_id or "")
        if folder is not None and endpoint.consented(self._settings(), offer):
            return self._on_endpoint(folder, model, offer)
        raise no_route(model, self.provider, offer) from None

    def _on_endpoint(self, folder: RunFolder | None, model: ModelRef, offer: tuple[float, str] | None) -> ModelRef | None:
        if folder is None or not endpoint.consented(self._settings(), offer):
            return None  # consent withdrawn (or the price went up): ask serverless again
        assert offer is not None and model.model_id  # consented() holds only with an offer
        name = endpoint.start(self._http(), folder, model.model_id, offer, self.poll_seconds)
        record(folder, ENDPOINT, self.provider, name)
        self._endpoints[model.model_id] = ModelRef(self.name, model.base_model, "hosted", model_id=name)
        return self._endpoints[model.model_id]

    def _local(self) -> Any:
        if self._local_backend is None:
            from tuneui.core.providers import get_backend

            self._local_backend = get_backend(here().name, self.workspace)
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
            return ModelRef(here().name, workspace.local_model_path(base), "adapter", path=str(adapter))
    return None


def record(folder: RunFolder | None, route: str, provider: str, detail: str = "") -> None:
    """Say in the run folder which path evaluation and chat took, once per change."""
    if folder is None or folder.read_status().get("inference") == route:
        return
    folder.write_status(inference=route)
    where = {
        SERVERLESS: f"{provider}'s serverless LoRA inference",
        LOCAL_ADAPTER: f"the downloaded adapter on this machine ({detail})",
        ENDPOINT: f"a dedicated {provider} endpoint ({detail})",
    }[route]
    folder.append_events([Event("log", {"level": "info", "message": f"Evaluation and chat run through {where}."}, time.time(), id=f"inference:{route}")])


def no_route(model: ModelRef, provider: str, offer: tuple[float, str] | None) -> BackendError:
    base = _hub_name(model.base_model)
    if offer is None:
        endpoint_way = "start a dedicated endpoint for it at together.ai (billed per minute while it runs)"
    else:
        cents, hardware = offer
        endpoint_way = (
            f"let tuneui start a dedicated endpoint for the evaluation or chat and stop it after: it costs "
            f"${cents / 100:,.2f}/min (${cents * 60 / 100:,.2f}/h) on {hardware}; to accept, set "
            f"`[together] endpoint_max_cents_per_minute = {cents:g}` in tuneui.toml"
        )
    return BackendError(
        f"{provider} serves {model.model_id} only on a dedicated endpoint, and its base model is not on this machine",
        f"Either put {base} on this machine (a folder, or `[together] local_base_model` in tuneui.toml) so the "
        f"downloaded adapter runs locally, or {endpoint_way}.",
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
