"""The views' models without a screen: run progress, the overfitting warning, answer diffs, state."""

from __future__ import annotations

from tuneui.core.backend import Event
from tuneui.viewmodels.evaluation import read_evaluation, word_diff
from tuneui.viewmodels.progress import format_seconds, progress_of
from tuneui.guide.state import observe

from .conftest import examples, write_evaluation, write_imported, write_run, write_split


def _metrics(points: list[tuple[int, float, float | None]], total: int = 100) -> list[Event]:
    return [
        Event("metrics", {"step": step, "total_steps": total, "train_loss": train, **({"valid_loss": valid} if valid else {})},
              time=float(step))
        for step, train, valid in points
    ]


def test_overfitting_is_flagged_when_validation_rises_while_training_falls() -> None:
    progress = progress_of(_metrics([(10, 3.0, 2.0), (20, 2.5, 1.8), (30, 2.0, 1.9), (40, 1.5, 2.1)]))
    assert progress.overfitting
    assert progress.best_step == 20 and progress.best_valid_loss == 1.8


def test_falling_validation_is_not_overfitting() -> None:
    progress = progress_of(_metrics([(10, 3.0, 2.0), (20, 2.5, 1.8), (30, 2.0, 1.7), (40, 1.5, 1.6)]))
    assert not progress.overfitting
    assert progress.best_step == 40


def test_both_losses_rising_is_divergence_not_overfitting() -> None:
    progress = progress_of(_metrics([(10, 1.0, 1.0), (20, 1.5, 1.2), (30, 2.0, 1.4), (40, 2.5, 1.6)]))
    assert not progress.overfitting


def test_eta_follows_the_pace_of_logged_steps() -> None:
    progress = progress_of(_metrics([(10, 3.0, None), (20, 2.0, None)], total=100))
    assert progress.step == 20 and progress.total_steps == 100
    assert progress.eta_seconds == 80.0
    assert format_seconds(progress.eta_seconds) == "1m20s"
    assert format_seconds(3 * 3600 + 60) == "3h01m"


def test_word_diff_marks_only_the_words_that_changed() -> None:
    pieces = word_diff("It costs £60 today.", "It costs £45 today.")
    changed = "".join(text for text, flag in pieces if flag)
    assert changed == "£45"
    assert "".join(text for text, _ in pieces) == "It costs £45 today."


def test_observe_reads_every_step_from_files(project) -> None:
    state = observe(project)
    assert state.next_step == "Dataset" and not state.imported
    write_imported(project, examples(3), name="tickets.csv")
    write_split(project, train=8, val=2)
    folder = write_run(project, status="failed")
    state = observe(project)
    assert state.imported == ("tickets.csv",)
    assert (state.train_examples, state.val_examples) == (8, 2)
    assert state.step_states()["Train"] == "attention"
    assert state.runs[0].steps == 15 and state.runs[0].total_steps == 40
    assert folder.run_id == state.latest_run.run_id


def test_evaluation_falls_back_to_the_most_different_examples(finished_project) -> None:
    run = observe(finished_project).finished_run
    evaluation = read_evaluation(finished_project, run.run_id)
    assert evaluation is not None
    assert evaluation.verdict.startswith("tuned beats")
    assert [e.line for e in evaluation.examples] == [3, 7]
    assert ("rouge_l", 0.31, 0.52) in evaluation.metrics


def test_an_unevaluated_run_has_no_evaluation(project) -> None:
    folder = write_run(project, status="succeeded")
    assert read_evaluation(project, folder.run_id) is None
    write_evaluation(project, folder)
    assert read_evaluation(project, folder.run_id) is not None


def test_the_watch_reads_a_torn_line_once_it_is_complete_and_a_rewritten_file_afresh(project) -> None:
    from tuneui.guide.state import WorkspaceWatch

    folder = write_run(project, status="running", losses=[(5, 3.0, None)])
    watch = WorkspaceWatch(project)
    assert watch.poll().runs[0].steps == 5
    with open(folder.events_path, "a", encoding="utf-8") as handle:
        handle.write('{"type": "metrics", "data": {"step": 9, "train_loss": 2.0}, "time": 1.0}\n{"type": "metrics", "da')
    assert watch.poll().runs[0].steps == 9, "the torn line waits"
    with open(folder.events_path, "a", encoding="utf-8") as handle:
        handle.write('ta": {"step": 12, "train_loss": 1.5}, "time": 2.0}\n')
    assert watch.poll().runs[0].steps == 12
    assert [event.data["step"] for event in watch.events(folder.run_id)] == [5, 9, 12]
    folder.events_path.write_text('{"type": "metrics", "data": {"step": 3, "train_loss": 2.9}, "time": 1.0}\n', encoding="utf-8")
    assert watch.poll().runs[0].steps == 3, "a rewritten file is read from its start"


def test_the_watch_stops_reading_a_finished_run_until_it_is_resumed(project) -> None:
    from tuneui.guide.state import WorkspaceWatch

    folder = write_run(project, status="succeeded", losses=[(5, 3.0, None)])
    watch = WorkspaceWatch(project)
    first = watch.poll()
    assert first.runs[0].steps == 5 and watch.runs[folder.run_id].tail is None
    version = watch.version
    assert watch.poll() == first and watch.version == version, "nothing changed, nothing to redraw"
    folder.write_status(status="running")
    folder.append_events([Event("metrics", {"step": 6, "train_loss": 2.0}, 2.0)])
    assert watch.poll().runs[0].steps == 6 and watch.version > version


def test_control_characters_become_visible_and_come_back_only_where_they_were() -> None:
    from tuneui.widgets.literal import literal, restore_controls, visible

    text = "a\x1b[2J\tb\x07\x7f\x9b1m\nc"
    assert visible(text) == "a␛[2J\tb␇␡\\x9b1m\nc", "tab and newline stay layout"
    assert visible(text, keep="") == "a␛[2J␉b␇␡\\x9b1m␊c"
    assert restore_controls(visible(text), text) == text
    assert restore_controls("a ␛ typed", "no control characters here") == "a ␛ typed"
    assert literal("[red]x[/red]").plain == "[red]x[/red]" and not literal("[red]x[/red]").spans


def test_the_watch_shows_each_step_once_after_a_resume_retrains_it(project) -> None:
    """A run killed after step 15 and resumed from its step-10 checkpoint logs steps 11.. again: the
    Train view's chart must show the resumed values once, not both copies side by side."""
    from tuneui.guide.state import WorkspaceWatch

    folder = write_run(project, status="running", losses=[(5, 3.0, None), (10, 2.5, None), (15, 2.1, None)])
    watch = WorkspaceWatch(project)
    watch.poll()
    folder.append_events([Event("status", {"status": "running", "resumed_from_step": 10}, 2000.0),
                          Event("metrics", {"step": 15, "train_loss": 1.9}, 2001.0),
                          Event("metrics", {"step": 20, "train_loss": 1.7}, 2002.0)])  # fmt: skip
    watch.poll()
    metrics = [(event.data["step"], event.data["train_loss"]) for event in watch.events(folder.run_id) if event.type == "metrics"]
    assert metrics == [(5, 3.0), (10, 2.5), (15, 1.9), (20, 1.7)]
