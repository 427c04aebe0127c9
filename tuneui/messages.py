"""Messages between workers, widgets and screens: past-tense facts, as dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tuneui.guide.machine import Action
from tuneui.guide.runner import StepResult


@dataclass
class StepFinished(Message):
    """A guide action ran to its end (in a thread worker); the guide turns it into the next turn."""

    action: Action
    result: StepResult


@dataclass
class ChoiceMade(Message):
    """The user picked an answer button: the same as typing its command."""

    command: str


@dataclass
class WorkspaceChanged(Message):
    """Something on disk moved (a run progressed, data was saved): redraw what depends on it."""

    def can_replace(self, message: Message) -> bool:
        # A flood of progress ticks coalesces into one redraw.
        return isinstance(message, WorkspaceChanged)


@dataclass
class ChatChunk(Message):
    """A piece of a streamed reply for one side of the Chat view."""

    side: str
    text: str
    done: bool = False
    error: str = ""  # the reply failed: shown on its side, never sent back to the model as history


@dataclass
class StepProgressed(Message):
    """A running guide step said how far it is (`tuneui.guide.progress`); `step` is its action kind."""

    step: str
    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StepProgressed)
