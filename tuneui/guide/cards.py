"""Which card the guide shows: a step's result gets the card its row in the step table names, the
split its own, anything else its plain values; and the status card of the whole project.

The cards themselves are view models (`tuneui.viewmodels.cards`), which never import the guide.
"""

from __future__ import annotations

from typing import Any, Mapping

from tuneui.guide.state import WorkspaceState
from tuneui.steps.step_table import by_action, load
from tuneui.viewmodels.cards import Card, key_values_card, split_card


def card_for(kind: str, data: Mapping[str, Any]) -> Card:
    """The card for the result of the guide's action `kind`."""
    row = by_action(kind)
    if row is not None and row.card:
        return load(row.card)(data)
    return split_card(data) if kind == "split" else key_values_card(data)


def status_card(state: WorkspaceState) -> Card:
    rows = [(name, value) for name, value in state.step_states().items()]
    for run in state.runs[-3:]:
        total = f"/{run.total_steps}" if run.total_steps else ""
        rows.append((f"run {run.run_id}", f"{run.status}, step {run.steps}{total}"))
    return Card(title="Status", kind="table", columns=("step", "state"), rows=tuple(rows))
