"""The third attack, finding 3: `tuneui data split` rewrote tuneui.toml from the parsed settings,
dropping comments, flattening multi-line strings and turning a non-UTF-8 byte into U+FFFD for good.
Now only the changed value is edited, and a file that is not UTF-8 is refused, naming its line."""

from __future__ import annotations

import json

import pytest

from tuneui.cli import main

HAND_WRITTEN = (
    "# Our support bot. Ask Dana before changing the system prompt.\r\n"
    "[project]\r\n"
    'name = "Café support"   # shown in reports\r\n'
    'task = """\r\n'
    "Answer tickets.\r\n"
    "    Indented second line, kept as it is.\r\n"
    '"""\r\n'
    "\r\n"
    "[data]\r\n"
    "val_fraction = 0.15  # agreed with the team\r\n"
    "seed = 0\r\n"
    "\r\n"
    "[local]\r\n"
    "batch_size = 4 # fits the 3090\r\n"
)


def _examples(workspace, count: int = 40) -> None:
    lines = [
        json.dumps({"messages": [{"role": "user", "content": f"Question {n}?"}, {"role": "assistant", "content": f"Answer number {n}."}]})
        for n in range(count)
    ]
    (workspace.data_dir / "all.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _split(workspace, capsys, *flags) -> tuple[int, str]:
    code = main(["--project", str(workspace.root), "data", "split", *flags])
    return code, capsys.readouterr().err


def test_split_changes_only_the_value_it_sets(workspace, capsys):
    workspace.config_path.write_bytes(HAND_WRITTEN.encode("utf-8"))
    _examples(workspace)
    code, err = _split(workspace, capsys, "--val", "0.2", "--seed", "7")
    assert code == 0, err
    expected = HAND_WRITTEN.replace("val_fraction = 0.15  #", "val_fraction = 0.2  #").replace("seed = 0\r\n", "seed = 7\r\n")
    assert workspace.config_path.read_bytes().decode("utf-8") == expected
    settings = workspace.settings()
    assert (settings.data.val_fraction, settings.data.seed) == (0.2, 7)
    assert settings.project.task == "Answer tickets.\n    Indented second line, kept as it is.\n"


def test_split_adds_a_missing_value_and_keeps_the_rest(workspace, capsys):
    original = '# mine\n[project]\nname = "p"  # keep\n'
    workspace.config_path.write_text(original, encoding="utf-8")
    _examples(workspace)
    assert _split(workspace, capsys, "--seed", "3")[0] == 0
    text = workspace.config_path.read_text(encoding="utf-8")
    assert text.startswith(original) and "seed = 3" in text and "val_fraction" not in text
    assert workspace.settings().data.seed == 3


def test_a_split_with_unchanged_values_does_not_touch_the_file(workspace, capsys):
    workspace.config_path.write_bytes(HAND_WRITTEN.encode("utf-8"))
    _examples(workspace)
    before = workspace.config_path.stat().st_mtime_ns
    assert _split(workspace, capsys)[0] == 0
    assert workspace.config_path.read_bytes() == HAND_WRITTEN.encode("utf-8")
    assert workspace.config_path.stat().st_mtime_ns == before


def test_a_tuneui_toml_that_is_not_utf8_is_refused_naming_the_line(workspace, capsys):
    data = HAND_WRITTEN.replace("Café", "Caf\udce9").encode("utf-8", "surrogateescape")  # Latin-1 é on line 3
    workspace.config_path.write_bytes(data)
    _examples(workspace)
    code, err = _split(workspace, capsys, "--val", "0.2")
    assert code == 2 and f"{workspace.config_path}:3" in err and "0xe9" in err and "UTF-8" in err
    assert workspace.config_path.read_bytes() == data
    assert not workspace.train_file.exists()


def test_a_byte_order_mark_is_kept(workspace, capsys):
    workspace.config_path.write_bytes(b"\xef\xbb\xbf" + HAND_WRITTEN.encode("utf-8"))
    _examples(workspace)
    assert _split(workspace, capsys, "--seed", "1")[0] == 0
    assert workspace.config_path.read_bytes().startswith(b"\xef\xbb\xbf# Our support bot.")


@pytest.mark.parametrize("layout", ["data.seed = 0  # dotted\n", "data = { seed = 0 }\n"])
def test_other_layouts_of_the_data_table_are_edited_in_place(workspace, capsys, layout):
    workspace.config_path.write_text(layout + '[project]\nname = "p"\n', encoding="utf-8")
    _examples(workspace)
    assert _split(workspace, capsys, "--seed", "9")[0] == 0
    text = workspace.config_path.read_text(encoding="utf-8")
    assert text.endswith('[project]\nname = "p"\n') and "9" in text.splitlines()[0]
    assert workspace.settings().data.seed == 9


def test_a_table_added_to_a_crlf_file_ends_its_lines_as_the_file_does(workspace, capsys):
    workspace.config_path.write_bytes(b'[project]\r\nname = "p"\r\n')
    _examples(workspace)
    assert _split(workspace, capsys, "--seed", "4")[0] == 0
    data = workspace.config_path.read_bytes()
    assert data.startswith(b'[project]\r\nname = "p"\r\n') and b"seed = 4\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_a_linked_tuneui_toml_stays_a_link(workspace, capsys, tmp_path):
    real = tmp_path / "dotfiles" / "tuneui.toml"
    real.parent.mkdir()
    real.write_text(HAND_WRITTEN, encoding="utf-8")
    workspace.config_path.unlink()
    workspace.config_path.symlink_to(real)
    _examples(workspace)
    assert _split(workspace, capsys, "--seed", "2")[0] == 0
    assert workspace.config_path.is_symlink() and b"seed = 2\r\n" in real.read_bytes()
