"""A split is one thing: train, val and the recorded share appear together, whatever kills `data split`."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuneui.cli import main
from tuneui.core.dataset import read_chat_jsonl, split, write_split
from tuneui.core.dataset.split import read_split_record
from tuneui.core.evalset import load_eval_set
from tuneui.errors import TuneError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOTAL = 3000


def _chat(n: int) -> dict:
    return {"messages": [{"role": "user", "content": f"Question {n}: what is {n} times {n % 17}?"}, {"role": "assistant", "content": f"It is {n * (n % 17)}."}]}


@pytest.fixture
def imported(workspace):
    (workspace.data_dir / "all.jsonl").write_text("".join(json.dumps(_chat(n)) + "\n" for n in range(TOTAL)))
    return workspace


def _questions(path: Path) -> set[str]:
    return {e.messages[0]["content"] for e in read_chat_jsonl(path)}


def _assert_one_split(workspace) -> None:
    train, val = _questions(workspace.train_file), _questions(workspace.val_file)
    assert not train & val, f"{len(train & val)} validation examples are also in train"
    assert len(train) + len(val) == TOTAL
    record = read_split_record(workspace.data_dir)
    assert record is not None and abs(len(val) / TOTAL - record["val_fraction"]) < 0.01, (len(val), record)


# Runs `tuneui data split` and SIGKILLs it just before its K-th file operation that changes the
# disk: every moment between two durable steps is a place where a kill can land.
KILL_AT_STEP = """
import os, signal, sys
from tuneui.cli import main
target, count = int(sys.argv[1]), 0
def killing(real):
    def operation(*args, **kwargs):
        global count
        count += 1
        if count == target:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return operation
for name in ("replace", "rename", "symlink", "fsync", "unlink", "mkdir", "link"):
    setattr(os, name, killing(getattr(os, name)))
sys.exit(main(sys.argv[2:]))
"""


def _split_killed(workspace, share: str, at_step: int | None = None, after: float | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    args = ["--project", str(workspace.root), "data", "split", "--val", share]
    if at_step is not None:
        return subprocess.run([sys.executable, "-c", KILL_AT_STEP, str(at_step), *args], env=env, capture_output=True).returncode
    proc = subprocess.Popen([sys.executable, "-m", "tuneui", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(after or 0)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


@pytest.mark.slow  # some twenty `data split` processes, each killed
def test_killing_data_split_at_any_step_leaves_one_whole_split(imported):
    workspace = imported
    assert main(["--project", str(workspace.root), "data", "split", "--val", "0.15"]) == 0
    for step in range(1, 60):
        share = ("0.3", "0.15")[step % 2]
        code = _split_killed(workspace, share, at_step=step)
        _assert_one_split(workspace)
        if code == 0:
            break  # the split ran to its end before the step came: every step was tried
        assert code == -signal.SIGKILL
    else:
        pytest.fail("data split was still running at its 60th file operation")
    rng = random.Random(11)
    for attempt in range(6):
        _split_killed(workspace, ("0.3", "0.15")[attempt % 2], after=rng.uniform(0.3, 1.5))
        _assert_one_split(workspace)
    assert main(["--project", str(workspace.root), "data", "split", "--val", "0.2"]) == 0
    _assert_one_split(workspace)
    assert workspace.settings().data.val_fraction == 0.2
    leftovers = [p.name for p in workspace.data_dir.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]
    assert not leftovers, leftovers
    assert len(list((workspace.data_dir / "splits").iterdir())) == 1  # older generations are removed


def test_a_split_made_before_generations_is_read_and_replaced(imported):
    workspace = imported
    examples = read_chat_jsonl(workspace.data_dir / "all.jsonl")
    result = split(examples, 0.15, 0)
    # Plain files, as an older tuneui (or a user) wrote them.
    for path, part in ((workspace.train_file, result.train), (workspace.val_file, result.val)):
        path.write_text("".join(json.dumps(e.to_chat()) + "\n" for e in part))
    assert main(["--project", str(workspace.root), "data", "split", "--val", "0.3"]) == 0
    _assert_one_split(workspace)
    assert len(_questions(workspace.val_file)) == round(TOTAL * 0.3)


def test_train_and_eval_refuse_a_split_that_leaks(imported, capsys):
    workspace = imported
    assert main(["--project", str(workspace.root), "data", "split"]) == 0
    val_lines = workspace.val_file.read_text().splitlines()
    # A validation example copied into train after the split, as a hand edit or a torn write would.
    train_text = workspace.train_file.read_text() + val_lines[0] + "\n"
    workspace.train_file.unlink()
    workspace.train_file.write_text(train_text)
    capsys.readouterr()
    code = main(["--project", str(workspace.root), "train", "--backend", "local", "--model", "org/model"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "1 validation example" in err and "also in" in err and "tuneui data split" in err
    assert not workspace.runs_dir.exists() or not list(workspace.runs_dir.iterdir())
    with pytest.raises(TuneError) as refused:
        load_eval_set(workspace)  # what `tuneui eval` and `tuneui baseline` read first
    assert refused.value.exit_code == 1 and "also in" in refused.value.title


def test_write_split_of_the_api_is_still_two_files(tmp_path):
    examples = read_chat_jsonl(_write(tmp_path / "all.jsonl", 40))
    result = split(examples, 0.25, 0)
    write_split(result, tmp_path / "train.jsonl", tmp_path / "val.jsonl")
    assert len(read_chat_jsonl(tmp_path / "train.jsonl")) + len(read_chat_jsonl(tmp_path / "val.jsonl")) == 40


def _write(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps(_chat(n)) + "\n" for n in range(count)))
    return path
