"""The loop guard of greedy decoding: no n-gram repeats within one answer.

Small models decoding greedily fall into loops ("No, no, no, ...") until the token cap.
transformers' own `no_repeat_ngram_size` also counts the prompt, which would forbid an answer to
repeat a sign-off or phrase that the system prompt or a k-shot example shows; this one only looks
at the tokens generated so far. Runs in the inference process (it imports torch).
"""

from __future__ import annotations

from typing import Sequence

import torch
from transformers import LogitsProcessor


class NoRepeatInAnswer(LogitsProcessor):
    """Bans each token that would complete an n-gram already generated in the same row."""

    def __init__(self, ngram_size: int, prompt_length: int | Sequence[int]) -> None:
        """`prompt_length`: where the answer starts, one for the batch or one a row (a batch whose
        rows carry answer tokens already, as the export's checks continue answers)."""
        self.ngram_size = ngram_size
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        n = self.ngram_size
        starts = [self.prompt_length] * input_ids.shape[0] if isinstance(self.prompt_length, int) else self.prompt_length
        for row, start in enumerate(starts):
            tokens = input_ids[row, start:].tolist()
            if len(tokens) < n:
                continue
            prefix = tokens[len(tokens) - n + 1 :]
            banned = {tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tokens[i : i + n - 1] == prefix}
            if banned:
                scores[row, list(banned)] = -float("inf")
        return scores
