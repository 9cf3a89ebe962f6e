"""Composing steps by shell pipes: folder paths in on stdin, folder paths out on stdout."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from celltool.errors import UsageError


def input_folders(args: Sequence[str | Path] | None, *, at_least: int = 1) -> list[Path]:
    """Folders from the arguments, else one per line from stdin when it is not a terminal."""
    folders = [Path(a) for a in args or []]
    if not folders and not sys.stdin.isatty():
        folders = [Path(line.strip()) for line in sys.stdin.read().splitlines() if line.strip()]
    if len(folders) < at_least:
        need = "an input folder" if at_least == 1 else f"{at_least} input folders"
        raise UsageError(f"give {need} as argument(s) or pipe the path(s) in on stdin")
    return folders


def emit(paths: Iterable[str | Path]) -> None:
    """Print output folder paths, one per line: the only thing a step writes to stdout.

    A reader that went away (``celltool simulate | true``) is not an error: the step's work is
    done and published, and stdout only carries its path.
    """
    try:
        for path in paths:
            sys.stdout.write(f"{path}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
