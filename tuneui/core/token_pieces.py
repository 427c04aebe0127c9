"""Counting many texts fast: each distinct pre-token counted once, where that is the faster way.

bpe-openai counts a text as tiktoken does: it splits the text into pre-tokens with the
encoding's regex, then runs byte-pair merges on each piece and adds up. On rare or made-up words
(product codes, names, other languages) the merges are most of the work, and a dataset repeats
its pieces endlessly, so `PieceCounter` remembers each piece's count and only splits. On common
English the merges are one lookup per word and splitting in Python costs more than it saves;
on random strings nearly every piece is new. So a counter first times plain counting, then
learns pieces a chunk at a time while that keeps getting cheaper, and keeps whichever way won;
pieces only while they stay cheaper: a file that turns to strings never seen is learned again.
Both ways give the same counts; a few texts of every call are counted both ways to prove it, and
a difference switches the piece counts off for good.
"""

from __future__ import annotations

import time
from typing import Any, Callable

# Pieces remembered: about 100 bytes each, so at most ~10 MB per process. A dataset's distinct
# pieces are far fewer (44,000 in 20 million tokens of a made-up 20,000-word vocabulary); text
# where nearly every piece is new gains nothing from remembering them anyway.
MAX_PIECES = 100_000
# Longer texts are counted plainly: their pieces would be a list of Python strings as long as the
# text, where `count` needs no memory at all.
MAX_PIECE_TEXT = 20_000
# Calls with fewer texts are counted plainly: they are not worth timing.
MIN_TEXTS = 256
# Texts timed together: enough that a chunk takes a millisecond even on short common words.
CHUNK = 256
YARDSTICK_CHUNKS = 2  # plain counting is timed on this many chunks; the cheaper one counts (the first is cold)
HOPELESS_RATIO = 2.5  # this much slower than plain counting, twice after the first chunk, is hopeless
STALLED_CHUNKS = 3  # no new best ratio in this many chunks: it has levelled off
MAX_LEARNING_CHUNKS = 64
PROOF_TEXTS = 4  # counted both ways in every call that counts by pieces
STALE_RATIO = 2.0  # with its memory full, piece counting this much slower than plain counting is learned again


class PieceCounter:
    """Token counts of texts through a bpe-openai tokenizer (`count` and `pretokenize`)."""

    def __init__(self, tokenizer: Any) -> None:
        self.count: Callable[[str], int] = tokenizer.count
        self._split: Callable[[str], list[str]] = tokenizer.pretokenize
        self._known: dict[str, int] = {}
        self._plain_costs: list[float] = []  # seconds per character of plain counting, chunk by chunk
        self._ratios: list[float] = []  # piece counting's cost over plain counting's, chunk by chunk
        self.way = "learning"  # then "pieces" or "plain"; "plain" for good if the two ways ever disagree

    def lengths(self, texts: list[str]) -> list[int]:
        """The token count of each text. Raises UnicodeEncodeError on a lone surrogate, as `count` does."""
        if len(texts) < MIN_TEXTS:
            return list(map(self.count, texts))
        lengths: list[int] = []
        for start in range(0, len(texts), CHUNK):
            if self.way == "pieces":
                rest = texts[start:]
                counted, seconds = _timed(lambda: self._proven_pieces(rest))
                self._relearn_if_stale(seconds / (sum(map(len, rest)) or 1))
                return lengths + counted
            if self.way == "plain":
                return lengths + list(map(self.count, texts[start:]))
            lengths += self._learn(texts[start : start + CHUNK])
        return lengths

    def _learn(self, chunk: list[str]) -> list[int]:
        """Time plain counting first, then piece counting, chunk by chunk."""
        characters = sum(map(len, chunk)) or 1
        plain_costs = self._plain_costs  # held: learning again (in another thread) starts a new list
        if len(plain_costs) < YARDSTICK_CHUNKS:
            counted, seconds = _timed(lambda: list(map(self.count, chunk)))
            plain_costs.append(seconds / characters)
            return counted
        counted, seconds = _timed(lambda: self._proven_pieces(chunk))
        if self.way == "learning":
            self._judge(seconds / characters / max(min(plain_costs), 1e-12))
        return counted

    def _judge(self, ratio: float) -> None:
        """Keep learning while piece counting gets cheaper; stop when it wins, levels off or is hopeless.

        Measured on 256-text chunks: made-up words start at 2.6x plain counting's time and fall
        below it by the eighth or ninth chunk; common English levels off near 1.8x; random
        strings stay at 3.3-4.3x.
        """
        ratios = self._ratios
        ratios.append(ratio)
        # Two chunks in a row, the first one (all pieces new) aside: one chunk may just have waited for the CPU.
        hopeless = len(ratios) >= 3 and min(ratios[-2:]) > HOPELESS_RATIO
        stalled = len(ratios) > STALLED_CHUNKS and min(ratios) < min(ratios[-STALLED_CHUNKS:])
        if ratio < 1:
            self.way = "pieces"
        elif hopeless or stalled or len(ratios) >= MAX_LEARNING_CHUNKS:
            self.way = "plain"

    def _relearn_if_stale(self, cost: float) -> None:
        """Remembered pieces pay only while texts are made of them. A file that turns from templated
        examples to random strings fills the memory, and then each text's new pieces are counted
        one by one: 2.5-3.7x plain counting, measured, for the rest of the file. Then the pieces are
        dropped and the two ways timed anew."""
        full = len(self._known) >= MAX_PIECES
        if self.way == "pieces" and full and cost > STALE_RATIO * min(self._plain_costs, default=0.0):
            # New lists, not emptied ones: a count in another thread may be using these.
            self._known, self._plain_costs, self._ratios = {}, [], []
            self.way = "learning"

    def _proven_pieces(self, texts: list[str]) -> list[int]:
        """Counts by pieces, the first few also counted plainly: a difference ends piece counting."""
        proof = texts[:PROOF_TEXTS]
        plain = list(map(self.count, proof))
        if self._by_pieces(proof) != plain:
            self.way = "plain"
            self._known.clear()
            return plain + list(map(self.count, texts[PROOF_TEXTS:]))
        return plain + self._by_pieces(texts[PROOF_TEXTS:])

    def _by_pieces(self, texts: list[str]) -> list[int]:
        known, split = self._known, self._split
        lengths = []
        for text in texts:
            if len(text) > MAX_PIECE_TEXT:
                lengths.append(self.count(text))
                continue
            pieces = split(text)
            try:
                lengths.append(sum(map(known.__getitem__, pieces)))
            except KeyError:
                lengths.append(self._count_new(text, pieces))
        return lengths

    def _count_new(self, text: str, pieces: list[str]) -> int:
        """The count of a text with a new piece, remembering the new pieces while there is room."""
        known, total = self._known, 0
        for piece in pieces:
            length = known.get(piece)
            if length is None:
                # A piece counts alone as it does in its text only if the regex keeps it whole:
                # then `count` runs just its merges. Anything else is counted as the whole text.
                if self._split(piece) != [piece]:
                    return self.count(text)
                length = self.count(piece)
                if len(known) < MAX_PIECES:
                    known[piece] = length
            total += length
        return total


def _timed(run: Callable[[], list[int]]) -> tuple[list[int], float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started
