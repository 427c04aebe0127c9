"""The Review view: people judge the evaluation's pairs blind, one key a pair.

The request on top, answers A and B side by side (each scrolls on its own: Tab moves between
them), the reference behind `r`. `1` A is better, `2` B is better, `=` tie, `s` skip, `u` undo.
Every key's vote is on disk before the next pair shows (`tuneui.steps.review.VoteStore`), so
quitting at any moment loses nothing and the next opening resumes at the first pair without a vote.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tuneui.core.backend import BackendError
from tuneui.core.review import Choice, ReviewSession, default_reviewer
from tuneui.core.review_stats import HumanResult, human_result, summary_lines
from tuneui.core.workspace import Workspace
from tuneui.errors import TuneError
from tuneui.guide.machine import Turn
from tuneui.guide.state import observe
from tuneui.steps.step_table import EVALUATE
from tuneui.screens.main import MainScreen
from tuneui.steps.review import VoteStore, open_review
from tuneui.viewmodels.cards import review_card
from tuneui.widgets.literal import literal, visible


class ReviewScreen(Screen):
    BINDINGS = [
        Binding("1", "vote('A')", "A better"),
        Binding("2", "vote('B')", "B better"),
        Binding("equals_sign", "vote('tie')", "tie"),
        Binding("s", "vote('skip')", "skip"),
        Binding("u", "undo", "undo"),
        Binding("r", "toggle_reference", "ref"),
        Binding("escape", "back", "back"),
    ]

    def __init__(self, workspace: Workspace, run_id: str | None = None, reviewer: str | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.run_id = run_id
        self.reviewer = reviewer
        self.session: ReviewSession | None = None
        self.show_reference = False
        self.seed = 0
        self.store: VoteStore | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="review-progress", classes="view-title")
        with VerticalScroll(id="review-request"):
            yield Static("", id="review-request-text")
        with Horizontal(id="review-sides"):
            for side in ("a", "b"):
                with VerticalScroll(id=f"review-{side}", classes="review-side") as column:
                    column.border_title = side.upper()
                    yield Static("", id=f"review-{side}-text")
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.session = self._open()
        except (TuneError, BackendError) as exc:
            self._say(literal(f"{exc.title}\n{exc.hint}"))
            return
        if self.session is None:
            self._say(Text(f"No evaluated run to review yet: type {EVALUATE.command} once a run has finished."))
            return
        self._show()

    def _open(self) -> ReviewSession | None:
        run_id = self.run_id
        if run_id is None:
            run = observe(self.workspace).finished_run
            if run is None or not run.evaluated:
                return None
            run_id = run.run_id
        review = open_review(self.workspace, run_id)
        self.run_id = review.run_id
        self.seed = self.workspace.settings().data.seed
        self.store = review.store
        layout = review.store.layout_for(review.pairs)
        reviewer = self.reviewer or default_reviewer()
        return ReviewSession(review.pairs, layout, reviewer, review.store, review.store.read()[1])

    def action_vote(self, choice: Choice) -> None:
        if self.session is None or self.session.current is None:
            return
        try:
            self.session.vote(choice)
        except (OSError, TuneError) as exc:  # a full disk: the vote is not counted, and the pair stays
            self.notify(visible(f"The vote was not saved: {getattr(exc, 'title', exc)}"), severity="error", markup=False)
            return
        self._show()

    def action_undo(self) -> None:
        if self.session is None:
            return
        try:
            undone = self.session.undo()
        except (OSError, TuneError) as exc:
            self.notify(visible(f"Undo failed: {getattr(exc, 'title', exc)}"), severity="error", markup=False)
            return
        if not undone:
            self.notify("Nothing to undo: you have no vote on this run yet.", timeout=4)
        self._show()

    def action_toggle_reference(self) -> None:
        self.show_reference = not self.show_reference
        if self.session is not None:
            self._show()

    def action_back(self) -> None:
        """Back to the guide, where people's result so far becomes a card of the conversation."""
        main = next((screen for screen in self.app.screen_stack if isinstance(screen, MainScreen)), None)
        try:
            human = self._human() if self.session is not None else None
        except (TuneError, BackendError):
            human = None
        self.app.pop_to_main()
        if main is not None and human is not None:
            says = (f"Your votes on run {self.run_id} are saved: open this view again to go on where you stopped.",)
            main.show_turn(Turn(says=says, cards=(review_card(human.summary(), human.examples, human.examples_reviewed),)))

    def _show(self) -> None:
        session = self.session
        assert session is not None
        progress = session.progress()
        title = Text()
        title.append(f"Blind review of run {self.run_id} · {progress} · ")
        title.append(visible(session.reviewer, keep=""), style="italic")
        self.query_one("#review-progress", Static).update(title)
        pair = session.current
        if pair is None:
            self._done()
            return
        request = Text()
        request.append("request  ", style="dim")
        request.append(visible(pair.request))
        if self.show_reference:
            request.append("\nreference  ", style="dim")
            request.append(visible(pair.reference), style="green")
        self.query_one("#review-request-text", Static).update(request)
        answer_a, answer_b = session.shown()
        for side, answer in (("a", answer_a), ("b", answer_b)):
            self.query_one(f"#review-{side}-text", Static).update(literal(answer))
            self.query_one(f"#review-{side}", VerticalScroll).scroll_home(animate=False)
        self.query_one("#review-sides").display = True

    def _done(self) -> None:
        human = self._human()
        text = Text("Every pair has your vote. u takes back the last one; Esc returns to the guide.\n", style="bold")
        for line in summary_lines(human.summary()) if human else ():
            text.append(visible(line) + "\n")
        self._say(text)

    def _human(self) -> HumanResult | None:
        assert self.session is not None and self.store is not None
        return human_result(self.session.pairs, self.store.read()[1], seed=self.seed)

    def _say(self, text: Text) -> None:
        self.query_one("#review-request-text", Static).update(text)
        self.query_one("#review-sides").display = False
