"""Greedy answers of a model, checked against answers we already hold by one forward pass each.

The export compares the merged model (and the GGUF read back) with the adapter on the held-out
prompts. Generating every answer again costs a decode step per token; instead each expected answer
is fed to the model after its prompt (teacher forcing), and if the model's greedy choice at every
answer position is the answer's next token, and at the end a stop token, then greedy decoding
would write exactly that answer: that is induction over the positions, whatever the answer's
tokenization. The loop guard (`NoRepeatInAnswer`) bans the same tokens here as in decoding.

Where the model's choice differs at position k, its own greedy answer is generated from the k
tokens it agrees with (decoding would have followed them too), all such answers in one batch, so
the answers returned are always the model's own greedy answers; forcing only skips the generation
where it can prove the result.
Runs in the export worker (it imports torch).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from backends.local.cpu_share import share
from backends.local.inference_guard import NoRepeatInAnswer

CONTINUE_BATCH = 16  # answers continued in one generate call, where forcing could not prove them


def greedy_answers(
    loaded: Any, conversations: Sequence[Sequence[Mapping[str, Any]]], params: Mapping[str, Any], expected: Sequence[str]
) -> tuple[list[str], list[bool], int]:
    """The model's greedy answers and whether each ended on its own, as `loaded.generate` gives
    them, and how many were proven by forcing alone (the rest were generated)."""
    tokenizer = loaded.tokenizer
    cap = int(params.get("max_new_tokens", 256))
    guard = int(params.get("no_repeat_ngram_size") or 0)
    stop_ids = set(loaded._stop_token_ids())
    answers: list[str] = list(expected)
    ended: list[bool] = [True] * len(expected)
    unproven: list[tuple[int, list[int], list[int]]] = []  # (row, prompt ids, the answer ids agreed)
    for row, (prompt, text) in enumerate(zip(loaded.prompts(conversations), expected)):
        share().adjust()  # between rows, this process's share of the cores (backends/local/cpu_share.py)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(text, add_special_tokens=False)["input_ids"][:cap]
        agreed, stops_after = _agreement(loaded.model, loaded.device, prompt_ids, answer_ids, guard, stop_ids)
        if not (agreed == len(answer_ids) and stops_after):
            unproven.append((row, prompt_ids, answer_ids[:agreed]))
    for start in range(0, len(unproven), CONTINUE_BATCH):
        batch = unproven[start : start + CONTINUE_BATCH]
        for (row, _, _), (answer, stopped) in zip(batch, _continue(loaded, batch, params, cap, stop_ids)):
            answers[row], ended[row] = answer, stopped
    return answers, ended, len(expected) - len(unproven)


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


def _continue(
    loaded: Any, rows: Sequence[tuple[int, list[int], list[int]]], params: Mapping[str, Any], cap: int, stop_ids: set[int]
) -> list[tuple[str, bool]]:
    """Each row's greedy answer from its agreed tokens on, as decoding would go on after them: one
    batch, left-padded, each row with its own answer start for the loop guard and its own budget."""
    tokenizer = loaded.tokenizer
    sequences = [prompt + agreed for _, prompt, agreed in rows]
    width = max(len(sequence) for sequence in sequences)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(s)) + s for s in sequences], device=loaded.device)
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences], device=loaded.device)
    # The guard counts the agreed tokens as answer: a row's answer starts where its prompt ends.
    starts = [width - len(agreed) for _, _, agreed in rows]
    budget = max(cap - len(agreed) for _, _, agreed in rows)
    new_rows: list[list[int]] = [[] for _ in rows]
    if budget > 0:
        kwargs = loaded.generation_kwargs({**params, "max_new_tokens": budget}, starts)
        with torch.inference_mode():
            output = loaded.model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        new_rows = output[:, width:].tolist()
    answers = []
    for (_, _, agreed), new in zip(rows, new_rows):
        new = new[: max(0, cap - len(agreed))]  # a row's own cap, in a batch that ran to the longest
        stop = next((i for i, token in enumerate(new) if token in stop_ids), None)
        new = new if stop is None else new[: stop + 1]  # past a stop, a batch pads with the pad token
        answers.append((tokenizer.decode(agreed + new, skip_special_tokens=True), stop is not None))
    return answers
