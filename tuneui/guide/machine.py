"""The guide: a state machine from what the user types to the next message and action.

It looks at the workspace (`tuneui.guide.state.observe`), says where the user is and what is next, asks one
question at a time, and turns answers (free text, a choice, or a slash command) into `Action`s that
the app or the headless demo carries out; `finished()` turns each outcome into the next turn.
No Textual import: every path through it is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from tuneui.core.workspace import Workspace
from tuneui.errors import WorkspaceError
from tuneui.viewmodels.cards import Card, card_for, status_card
from tuneui.guide.state import DATA_SUFFIXES, STEP_NAMES, WorkspaceState, observe
from tuneui.guide.runner import StepResult
from tuneui.guide.step_table import BASELINE, CHAT, COST, DATASET, EVALUATE, OPEN_COMMAND, REVIEW, ROWS, TRAIN, VIEW_NAMES, by_action

ActionKind = Literal["import", "check", "split", "baseline", "cost", "train", "eval", "open", "ask"]
VIEWS = VIEW_NAMES
# The guide's own commands; each step's command is in its row of `tuneui.guide.step_table`.
STATUS_COMMAND, HELP_COMMAND, SPLIT_COMMAND, IMPORT_COMMAND = "/status", "/help", "/split", "/import"

COMMANDS: dict[str, str] = {
    **{row.command: row.help for row in ROWS},
    STATUS_COMMAND: "where the project stands",
    HELP_COMMAND: "this list",
    SPLIT_COMMAND: "hold out part of the examples for validation",
    f"{IMPORT_COMMAND} PATH": "bring a file of examples into the project",
    f"{OPEN_COMMAND} VIEW": "open a full view: " + ", ".join(VIEWS),
}


@dataclass(frozen=True)
class Action:
    """Something to carry out; `argument` is a path (import), a view name (open) or a question (ask)."""

    kind: ActionKind
    argument: str = ""


@dataclass(frozen=True)
class Choice:
    """An answer offered as a button; choosing it is the same as typing `command`."""

    label: str
    command: str


@dataclass(frozen=True)
class Turn:
    """What the guide says, the cards it shows, then the one question it asks (and its answers)."""

    says: tuple[str, ...]
    cards: tuple[Card, ...] = ()
    question: str = ""
    choices: tuple[Choice, ...] = ()
    action: Action | None = None


_COMMAND_NAMES = {command.split()[0] for command in COMMANDS}
_YES = {"y", "yes", "ok", "okay", "sure", "go", "do it", "yes please", "continue", "next"}
_AWAITING_PATH = "path"


@dataclass
class Guide:
    workspace: Workspace
    assistant: str = ""
    read_state: Callable[[Workspace], WorkspaceState] = observe
    _choices: tuple[Choice, ...] = field(default=(), init=False)
    _awaiting: str | None = field(default=None, init=False)

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
        if text.startswith("/"):
            return self.command(text)
        lowered = text.lower().rstrip(".!")
        picked = self._pick(lowered)
        if picked is not None:
            return self.command(picked.command)
        if self.assistant:
            return Turn(says=("Asking the assistant…",), action=Action("ask", text))
        return self._ask_next(
            self.state(),
            ["I follow commands and answers to my questions; free questions need an assistant model "
             "(`[models] assistant = \"backend:model\"` in tuneui.toml). Here is what I can do:"],
            cards=(help_card(),),
        )

    def command(self, text: str) -> Turn:
        name, _, argument = text.strip().partition(" ")
        name, argument = name.lower(), argument.strip()
        state = self.state()
        self._awaiting = None
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
            return Turn(says=("Running the baseline prompts on the held-out split…",), action=Action("baseline"))
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
            return Turn(says=(f"Evaluating run {state.finished_run.run_id} against the baseline…",), action=Action("eval"))
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
        return self._ask_next(state, [f"I don't know {name}. Type /help for the list of commands."])

    def finished(self, action: Action, result: StepResult) -> Turn:
        """The outcome of an action, as the next turn of the conversation."""
        state = self.state()
        if not result.ok:
            says = [f"That did not work: {result.title}"]
            if result.hint:
                says.append(result.hint)
            help_choice = Choice("Show the commands", HELP_COMMAND)
            self._choices = (help_choice,) if action.kind == "ask" else (Choice("Try again", _command_of(action)), help_choice)
            self._awaiting = None
            return Turn(says=tuple(says), question="Try again, or pick another step?", choices=self._choices)
        if action.kind == "ask":
            return self._ask_next(state, [str(result.data.get("answer", "")).strip() or "The assistant gave no answer."])
        says = [result.summary] if result.summary else []
        cards = (card_for(action.kind, result.data),) if action.kind in _CARDED else ()
        if action.kind == "check" and not state.split:
            return self._ask(
                says,
                cards,
                f"Fix what matters in the Dataset view, or hold out {self._held_out()} for validation and split now?",
                (Choice("Split now", SPLIT_COMMAND), Choice(f"Open the {DATASET.name} view", DATASET.open_command)),
            )
        if action.kind == "train":
            says.append("It runs in its own process: quit whenever you like, it goes on and I reattach next time.")
            return self._ask(says, cards, "Watch it?", (Choice("Watch it", TRAIN.open_command), Choice("Project status", STATUS_COMMAND)))
        return self._ask_next(state, says, cards=cards)

    def assistant_context(self) -> str:
        """What the assistant model is told about the project before the user's question."""
        state = self.state()
        steps = ", ".join(f"{name}: {value}" for name, value in state.step_states().items())
        return (
            "You help a person fine-tune a language model with tuneui, a terminal app with five steps "
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

    def _ask_next(self, state: WorkspaceState, says: list[str], cards: tuple[Card, ...] = ()) -> Turn:
        step = state.next_step
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
            return self._ask(
                says,
                cards,
                f"{step}: run {run.run_id} is {run.status} ({progress}). Watch it?",
                (Choice("Watch the run", TRAIN.open_command), Choice("Project status", STATUS_COMMAND)),
            )
        if step == TRAIN.name:
            return self._ask(
                says,
                cards,
                f"Next: {step}. Start a training run on the project's model?",
                (Choice("Start training", TRAIN.command), Choice("Estimate the cost first", COST.command)),
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
            f"All five steps are done: the verdict is in the {EVALUATE.name} view. Judge the answers yourself, blind, or chat with the tuned model?",
            (Choice("Open the verdict", EVALUATE.open_command), Choice("Review blind", REVIEW.command), Choice(CHAT.name, CHAT.command)),
        )

    def _ask(self, says: list[str], cards: tuple[Card, ...], question: str, choices: tuple[Choice, ...]) -> Turn:
        self._choices = choices
        self._awaiting = None
        return Turn(says=tuple(says), cards=cards, question=question, choices=choices)

    def _ask_path(self, says: list[str], question: str, cards: tuple[Card, ...] = ()) -> Turn:
        self._choices = ()
        self._awaiting = _AWAITING_PATH
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


_CARDED = {"import", "check", "split", "baseline", "cost", "eval"}


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


def _looks_like_path(text: str) -> bool:
    path = Path(text).expanduser()
    return path.exists() or (" " not in text.strip() and ("/" in text or path.suffix in DATA_SUFFIXES))


def help_card() -> Card:
    return Card(title="Commands", kind="table", columns=("command", "what it does"), rows=tuple(COMMANDS.items()))


__all__ = ["Action", "Choice", "Guide", "Turn", "COMMANDS", "STEP_NAMES", "VIEWS", "help_card"]
