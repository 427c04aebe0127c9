"""Counting by remembered pre-tokens: the same counts as bpe-openai's own, chosen only when faster."""

from __future__ import annotations

import random
import time

import pytest

from tuneui.core import token_pieces, tokens
from tuneui.core.token_pieces import PieceCounter

# Pieces whose regex split depends on what follows them (runs of spaces before a word, newlines
# after spaces, contractions, digits in threes, marks), in every encoding tuneui counts.
AWKWARD = list(" \n\t\r  aZ'09.,!?-_/\\\"`~@#$%^&*()[]{}<>|") + [
    "'s", "'LL", "’", "é", "ß", "日", "😀", "👋🏽", "\u200b", "\u0301", "١٢٣", "한", "   ", "\n\n", " \n ",
]  # fmt: skip


def awkward_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(AWKWARD) for _ in range(rng.randint(0, 80))) for _ in range(count)]


def tokenizer(encoding: str):
    return tokens._bpe_bindings().tokenizer_for_encoding(encoding)


@pytest.mark.parametrize("encoding", tokens.ENCODINGS)
def test_counting_by_pieces_gives_exactly_the_plain_counts(encoding: str) -> None:
    counter = PieceCounter(tokenizer(encoding))
    texts = awkward_texts(3000, seed=11) + ["Refund order-4411 for Zorbaquex? Yes, $12.50."] * 50
    plain = [counter.count(text) for text in texts]
    # Twice: the first pass learns the pieces, the second counts from what it remembered.
    assert counter._by_pieces(texts) == plain
    assert counter._by_pieces(texts) == plain
    assert counter.lengths(texts) == plain


def learned(counter: PieceCounter, texts: list[str]) -> PieceCounter:
    for _ in range(20):
        if counter.way != "learning":
            return counter
        assert counter.lengths(texts) == [2] * len(texts)
    raise AssertionError("still learning after 20 calls")


def test_made_up_words_are_counted_by_their_remembered_pieces() -> None:
    texts = [f"word{n % 40} other{n % 7}" for n in range(400)]
    slow_merges = FakeTokenizer(count_seconds=0.0005)  # merging each text costs more than splitting it
    counter = learned(PieceCounter(slow_merges), texts)
    assert counter.way == "pieces"
    slow_merges.count_calls = 0
    assert counter.lengths(texts) == [2] * 400
    # Only the proof went through `count`: the rest was added up from remembered pieces.
    assert slow_merges.count_calls == token_pieces.PROOF_TEXTS


def test_common_words_stay_counted_plainly_and_learning_is_short() -> None:
    texts = [f"word{n % 40} other{n % 7}" for n in range(400)]
    slow_split = FakeTokenizer(split_seconds=0.001)  # splitting costs more than it saves
    counter = learned(PieceCounter(slow_split), texts)
    assert counter.way == "plain"
    assert len(counter._ratios) == 3  # hopeless on the second and third chunks: no more time spent
    slow_split.count_calls = 0
    assert counter.lengths(texts) == [2] * 400
    assert slow_split.count_calls == 400


def test_counts_that_disagree_turn_the_pieces_off_and_the_plain_counts_stand() -> None:
    counter = PieceCounter(FakeTokenizer(count_seconds=0.0005, piece_offset=1))
    texts = [f"word{n % 40} other{n % 7}" for n in range(400)]
    counter = learned(counter, texts)
    assert counter.way == "plain" and counter._known == {}
    assert counter.lengths(texts) == [2] * 400


def test_memory_stays_bounded(monkeypatch) -> None:
    monkeypatch.setattr(token_pieces, "MAX_PIECES", 100)
    fake = FakeTokenizer()
    counter = PieceCounter(fake)
    texts = [f"unique{n} again{n}" for n in range(1000)] + ["long " * 10_000]
    assert counter.lengths(texts) == [2] * 1000 + [10_000]
    assert len(counter._known) == 100
    assert max(map(len, fake.split_texts)) <= token_pieces.MAX_PIECE_TEXT  # the long text is never split


def test_a_piece_the_regex_would_split_again_is_counted_in_its_text() -> None:
    fake = FakeTokenizer(pieces={"a b c": ["a", "b c"]})  # alone, "b c" splits in two
    counter = PieceCounter(fake)
    texts = ["a b c", "b c"] * 200
    assert counter._by_pieces(texts) == [3, 2] * 200
    assert "b c" not in counter._known


def test_a_file_that_turns_to_new_words_once_memory_is_full_is_learned_again(monkeypatch) -> None:
    """Templated examples first, random strings after: remembered pieces no longer pay, and counting
    each text's new pieces one by one cost 2.5-3.7x plain counting for the rest of the file (measured)."""
    monkeypatch.setattr(token_pieces, "MAX_PIECES", 100)
    counter = learned(PieceCounter(FakeTokenizer(count_seconds=0.0005)), [f"word{n % 40} other{n % 7}" for n in range(400)])
    assert counter.way == "pieces"
    fresh = [f"f{n} v{n} w{n}" for n in range(400)]  # three new pieces a text, each counted alone
    assert counter.lengths(fresh) == [3] * 400
    assert counter.way == "learning" and counter._known == {} and counter._ratios == []


def test_a_rare_word_in_familiar_text_keeps_the_full_memory(monkeypatch) -> None:
    monkeypatch.setattr(token_pieces, "MAX_PIECES", 100)
    counter = learned(PieceCounter(FakeTokenizer(count_seconds=0.0005)), [f"word{n % 40} other{n % 7}" for n in range(400)])
    counter._known.update({f"word{n}": 1 for n in range(100)})  # full
    familiar = [" ".join(f"word{(n + k) % 100}" for k in range(9)) + f" rare{n}" for n in range(400)]
    assert counter.lengths(familiar) == [10] * 400
    assert counter.way == "pieces" and len(counter._known) >= 100


def test_learning_again_in_another_thread_mid_chunk_breaks_nothing(monkeypatch) -> None:
    """The UI may count in two threads at once: one thread's relearning (which empties the yardstick)
    landing inside another's learning chunk must leave its counts and the counter intact."""
    monkeypatch.setattr(token_pieces, "MAX_PIECES", 100)
    fake = FakeTokenizer()
    counter = PieceCounter(fake)
    counter._plain_costs = [1e-6, 1e-6]  # the yardstick is timed: the next chunk is counted by pieces
    real_split = fake.pretokenize

    def split_while_another_thread_learns_again(text: str) -> list[str]:
        if counter._plain_costs:
            counter.way, counter._known = "pieces", {f"w{n}": 1 for n in range(100)}
            counter._relearn_if_stale(1.0)
            counter.way = "learning"
        return real_split(text)

    counter._split = split_while_another_thread_learns_again
    texts = [f"word{n % 40} other{n % 7}" for n in range(300)]
    assert counter.lengths(texts) == [2] * 300


class FakeTokenizer:
    """A word is a token and a piece; `count` and `pretokenize` take the time a test asks of them."""

    def __init__(self, count_seconds: float = 0.0, split_seconds: float = 0.0, piece_offset: int = 0, pieces=None):
        self.count_seconds, self.split_seconds = count_seconds, split_seconds
        self.piece_offset = piece_offset  # added to a one-word count: then pieces no longer add up
        self.pieces = pieces or {}
        self.count_calls = 0
        self.split_texts: list[str] = []

    def count(self, text: str) -> int:
        self.count_calls += 1
        _busy(self.count_seconds)
        words = len(text.split())
        return words + self.piece_offset if words == 1 else words

    def pretokenize(self, text: str) -> list[str]:
        self.split_texts.append(text)
        _busy(self.split_seconds)
        return self.pieces.get(text) or text.split()


def _busy(seconds: float) -> None:
    # A busy wait, not a sleep: the counter times its two ways with the clock.
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
