"""The Evaluate view: the verdict on top, then per held-out example the request, the reference,
and the baseline's and the tuned model's answers side by side with their differences marked."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from backends.runs import DamagedRunError
from tuneui.core.workspace import Workspace
from tuneui.viewmodels.cards import Card, leaderboard_card, one_line, ranked_models, read_leaderboard
from tuneui.viewmodels.evaluation import ComparedExample, Evaluation, read_evaluation, word_diff
from tuneui.guide.state import observe
from tuneui.steps.step_table import EVALUATE, REVIEW
from tuneui.messages import StepProgressed
from tuneui.widgets.literal import literal, visible


class EvaluateScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("r", "reevaluate", "Re-evaluate"),
        Binding("v", f"app.open_view({REVIEW.name!r})", "Review blind"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.evaluation: Evaluation | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="eval-progress", classes="view-note")
        yield Static("", id="verdict", classes="view-title")
        yield Static("", id="eval-metrics")
        yield Static("", id="eval-people")
        yield Static("", id="eval-compare")
        yield DataTable(id="eval-examples", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="eval-detail"):
            yield Static("", id="eval-request")
            with Horizontal(id="eval-sides"):
                yield Static("", id="eval-baseline", classes="side")
                yield Static("", id="eval-tuned", classes="side")
        yield Footer()

    def _evaluating(self) -> bool:
        busy = getattr(self.app, "busy", None)
        return getattr(busy, "kind", "") == EVALUATE.action

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While an evaluation runs, "r" is not offered: the footer never invites a second one.
        return not (action == "reevaluate" and self._evaluating())

    def action_reevaluate(self) -> None:
        if not self._evaluating():
            self.app.action_guide(EVALUATE.command)

    def on_step_progressed(self, message: StepProgressed) -> None:
        line = self.query_one("#eval-progress", Static)
        was_shown = bool(line.display)
        line.update(literal(message.text, keep="") if message.step == EVALUATE.action else "")
        line.display = message.step == EVALUATE.action and bool(message.text)
        self.refresh_bindings()
        if was_shown and not line.display:
            self.on_mount()  # the evaluation ended with the view open: its verdict replaces the old one

    def on_mount(self) -> None:
        self.query_one(DataTable).clear(columns=True)
        self.query_one("#eval-metrics", Static).update("")
        self.query_one("#eval-progress", Static).display = False
        self.query_one("#eval-compare", Static).display = False
        if self._evaluating():
            self.query_one("#eval-progress", Static).display = True
            self.query_one("#eval-progress", Static).update(literal(self.app.guide.progress(), keep=""))
        run = observe(self.workspace).finished_run
        verdict = self.query_one("#verdict", Static)
        try:
            self.evaluation = read_evaluation(self.workspace, run.run_id) if run else None
        except DamagedRunError as exc:
            verdict.update(literal(f"{exc.title}\n{exc.hint}"))
            return
        if self.evaluation is None:
            verdict.update(
                "Evaluating: the verdict appears here when it is done." if self._evaluating()
                else f"No evaluation yet: type {EVALUATE.command} (or press r) once a run has finished."
            )  # fmt: skip
            return
        verdict.update(literal(self.evaluation.verdict, style="bold"))
        self.query_one("#eval-metrics", Static).update(_metrics_line(self.evaluation))
        people = self.query_one("#eval-people", Static)
        people.update(literal("people: " + "; ".join(self.evaluation.people), style="italic") if self.evaluation.people else "")
        people.display = bool(self.evaluation.people)
        self._compare_candidates()
        table = self.query_one(DataTable)
        # Narrow enough for 80 columns, header included: the cells read "pass → fail".
        table.add_columns("line", "request", "judge", *(("rules base → tuned",) if self.evaluation.has_rules else ()))
        for example in self.evaluation.examples:
            rules = (_rules_cell(example),) if self.evaluation.has_rules else ()
            # A str cell is Rich markup to DataTable: every cell read from result.json goes through literal().
            table.add_row(literal(example.line or "—"), literal(one_line(example.request, 30)), literal(example.judge or ""), *rules)
        table.focus()
        if self.evaluation.examples:
            self._show(self.evaluation.examples[0])

    def _compare_candidates(self) -> None:
        """The leaderboard under the metrics once two or more models have scores, as `tuneui eval`,
        `tuneui baseline` or `tuneui runs --compare` last recorded it (reports/leaderboard.json)."""
        saved = read_leaderboard(self.workspace)
        if saved is None or len(ranked_models(saved["rows"])) < 2:
            return
        self._show_compare(leaderboard_card(saved["rows"], str(saved.get("advice") or "")))

    def _show_compare(self, card: Card) -> None:
        text = Text()
        text.append(visible(card.title) + "\n", style="bold")
        for row in card.rows[:6]:
            rank, model, entry, score, against, rules, stopped = row
            text.append(visible(f"{rank:>2} {one_line(model, 28)}  {one_line(entry, 24)}  {score}  {against}  rules {rules}  stopped {stopped}", keep="") + "\n")
        compare = self.query_one("#eval-compare", Static)
        compare.update(text)
        compare.display = True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.evaluation and 0 <= event.cursor_row < len(self.evaluation.examples):
            self._show(self.evaluation.examples[event.cursor_row])

    def _show(self, example: ComparedExample) -> None:
        request = Text()
        request.append("request  ", style="dim")
        request.append(visible(example.request) + "\n")
        request.append("reference  ", style="dim")
        request.append(visible(example.reference), style="green")
        if example.judge:
            request.append(visible(f"\njudge  {example.judge}"), style="bold")
        if example.judge_reason:
            request.append(visible(f"  (A = tuned) {example.judge_reason}"), style="italic")
        self.query_one("#eval-request", Static).update(request)
        assert self.evaluation is not None
        self.query_one("#eval-baseline", Static).update(
            _side(f"baseline ({self.evaluation.baseline_variant})", example.tuned, example.baseline, example.baseline_broke)
        )
        self.query_one("#eval-tuned", Static).update(_side("tuned", example.baseline, example.tuned, example.tuned_broke))


def _rules_cell(example: ComparedExample) -> Text:
    """Pass or fail of every task rule, baseline then tuned: a per-example column of the table."""
    text = Text()
    for position, broke in enumerate((example.baseline_broke, example.tuned_broke)):
        if position:
            text.append(" → ")
        if broke is None:
            text.append("—", style="dim")
        else:
            text.append("fail" if broke else "pass", style="red" if broke else "green")
    return text


def _side(title: str, other: str, mine: str, broke: tuple[str, ...] | None = None) -> Text:
    text = Text()
    text.append(visible(title) + "\n", style="bold underline")
    if broke is not None:
        # Rule names are the project's text, read back from result.json: shown literally, like any answer.
        text.append(visible(f"broke: {', '.join(broke)}") + "\n" if broke else "passes every task rule\n", style="red" if broke else "green")
    for piece, changed in word_diff(other, mine):
        text.append(visible(piece), style="reverse" if changed and piece.strip() else "")
    return text


def _metrics_line(evaluation: Evaluation) -> Text:
    text = Text()
    for name, baseline, tuned in evaluation.metrics[:4]:
        text.append(visible(f"{name} ", keep=""), style="dim")
        text.append(visible(f"{_number(baseline)} → {_number(tuned)}   ", keep=""))
    return text


def _number(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)

