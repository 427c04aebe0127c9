"""The inference worker: `python -m backends.local.inference` answers JSON lines on stdin/stdout.

It runs in its own process so the UI never imports torch. One request a line:
`{"op": "generate", "model": ModelRef, "conversations": [...], "params": GenerationParams}` is
answered by `{"completions": [...], "ended": [...]}` (whether each ended before the token cap);
With `"progress": true` a generate request is first answered by `{"progress": N, "total": M}`
lines as answers finish (N answers done of M). `{"op": "stream", "model", "conversation", "params"}` is answered by
`{"chunk": "..."}` lines then `{"done": true}`. A failure is `{"error": {"title", "hint"}}` and the
process keeps serving. The last loaded model stays in memory for the next request.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, Callable, Iterator, Mapping, Sequence

from backends.local.cpu_share import share
from tuneui.core.children import watch_parent

# Conversations per forward pass. On a CPU a decode step costs a fixed ~35 ms of per-layer
# overhead plus ~2.5 ms a row (SmolLM2-135M), so one batch for a whole val split beats two: the
# demo's three baseline variants on 22 answers took 80 s at 32 against 108 s at 16. Prompts are
# sorted by length before batching, so padding stays small.
GPU_BATCH = 16
CPU_BATCH = 32
COUNT_EVERY = 8  # decode steps between counts of finished answers (a count scans the batch's tokens)


class _LoadedModel:
    """A base model, with its adapter applied when the ModelRef names one, and its tokenizer."""

    def __init__(self, ref: Mapping[str, Any]) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.key = (ref.get("base_model"), ref.get("path") if ref.get("kind") == "adapter" else None)
        base, adapter = self.key
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        # The adapter folder carries the tokenizer and chat template it was trained with.
        self.tokenizer = AutoTokenizer.from_pretrained(adapter or base)
        self.tokenizer.padding_side = "left"  # generation appends on the right
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
        if adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter)
        self.model = model.to(self.device).eval()

    def prompts(self, conversations: Sequence[Sequence[Mapping[str, Any]]]) -> list[str]:
        if not self.tokenizer.chat_template:
            raise _RequestError(
                f"The model {self.key[0]} has no chat template",
                "Use an instruction-tuned model (its tokenizer carries a chat template).",
            )
        return [
            self.tokenizer.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True)
            for c in conversations
        ]

    def generation_kwargs(self, params: Mapping[str, Any], prompt_length: int) -> dict[str, Any]:
        import torch

        temperature = float(params.get("temperature", 0.0))
        kwargs: dict[str, Any] = {
            "max_new_tokens": int(params.get("max_new_tokens", 256)),
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self._stop_token_ids(),
        }
        ngram = int(params.get("no_repeat_ngram_size") or 0)
        if ngram > 0:
            from transformers import LogitsProcessorList

            from backends.local.inference_guard import NoRepeatInAnswer

            kwargs["logits_processor"] = LogitsProcessorList([NoRepeatInAnswer(ngram, prompt_length)])
        if temperature > 0:
            torch.manual_seed(int(params.get("seed", 0)))
            kwargs.update(do_sample=True, temperature=temperature, top_p=float(params.get("top_p", 1.0)))
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _stop_token_ids(self) -> list[int]:
        ids = {self.tokenizer.eos_token_id}
        generation_eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(generation_eos if isinstance(generation_eos, list) else [generation_eos])
        end_of_turn = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(end_of_turn, int) and end_of_turn != self.tokenizer.unk_token_id:
            ids.add(end_of_turn)
        return sorted(i for i in ids if isinstance(i, int))

    def generate(
        self,
        conversations: Sequence[Sequence[Mapping[str, Any]]],
        params: Mapping[str, Any],
        on_count: Callable[[int], None] | None = None,
    ) -> tuple[list[str], list[bool]]:
        """Completions, and whether each ended on its own (a stop token or string) before the cap;
        `on_count(n)` hears how many answers are done as they finish, inside a batch too."""
        import torch

        prompts = self.prompts(conversations)
        # Similar lengths in one batch waste less compute on padding; answers go back in order.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        batch_size = GPU_BATCH if self.device == "cuda" else CPU_BATCH
        completions: list[str] = [""] * len(prompts)
        ended: list[bool] = [False] * len(prompts)
        stop_ids = set(self._stop_token_ids())
        stops = params.get("stop") or ()
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            batch = self.tokenizer(
                [prompts[i] for i in indices], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            prompt_length = batch["input_ids"].shape[1]
            kwargs = self.generation_kwargs(params, prompt_length)
            criteria = _sharing_cores()  # neither stops anything: one shares the cores, one counts answers
            if on_count is not None:
                criteria.extend(_finished_counter(torch, stop_ids, prompt_length, start, on_count))
            with torch.inference_mode():
                output = self.model.generate(**batch, **kwargs, stopping_criteria=criteria)
            for index, tokens in zip(indices, output[:, prompt_length:]):
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                completions[index] = _cut_at_stop(text, stops)
                ended[index] = bool(stop_ids & set(tokens.tolist())) or len(completions[index]) < len(text)
            if on_count is not None:
                on_count(start + len(indices))
        return completions, ended

    def stream(self, conversation: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        stop_requested = threading.Event()

        class _StopWhenAsked(StoppingCriteria):
            # A stop string ends the reply; generating past it would only delay the next request.
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), stop_requested.is_set(), dtype=torch.bool)

        prompt = self.prompts([conversation])[0]
        batch = self.tokenizer([prompt], return_tensors="pt", add_special_tokens=False).to(self.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = {
            **batch,
            **self.generation_kwargs(params, batch["input_ids"].shape[1]),
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_StopWhenAsked(), *_sharing_cores()]),
        }
        thread = threading.Thread(target=self.model.generate, kwargs=kwargs, daemon=True)
        thread.start()
        text = ""
        stops = params.get("stop") or ()
        for chunk in streamer:
            if stop_requested.is_set():
                continue  # drain what the generator already queued
            cut = _cut_at_stop(text + chunk, stops)
            if len(cut) < len(text) + len(chunk):
                if len(cut) > len(text):
                    yield cut[len(text) :]
                stop_requested.set()
                continue
            text += chunk
            if chunk:
                yield chunk
        thread.join()


def _sharing_cores():
    """A stopping criterion that never stops: between generated tokens, it takes this process's
    share of the cores (backends.local.cpu_share) from the thread that generates."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _ShareCores(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            share().adjust()
            return torch.zeros((input_ids.shape[0],), dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_ShareCores()])


def _finished_counter(torch: Any, stop_ids: set[int], prompt_length: int, before: int, on_count: Callable[[int], None]) -> Any:
    """A stopping criterion that stops nothing: it counts the rows of a batch that have produced a
    stop token, every few decode steps, so a long batch reports its answers as they finish."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    stops = torch.tensor(sorted(stop_ids))

    class _CountFinished(StoppingCriteria):
        def __init__(self) -> None:
            self.steps, self.finished = 0, 0

        def __call__(self, input_ids, scores, **kwargs):
            self.steps += 1
            if self.steps % COUNT_EVERY == 0:
                finished = int(torch.isin(input_ids[:, prompt_length:], stops.to(input_ids.device)).any(dim=1).sum())
                if finished > self.finished:
                    self.finished = finished
                    on_count(before + finished)
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_CountFinished()])


class _RequestError(Exception):
    def __init__(self, title: str, hint: str = "") -> None:
        super().__init__(title)
        self.title, self.hint = title, hint


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cut = len(text)
    for stop in stops:
        position = text.find(stop) if stop else -1
        if position != -1:
            cut = min(cut, position)
    return text[:cut]


class _Server:
    def __init__(self, out) -> None:
        self.out = out
        self.loaded: _LoadedModel | None = None

    def send(self, message: Mapping[str, Any]) -> None:
        self.out.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.out.flush()

    def model(self, ref: Mapping[str, Any]) -> _LoadedModel:
        key = (ref.get("base_model"), ref.get("path") if ref.get("kind") == "adapter" else None)
        if self.loaded is None or self.loaded.key != key:
            self.loaded = None  # free the old model before loading the next one
            try:
                self.loaded = _LoadedModel(ref)
            except OSError as exc:
                raise _RequestError(
                    f"Cannot load the model {key[1] or key[0]}: {str(exc).splitlines()[0]}",
                    "Check the model name or folder; offline, a Hugging Face id must already be downloaded.",
                ) from None
        return self.loaded

    def handle(self, request: Mapping[str, Any]) -> None:
        op = request.get("op")
        params = request.get("params") or {}
        if op == "generate":
            total = len(request["conversations"])
            on_count = (lambda done: self.send({"progress": done, "total": total})) if request.get("progress") else None
            with share().busy():
                completions, ended = self.model(request["model"]).generate(request["conversations"], params, on_count)
            self.send({"completions": completions, "ended": ended})
        elif op == "stream":
            with share().busy():
                for chunk in self.model(request["model"]).stream(request["conversation"], params):
                    self.send({"chunk": chunk})
            self.send({"done": True})
        else:
            raise _RequestError(f"Unknown inference request {op!r}", "This is a bug in tuneui; please report it.")

    def serve(self, lines) -> None:
        for line in lines:
            if not line.strip():
                continue
            try:
                self.handle(json.loads(line))
            except _RequestError as exc:
                self.send({"error": {"title": exc.title, "hint": exc.hint}})
            except Exception as exc:  # one bad request must not kill a chat session
                self.send({"error": {"title": f"Generation failed: {type(exc).__name__}: {exc}", "hint": ""}})


def main() -> int:
    watch_parent()  # no generation goes on for a parent that is gone
    # Libraries print to stdout now and then; the protocol gets a private copy of the real stdout.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _Server(protocol).serve(sys.stdin)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
