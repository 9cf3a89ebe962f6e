"""Plain help, grouped by panel: what ``--help`` shows without loading Typer's rich renderer.

Typer's rich help imports ``typer.rich_utils`` and with it ``rich.markdown`` (markdown-it) and
draws every option in nested tables: most of the time ``celltool segment --help`` took. Click's
own formatter is instant; :class:`PanelCommand` keeps the one thing the rich help added that
matters here, the panels (``rich_help_panel``: "Execution", "Options of NAME", ...), as
sections of the plain help.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand

ARGUMENTS = "Arguments"
OPTIONS = "Options"
MAX_WIDTH = 120  # the help uses the terminal's width up to this many columns


def format_panels(command: Any, ctx: Any, formatter: Any) -> None:
    """Arguments, then options without a panel, then each panel in order of first use."""
    sections: dict[str, list[tuple[str, str]]] = {ARGUMENTS: [], OPTIONS: []}
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if param.param_type_name == "argument":
            title = ARGUMENTS
        else:
            title = getattr(param, "rich_help_panel", None) or OPTIONS
        sections.setdefault(title, []).append(record)
    for title, rows in sections.items():
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)


class PanelCommand(TyperCommand):
    """A Typer command whose plain help lists options by panel."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        format_panels(self, ctx, formatter)


def plain(app: Any) -> None:
    """Make a Typer app (and the apps added to it) render plain help with panels.

    The markup mode of the outermost app decides for the whole tree; commands that chose no
    class of their own get :class:`PanelCommand`."""
    app.rich_markup_mode = None
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):  # Typer's default
            info.cls = PanelCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            plain(group.typer_instance)
