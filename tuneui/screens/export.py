"""The Export view: the newest export's files, the checks it ran and the commands that use it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tuneui.core.files import read_json
from tuneui.core.workspace import Workspace
from tuneui.steps.step_table import EXPORT
from tuneui.steps.export.paths import EXPORTS_DIR, RESULT_FILE
from tuneui.viewmodels.cards import Card
from tuneui.viewmodels.export_card import export_card, export_commands, export_rows
from tuneui.widgets.cards import CardView
from tuneui.widgets.literal import literal


class ExportScreen(Screen):
    DEFAULT_CSS = """
    ExportScreen #export-scroll { height: 1fr; }
    ExportScreen #export-commands { padding: 1 1 0 1; }
    """
    BINDINGS = [Binding("escape", "app.back", "Back"), Binding("x", f"app.guide({EXPORT.command!r})", EXPORT.name)]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="export-title", classes="view-title")
        with VerticalScroll(id="export-scroll"):
            yield Static("", id="export-commands")
        yield Static(
            "Checked at export: merged vs adapter answers, the GGUF's template and stop ids, the GGUF's answers "
            "read back, and the Modelfile's prompt text. Not checked: Ollama, vLLM or llama.cpp themselves.",
            classes="view-note",
        )
        yield Footer()

    def on_mount(self) -> None:
        title = self.query_one("#export-title", Static)
        folder = self.workspace.root / EXPORTS_DIR
        results = sorted(folder.glob(f"*/{RESULT_FILE}"), key=lambda path: path.stat().st_mtime) if folder.is_dir() else []
        if not results:
            title.update(f"Nothing exported yet: press x (or type {EXPORT.command}) to export the newest tuned run.")
            return
        path = results[-1]
        try:
            data = read_json(path)
            rows, commands, card = export_rows(data), export_commands(data), export_card(data)
        except (ValueError, TypeError, AttributeError) as exc:  # not JSON, or not what tuneui wrote
            title.update(literal(f"{path.relative_to(self.workspace.root)} is damaged: {type(exc).__name__}: {exc}\n"
                                 f"Export again with `tuneui export RUN --force`."))  # fmt: skip
            return
        title.update(literal(card.title))
        # Drawn as the guide's cards are: the details wrap at word ends, where a table's cells would be
        # cut at 80 columns. The table and the commands scroll together.
        every_row = Card(title="", kind="table", columns=card.columns, rows=tuple(tuple(row) for row in rows))
        commands_text = self.query_one("#export-commands", Static)
        self.query_one("#export-scroll", VerticalScroll).mount(CardView(every_row), before=commands_text)
        text = "\n\n".join(f"{name}:\n{command}" for name, command in commands)
        commands_text.update(literal(text))
        self.query_one("#export-scroll", VerticalScroll).focus()
