"""The error root of the application: every error a user may see carries a title and a hint."""

from __future__ import annotations


class TuneError(Exception):
    """An error the user can act on: `title` says what went wrong, `hint` what to do about it.

    `exit_code` follows the CLI contract: 1 when the user's data is at fault, 2 when the command
    cannot run at all (usage, missing or unreadable file, missing dependency).
    """

    exit_code = 2

    def __init__(self, title: str, hint: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(title)
        self.title = title
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.title}\n  hint: {self.hint}" if self.hint else self.title


class UsageError(TuneError):
    """The command line or the workspace is not in a state where the command can run."""


class WorkspaceError(TuneError):
    """The project folder is missing, or its tuneui.toml is invalid."""
