"""People's blind review: the pairs, their seeded A/B layout, the votes and a reviewer's session.

Each held-out example is one pair: the best baseline prompt's answer and the tuned model's. A
reviewer sees them as A and B in an order and on sides drawn from a stored seed, so the review
is blind and the same on every resume. A vote records the position picked ("A", "B", "tie" or
"skip") and where the tuned answer stood, so the outcome never depends on redrawing the layout.

Pure logic over plain data: no Textual, no files (the store is `tuneui.steps.review`).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence

from tuneui.core import locations
from tuneui.errors import UsageError

Side = Literal["A", "B"]
Choice = Literal["A", "B", "tie", "skip"]
CHOICES: tuple[Choice, ...] = ("A", "B", "tie", "skip")
REVIEWER_ENV = locations.REVIEWER_ENV
MAX_REVIEWER = 64


@dataclass(frozen=True)
class Pair:
    """One held-out example as people review it; `judge` is the LLM judge's outcome for the tuned
    answer ("win", "tie", "loss") where a judge ran."""

    index: int  # position in the val split
    line: int | None
    request: str
    reference: str
    tuned: str
    baseline: str
    judge: str | None = None

    @property
    def key(self) -> str:
        """Names the pair by its content: a vote on answers that changed since never counts."""
        content = json.dumps([self.index, self.request, self.reference, self.tuned, self.baseline], ensure_ascii=False)
        return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]


def pairs_of(val: Sequence[Any], tuned: Sequence[str], baseline: Sequence[str], judge: Sequence[str] | None = None) -> tuple[Pair, ...]:
    """The pairs of an evaluation: `val` are the held-out `Example`s, in the order answered."""
    outcomes = list(judge or [])
    return tuple(
        Pair(
            index=index,
            line=example.line,
            request=example.user_text,
            reference=example.answer or "",
            tuned=str(tuned[index]),
            baseline=str(baseline[index]),
            judge=str(outcomes[index]) if index < len(outcomes) else None,
        )
        for index, example in enumerate(val)
    )


@dataclass(frozen=True)
class Layout:
    """The blind order and sides, drawn once from `seed` and stored with the votes."""

    seed: int
    order: tuple[str, ...]  # pair keys in the order they are shown
    tuned_side: Mapping[str, Side]

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "order": list(self.order), "tuned_side": dict(self.tuned_side)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Layout":
        order = tuple(str(key) for key in raw["order"])
        sides = {str(key): side for key, side in dict(raw["tuned_side"]).items()}
        if not isinstance(raw["seed"], int) or set(sides) != set(order) or not set(sides.values()) <= {"A", "B"}:
            raise ValueError("the layout's seed, order and sides do not agree")
        return cls(raw["seed"], order, sides)

    def fits(self, pairs: Sequence[Pair]) -> bool:
        return sorted(self.order) == sorted(pair.key for pair in pairs)

    def shown(self, pair: Pair) -> tuple[str, str]:
        """Answers A and B of `pair` as the reviewer sees them."""
        return (pair.tuned, pair.baseline) if self.tuned_side[pair.key] == "A" else (pair.baseline, pair.tuned)


def make_layout(pairs: Sequence[Pair], seed: int) -> Layout:
    """The order is a seeded shuffle; each pair's side is drawn from the seed and the pair alone, so a
    pair an evaluation left unchanged keeps its side when others change and the layout is redrawn
    (an export made before then still matches it)."""
    keys = [pair.key for pair in pairs]
    sides: dict[str, Side] = {key: random.Random(f"{seed}:{key}").choice(("A", "B")) for key in keys}
    random.Random(seed).shuffle(keys)
    return Layout(seed, tuple(keys), sides)


def new_seed() -> int:
    """A fresh seed for a run's first review: nobody can know the sides in advance."""
    return random.SystemRandom().randrange(2**31)


@dataclass(frozen=True)
class Vote:
    key: str
    reviewer: str
    choice: Choice  # the position the reviewer picked
    tuned: Side  # where the tuned answer stood when the reviewer saw the pair
    at: float = 0.0

    @property
    def outcome(self) -> str | None:
        """The vote as the tuned model's "win", "loss" or "tie"; None for a skip."""
        if self.choice == "skip":
            return None
        if self.choice == "tie":
            return "tie"
        return "win" if self.choice == self.tuned else "loss"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "reviewer": self.reviewer, "choice": self.choice, "tuned": self.tuned, "at": self.at}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Vote":
        vote = cls(str(raw["key"]), str(raw["reviewer"]), raw["choice"], raw["tuned"], float(raw.get("at") or 0.0))
        if vote.choice not in CHOICES or vote.tuned not in ("A", "B") or not vote.reviewer:
            raise ValueError(f"a vote with choice {vote.choice!r}, side {vote.tuned!r}, reviewer {vote.reviewer!r}")
        return vote


def latest_votes(votes: Sequence[Vote], keys: Sequence[str] | None = None) -> dict[tuple[str, str], Vote]:
    """Each reviewer's last word on each pair (a later vote replaces an earlier one), optionally
    only on the pairs in `keys`: votes on answers an evaluation replaced are history, not counted."""
    wanted = None if keys is None else set(keys)
    latest: dict[tuple[str, str], Vote] = {}
    for vote in votes:
        if wanted is None or vote.key in wanted:
            latest[(vote.reviewer, vote.key)] = vote
    return latest


def default_reviewer() -> str:
    """TUNEUI_REVIEWER, else the name of the user logged in."""
    name = locations.reviewer_override()
    if name:
        return checked_reviewer(name, f"${REVIEWER_ENV}")
    try:
        return checked_reviewer(getpass.getuser(), "the login name")
    except (OSError, KeyError, ImportError, UsageError):  # no login name in some containers
        return "reviewer"


def checked_reviewer(name: str, where: str = "--reviewer") -> str:
    name = name.strip()
    if not name or len(name) > MAX_REVIEWER or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise UsageError(
            f"{where} {name!r} is not a reviewer's name",
            f"Give a name of 1 to {MAX_REVIEWER} printable characters, e.g. --reviewer alice.",
        )
    return name


class VoteSink(Protocol):
    """Where a session's votes go at once: `tuneui.steps.review.VoteStore`, or a list in tests."""

    def add(self, votes: Sequence[Vote]) -> None: ...

    def undo(self, reviewer: str) -> Vote | None: ...


@dataclass
class Progress:
    decided: int
    skipped: int
    total: int
    showing: bool

    def __str__(self) -> str:
        position = f"{min(self.decided + 1, self.total) if self.showing else self.decided} of {self.total}"
        return position + (f" · {self.skipped} skipped" if self.skipped else "")


@dataclass
class ReviewSession:
    """One reviewer going through the pairs: what to show next, and each key's effect."""

    pairs: Sequence[Pair]
    layout: Layout
    reviewer: str
    sink: VoteSink
    votes: Sequence[Vote] = ()  # what the store held when the session began, every reviewer's
    clock: Callable[[], float] = time.time
    _history: list[Vote] = field(init=False)  # this reviewer's votes, oldest first
    _mine: dict[str, Vote] = field(init=False)
    _by_key: dict[str, Pair] = field(init=False)
    current: Pair | None = field(init=False)

    def __post_init__(self) -> None:
        self._by_key = {pair.key: pair for pair in self.pairs}
        self._history = [vote for vote in self.votes if vote.reviewer == self.reviewer]
        self._recount()
        self.current = self._next_after(None)

    def shown(self) -> tuple[str, str]:
        assert self.current is not None
        return self.layout.shown(self.current)

    def choice_of(self, pair: Pair) -> Choice | None:
        vote = self._mine.get(pair.key)
        return vote.choice if vote else None

    def vote(self, choice: Choice) -> None:
        """Record `choice` on the pair shown (saved before anything else moves), then go on."""
        pair = self.current
        if pair is None:
            return
        vote = Vote(pair.key, self.reviewer, choice, self.layout.tuned_side[pair.key], self.clock())
        self.sink.add([vote])
        self._history.append(vote)
        self._recount()
        self.current = self._next_after(pair.key)

    def undo(self) -> bool:
        """Take back this reviewer's last vote and show its pair again; False when there is none."""
        taken = self.sink.undo(self.reviewer)
        if taken is None:
            return False
        if taken in self._history:  # the vote it replaced, if any, counts again
            del self._history[len(self._history) - 1 - self._history[::-1].index(taken)]
        self._recount()
        self.current = self._by_key.get(taken.key, self.current)
        return True

    def progress(self) -> Progress:
        decided = sum(1 for vote in self._mine.values() if vote.choice != "skip")
        skipped = sum(1 for vote in self._mine.values() if vote.choice == "skip")
        return Progress(decided, skipped, len(self.pairs), self.current is not None)

    def _recount(self) -> None:
        self._mine = {key: vote for (_, key), vote in latest_votes(self._history, list(self._by_key)).items()}

    def _next_after(self, key: str | None) -> Pair | None:
        """The first pair in the layout's order this reviewer has not seen; once none is left, the
        skipped ones come round again, starting after the one just skipped."""
        order = [k for k in self.layout.order if k in self._by_key]
        unseen = [k for k in order if k not in self._mine]
        if unseen:
            return self._by_key[unseen[0]]
        skipped = [k for k in order if self._mine[k].choice == "skip"]
        if not skipped:
            return None
        start = order.index(key) + 1 if key in order else 0
        rotated = order[start:] + order[:start]
        return self._by_key[next(k for k in rotated if k in skipped)]
