"""``celltool plugins``: every plugin, its package and version, and what it provides."""

from __future__ import annotations

import json
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
        from rich.console import Console
        from rich.table import Table

        table = Table("plugin", "package", "version", "provides")
        for rec in records:
            provides = "\n".join(
                f"{fam}: {', '.join(names)}" for fam, names in rec["provides"].items()
            )
            if "register_commands" in rec["hooks"]:
                provides = (provides + "\ncommands").strip()
            table.add_row(rec["name"], rec["package"], rec["version"], provides)
        Console().print(table)
