"""The guide writes a user's answer to tuneui.toml as one changed value: the rest stays as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneui.core.settings import Settings
from tuneui.core.toml_edit import set_value, with_value
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
hosted = "gpt-4o-mini"

[rules.sign-off]
ends_with = "Bye"
"""


def test_changing_a_value_keeps_every_other_line_and_comment(tmp_path: Path) -> None:
    path = tmp_path / "tuneui.toml"
    path.write_text(WRITTEN, encoding="utf-8")
    set_value(path, "models", "local", "/home/me/models/SmolLM2")
    after = path.read_text(encoding="utf-8")
    changed = [line for line in after.splitlines() if line not in WRITTEN.splitlines()]
    assert changed == ['local = "/home/me/models/SmolLM2"']
    assert "# the base model: left empty until I choose" in after
    assert len(after.splitlines()) == len(WRITTEN.splitlines())


def test_a_multi_line_value_is_replaced_whole_and_a_trailing_comment_kept() -> None:
    edited = with_value(WRITTEN, "project", "system_prompt", 'Be "brief".\nSign off.')
    assert "You help." not in edited
    assert 'system_prompt = "Be \\"brief\\".\\nSign off."' in edited
    assert 'name = "Shop bot"   # shown in the UI' in edited
    renamed = with_value(WRITTEN, "project", "name", "Bike bot")
    assert 'name = "Bike bot"  # shown in the UI' in renamed


def test_a_missing_key_or_table_is_added_where_it_belongs(tmp_path: Path) -> None:
    path = tmp_path / "tuneui.toml"
    path.write_text(WRITTEN, encoding="utf-8")
    set_value(path, "models", "assistant", "local:models/tiny")
    set_value(path, "rules.json", "valid_json", True)
    text = path.read_text(encoding="utf-8")
    assert text.index('assistant = "local:models/tiny"') < text.index("[rules.sign-off]")
    assert text.rstrip().endswith("[rules.json]\nvalid_json = true")
    from tuneui.core.workspace import tomllib

    settings = Settings.from_dict(tomllib.loads(text))
    assert settings.models.assistant == "local:models/tiny"
    assert settings.rules["json"] == {"valid_json": True}


def test_a_file_that_would_not_read_back_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "tuneui.toml"
    path.write_text("[models\nlocal = 1\n", encoding="utf-8")
    with pytest.raises(WorkspaceError):
        set_value(path, "models", "local", "x")
    assert path.read_text(encoding="utf-8") == "[models\nlocal = 1\n"


def test_hostile_text_is_written_escaped_and_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "tuneui.toml"
    path.write_text(WRITTEN, encoding="utf-8")
    hostile = 'He said "hi" \\ then\n"""\x1b[31m red\ttab é 🚲 # not a comment'
    set_value(path, "project", "system_prompt", hostile)
    from tuneui.core.workspace import tomllib

    assert tomllib.loads(path.read_text(encoding="utf-8"))["project"]["system_prompt"] == hostile
    assert "\x1b" not in path.read_text(encoding="utf-8"), "control characters are escaped in the file"
