"""`tuneui` opens the app without loading the command groups or pydantic; every command stays reachable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tuneui.cli import main

# Stands in for the app, then reports what opening it had loaded.
OPEN_AND_REPORT = """
import json, sys
import tuneui.app
tuneui.app.run_app = lambda workspace: print(json.dumps({
    "root": str(workspace.root),
    "loaded": sorted(m for m in sys.modules if m.startswith("tuneui.commands") or m.split(".")[0] == "pydantic"),
})) or 0
from tuneui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _open(tmp_path, *argv: str) -> dict:
    result = subprocess.run([sys.executable, "-c", OPEN_AND_REPORT, *argv], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.integration
@pytest.mark.parametrize("form", [("--project", "{dir}"), ("--project={dir}",)])
def test_opening_the_app_loads_no_command_group_and_no_pydantic(tmp_path, form) -> None:
    opened = _open(tmp_path, *(part.format(dir=tmp_path / "project") for part in form))
    assert opened == {"root": str(tmp_path / "project"), "loaded": []}


@pytest.mark.integration
def test_plain_tuneui_opens_the_current_folder(tmp_path) -> None:
    assert _open(tmp_path)["root"] == str(tmp_path.resolve())


def test_help_still_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    listed = capsys.readouterr().out
    for command in ("init", "ui", "data", "train", "status", "estimate", "baseline", "eval", "report", "demo"):
        assert f"\n    {command} " in listed, command


def test_a_command_after_the_project_option_still_runs(tmp_path, capsys) -> None:
    assert main(["--project", str(tmp_path / "project"), "init"]) == 0
    assert (tmp_path / "project" / "tuneui.toml").is_file()
    with pytest.raises(SystemExit) as exited:
        main(["--project", str(tmp_path / "project"), "data", "--help"])
    assert exited.value.code == 0 and "import" in capsys.readouterr().out


def test_version_and_usage_errors_behave_as_before(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("tuneui ")
    with pytest.raises(SystemExit) as exited:
        main(["--project"])
    assert exited.value.code == 2 and "expected one argument" in capsys.readouterr().err
