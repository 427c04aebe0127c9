"""Where an export lives: `exports/RUN/`, with the JSON of what it wrote and checked."""

from __future__ import annotations

from pathlib import Path

EXPORTS_DIR = "exports"
RESULT_FILE = "export.json"


def export_dir(root: Path, run_id: str) -> Path:
    return root / EXPORTS_DIR / run_id
