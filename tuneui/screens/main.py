"""The main screen: the conversation with the guide, the answer buttons, and the step sidebar."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from tuneui.guide.machine import Turn
from tuneui.guide.state import WorkspaceState
from tuneui.steps.step_table import VIEWS
from tuneui.messages import ChoiceMade, WorkspaceChanged
from tuneui.widgets.conversation import ChoiceBar, Conversation, choice_labels, turn_widgets
from tuneui.widgets.literal import literal
from tuneui.widgets.steps import StepList


class MainScreen(Screen):
    BINDINGS = [
        *(Binding(view.key, f"app.open_view({view.name!r})", view.name, show=view.in_footer) for view in VIEWS if view.key),
        Binding("ctrl+q", "app.quit", "Quit", priority=True),
    ]

    def compose(self) -> ComposeResult:
        # The opening turn is composed, not mounted afterwards: the first paint is the whole screen.
        opening = self.app.guide.opening()
        steps = StepList(id="steps")
        steps.show(self.app.step_states(self.app.workspace_state()))
        yield Header()
        with Horizontal():
            with Vertical(id="sidebar"):
                yield steps
                yield Static("", id="working")
            with Vertical(id="talk"):
                yield Conversation(*turn_widgets(opening), id="conversation")
                yield Static("", id="progress")
                yield ChoiceBar(*choice_labels(opening.choices), id="choices")
                yield Input(placeholder="Answer, type a path, or /help", id="prompt")
        yield Footer(compact=True)  # six step keys, Chat, Quit and the palette in 80 columns

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).focus()
        self.query_one(Conversation).scroll_end(animate=False)

    def show_turn(self, turn: Turn) -> None:
        self.query_one(Conversation).add_turn(turn)
        if turn.question or turn.action is not None:
            self.query_one(ChoiceBar).show(turn.choices)

    def show_state(self, state: WorkspaceState) -> None:
        self.query_one(StepList).show(self.app.step_states(state))

    def show_progress(self, text: str) -> None:
        """The running step's progress line, under the conversation ("" hides it)."""
        line = self.query_one("#progress", Static)
        line.update(literal(text, keep=""))
        line.display = bool(text)

    def on_screen_resume(self) -> None:
        # Back from a view: what happened there (a fix, a run, an edit) may change the question.
        self.show_state(self.app.workspace_state())
        self.app.recheck()
        # Turns said while a view covered this screen were scrolled to with this screen's old size:
        # the newest question would sit below the fold. Scroll once the screen is laid out again.
        conversation = self.query_one(Conversation)
        self.call_after_refresh(conversation.scroll_end, animate=False)

    def show_working(self, text: str) -> None:
        self.query_one("#working", Static).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.clear()
        if text:
            self.query_one(Conversation).add_user(text)
            self.app.converse(text)

    def on_choice_made(self, event: ChoiceMade) -> None:
        self.query_one(Conversation).add_user(event.command)
        self.app.converse(event.command)
        self.query_one("#prompt", Input).focus()

    def on_workspace_changed(self, event: WorkspaceChanged) -> None:
        self.show_state(self.app.workspace_state())
