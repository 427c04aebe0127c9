"""tuneui's child processes run this installation's code, whatever folder they start in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tuneui.core.children import module_command

pytestmark = pytest.mark.integration  # local servers, child processes or torch


@pytest.fixture
def shadowing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding another `tuneui` package, as a source checkout of another version does."""
    package = tmp_path / "tuneui"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("print('the other tuneui')\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_python_dash_m_would_run_the_other_tuneui(shadowing_folder: Path) -> None:
    # Why module_command exists: the plain form imports from the working folder first.
    out = subprocess.run([sys.executable, "-m", "tuneui", "--version"], capture_output=True, text=True).stdout
    assert out.strip() == "the other tuneui"


def test_a_module_command_runs_this_tuneui_with_its_arguments(shadowing_folder: Path) -> None:
    result = subprocess.run(module_command("tuneui", "--version"), capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("tuneui ")


def test_a_module_command_reports_failure_like_dash_m(shadowing_folder: Path) -> None:
    result = subprocess.run(module_command("tuneui", "no-such-command"), capture_output=True, text=True)
    assert result.returncode == 2 and "no-such-command" in result.stderr


def test_the_guide_runs_commands_with_this_tuneui(shadowing_folder: Path) -> None:
    from tuneui.core.workspace import init_workspace
    from tuneui.guide.runner import StepRunner

    workspace = init_workspace(shadowing_folder / "project")
    result = StepRunner(workspace).run_command(["--version"], expect_json=False)
    assert result.ok and result.data["output"].startswith("tuneui ")
