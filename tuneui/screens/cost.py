"""The Cost view: every backend side by side, from the Cost step's saved comparison."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tuneui.core.files import read_json
from tuneui.core.workspace import Workspace
from tuneui.guide.step_table import COST
from tuneui.viewmodels.cards import cost_card
from tuneui.steps.cost import cost_report_path
from tuneui.widgets.literal import literal


class CostScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("r", f"app.guide({COST.command!r})", "Re-estimate"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="cost-title", classes="view-title")
        yield DataTable(id="cost-table", cursor_type="row", zebra_stripes=True)
        yield Static(
            "Hosted: exact token counts × epochs × the dated price table. Local: memory and time "
            "from the model's config; prices are as of the date shown.",
            classes="view-note",
        )
        yield Footer()

    def on_mount(self) -> None:
        report = read_json(cost_report_path(self.workspace))
        table = self.query_one(DataTable)
        title = self.query_one("#cost-title", Static)
        if not report:
            title.update(f"No estimate yet: press r (or type {COST.command}) to estimate every backend.")
            return
        card = cost_card(report)
        title.update(literal(card.title))
        table.add_columns(*(literal(column) for column in card.columns))
        for row in card.rows:
            table.add_row(*(literal(cell) for cell in row))
        table.focus()
