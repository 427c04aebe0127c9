"""A training run's data as the trainer sees it: chat records, where the loss goes, and whether it
covers the stop token.

Runs only in the worker process (it imports transformers and trl).
"""

from __future__ import annotations

from typing import Any

from tuneui.core.backend import BackendError
from backends.local.tiny import CHATML_TEMPLATE


def read_chat_file(path: str) -> list[dict[str, Any]]:
    """Chat JSONL as trl's conversational records, read by the dataset step's own reader
    (`tuneui.core.dataset.read_chat_jsonl`): the same lines are refused with the same words as in
    `tuneui data check`, naming the file and line."""
    from tuneui.core.dataset import read_chat_jsonl
    from tuneui.core.dataset.model import message_text
    from tuneui.errors import TuneError

    try:
        examples = read_chat_jsonl(path)
    except TuneError as exc:
        raise BackendError(exc.title, exc.hint) from None
    if not examples:
        raise BackendError(f"{path} holds no examples", "Import examples with `tuneui data import`, then `tuneui data split`.")
    return [{"messages": [{"role": m.get("role"), "content": message_text(m.get("content")) or ""} for m in e.messages]} for e in examples]


def choose_loss(tokenizer) -> tuple[str, str | None]:
    """("assistant", None) when the template marks assistant turns, else ("completion", note)."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
        return "assistant", "The model has no chat template; ChatML with generation markers was used."
    if has_generation_markers(tokenizer.chat_template):
        return "assistant", None
    try:
        if get_training_chat_template(tokenizer) is not None:
            return "assistant", "trl's training version of this model's chat template marks the assistant turns."
    except (ValueError, KeyError, TypeError):
        pass
    return "completion", "The chat template has no generation markers: loss on the last assistant turn only."


def token_counts(tokenizer, records: list[dict[str, Any]]) -> list[int]:
    """Tokens of each chat through the template: the memory plan sizes activations by the longest."""
    return [len(tokenizer.apply_chat_template(r["messages"], tokenize=True, return_dict=True)["input_ids"]) for r in records]


def end_of_turn_id(tokenizer) -> int | None:
    """The token that ends an assistant turn: ChatML's <|im_end|> when the vocabulary has it, else EOS."""
    token = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(token, int) and token != tokenizer.unk_token_id:
        return token
    return tokenizer.eos_token_id


def stop_token_trained(trainer, tokenizer) -> bool | None:
    """Whether the loss of the first training example covers the end-of-turn token, as the trainer
    will batch it. A model that never learns to stop talks to the token cap; None: cannot tell."""
    end = end_of_turn_id(tokenizer)
    if end is None or trainer.train_dataset is None or len(trainer.train_dataset) == 0:
        return None
    batch = trainer.data_collator([trainer.train_dataset[0]])
    labels = batch.get("labels")
    return None if labels is None else bool((labels[0] == end).any())


def as_prompt_completion(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The completion-only fallback: everything before the last assistant turn is the prompt."""
    out = []
    for record in records:
        messages = record["messages"]
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        out.append({"prompt": messages[:last], "completion": [messages[last]]})
    return out

