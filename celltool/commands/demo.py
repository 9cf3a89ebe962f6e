"""``celltool demo``: the whole pipeline that exists, on simulated data, into one folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from celltool.cliutil import OverwriteOpt, SeedOpt
from celltool.console import info
from celltool.executor import ExecutorSpec
from celltool.manifest import make_manifest, write_manifest
from celltool.outputs import check_output
from celltool.pipes import emit

# Each stage: (name, function(out_dir, seed, quick) -> Path). Later steps append theirs.
STAGES: list = []


def stage(name: str):
    def register(func):
        STAGES.append((name, func))
        return func

    return register


@stage("simulate")
def _simulate(out: Path, seed: int, quick: bool) -> Path:
    from celltool.commands.simulate import simulate_folder

    return simulate_folder(out / "sim", n=6 if quick else 24, size=(256, 256) if quick
                           else (512, 512), seed=seed, spec=ExecutorSpec())


def run_demo(out: Path, *, seed: int = 0, quick: bool = False, overwrite: bool = False) -> Path:
    check_output(out, [], overwrite)
    if out.exists() and overwrite:
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True)
    results = {}
    for name, func in STAGES:
        info(f"[bold]demo[/]: {name}")
        results[name] = str(func(out, seed, quick))
    write_manifest(out, make_manifest("demo", step="demo", seed=seed,
                                      params={"quick": quick}, facts={"parts": {
                                          k: str(Path(v).relative_to(out)) for k, v in
                                          results.items()}}))
    for name, path in results.items():
        info(f"  {name:<10} {path}")
    return out


def add(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        output: Annotated[Path, typer.Option("--output", "-o", help="Where the demo writes.")]
        = Path("celltool-demo"),
        quick: Annotated[bool, typer.Option("--quick", help="Smaller images, fewer epochs.")]
        = False,
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
    ) -> None:
        """Run every step on simulated data (no data of yours needed) and print the folder."""
        emit([run_demo(output, seed=seed, quick=quick, overwrite=overwrite)])
