"""The guide's questions about what the project lacks, and the commands that answer them:
`/model`, `/system`, `/rules`, `/assistant` (each writes one value of `tuneui.toml` and shows it),
`/fix` and `/undo` (mechanical fixes of the project's copy of the examples, shown as a diff first).

A mixin of `tuneui.guide.machine.Guide`: it uses the guide's `_ask`, `_ask_next` and `state`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneui.core.dataset.fixes import FIXES, FixPlan, apply_fix, can_undo, plan_fix, undo_fix
from tuneui.errors import TuneError
from tuneui.guide import questions
from tuneui.steps.step_table import BASELINE, DATASET, TRAIN
from tuneui.viewmodels.cards import Card

from tuneui.guide.turns import Action, Choice, Turn

if TYPE_CHECKING:
    from tuneui.guide.state import WorkspaceState

MODEL_COMMAND, SYSTEM_COMMAND, RULES_COMMAND = "/model", "/system", "/rules"
FIX_COMMAND, UNDO_COMMAND, ASSISTANT_COMMAND = "/fix", "/undo", "/assistant"
SETUP_COMMANDS: dict[str, str] = {
    f"{MODEL_COMMAND} MODEL": "the model to start from: embedded, a folder, a hub id or backend:model",
    f"{SYSTEM_COMMAND} TEXT": "the project's system prompt",
    RULES_COMMAND: "derive task rules from the examples (ending, JSON, length)",
    f"{FIX_COMMAND} FIX [LINE]": "fix the project's copy of the examples: " + ", ".join(FIXES),
    UNDO_COMMAND: "undo the last fix",
    f"{ASSISTANT_COMMAND} BACKEND:MODEL": "the model that answers free questions",
}
AWAITING_MODEL, AWAITING_SYSTEM = "model", "system"
NEEDS_MODEL = (BASELINE.name, TRAIN.name)


class ProjectSetup:
    """Questions and commands for what a project lacks; state kept on the guide."""

    workspace: Any
    _declined: set[str]
    _pending_fix: FixPlan | None
    _awaiting: str | None

    # -- questions --------------------------------------------------------------------------

    def _lacking_turn(self, state: WorkspaceState, says: list[str], cards: tuple[Card, ...]) -> Turn | None:
        """The question about what the next step needs and the project lacks, if any."""
        step = state.next_step
        if step in NEEDS_MODEL and "model" not in self._declined and not questions.model_is_set(self.workspace):
            return self._model_question(says + [f"{step} needs a model to start from, and the project names none."], cards)
        if step == BASELINE.name and "system" not in self._declined and not self._settings_value("project", "system_prompt"):
            missing, common = questions.system_prompt_facts(questions.examples_of(questions.data_file(self.workspace)))
            if missing:
                choices: tuple[Choice, ...] = ((Choice("Use the one in the data", f"{SYSTEM_COMMAND} {common}"),) if common else ())
                choices += (Choice("Go on without one", f"{SYSTEM_COMMAND} -"),)
                turn = self._ask(
                    says + [f"{missing} examples have no system prompt, and the project names none: the baseline "
                            "and the training use the one you deploy with."],
                    cards,
                    "Which system prompt? Type it (one line), or pick:",
                    choices,
                )
                self._awaiting = AWAITING_SYSTEM
                return turn
        if step == BASELINE.name and "rules" not in self._declined and not self._settings_value("rules", None):
            rules = questions.derived_rules(questions.examples_of(questions.data_file(self.workspace)))
            if rules:
                return self._ask(
                    says + ["Task rules are checks every good answer passes; the Baseline and Evaluate steps count the "
                            f"answers that pass them. From your examples: {questions.rules_sentence(rules)}."],
                    cards,
                    "Add these rules to tuneui.toml?",
                    (Choice("Add these rules", f"{RULES_COMMAND} add"), Choice("No rules", f"{RULES_COMMAND} none")),
                )
        return None

    def _model_question(self, says: list[str], cards: tuple[Card, ...]) -> Turn:
        options = questions.model_options()
        notes = [f"{index}. {option.note}" for index, option in enumerate(options, start=1)]
        turn = self._ask(
            says + notes,
            cards,
            "Which model? Pick one, or type a local folder or a Hugging Face id (e.g. Qwen/Qwen2.5-0.5B-Instruct).",
            tuple(Choice(option.label, option.command) for option in options),
        )
        self._awaiting = AWAITING_MODEL
        return turn

    def _fix_choices(self, data: Any) -> tuple[Choice, ...]:
        """A choice per mechanical fix the check's findings call for."""
        from tuneui.core.dataset.fixes import fix_for

        counts: dict[str, int] = {}
        for item in list(data.get("warnings") or []) + list(data.get("errors") or []):
            fix = fix_for(str(item.get("code", ""))) if isinstance(item, dict) else None
            if fix:
                counts[fix] = counts.get(fix, 0) + 1
        return tuple(Choice(f"Fix {count}× {fix}", f"{FIX_COMMAND} {fix}") for fix, count in counts.items())

    # -- commands ---------------------------------------------------------------------------

    def _setup_command(self, name: str, argument: str, state: WorkspaceState) -> Turn | None:
        handlers = {
            MODEL_COMMAND: self._set_model,
            SYSTEM_COMMAND: self._set_system,
            RULES_COMMAND: self._set_rules,
            FIX_COMMAND: self._fix,
            UNDO_COMMAND: self._undo,
            ASSISTANT_COMMAND: self._set_assistant,
        }
        handler = handlers.get(name)
        return handler(argument, state) if handler else None

    def _set_model(self, argument: str, state: WorkspaceState) -> Turn:
        if not argument:
            return self._model_question([f"The model to start from (now: {self._model_now()})."], ())
        if argument == questions.EMBEDDED:
            from backends.local.models import embedded_model_folder, model_source

            folder = embedded_model_folder()
            if model_source(folder) is None:
                return Turn(says=("Preparing the embedded model once (minutes; the next projects reuse it)…",), action=Action("prepare"))
            argument = str(folder)
        label, values = questions.model_choice(argument)
        return self._write("models", values, state, f"Model: {label}.")

    def _set_system(self, argument: str, state: WorkspaceState) -> Turn:
        then_fix, self._then_fix = getattr(self, "_then_fix", False), False
        if argument in ("", "-"):
            self._declined.add("system")
            return self._ask_next(state, ["No system prompt: the baseline tries the bare request and k-shot examples."])
        written = self._write("project", {"system_prompt": argument}, state, "System prompt set.")
        if not then_fix or not self._settings_value("project", "system_prompt"):
            return written
        fix = self._fix("system", self.state())  # asked for by /fix system: go on to its diff
        return Turn(says=written.says + fix.says, cards=fix.cards, question=fix.question, choices=fix.choices)

    def _set_rules(self, argument: str, state: WorkspaceState) -> Turn:
        if argument == "none":
            self._declined.add("rules")
            return self._ask_next(state, ["No task rules; add some later under [rules] in tuneui.toml (docs/evaluate.md)."])
        rules = questions.derived_rules(questions.examples_of(questions.data_file(self.workspace)))
        if not rules:
            return self._ask_next(state, ["The examples show no shared ending, JSON shape or length to make a rule of."])
        if argument != "add":
            self._declined.discard("rules")
            return self._lacking_turn(state, [], ()) or self._ask_next(state, [f"From your examples: {questions.rules_sentence(rules)}."])
        values = {f"rules.{name}.{key}": value for name, table in rules.items() for key, value in table.items()}
        try:
            self.workspace.update_settings(values)  # every rule in one write
        except TuneError as exc:
            return self._ask_next(state, [f"{exc.title}. {exc.hint}"])
        written = [f"[rules.{name}] {key} = {_toml_text(value)}" for name, table in rules.items() for key, value in table.items()]
        return self._ask_next(state, ["Written to tuneui.toml:", *written])

    def _set_assistant(self, argument: str, state: WorkspaceState) -> Turn:
        from tuneui.guide.answers import assistant_help

        if ":" not in argument:
            return self._ask_next(state, list(assistant_help()))
        return self._write("models", {"assistant": argument}, state, "Free questions now go to the assistant, from the next one.")

    def _write(self, table: str, values: dict[str, Any], state: WorkspaceState, said: str) -> Turn:
        from tuneui.core.secrets import redact

        if any(isinstance(value, str) and redact(value) != value for value in values.values()):
            # A key pasted where a model or a prompt belongs: never into a file.
            from tuneui.core.providers import key_names

            return self._ask_next(state, ["That looks like an API key: tuneui never writes keys to a file. Set it in the "
                                          f"environment ({', '.join(key_names())}) or the keyring."])
        try:
            self.workspace.update_settings({f"{table}.{key}": value for key, value in values.items()})
        except TuneError as exc:
            return self._ask_next(state, [f"{exc.title}. {exc.hint}"])
        written = [f"  [{table}] {key} = {_toml_text(value)}" for key, value in values.items()]
        return self._ask_next(self.state(), [said, "Written to tuneui.toml:", *written])

    def _fix(self, argument: str, state: WorkspaceState) -> Turn:
        fix, _, line = argument.partition(" ")
        path = questions.data_file(self.workspace)
        if fix == "save" and self._pending_fix is not None:
            plan, self._pending_fix = self._pending_fix, None
            try:
                changed = apply_fix(plan)
            except TuneError as exc:
                return self._ask_next(state, [f"{exc.title}. {exc.hint}"])
            stale = " The split predates it: check and split again." if state.split else ""
            return self._ask_next(self.state(), [f"Saved: {changed} lines of {plan.path.name} changed (your own file is untouched; {UNDO_COMMAND} puts them back).{stale}"])
        if fix == "drop":
            self._pending_fix = None
            return self._ask_next(state, ["Nothing changed."])
        if path is None or path.parent != self.workspace.data_dir or path == self.workspace.train_file:
            return self._ask_next(state, ["Fixes change the project's copy of the examples: import them first."])
        if fix == "system" and not self._settings_value("project", "system_prompt"):
            self._declined.discard("system")
            turn = self._ask(["Adding a system prompt needs one: the project names none."], (), "Type the system prompt (one line):", ())
            self._awaiting = AWAITING_SYSTEM
            self._then_fix = True
            return turn
        try:
            plan = plan_fix(path, fix, system_prompt=self._settings_value("project", "system_prompt") or "",
                            line=int(line) if line.strip().isdigit() else None)  # fmt: skip
        except TuneError as exc:
            return self._ask_next(state, [f"{exc.title}. {exc.hint}"])
        if not plan.changes:
            return self._ask_next(state, [f"{FIXES[fix][0].capitalize()}: nothing to change."])
        self._pending_fix = plan
        card = Card(title=f"/fix {fix}: {len(plan.changes)} lines", kind="table", columns=("",), rows=tuple((line,) for line in plan.diff()))
        return self._ask([f"{FIXES[fix][0].capitalize()}: {len(plan.changes)} lines change (- before, + after)."], (card,), f"Save this change to the project's copy (data/{path.name})?",
                         (Choice("Save it", f"{FIX_COMMAND} save"),
                          *((Choice("Every example instead", f"{FIX_COMMAND} {fix}"),) if line.strip() else ()),
                          Choice("Leave it", f"{FIX_COMMAND} drop")))  # fmt: skip

    def _undo(self, argument: str, state: WorkspaceState) -> Turn:
        path = questions.data_file(self.workspace)
        if path is None or not can_undo(path):
            return self._ask_next(state, ["There is no fix to undo."])
        try:
            undo_fix(path)
        except TuneError as exc:
            return self._ask_next(state, [f"{exc.title}. {exc.hint}"])
        return self._ask_next(self.state(), [f"Undone: data/{path.name} is as it was before the last fix."])

    def _model_now(self) -> str:
        models = self._settings_value("models", None)
        if not models:
            return "unreadable tuneui.toml"
        return f"local {models.local}" if models.local else f"{models.hosted_backend}:{models.hosted}"

    def _settings_value(self, table: str, key: str | None) -> Any:
        try:
            section = getattr(self.workspace.settings(), table)
        except TuneError:
            return ""
        return section if key is None else getattr(section, key, "")

    def _awaited(self, text: str, state: WorkspaceState) -> Turn | None:
        """Free text answering the open question (a model, a system prompt), else None."""
        awaiting, self._awaiting = self._awaiting, None
        if awaiting == AWAITING_MODEL and (Path(text).expanduser().is_dir() or (" " not in text and ("/" in text or ":" in text))):
            return self._set_model(text, state)
        if awaiting == AWAITING_SYSTEM:
            return self._set_system(text, state)
        self._awaiting = awaiting
        return None


__all__ = ["ProjectSetup", "SETUP_COMMANDS", "DATASET"]


def _toml_text(value: Any) -> str:
    """A value as tuneui.toml now holds it, to show the user what was written."""
    import tomlkit

    return tomlkit.item(value).as_string()
