"""The guide: a state machine from what the user types to the next message and action.

It looks at the workspace (`tuneui.guide.state.observe`), says where the user is and what is next, asks one
question at a time, and turns answers (free text, a choice, or a slash command) into `Action`s that
the app or the headless demo carries out; `finished()` turns each outcome into the next turn.
No Textual import: every path through it is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tuneui.core.workspace import DATA_SUFFIXES, Workspace
from tuneui.errors import WorkspaceError
from tuneui.guide.cards import card_for, status_card
from tuneui.viewmodels.cards import Card
from tuneui.guide.answers import answer_free, assistant_help
from tuneui.guide.ending import REPORT_COMMAND, judge_offer, verdict_notes
from tuneui.guide.options import OptionError, checked_options
from tuneui.guide.setup import MODEL_COMMAND, SETUP_COMMANDS, ProjectSetup
from tuneui.guide.turns import Action, Choice, Turn
from tuneui.guide.state import StepState, WorkspaceState, observe
from tuneui.guide.runner import StepResult
from tuneui.steps import step_table
from tuneui.steps.step import Question
from tuneui.steps.step_table import BASELINE, CHAT, COST, DATASET, EVALUATE, OPEN_COMMAND, REVIEW, ROWS, STEP_NAMES, TRAIN, VIEW_NAMES, by_action

VIEWS = VIEW_NAMES
# The guide's own commands (in `tuneui.guide.turns`, where a step's question can offer them too);
# each step's command is in its row of `tuneui.steps.step_table`.
from tuneui.guide.turns import CANCEL_COMMAND, HELP_COMMAND, IMPORT_COMMAND, SPLIT_COMMAND, STATUS_COMMAND  # noqa: E402

COMMANDS: dict[str, str] = {
    **{row.command: row.help for row in ROWS},
    STATUS_COMMAND: "where the project stands",
    HELP_COMMAND: "this list",
    SPLIT_COMMAND: "hold out part of the examples for validation",
    f"{IMPORT_COMMAND} PATH": "bring a file of examples into the project",
    f"{OPEN_COMMAND} VIEW": "open a full view: " + ", ".join(VIEWS),
    REPORT_COMMAND: "write the evaluation's report (reports/RUN.md and .html)",
    CANCEL_COMMAND: "stop the step that is running",
    **SETUP_COMMANDS,
}
# Which step a running action is shown on (the sidebar, the busy question).
BUSY_STEP = {"import": DATASET.name, "check": DATASET.name, "split": DATASET.name, "baseline": BASELINE.name,
             "cost": COST.name, "train": TRAIN.name, "eval": EVALUATE.name}  # fmt: skip


_COMMAND_NAMES = {command.split()[0] for command in COMMANDS}
_YES = {"y", "yes", "ok", "okay", "sure", "go", "do it", "yes please", "continue", "next"}
_AWAITING_PATH = "path"


@dataclass
class Guide(ProjectSetup):
    workspace: Workspace
    assistant: str = ""
    read_state: Callable[[Workspace], WorkspaceState] = observe
    busy: str = ""  # the action kind running now (the app sets it): never offered, never shown done
    progress: Callable[[], str] = lambda: ""  # the running step's progress line
    _choices: tuple[Choice, ...] = field(default=(), init=False)
    _awaiting: str | None = field(default=None, init=False)
    _declined: set[str] = field(default_factory=set, init=False)
    _pending_fix: Any = field(default=None, init=False)
    _last_question: str = field(default="", init=False)

    def state(self) -> WorkspaceState:
        return self.read_state(self.workspace)

    def opening(self) -> Turn:
        state = self.state()
        says = [self._where(state)]
        if state.active_run:
            run = state.active_run
            says.append(f"Run {run.run_id} is still {run.status}; I reattached to it: its progress is in the Train view.")
        return self._ask_next(state, says)

    def answer(self, text: str) -> Turn:
        """Whatever the user typed or clicked: a slash command, an answer to the question, or free text."""
        text = text.strip()
        if not text:
            return self._ask_next(self.state(), [])
        is_command = text.split()[0].lower() in _COMMAND_NAMES
        if self._awaiting == _AWAITING_PATH and not is_command and _looks_like_path(text):
            return self.command(f"{IMPORT_COMMAND} {text}")
        if self._awaiting not in (None, _AWAITING_PATH) and not is_command and self._pick(text.lower().rstrip(".!")) is None:
            awaited = self._awaited(text, self.state())  # a model may be a folder: "/home/me/model"
            if awaited is not None:
                return awaited
        if text.startswith("/"):
            return self.command(text)
        lowered = text.lower().rstrip(".!")
        picked = self._pick(lowered)
        if picked is not None:
            return self.command(picked.command)
        state = self.state()
        free = answer_free(text, state, self.workspace)
        if free is not None and (free.route or not self._assistant()):  # cost: the project's own numbers
            if free.route and not self.busy:
                return Turn(says=free.says, action=self.command(free.route).action)
            return self._ask_next(state, list(free.says))
        if self._assistant():
            return Turn(says=("Asking the assistant…",), action=Action("ask", text))
        return self._ask_next(state, list(assistant_help()))

    def command(self, text: str) -> Turn:
        name, _, argument = text.strip().partition(" ")
        name, argument = name.lower(), argument.strip()
        state = self.state()
        self._awaiting = None
        try:
            options = checked_options(name, argument)
        except OptionError as exc:
            return self._ask_next(state, [str(exc)])
        setup = self._setup_command(name, argument, state)
        if setup is not None:
            return setup
        if name == CANCEL_COMMAND:
            if self.busy:
                return Turn(says=(f"Stopping {self.busy}…",), action=Action("cancel"))
            if state.active_run:
                return Turn(says=(f"Run {state.active_run.run_id} is a training run: cancel it in the {TRAIN.name} view (x).",),
                            action=Action("open", TRAIN.name))  # fmt: skip
            return self._ask_next(state, ["Nothing is running."])
        if name == REPORT_COMMAND:
            run = state.finished_run
            if run is None or not run.evaluated:
                return self._ask_next(state, [f"The report is written from an evaluation: evaluate a run first ({EVALUATE.command})."])
            return Turn(says=(f"Writing the report of run {run.run_id}…",), action=Action("report", argument or run.run_id))
        if self.busy and BUSY_STEP.get(_kind_of(name)) == BUSY_STEP.get(self.busy) and _kind_of(name):
            return self._ask_next(state, [f"{BUSY_STEP[self.busy]} is already running: {self.progress() or 'working'}."])
        if name == HELP_COMMAND:
            return self._ask_next(state, ["Commands (keys are in the footer; ctrl+p opens the command palette):"], cards=(help_card(),))
        if name == STATUS_COMMAND:
            return self._ask_next(state, [self._where(state)], cards=(status_card(state),))
        if name == IMPORT_COMMAND:
            if not argument:
                return self._ask_path([], "Which file? Type its path (JSONL, JSON, CSV, TSV or parquet).")
            return Turn(says=(f"Importing {argument}…",), action=Action("import", argument))
        if name == DATASET.command:
            if not state.imported and not state.split:
                return self._ask_path(["There are no examples in this project yet."], "Type the path of a file to import.")
            return Turn(says=("Checking the examples…",), action=Action("check"))
        if name == SPLIT_COMMAND:
            return Turn(says=("Splitting into train and held-out validation…",), action=Action("split"))
        if name == BASELINE.command:
            if not state.split:
                return Turn(
                    says=("The baseline is scored on held-out examples, so the data is split first.",),
                    action=Action("split"),
                )
            return Turn(says=("Running the baseline prompts on the held-out split…",), action=Action("baseline", options))
        if name == COST.command:
            if not state.split:
                return self._ask_next(state, ["Costs are counted on the training split: split the data first."])
            return Turn(says=("Estimating every backend…",), action=Action("cost"))
        if name == TRAIN.command:
            if state.active_run:
                return Turn(says=(f"Run {state.active_run.run_id} is already {state.active_run.status}.",), action=Action("open", TRAIN.name))
            if not state.split:
                return self._ask_next(state, ["Training needs a train and a validation split first."])
            return Turn(says=("Starting a training run…",), action=Action("train"))
        if name == EVALUATE.command:
            if not state.finished_run:
                return self._ask_next(state, ["There is no finished run to evaluate yet."])
            return Turn(says=(f"Evaluating run {state.finished_run.run_id} against the baseline…",), action=Action("eval", options))
        if name == REVIEW.command:
            if not state.evaluated:
                return self._ask_next(state, ["People review what the evaluation compared: evaluate a finished run first."])
            return Turn(says=("Opening the blind review: 1 A is better, 2 B is better, = tie, s skip, u undo.",), action=Action("open", REVIEW.name))
        if name == CHAT.command:
            return Turn(says=("Opening the chat: base and tuned model side by side.",), action=Action("open", CHAT.name))
        if name == OPEN_COMMAND:
            view = argument.capitalize()
            if view in VIEWS:
                return Turn(says=(f"Opening the {view} view.",), action=Action("open", view))
            return self._ask_next(state, [f"There is no view called {argument!r}. Views: {', '.join(VIEWS)}."])
        row = step_table.by_command(name)
        started = step_table.behaviour(row).start(state, argument) if row is not None else None
        if started is not None and started.action:
            return Turn(says=(started.says,), action=Action(started.action, started.argument))
        if started is not None:
            return self._ask_next(state, [started.says])
        return self._ask_next(state, [f"I don't know {name}. Type /help for the list of commands."])

    def finished(self, action: Action, result: StepResult) -> Turn:
        """The outcome of an action, as the next turn of the conversation."""
        state = self.state()
        if action.kind == "prepare" and result.ok:
            return self._set_model(str(result.data.get("folder", "")), state)
        if action.kind == "report" and result.ok:
            return self._ask_next(state, [result.summary or "Report written."])
        if not result.ok:
            says = [f"That did not work: {result.title}"]
            if result.hint:
                says.append(result.hint)
            help_choice = Choice("Show the commands", HELP_COMMAND)
            self._choices = (help_choice,) if action.kind == "ask" else (Choice("Try again", _command_of(action)), help_choice)
            if action.kind in ("baseline", "train", "eval"):  # most often the model: a missing key, a wrong id
                self._choices = (self._choices[0], Choice("Choose the model", MODEL_COMMAND), help_choice)
            self._awaiting = None
            return Turn(says=tuple(says), question="Try again, or pick another step?", choices=self._choices)
        if action.kind == "ask":
            return self._ask_next(state, [str(result.data.get("answer", "")).strip() or "The assistant gave no answer."])
        says = [result.summary] if result.summary else []
        cards = (card_for(action.kind, result.data),) if action.kind in _carded() else ()
        if action.kind == "check" and not state.split:
            fixes = self._fix_choices(result.data)
            found = result.data.get("errors") or result.data.get("warnings")
            fix = ", or fix these in the project's copy first (each shown before it is saved)" if fixes else (
                f", or fix what matters in the {DATASET.name} view first" if found else "")  # fmt: skip
            return self._ask(
                says,
                cards,
                f"Hold out {self._held_out()} for validation and split now{fix}?",
                (Choice("Split now", SPLIT_COMMAND), *fixes, Choice(f"Open the {DATASET.name} view", DATASET.open_command)),
            )
        if action.kind == "eval":
            says += verdict_notes(result.data)
            judge = judge_offer() if not result.data.get("judge") else ""
            if judge and state.evaluated:
                return self._ask(says, cards, "Open the verdict, ask a judge model too, or write the report for people to review?", (
                    Choice("Open the verdict", EVALUATE.open_command),
                    Choice(f"Judge with {judge}", f"{EVALUATE.command} --judge {judge}"),
                    Choice("Write the report", REPORT_COMMAND),
                ))  # fmt: skip
        if action.kind == "train":
            says.append("It runs in its own process: quit whenever you like, it goes on and I reattach next time.")
            # The question a running run gets from the state: back from its view, the guide does not
            # say the same question again in other words.
            if state.active_run:
                return self._ask_next(state, says, cards=cards)
            return self._ask(says, cards, "Watch it?", (Choice("Watch it", TRAIN.open_command), Choice("Project status", STATUS_COMMAND)))
        row = step_table.by_action(action.kind)
        asked = step_table.behaviour(row).after(result, state) if row is not None else None
        if asked is not None:
            return self._asked(says, cards, asked)
        return self._ask_next(state, says, cards=cards)

    def assistant_context(self) -> str:
        """What the assistant model is told about the project before the user's question."""
        state = self.state()
        steps = ", ".join(f"{name}: {value}" for name, value in state.step_states().items())
        return (
            f"You help a person fine-tune a language model with tuneui, a terminal app with {len(step_table.STEPS)} steps "
            f"({', '.join(STEP_NAMES)}). Project state: {steps}. "
            f"Training examples: {state.train_examples}, validation examples: {state.val_examples}. "
            f"Commands the person can type: {', '.join(COMMANDS)}. Answer briefly and point to a command."
        )

    def _where(self, state: WorkspaceState) -> str:
        done = [name for name, value in state.step_states().items() if value == "done"]
        name = self._project_name()
        if not done:
            return f"Project {name}: nothing done yet."
        return f"Project {name}: done so far: {', '.join(done)}."

    def _held_out(self) -> str:
        try:
            return f"{self.workspace.settings().data.val_fraction:.0%}"
        except WorkspaceError:  # a broken tuneui.toml is reported by the step that needs it
            return "a part"

    def _project_name(self) -> str:
        try:
            return self.workspace.settings().project.name
        except WorkspaceError:  # a broken tuneui.toml is reported by the step that needs it
            return Path(self.workspace.root).name

    def step_states(self, state: WorkspaceState) -> dict[str, StepState]:
        """The sidebar's states: a step running here is "running", never "done" or "next"."""
        states = state.step_states()
        running = BUSY_STEP.get(self.busy)
        if running:
            states[running] = "running"
        return states

    def recheck(self) -> Turn | None:
        """The next question again, when the project changed under the open one (a run ended, a
        view closed, tuneui.toml edited): None when the open question still fits."""
        if self._awaiting == _AWAITING_PATH or self._pending_fix is not None:
            return None
        before = (self._last_question, self._choices)
        awaiting = self._awaiting
        turn = self._ask_next(self.state(), [])
        if (turn.question, turn.choices) == before:
            self._awaiting = awaiting
            return None
        return turn

    def _assistant(self) -> str:
        return str(self._settings_value("models", "assistant") or self.assistant)

    def _ask_next(self, state: WorkspaceState, says: list[str], cards: tuple[Card, ...] = ()) -> Turn:
        step = state.next_step
        self._pending_fix = None  # a new question withdraws an unanswered fix
        if self.busy:
            running = BUSY_STEP.get(self.busy, self.busy)
            return self._ask(
                says,
                cards,
                # No progress numbers here: they move on the progress line, the question stays put.
                f"{running} is running (its progress is shown below). Meanwhile open a view or ask a "
                f"question; {CANCEL_COMMAND} stops it.",
                (Choice(f"Cancel {running}", CANCEL_COMMAND), Choice("Project status", STATUS_COMMAND)),
            )
        lacking = self._lacking_turn(state, says, cards)
        if lacking is not None:
            return lacking
        row = step_table.by_name(step) if step else None
        asked = step_table.behaviour(row).question(state, self.workspace) if row is not None else None
        if asked is not None:
            return self._asked(says, cards, asked)
        if step == DATASET.name and not state.imported and not state.split:
            return self._ask_path(says, f"Next: {step}. Where are your examples? Type the path of a file.", cards)
        if step == DATASET.name:
            return self._ask(
                says,
                cards,
                f"Next: {step}. Check the examples for problems and hold out {self._held_out()} for validation?",
                (Choice("Check and split", DATASET.command), Choice(f"Open the {step} view", DATASET.open_command)),
            )
        if step == BASELINE.name:
            return self._ask(
                says,
                cards,
                f"Next: {step}. First see how far prompts get: system prompt, zero-shot and k-shot, "
                "scored on the held-out examples. Run it?",
                (Choice("Run the baseline", BASELINE.command), Choice(f"Skip to {COST.name}", COST.command)),
            )
        if step == COST.name:
            return self._ask(
                says,
                cards,
                f"Next: {step}. See what training costs on each backend before anything starts?",
                (Choice("Estimate the cost", COST.command), Choice(f"Skip to {TRAIN.name}", TRAIN.command)),
            )
        if step == TRAIN.name and state.active_run:
            run = state.active_run
            progress = f"step {run.steps}/{run.total_steps}" if run.total_steps else f"step {run.steps}"
            # The step count is said, not asked: the open question stays put while the run takes
            # steps (the sidebar and the Train view move with it), so it is not said again each step.
            return self._ask(
                [*says, f"Run {run.run_id} is {run.status}: {progress}."],
                cards,
                f"{step}: run {run.run_id} is {run.status}. Watch it?",
                (Choice("Watch the run", TRAIN.open_command), Choice("Project status", STATUS_COMMAND)),
            )
        if step == TRAIN.name:
            return self._ask(
                says,
                cards,
                f"Next: {step}. Start a training run on the project's model?",
                # Cost done: its numbers are offered, never the step again.
                (Choice("Start training", TRAIN.command),
                 Choice("See the costs", COST.open_command) if state.cost_saved else Choice("Estimate the cost first", COST.command)),
            )
        if step == EVALUATE.name:
            return self._ask(
                says,
                cards,
                f"Next: {step}. Compare the tuned model with the baseline on the held-out examples?",
                (Choice(step, EVALUATE.command), Choice("Chat with it first", CHAT.command)),
            )
        return self._ask(
            says,
            cards,
            f"All {len(step_table.STEPS)} steps are done: the verdict is in the {EVALUATE.name} view; {REPORT_COMMAND} "
            "writes it up as Markdown and HTML to share. What next?",
            (
                Choice("Open the verdict", EVALUATE.open_command),
                Choice("Write the report", REPORT_COMMAND),
                Choice("Review blind", REVIEW.command),
                Choice(CHAT.name, CHAT.command),
            ),
        )

    def _ask(self, says: list[str], cards: tuple[Card, ...], question: str, choices: tuple[Choice, ...]) -> Turn:
        self._choices = choices
        self._awaiting = None
        self._last_question = question
        return Turn(says=tuple(says), cards=cards, question=question, choices=choices)

    def _asked(self, says: list[str], cards: tuple[Card, ...], asked: Question) -> Turn:
        """A step's own question (`tuneui.steps.step.Step`), asked like the machine's."""
        choices = tuple(Choice(label, command) for label, command in asked.choices)
        return self._ask([*says, *asked.says], cards, asked.text, choices)

    def _ask_path(self, says: list[str], question: str, cards: tuple[Card, ...] = ()) -> Turn:
        self._choices = ()
        self._awaiting = _AWAITING_PATH
        self._last_question = question
        return Turn(says=tuple(says), cards=cards, question=question)

    def _pick(self, lowered: str) -> Choice | None:
        if not self._choices:
            return None
        if lowered in _YES:
            return self._choices[0]
        if lowered.isdigit() and 1 <= int(lowered) <= len(self._choices):
            return self._choices[int(lowered) - 1]
        for choice in self._choices:
            if lowered == choice.label.lower():
                return choice
        return None


def _carded() -> set[str]:
    """The actions whose result the guide shows as a card: an import, a split, and each step that has one."""
    return {"import", "split", *(row.action for row in step_table.ROWS if row.card)}


def _command_of(action: Action) -> str:
    """The command that starts `action` again."""
    row = by_action(action.kind)
    if row is not None:
        return row.command
    if action.kind == "open":
        return f"{OPEN_COMMAND} {action.argument}"
    if action.kind == "import":
        return f"{IMPORT_COMMAND} {action.argument}"
    return SPLIT_COMMAND if action.kind == "split" else f"/{action.kind}"


def _kind_of(command: str) -> str:
    """The action kind a step command starts ("" for other commands)."""
    row = next((row for row in ROWS if row.command == command), None)
    if row is not None:
        return row.action
    return {SPLIT_COMMAND: "split", IMPORT_COMMAND: "import"}.get(command, "")


def _looks_like_path(text: str) -> bool:
    path = Path(text).expanduser()
    return path.exists() or (" " not in text.strip() and ("/" in text or path.suffix in DATA_SUFFIXES))


def help_card() -> Card:
    return Card(title="Commands", kind="table", columns=("command", "what it does"), rows=tuple(COMMANDS.items()))


__all__ = ["Action", "Choice", "Guide", "Turn", "COMMANDS", "STEP_NAMES", "VIEWS", "help_card"]
