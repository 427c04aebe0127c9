"""`tuneui init`, tuneui.toml and `tuneui train` refuse what cannot work with a message, not a traceback."""

from __future__ import annotations

import json

import pytest

from tuneui.cli import main


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_init_on_a_file_names_it(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    assert main(["init", str(target)]) == 2
    assert f"error: {target} is a file where the project needs a folder" in _error(capsys)
    assert target.read_text() == "mine\n"


def test_init_where_data_is_a_file_names_it(tmp_path, capsys):
    (tmp_path / "data").write_text("mine\n")
    assert main(["init", str(tmp_path)]) == 2
    assert f"{tmp_path / 'data'} is a file" in _error(capsys)


def test_init_where_tuneui_toml_is_a_folder_names_it(tmp_path, capsys):
    (tmp_path / "tuneui.toml").mkdir()
    assert main(["init", str(tmp_path)]) == 2
    assert "tuneui.toml is a folder" in _error(capsys)


def test_an_unknown_hosted_backend_in_tuneui_toml_is_named(workspace, capsys):
    workspace.config_path.write_text('[models]\nhosted_backend = "openia"\n')
    assert main(["--project", str(workspace.root), "estimate"]) == 2
    err = _error(capsys)
    assert "tuneui.toml: [models.hosted_backend]" in err and "hint:" in err


def test_local_training_refuses_a_model_that_is_not_there(workspace, tmp_path, capsys):
    line = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    workspace.train_file.write_text(line + "\n")
    missing = tmp_path / "no-such-model"
    code = main(["--project", str(workspace.root), "train", "--backend", "local", "--model", str(missing)])
    assert code == 2
    assert f"Model '{missing}' is neither a model folder" in _error(capsys)
    assert not any(workspace.runs_dir.iterdir()), "no run folder for a run that never started"


@pytest.mark.parametrize("command", [["report", "r1"], ["estimate"]])
def test_commands_outside_a_project_say_so(tmp_path, capsys, command):
    assert main(["--project", str(tmp_path), *command]) == 2
    err = _error(capsys)
    assert f"error: No tuneui project in {tmp_path}" in err and f"tuneui init {tmp_path}" in err


def test_estimate_names_a_model_folder_without_config(workspace, tmp_path, capsys):
    line = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    workspace.train_file.write_text(line + "\n")
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    assert main(["--project", str(workspace.root), "estimate", "--backend", "local", "--model", str(folder)]) == 2
    err = _error(capsys)
    assert f"No config.json in {folder}: the folder is not a model" in err and "huggingface-cli" not in err
