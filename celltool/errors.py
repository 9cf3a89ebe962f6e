"""Errors that the CLI turns into one-line messages and exit codes."""

from __future__ import annotations

from pathlib import Path


class CelltoolError(Exception):
    """A problem with the user's data or input: one line, exit code 1."""

    exit_code = 1

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UsageError(CelltoolError):
    """A wrong command line (unknown plugin, bad option value): exit code 2."""

    exit_code = 2


class InfeasibleError(ValueError):
    """What was asked cannot be placed or done with this data (e.g. crops that do not fit in a
    frame). Plugins raise it without a file; the step adds the file it was working on."""
