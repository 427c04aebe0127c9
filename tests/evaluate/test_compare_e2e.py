"""Two base models compared on the demo data, end to end through the CLI: the embedded SmolLM2 and a
tiny random-weight model, each with a baseline and a short run, all on one leaderboard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.timeout(3600)]

ROW_FIELDS = {
    "rank", "model", "kind", "variant", "run", "split", "metric", "value", "vs_best_baseline", "ci95",
    "rule_pass_rate", "stopped_on_their_own_rate", "train_seconds", "dollars", "note",
}  # fmt: skip


def tuneui(project: Path, *args: str, timeout: float = 2400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tuneui", "--project", str(project), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, f"tuneui {' '.join(args)}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def _demo_with_a_tiny_candidate(tmp_path: Path, embedded_model: Path, seed: int = 0):
    from backends.local.tiny import build_tiny_model
    from tuneui.core.dataset import read_chat_jsonl
    from tuneui.demo import create_demo

    project = create_demo(tmp_path / "demo")
    tuneui(project.root, "data", "split", "--val", "0.04")  # 6 held-out examples: a short test
    texts = [str(m.get("content")) for example in read_chat_jsonl(project.train_file) for m in example.messages]
    build_tiny_model(project.root / "tiny-candidate", texts, seed=seed)  # a candidate with random weights, built here
    return project, texts


@pytest.mark.e2e
def test_two_candidates_get_a_baseline_a_short_run_and_one_leaderboard(tmp_path, embedded_model):
    project, _ = _demo_with_a_tiny_candidate(tmp_path, embedded_model)
    home = Path.home()
    embedded = f"local:~/{embedded_model.relative_to(home)}" if embedded_model.is_relative_to(home) else f"local:{embedded_model}"
    _compare_two(project, str(embedded_model), "./tiny-candidate", {embedded, "local:./tiny-candidate"})


@pytest.mark.integration
def test_two_tiny_candidates_on_the_demo_data(tmp_path, embedded_model):
    """The same path with two random-weight models: minutes where the embedded model takes a quarter hour."""
    from backends.local.tiny import build_tiny_model

    project, texts = _demo_with_a_tiny_candidate(tmp_path, embedded_model)
    build_tiny_model(project.root / "tiny-other", texts, seed=1, hidden_size=32)
    _compare_two(project, "./tiny-candidate", "./tiny-other", {"local:./tiny-candidate", "local:./tiny-other"})


def _compare_two(project, first: str, second: str, labels: set[str]) -> None:
    project.update_settings({"models.candidates": [first, second]})
    baselines = json.loads(tuneui(project.root, "baseline", "--candidates", "--shots", "0", "--json").stdout)
    assert [Path(b["model"]).name for b in baselines] == [Path(first).name, Path(second).name]

    trained = json.loads(tuneui(project.root, "train", "--compare", "--steps", "2", "--json").stdout)
    assert [run["status"] for run in trained["runs"]] == ["succeeded", "succeeded"]
    run_ids = [run["run_id"] for run in trained["runs"]]
    assert all((project.runs_dir / run_id / "spec.json").is_file() for run_id in run_ids)  # normal runs

    rows = json.loads(tuneui(project.root, "runs", "--compare", "--json").stdout)
    assert all(set(row) == ROW_FIELDS for row in rows)
    assert {row["model"] for row in rows} == labels
    ranked = [row for row in rows if row["rank"] is not None]
    assert len(ranked) == len(rows) == 2 * 2 + 2  # zero-shot and system prompt per model, and one run each
    assert [row["rank"] for row in ranked] == list(range(1, len(ranked) + 1))
    values = [row["value"] for row in ranked]
    assert values == sorted(values, reverse=True)
    for row in ranked:
        assert row["metric"] == "rouge_l" and row["ci95"] is not None and row["rule_pass_rate"] is not None
        assert row["stopped_on_their_own_rate"] is not None
    assert {row["run"] for row in rows if row["kind"] == "run"} == set(run_ids)
    assert all(row["train_seconds"] > 0 and row["dollars"] == 0 for row in rows if row["kind"] == "run")

    tuneui(project.root, "report", run_ids[0])
    markdown = (project.reports_dir / f"{run_ids[0]}.md").read_text(encoding="utf-8")
    section = markdown.split("## Comparing base models")[1].split("\n## ")[0]
    assert all(label.split("/")[-1] in section for label in labels) and run_ids[1] in section
    assert "Carry on with" in section
    assert "Comparing base models" in (project.reports_dir / f"{run_ids[0]}.html").read_text(encoding="utf-8")

    # A new split: the runs trained on the old one are listed apart, never ranked against it.
    tuneui(project.root, "data", "split", "--val", "0.04", "--seed", "7")
    after = json.loads(tuneui(project.root, "runs", "--compare", "--json").stdout)
    assert {row["run"] for row in after if row["kind"] == "run"} == set(run_ids)
    assert all(row["rank"] is None and row["split"] == "other" and row["value"] is None for row in after if row["kind"] == "run")
    assert not any(row["kind"] == "baseline" for row in after)  # the old baselines scored the old split's examples
