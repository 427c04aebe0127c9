"""Greedy answers of a model, checked against answers we already hold by one forward pass each.

The export compares the merged model (and the GGUF read back) with the adapter on the held-out
prompts. Generating every answer again costs a decode step per token; instead each expected answer
is fed to the model after its prompt (teacher forcing), and if the model's greedy choice at every
answer position is the answer's next token, and at the end a stop token, then greedy decoding
would write exactly that answer: that is induction over the positions, whatever the answer's
tokenization. The loop guard (`NoRepeatInAnswer`) bans the same tokens here as in decoding.

Where the model's choice differs at position k, its own greedy answer is generated from the k
tokens it agrees with (decoding would have followed them too), so the answers returned are always
the model's own greedy answers; forcing only skips the generation where it can prove the result.
Runs in the export worker (it imports torch).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from backends.local.inference_guard import NoRepeatInAnswer


def greedy_answers(
    loaded: Any, conversations: Sequence[Sequence[Mapping[str, Any]]], params: Mapping[str, Any], expected: Sequence[str]
) -> tuple[list[str], list[bool], int]:
    """The model's greedy answers and whether each ended on its own, as `loaded.generate` gives
    them, and how many were proven by forcing alone (the rest were generated)."""
    tokenizer = loaded.tokenizer
    cap = int(params.get("max_new_tokens", 256))
    guard = int(params.get("no_repeat_ngram_size") or 0)
    stop_ids = set(loaded._stop_token_ids())
    answers: list[str] = []
    ended: list[bool] = []
    proven = 0
    for prompt, text in zip(loaded.prompts(conversations), expected):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(text, add_special_tokens=False)["input_ids"][:cap]
        agreed, stops_after = _agreement(loaded.model, loaded.device, prompt_ids, answer_ids, guard, stop_ids)
        if agreed == len(answer_ids) and stops_after:
            answers.append(text)
            ended.append(True)
            proven += 1
            continue
        answer, stopped = _continue(loaded, prompt_ids, answer_ids[:agreed], params, cap, stop_ids)
        answers.append(answer)
        ended.append(stopped)
    return answers, ended, proven


def _agreement(model: Any, device: str, prompt_ids: list[int], answer_ids: list[int], guard: int, stop_ids: set[int]) -> tuple[int, bool]:
    """How many answer tokens the model's greedy choice agrees with, from the first, and whether
    after all of them it chooses a stop token."""
    ids = torch.tensor([prompt_ids + answer_ids], device=device)
    with torch.inference_mode():
        # Only the positions that predict an answer token or the one after it: the vocabulary's
        # logits for the whole prompt would cost more memory than the model.
        logits = model(input_ids=ids, logits_to_keep=len(answer_ids) + 1).logits[0].float()
    choices = logits.argmax(dim=-1).tolist()
    for position in range(len(answer_ids) + 1):
        choice = choices[position]
        if guard > 0 and position >= guard:
            banned = NoRepeatInAnswer(guard, 0)(torch.tensor([answer_ids[:position]]), logits[position : position + 1].clone())
            choice = int(banned.argmax(dim=-1))
        if position == len(answer_ids):
            return position, choice in stop_ids
        if choice != answer_ids[position]:
            return position, False
    return len(answer_ids), False  # not reached: the loop returns at the last position


def _continue(loaded: Any, prompt_ids: list[int], agreed: list[int], params: Mapping[str, Any], cap: int, stop_ids: set[int]) -> tuple[str, bool]:
    """The greedy answer from the agreed tokens on, as decoding would go on after them."""
    tokenizer = loaded.tokenizer
    new: list[int] = []
    if len(agreed) < cap:
        ids = torch.tensor([prompt_ids + agreed], device=loaded.device)
        # The guard counts the agreed tokens as answer: the prompt ends where the prompt ends.
        kwargs = loaded.generation_kwargs({**params, "max_new_tokens": cap - len(agreed)}, len(prompt_ids))
        with torch.inference_mode():
            output = loaded.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        new = output[0, ids.shape[1] :].tolist()
    text = tokenizer.decode(agreed + new, skip_special_tokens=True)
    return text, bool(stop_ids & set(new))
