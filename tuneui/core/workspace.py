"""The project folder: `tuneui.toml`, `data/`, `runs/`, `reports/`; every write in it is atomic."""

from __future__ import annotations

import codecs
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from tuneui.core.files import atomic_write_text
from tuneui.core.settings import Settings, SettingsError
from tuneui.errors import WorkspaceError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CONFIG_NAME = "tuneui.toml"
# The files `tuneui data import` copies into data/ (the split's two files aside).
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")


@dataclass(frozen=True)
class Workspace:
    """A project folder on disk. Cheap to construct; `load()` reads and validates the settings."""

    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def train_file(self) -> Path:
        return self.data_dir / "train.jsonl"

    @property
    def val_file(self) -> Path:
        return self.data_dir / "val.jsonl"

    @property
    def baseline_dir(self) -> Path:
        return self.root / "baseline"

    def imported_files(self) -> tuple[str, ...]:
        """The names of the imported example files in data/, sorted; the split's files are not among them."""
        if not self.data_dir.is_dir():
            return ()
        split_files = {self.train_file.name, self.val_file.name}
        names = (p.name for p in self.data_dir.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES and p.name not in split_files)
        return tuple(sorted(names))

    def exists(self) -> bool:
        return self.config_path.is_file()

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def local_model_path(self, model: str) -> str:
        """A model folder (relative to the current folder or the project) as its absolute path; a hub
        id as it is. Local runs record their base model this way, and the baseline is saved under the
        same name, so `tuneui baseline` and `tuneui eval` find the same answers."""
        for candidate in (Path(model).expanduser(), self.root / model):
            if candidate.is_dir():
                return str(candidate.resolve())
        return model

    def new_run_id(self) -> str:
        """Sortable by time, unique without coordination between processes."""
        import secrets  # loads hashlib; the app's start never needs it

        return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)

    def settings(self) -> Settings:
        if not self.exists():
            raise WorkspaceError(
                f"No tuneui project in {self.root}",
                f"Run `tuneui init {self.root}` or pass --project DIR.",
            )
        text = self.config_text()
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise WorkspaceError(
                f"{self.config_path}: {exc}", "Fix the TOML syntax at that line, or delete the file and run `tuneui init`."
            ) from None
        except RecursionError:  # tomllib reads nested arrays and tables recursively
            raise WorkspaceError(
                f"{self.config_path}: values are nested too deeply for tuneui to read",
                "No setting of tuneui.toml nests more than a few levels: remove the deeply nested value.",
            ) from None
        try:
            return Settings.from_dict(raw)
        except SettingsError as exc:
            raise WorkspaceError(
                f"{self.config_path}: [{exc.key}] {exc.message}",
                "Correct or remove that key; `tuneui init` in an empty folder shows a valid file.",
            ) from None

    def config_text(self) -> str:
        """tuneui.toml as text; a byte that is not UTF-8 is refused, naming its line, because a
        replacement character read here would be written back for good by the next edit."""
        data = self.config_path.read_bytes()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise WorkspaceError(
                f"{self.config_path}:{line}: byte 0x{data[exc.start]:02x} is not UTF-8",
                "tuneui.toml must be UTF-8 (TOML says so): re-save it as UTF-8 in your editor, "
                "or convert it, e.g. `iconv -f latin1 -t utf-8`.",
            ) from None

    def update_settings(self, values: Mapping[str, Any]) -> None:
        """Set the settings `values` ({"data.val_fraction": 0.2, "rules.json.valid_json": True}) in
        tuneui.toml, changing only them, all in one write: comments, layout, multi-line strings and
        line ends stay as the user wrote them, and a missing table is added at the end."""
        import tomlkit  # only writers need it; the app's start reads settings and never writes them
        from tomlkit.exceptions import TOMLKitError

        data = self.config_path.read_bytes()
        text = self.config_text()
        try:
            document = tomlkit.parse(text)
            for key, value in values.items():
                *tables, name = key.split(".")
                table = document
                for part in tables:
                    if part not in table:
                        table[part] = tomlkit.table()
                    table = table[part]
                table[name] = value
            edited = tomlkit.dumps(document)
            if "\r\n" in text and "\n" not in text.replace("\r\n", ""):
                edited = edited.replace("\r\n", "\n").replace("\n", "\r\n")  # a table tomlkit adds ends its lines as the file does
            Settings.from_dict(tomllib.loads(edited))  # never write a file that `settings()` refuses
        except (TOMLKitError, tomllib.TOMLDecodeError, SettingsError, TypeError) as exc:
            raise WorkspaceError(f"{self.config_path}: cannot set {', '.join(values)}: {exc}", "Correct tuneui.toml by hand.") from None
        bom = "\ufeff" if data.startswith(codecs.BOM_UTF8) else ""
        atomic_write_text(self.config_path.resolve(), bom + edited)  # a linked tuneui.toml stays a link

    def save_settings(self, settings: Settings) -> None:
        """Write every setting (a new project's file); an existing file is edited with `update_settings`."""
        import tomli_w  # only writers need it; the app's start reads settings and never writes them

        atomic_write_text(self.config_path, tomli_w.dumps(settings.to_dict()))

    def ensure_folders(self) -> None:
        for folder in (self.data_dir, self.runs_dir, self.reports_dir):
            folder.mkdir(parents=True, exist_ok=True)


def init_workspace(root: str | os.PathLike[str], settings: Settings | None = None) -> Workspace:
    """Create the folder layout and a tuneui.toml; an existing tuneui.toml is kept as it is."""
    workspace = Workspace(Path(root).resolve())
    if workspace.config_path.is_dir():
        raise WorkspaceError(f"{workspace.config_path} is a folder, not a settings file", "Move that folder aside, then run `tuneui init` again.")
    try:
        workspace.root.mkdir(parents=True, exist_ok=True)
        workspace.ensure_folders()
    except FileExistsError as exc:
        raise WorkspaceError(f"{exc.filename} is a file where the project needs a folder", "Choose another folder for the project, or move that file aside.") from None
    except NotADirectoryError as exc:
        raise WorkspaceError(f"{exc.filename}: a folder on that path is a file", "Choose another folder for the project.") from None
    if not workspace.exists():
        if settings is None:
            settings = Settings()
            settings.project.name = workspace.root.name or "tuneui project"
        workspace.save_settings(settings)
    return workspace


def find_workspace(start: str | os.PathLike[str] | None = None) -> Workspace:
    """The workspace at `start` (default: the current folder). No upward search: explicit beats magic."""
    return Workspace(Path(start or os.getcwd()).resolve())
