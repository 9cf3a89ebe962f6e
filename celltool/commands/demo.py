"""``celltool demo``: the whole pipeline that exists, on simulated data, into one folder."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from celltool.cliutil import OverwriteOpt, SeedOpt
from celltool.console import info
from celltool.manifest import make_manifest, write_manifest
from celltool.outputs import check_output
from celltool.pipes import emit

# The demo runs, in this order, ``demo_stage(out, seed, quick, results) -> Path`` of each
# command module named here; ``results`` maps earlier stage names to their output folders.
STAGES = ("simulate", "segment", "sketch", "split", "train", "generate", "dual", "evaluate")


def run_demo(out: Path, *, seed: int = 0, quick: bool = False, overwrite: bool = False) -> Path:
    """Run every stage into ``out``; on failure ``out`` is removed (no partial demo).

    Stages write in place (not into a temp folder that is renamed), because later stages
    record the absolute paths of earlier stages' folders in their manifests.
    """
    import shutil

    check_output(out, [], overwrite)
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Path] = {}
    try:
        for name in STAGES:
            info(f"[bold]demo[/]: {name}")
            module = importlib.import_module(f"celltool.commands.{name}")
            results[name] = module.demo_stage(out, seed, quick, dict(results))
        parts = {k: str(Path(v).relative_to(out)) for k, v in results.items()}
        record = make_manifest(
            "demo", step="demo", seed=seed, params={"quick": quick}, facts={"parts": parts}
        )
        write_manifest(out, record)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    for name, path in results.items():
        info(f"  {name:<10} {path}")
    return out


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
        """Run every step on simulated data (no data of yours needed) and print the folder."""
        emit([run_demo(output, seed=seed, quick=quick, overwrite=overwrite)])
