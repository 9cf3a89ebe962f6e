"""A small loose-file plugin step used by the tests: ``celltool invert [FOLDERS]``.

It follows the step contract with the core's pieces only: folders from arguments or stdin,
kind check, default output name, atomic output folder, manifest with input digests, the
executor, and the output path as the only line on stdout. ``--fail-on N`` raises on the N-th
image (to test that a step failing midway leaves nothing behind).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Optional

import typer

from celltool import hookimpl
from celltool.commands.options import ExecutorOpt, InputsArg, OutOpt, OverwriteOpt, WorkersOpt
from celltool.errors import CelltoolError
from celltool.executor import ExecutorSpec
from celltool.imageio import list_images, read_image, write_image
from celltool.manifest import make_manifest, part, require_kind
from celltool.outputs import OutputFolder, default_output
from celltool.pipes import emit, input_folders
from celltool.steps.common import run_each


def invert_one(path: Path, out: Path, fail_on: int, index: int) -> int:
    if index == fail_on:
        raise CelltoolError("deliberate failure", path)
    image = read_image(path)
    write_image(out / (path.stem + ".png"), image.max() - image)
    return int(image.size)


def _job(item: tuple[int, Path], out: Path, fail_on: int) -> int:
    index, path = item
    return invert_one(path, out, fail_on, index)


@hookimpl
def register_commands(app):
    @app.command("invert")
    def invert(
        inputs: InputsArg = None,
        output: OutOpt = None,
        overwrite: OverwriteOpt = False,
        workers: WorkersOpt = 1,
        executor: ExecutorOpt = "auto",
        fail_on: Annotated[Optional[int], typer.Option("--fail-on")] = None,
    ) -> None:
        """Invert the images of each input folder (a test step)."""
        outs = []
        for folder in input_folders(inputs):
            require_kind(folder, ("images", "simulation"))
            images = part(folder, "images")
            files = list_images(images)
            out = output or default_output(folder, "invert")
            target = OutputFolder(out, inputs=[folder], overwrite=overwrite)
            with target as work:
                job = functools.partial(_job, out=work, fail_on=-1 if fail_on is None else fail_on)
                sizes = run_each(job, list(enumerate(files)), ExecutorSpec(executor, workers), "x")
                target.manifest = make_manifest(
                    "images", step="invert", inputs=[folder], facts={"pixels": sum(sizes)}
                )
            outs.append(out)
        emit(outs)
