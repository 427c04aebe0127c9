"""The guide writes a user's answers to tuneui.toml through `Workspace.update_settings`: the values
that change and nothing else, all in one write."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneui.core.workspace import Workspace, init_workspace, tomllib
from tuneui.errors import WorkspaceError

WRITTEN = """\
# My project: notes I keep here.
[project]
name = "Shop bot"   # shown in the UI
system_prompt = \"\"\"\\
You help.\\
\"\"\"

[models]
# the base model: left empty until I choose
local = ""

[rules.sign-off]
ends_with = "Bye"
"""


@pytest.fixture
def written(tmp_path: Path) -> Workspace:
    workspace = init_workspace(tmp_path / "project")
    workspace.config_path.write_text(WRITTEN, encoding="utf-8")
    return workspace


def test_changing_a_value_keeps_every_other_line_and_comment(written: Workspace) -> None:
    written.update_settings({"models.local": "/home/me/models/SmolLM2"})
    after = written.config_path.read_text(encoding="utf-8")
    changed = [line for line in after.splitlines() if line not in WRITTEN.splitlines()]
    assert changed == ['local = "/home/me/models/SmolLM2"']
    assert len(after.splitlines()) == len(WRITTEN.splitlines())


def test_a_multi_line_value_is_replaced_and_a_trailing_comment_kept(written: Workspace) -> None:
    written.update_settings({"project.system_prompt": 'Be "brief".\nSign off.', "project.name": "Bike bot"})
    after = written.config_path.read_text(encoding="utf-8")
    assert "You help." not in after and "# shown in the UI" in after
    assert written.settings().project.system_prompt == 'Be "brief".\nSign off.'
    assert written.settings().project.name == "Bike bot"


def test_missing_keys_and_tables_are_added_in_one_write(written: Workspace) -> None:
    written.update_settings({"models.assistant": "local:models/tiny", "rules.json.valid_json": True})
    text = written.config_path.read_text(encoding="utf-8")
    assert text.startswith(WRITTEN.split("[models]")[0])
    settings = written.settings()
    assert settings.models.assistant == "local:models/tiny"
    assert settings.rules["json"] == {"valid_json": True}
    assert tomllib.loads(text)["rules"]["sign-off"] == {"ends_with": "Bye"}


@pytest.mark.parametrize("broken", ["[models\nlocal = 1\n", "[models]\nlocal = 1\n"])
def test_a_file_that_is_broken_or_would_be_refused_is_left_alone(written: Workspace, broken: str) -> None:
    written.config_path.write_text(broken, encoding="utf-8")
    with pytest.raises(WorkspaceError):
        written.update_settings({"models.assistant": "x"})
    assert written.config_path.read_text(encoding="utf-8") == broken


def test_hostile_text_is_written_escaped_and_reads_back_the_same(written: Workspace) -> None:
    hostile = 'He said "hi" \\ then\n"""\x1b[31m red\ttab é 🚲 # not a comment'
    written.update_settings({"project.system_prompt": hostile})
    text = written.config_path.read_text(encoding="utf-8")
    assert tomllib.loads(text)["project"]["system_prompt"] == hostile
    assert "\x1b" not in text, "control characters are escaped in the file"
