"""The leaderboard's entries, read from the project's files: `baseline/` and `runs/`.

Nothing is asked of a model here: every score comes from answers already saved (a baseline
variant's `baseline/<key>.json`, a run's `eval/predictions.json`), scored again against the
current val split with the current rules, so the rows are comparable by construction. A saved file
that is damaged or foreign is skipped, never fatal: one bad file must not hide the other rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

from tuneui.core.evalset import EvalSet, load_eval_set, read_saved
from tuneui.core.metrics import PRIMARY_METRIC, score_answers
from tuneui.core.rules import check_answers, parse_rules
from tuneui.core.trained_split import file_sha256
from tuneui.core.workspace import Workspace
from tuneui.steps.eval_files import PREDICTIONS_FILE
from tuneui.steps.leaderboard import BOARD_FILE, CURRENT, OTHER, Board, Entry, build

BEST_FILE = "best.json"


def save_board(workspace: Workspace, board: Board) -> None:
    """Record the leaderboard in reports/leaderboard.json, which the app's Evaluate view reads: the
    UI process never scores answers (that needs the dataset readers, and their ML imports)."""
    from tuneui.core.files import atomic_write_json

    atomic_write_json(workspace.reports_dir / BOARD_FILE, {"metric": board.metric, "rows": list(board.rows), "advice": board.advice})


def refresh_board(workspace: Workspace) -> Board | None:
    """After a baseline or an evaluation: the leaderboard computed and saved again. None, nothing
    written, when it cannot be (no split yet): the step that just ran has already succeeded."""
    from tuneui.errors import TuneError

    try:
        board = project_board(workspace)
    except TuneError:
        return None
    save_board(workspace, board)
    return board


def project_board(workspace: Workspace) -> Board:
    """The leaderboard of this project on its current split."""
    settings = workspace.settings()
    data = load_eval_set(workspace)
    primary = PRIMARY_METRIC[data.task_type]
    entries = [*baseline_entries(workspace, data, primary), *run_entries(workspace, data, primary)]
    return build(entries, primary, seed=settings.data.seed)


def baseline_entries(workspace: Workspace, data: EvalSet, primary: str) -> list[Entry]:
    """Each (model, variant) on the current val file once: its newest saved answers."""
    rules = parse_rules(workspace.settings().rules)
    newest: dict[tuple[str, str], tuple[float, Entry]] = {}
    folder = workspace.baseline_dir
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        if path.name == BEST_FILE:
            continue
        saved = _read(path)
        if not isinstance(saved, Mapping) or saved.get("val_sha256") != data.fingerprint:
            continue  # another split's answers (or not a baseline file): nothing to compare here
        predictions, variant = saved.get("predictions"), saved.get("variant")
        if not isinstance(predictions, list) or len(predictions) != len(data.val) or not isinstance(variant, Mapping):
            continue
        answers = [str(answer) for answer in predictions]
        model = _label(workspace, saved.get("backend"), saved.get("model"))
        entry = _scored(Entry(model, "baseline", str(variant.get("name")), CURRENT), answers, saved.get("ended"), data, primary, rules)
        created = saved.get("created") if isinstance(saved.get("created"), (int, float)) else 0.0
        key = (model, entry.name)
        if key not in newest or created >= newest[key][0]:
            newest[key] = (created, entry)
    return [entry for _, entry in newest.values()]


def run_entries(workspace: Workspace, data: EvalSet, primary: str) -> list[Entry]:
    """Every run: scored when it trained on the current split and was evaluated on it."""
    from backends.runs import DamagedRunError, list_runs

    settings = workspace.settings()
    rules = parse_rules(settings.rules)
    train_sha = file_sha256(workspace.train_file) if workspace.train_file.is_file() else None
    entries = []
    for folder in list_runs(workspace.runs_dir):
        try:
            spec, status = folder.read_spec(), folder.read_status()
        except DamagedRunError:
            continue  # `tuneui runs` names damaged folders; the leaderboard lists what it can compare
        model = _label(workspace, spec.backend, spec.model)
        seconds = _train_seconds(status)
        dollars = _dollars(workspace, spec.backend, spec.model, seconds, settings)
        options = spec.options if isinstance(spec.options, Mapping) else {}
        split, note = _split_of(options.get("split"), data.fingerprint, train_sha)
        entry = Entry(model, "run", folder.run_id, split, train_seconds=seconds, dollars=dollars, note=note)
        saved = _read(folder.eval_dir / PREDICTIONS_FILE) or {}
        answers = saved.get("predictions")
        if split == CURRENT and saved.get("val_sha256") == data.fingerprint and isinstance(answers, list) and len(answers) == len(data.val):
            entry = _scored(entry, [str(a) for a in answers], saved.get("ended"), data, primary, rules)
        elif split == CURRENT:
            word = status.get("status")
            entry = _with_note(entry, f"not evaluated yet: `tuneui eval {folder.run_id}`" if word == "succeeded" else f"{word}")
        entries.append(entry)
    return entries


def _read(path: Path) -> dict[str, Any] | None:
    """A saved JSON object, or None when it is missing, damaged, or not a file at all."""
    try:
        return read_saved(path)
    except OSError:  # a folder named like a result, a file without read permission
        return None


def _scored(entry: Entry, answers: list[str], ended: Any, data: EvalSet, primary: str, rules: Any) -> Entry:
    report = score_answers(data.task_type, answers, data.references, data.labels)
    passed = check_answers(rules, answers).summary() if rules else None
    ends = [e for e in ended if isinstance(e, bool)] if isinstance(ended, list) and len(ended) == len(answers) else None
    return Entry(
        entry.model, entry.kind, entry.name, entry.split, tuple(report.column(primary)),
        rules_passed=passed["passed"] if passed else None, rules_total=passed["total"] if passed else None,
        stopped=sum(ends) if ends is not None and len(ends) == len(answers) else None,
        answers=len(answers) if ends is not None and len(ends) == len(answers) else None,
        train_seconds=entry.train_seconds, dollars=entry.dollars, note=entry.note,
    )  # fmt: skip


def _with_note(entry: Entry, note: str) -> Entry:
    return Entry(entry.model, entry.kind, entry.name, entry.split, None, train_seconds=entry.train_seconds, dollars=entry.dollars, note=note)


def _split_of(recorded: Any, val_sha: str, train_sha: str | None) -> tuple[str, str]:
    """CURRENT only for a run whose spec records the project's split with today's files, byte for byte."""
    if not isinstance(recorded, Mapping) or recorded.get("project_split") is not True:
        return OTHER, "trained on files of its own, or before tuneui recorded splits"
    val, train = recorded.get("val"), recorded.get("train")
    same_val = isinstance(val, Mapping) and val.get("sha256") == val_sha
    same_train = isinstance(train, Mapping) and train.get("sha256") == train_sha
    if same_val and same_train:
        return CURRENT, ""
    share, seed = recorded.get("val_fraction"), recorded.get("seed")
    made = f" (val {share:g}, seed {seed})" if isinstance(share, (int, float)) and isinstance(seed, int) else ""
    return OTHER, f"trained on another split{made}"


def _train_seconds(status: Mapping[str, Any]) -> float | None:
    created, finished = status.get("created"), status.get("finished")
    if isinstance(created, (int, float)) and isinstance(finished, (int, float)) and finished >= created:
        return float(finished - created)
    if status.get("status") in ("queued", "running") and isinstance(created, (int, float)):
        return max(0.0, time.time() - created)  # still going: the time so far
    return None


def _dollars(workspace: Workspace, backend: str, model: str, seconds: float | None, settings: Any) -> float | None:
    """Local: the run's hours at [local] gpu_hour_usd. Hosted: the Cost step's estimate for that
    model (reports/cost.json); providers bill after the fact, so that is the best number offline."""
    from tuneui.core.backend import BackendError
    from tuneui.core.providers import provider
    from tuneui.steps.cost import cost_report_path

    try:
        trains_here = provider(backend).can("trains_here")
    except BackendError:  # a provider no longer installed: no price, the row stays
        return None
    if trains_here:
        return None if seconds is None else seconds / 3600 * settings.local.gpu_hour_usd
    rows = (_read(cost_report_path(workspace)) or {}).get("rows")
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, Mapping) and row.get("backend") == backend and row.get("model") == model and isinstance(row.get("cost_usd"), (int, float)):
            return float(row["cost_usd"])
    return None


def _label(workspace: Workspace, backend: Any, model: Any) -> str:
    """`backend:model`, a folder shown relative to the project (or to ~) rather than in full. A
    folder is resolved first, so `tiny`, `./tiny` and its absolute path are one candidate."""
    name = workspace.local_model_path(str(model)) if backend == _here_name() else str(model)
    path = Path(name)
    if path.is_absolute():
        for root, prefix in ((workspace.root.resolve(), "./"), (Path.home(), "~/")):
            try:
                name = prefix + str(path.relative_to(root))
                break
            except ValueError:
                continue
    return f"{backend}:{name}"


def _here_name() -> str:
    from tuneui.core.providers import here

    return here().name
