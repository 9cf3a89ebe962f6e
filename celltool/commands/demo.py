"""``celltool demo``: the CLI of :func:`celltool.steps.demo.demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from celltool.commands.options import OverwriteOpt, SeedOpt
from celltool.pipes import emit


def add(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        output: Annotated[
            Path, typer.Option("--output", "-o", help="Where the demo writes.")
        ] = Path("celltool-demo"),
        quick: Annotated[
            bool, typer.Option("--quick", help="Smaller images, fewer epochs.")
        ] = False,
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
    ) -> None:
        """Run every step on simulated data (no data of yours needed), ending with an HTML
        report of every stage; print the report's page (OUT/report/index.html)."""
        from celltool.steps.demo import demo

        out = demo(output, seed=seed, quick=quick, overwrite=overwrite)
        emit([out / "report" / "index.html"])
