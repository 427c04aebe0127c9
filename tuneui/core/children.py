"""Command lines for tuneui's own child processes: this installation's code, whatever the working folder.

`python -m MODULE` puts the working folder first on the child's import path. Started from a
folder that holds another `tuneui` (a source checkout of another version, a project folder of
that name), the child would run that code instead: counts, conversions and commands of another
version taken for this one's. `module_command` runs MODULE as `-m` does, with that folder left out.
"""

from __future__ import annotations

import sys

# `-c` code: drop the working folder ('') from the path, then run the module as __main__ with the
# rest of the arguments, as `python -m` would (runpy sets argv[0] to the module's file).
_RUN_MODULE = (
    "import runpy, sys; sys.path[:] = [p for p in sys.path if p]; "
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
)


def module_command(module: str, *args: str, python: str = sys.executable) -> list[str]:
    """`[python, "-m", module, *args]`, without the working folder on the child's import path."""
    return [python, "-c", _RUN_MODULE, module, *args]
