"""The options that shape a run are declared once (tuneui/commands/run_options.py): `tuneui train`
offers each as a flag, and `--resume` refuses each, with no second list to forget."""

from __future__ import annotations

import pytest

from tuneui.cli import main
from tuneui.commands import run_options
from tuneui.commands.run_options import RUN_OPTIONS, RunOption, whole_number

VALUES = {"--learning-rate": "0.001", "--model": "some-model", "--train-file": "a.jsonl", "--val-file": "b.jsonl"}


def _resume_with(workspace, capsys, *flags: str) -> str:
    assert main(["--project", str(workspace.root), "train", "--resume", "r1", *flags]) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("option", RUN_OPTIONS, ids=lambda option: option.flag)
def test_resume_refuses_every_option_that_shapes_a_run(workspace, capsys, option: RunOption) -> None:
    err = _resume_with(workspace, capsys, option.flag, VALUES.get(option.flag, "2"))
    assert f"--resume continues a run as it was started; {option.flag} cannot change it" in err
    assert "Traceback" not in err


def test_a_new_row_is_a_flag_with_its_help_and_is_refused_on_resume(workspace, capsys, monkeypatch) -> None:
    warmup = RunOption("--warmup-steps", "steps of rising learning rate", whole_number(100), "N")
    monkeypatch.setattr(run_options, "RUN_OPTIONS", (*RUN_OPTIONS, warmup))
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--warmup-steps N" in capsys.readouterr().out
    assert "--warmup-steps cannot change it" in _resume_with(workspace, capsys, "--warmup-steps", "3")
    with pytest.raises(SystemExit) as refused:  # its type's bounds hold
        main(["--project", str(workspace.root), "train", "--warmup-steps", "0"])
    assert refused.value.code == 2 and "argument --warmup-steps: 0 must be at least 1" in capsys.readouterr().err


def test_the_length_options_still_exclude_each_other(workspace, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--project", str(workspace.root), "train", "--steps", "3", "--epochs", "2"])
    assert "not allowed with argument" in capsys.readouterr().err
