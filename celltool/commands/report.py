"""``celltool report FOLDER... -o REPORT``: a static HTML page of celltool output folders."""

from __future__ import annotations

from typing import Annotated

import typer

from celltool.commands.options import InputsArg, OutOpt, OverwriteOpt
from celltool.pipes import emit, input_folders


def add(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        inputs: InputsArg = None,
        output: OutOpt = None,
        ancestors: Annotated[
            bool,
            typer.Option(
                "--ancestors/--no-ancestors",
                help="Also report the folders the given ones were made from (through their "
                "manifests' inputs).",
            ),
        ] = True,
        samples: Annotated[
            int, typer.Option("--samples", help="Sample images per folder (1..32).")
        ] = 4,
        title: Annotated[
            str, typer.Option("--title", help="Page title (default: the folder names).")
        ] = "",
        overwrite: OverwriteOpt = False,
    ) -> None:
        """Write REPORT/index.html: what each folder holds (sample images, metric tables and
        plots, loss curves, sequences) and how it was made (command, parameters, seed, inputs).

        A demo folder brings all its stages. Open REPORT/index.html in a browser; it needs no
        server and no network. Prints REPORT.
        """
        from celltool.console import info
        from celltool.report import build_report

        folders = input_folders(inputs)
        out = build_report(
            folders,
            output,
            ancestors=ancestors,
            samples=samples,
            title=title or None,
            overwrite=overwrite,
        )
        info(f"open {out / 'index.html'} in a browser")
        emit([out])
