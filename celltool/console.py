"""Everything for people goes to stderr: messages, tables and progress bars.

rich is imported on first use: a step that prints no message and shows no progress bar (stderr
not a terminal) never loads it, which every step of a pipe would otherwise pay at start-up.
``console`` (the stderr Console) is still importable by name; it is made when first asked for.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

T = TypeVar("T")

_CONSOLE: Console | None = None
# what makes rich treat stderr as a terminal although it is not a TTY (rich.console.is_terminal)
_TERMINAL_ENV = ("FORCE_TERMINAL", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def get_console() -> Console:
    """The stderr Console (made, and rich imported, on first use)."""
    global _CONSOLE
    if _CONSOLE is None:
        from rich.console import Console

        _CONSOLE = Console(stderr=True)
    return _CONSOLE


def __getattr__(name: str) -> Any:
    if name == "console":  # `from celltool.console import console`
        return get_console()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def info(message: str) -> None:
    get_console().print(message, highlight=False)


def warn(message: str) -> None:
    get_console().print(f"[yellow]warning:[/] {message}", highlight=False)


def progress_bar() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = get_console()
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def bars_hidden() -> bool:
    """True when a progress bar would certainly not be drawn (rich not needed to know)."""
    if _CONSOLE is not None:
        return not _CONSOLE.is_terminal
    if any(os.environ.get(name) is not None for name in _TERMINAL_ENV):
        return False  # rich decides
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return True


def track(items: Iterable[T], total: int | None, description: str) -> Iterator[T]:
    """Iterate with a progress bar on stderr (silent when stderr is not a terminal)."""
    if bars_hidden():
        yield from items
        return
    with progress_bar() as bar:
        task = bar.add_task(description, total=total, status="")
        for item in items:
            yield item
            bar.advance(task)
