"""``celltool plugins``: every plugin, its package and version, and what it provides."""

from __future__ import annotations

import json
import shutil
import textwrap
from typing import Annotated

import typer

from celltool import plugins


def add(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins_command(
        as_json: Annotated[
            bool, typer.Option("--json", help="Print JSON instead of a table.")
        ] = False,
    ) -> None:
        """List plugins: package, version, hooks, and the components each provides."""
        ps = plugins.load()
        records = ps.describe()
        if as_json:
            typer.echo(json.dumps(records, indent=2))
            return
        rows = []
        for rec in records:
            provides = [f"{fam}: {', '.join(names)}" for fam, names in rec["provides"].items()]
            if "register_commands" in rec["hooks"]:
                provides.append("commands")
            rows.append((rec["name"], rec["package"], rec["version"], provides))
        typer.echo(table(rows))


def table(rows: list[tuple[str, str, str, list[str]]]) -> str:
    """Plain aligned columns (no rich: this is start-up time); "provides" wraps to the terminal."""
    head = ("plugin", "package", "version")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(3)]
    indent = sum(widths) + 2 * len(widths)
    room = max(30, shutil.get_terminal_size().columns - indent)
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + "  provides"]
    for *cells, provides in rows:
        wrapped = [
            part
            for line in provides or [""]
            for part in textwrap.wrap(line, room, subsequent_indent="  ") or [""]
        ]
        first = "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
        lines.append(f"{first}  {wrapped[0]}".rstrip())
        lines += [" " * indent + part for part in wrapped[1:]]
    return "\n".join(lines)
