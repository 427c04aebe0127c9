"""The loop guard of greedy decoding bans repeats within an answer, never copies of the prompt."""

from __future__ import annotations

import pytest

# torch, and transformers through the guard: imported by each test, never at collection, so that
# collecting the fast tier imports no ML stack.
pytestmark = pytest.mark.integration


def _banned(tokens: list[int], prompt_length: int, n: int = 3, vocab: int = 10) -> set[int]:
    import torch

    from backends.local.inference_guard import NoRepeatInAnswer

    scores = torch.zeros(1, vocab)
    out = NoRepeatInAnswer(n, prompt_length)(torch.tensor([tokens]), scores)
    return {i for i in range(vocab) if out[0, i] == -float("inf")}


def test_a_loop_in_the_answer_is_broken():
    # prompt [9], answer "1 2 3 1 2": another 3 would repeat the 3-gram "1 2 3"
    assert _banned([9, 1, 2, 3, 1, 2], prompt_length=1) == {3}


def test_the_prompt_may_be_repeated_once():
    # the prompt ends "... 1 2 3", the answer "1 2" may go on with 3 (a sign-off the prompt shows)
    assert _banned([1, 2, 3, 1, 2], prompt_length=3) == set()


def test_rows_are_guarded_separately():
    import torch

    from backends.local.inference_guard import NoRepeatInAnswer

    scores = torch.zeros(2, 10)
    out = NoRepeatInAnswer(2, 0)(torch.tensor([[4, 5, 4], [4, 6, 7]]), scores)
    assert out[0, 5] == -float("inf") and torch.isfinite(out[1]).all()


def test_each_row_may_start_its_answer_at_its_own_place():
    import torch

    from backends.local.inference_guard import NoRepeatInAnswer

    # Row 0's answer starts after [9] and loops ("1 2 3 1 2": 3 is banned). Row 1's answer starts
    # at its fifth token: "2 3" repeats nothing, though with row 0's start "2 3 1" would be banned.
    rows = torch.tensor([[9, 1, 2, 3, 1, 2], [1, 2, 3, 1, 2, 3]])
    out = NoRepeatInAnswer(3, [1, 4])(rows, torch.zeros(2, 10))
    assert (out[0] == -float("inf")).nonzero().flatten().tolist() == [3]
    assert not (out[1] == -float("inf")).any()
    same_start = NoRepeatInAnswer(3, 1)(rows, torch.zeros(2, 10))
    assert (same_start[1] == -float("inf")).nonzero().flatten().tolist() == [1]
