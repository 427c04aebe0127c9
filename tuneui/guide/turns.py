"""What the guide says and does, as plain data: a turn (its lines, cards, question and choices)
and the action it asks the app to carry out."""

from __future__ import annotations

from dataclasses import dataclass
from tuneui.viewmodels.cards import Card

# The guide's own commands; each step's command is in its row of `tuneui.steps.step_table`.
STATUS_COMMAND, HELP_COMMAND, SPLIT_COMMAND, IMPORT_COMMAND = "/status", "/help", "/split", "/import"
REPORT_COMMAND, CANCEL_COMMAND = "/report", "/cancel"

# "import", "split", "open", "ask", "prepare", "report", "cancel", or a step's action (its row of the step table)
ActionKind = str


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
