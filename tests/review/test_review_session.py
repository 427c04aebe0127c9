"""A reviewer's session: blind order from a stored seed, skip, undo, progress, resume."""

from __future__ import annotations

from tuneui.core.review import Layout, Pair, ReviewSession, Vote, make_layout


class ListSink:
    def __init__(self) -> None:
        self.votes: list[Vote] = []

    def add(self, votes) -> None:
        self.votes.extend(votes)

    def undo(self, reviewer):
        for position in range(len(self.votes) - 1, -1, -1):
            if self.votes[position].reviewer == reviewer:
                return self.votes.pop(position)
        return None


def _pairs(count: int = 22) -> list[Pair]:
    return [Pair(i, i + 1, f"q{i}", f"r{i}", f"tuned {i}", f"base {i}") for i in range(count)]


def _clock():
    ticks = iter(range(1, 10_000))
    return lambda: float(next(ticks))


def test_the_layout_is_drawn_from_its_seed_and_survives_storing() -> None:
    pairs = _pairs()
    layout = make_layout(pairs, seed=7)
    assert layout == make_layout(pairs, seed=7)
    assert layout.order != tuple(p.key for p in pairs), "shuffled"
    assert {layout.tuned_side[p.key] for p in pairs} == {"A", "B"}, "the tuned answer is on both sides"
    assert Layout.from_dict(layout.to_dict()) == layout
    shown = [layout.shown(p) for p in pairs]
    assert all(set(pair) == {p.tuned, p.baseline} for pair, p in zip(shown, pairs))


def test_skip_comes_round_again_undo_shows_the_pair_again_and_progress_counts() -> None:
    pairs = _pairs(4)
    layout = make_layout(pairs, seed=1)
    sink = ListSink()
    session = ReviewSession(pairs, layout, "ann", sink, clock=_clock())
    first = session.current
    assert first.key == layout.order[0] and str(session.progress()) == "1 of 4"
    session.vote("skip")
    assert str(session.progress()) == "1 of 4 · 1 skipped"
    session.vote("A")
    session.vote("B")
    assert str(session.progress()) == "3 of 4 · 1 skipped"
    third = session.current
    session.vote("tie")
    assert session.current == first, "with none unseen left, the skipped pair comes round again"
    assert session.undo() is True
    assert session.current == third and session.choice_of(third) is None and len(sink.votes) == 3
    session.vote("A")
    session.vote("B")  # the skipped one, now decided
    assert session.current is None and str(session.progress()) == "4 of 4"
    assert session.undo() and session.current == first and session.choice_of(first) == "skip", "undo brings the skip back"


def test_a_resumed_session_starts_where_the_reviewer_stopped() -> None:
    pairs = _pairs(6)
    layout = make_layout(pairs, seed=3)
    sink = ListSink()
    session = ReviewSession(pairs, layout, "ann", sink, clock=_clock())
    for choice in ("A", "B", "tie"):
        session.vote(choice)
    resumed = ReviewSession(pairs, layout, "ann", sink, list(sink.votes), clock=_clock())
    assert resumed.current.key == layout.order[3] and str(resumed.progress()) == "4 of 6"
    other = ReviewSession(pairs, layout, "bob", sink, list(sink.votes), clock=_clock())
    assert other.current.key == layout.order[0], "each reviewer has their own progress"
    assert resumed.undo() and resumed.current.key == layout.order[2], "undo reaches a vote of the earlier sitting"
    assert not other.undo(), "bob has nothing to undo; ann's votes are not his"
