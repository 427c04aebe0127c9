"""Hugging Face datasets on disk: a `save_to_disk` folder or a parquet file (the `hf` extra).

Rows are numbered from 1 and reported as the finding's line, the way a person counts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from tuneui.core.dataset.sources import SourceError

INSTALL_HINT = "Install the hf extra: `pip install 'tuneui[hf]'` (datasets and pyarrow)."


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """(column names, rows as (row number, {column: value}))."""
    if path.is_dir():
        table = _load_folder(path)
    elif path.is_file():
        table = _load_parquet(path)
    else:
        raise SourceError(f"{path}: no such file or folder", "Check the path.")
    return list(table.column_names), _rows(table)


def _rows(table: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    # Batches keep memory flat: to_pylist on the whole table would copy every row at once.
    number = 0
    for batch in table.to_batches(max_chunksize=1024):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _load_parquet(path: Path) -> Any:
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise SourceError(f"Reading {path.name} needs pyarrow", INSTALL_HINT) from None
    try:
        return parquet.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError subclasses for a bad file
        raise SourceError(f"{path}: not a readable parquet file ({exc})", "Check that the file is parquet, or pass --format.") from None


def _load_folder(path: Path) -> Any:
    try:
        import datasets
    except ImportError:
        raise SourceError(f"Reading the folder {path} needs the datasets package", INSTALL_HINT) from None
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # datasets raises FileNotFoundError or its own errors for a non-dataset folder
        raise SourceError(
            f"{path} is not a Hugging Face dataset folder ({exc})",
            "Point at a folder written by `Dataset.save_to_disk`, or at a data file.",
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        split = "train" if "train" in loaded else next(iter(loaded))
        loaded = loaded[split]
    return loaded.data.table if hasattr(loaded.data, "table") else loaded.data
