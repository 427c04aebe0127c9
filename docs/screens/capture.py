"""The screenshots in README.md and docs/tui.md, taken from a real project: the main screen and
each view, as SVG, at the size a laptop terminal has.

    tuneui demo DIR --headless                 # the demo on the real model (a few minutes on a CPU)
    .venv/bin/python docs/screens/capture.py DIR [docs/screens]

The app runs headless (Textual's Pilot), so no terminal is needed; nothing is trained or asked
of a model here: the views show what the demo left in DIR.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tuneui.app import create_app
from tuneui.core.workspace import Workspace
from tuneui.steps.step_table import VIEWS

SIZE = (120, 36)


async def capture(project: Path, out: Path) -> list[Path]:
    app = create_app(Workspace(project.resolve()))
    written: list[Path] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        written.append(Path(app.save_screenshot(filename="main.svg", path=str(out))))
        for view in VIEWS:
            app.action_open_view(view.name)
            await pilot.pause(1.0)  # views read the workspace in workers
            written.append(Path(app.save_screenshot(filename=f"{view.name.lower()}.svg", path=str(out))))
            app.action_back()
            await pilot.pause(0.2)
    return written


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) == 2 else Path(__file__).resolve().parent
    for path in asyncio.run(capture(Path(argv[0]), out)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
