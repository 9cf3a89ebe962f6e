"""``celltool simulate``: simulated images with ground-truth labels (the embedded default)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from celltool import plugins
from celltool.cliutil import (
    ExecutorOpt,
    OutOpt,
    OverwriteOpt,
    SchedulerOpt,
    SeedOpt,
    ShardOpt,
    WorkersOpt,
    executor_spec,
    run_each,
    with_component_options,
)
from celltool.components import Component
from celltool.errors import CelltoolError, UsageError
from celltool.imageio import bit_depth_of, write_image, write_labels
from celltool.manifest import labels_facts, make_manifest
from celltool.outputs import OutputFolder, Shard
from celltool.pipes import emit

DEFAULT_OUT = Path("sim")


def simulate_one(
    index: int,
    *,
    component: Component,
    params: dict[str, Any],
    seed: int,
    shape: tuple[int, int],
    out: Path,
    stem: str,
) -> dict[str, Any]:
    """Simulate image ``index`` (its own seeded stream) and write every part."""
    rng = np.random.default_rng([seed, index])
    result = component.load()(shape, rng, **params)
    name = f"{stem}_{index:04d}.png"
    facts: dict[str, Any] = {}
    for part, array in result.items():
        if not (out / part).is_dir():
            raise CelltoolError(
                f"simulator '{component.name}' returned part '{part}' that its "
                f"info['parts'] does not list"
            )
        if part == "images":
            write_image(out / part / name, array)
            facts.update(dtype=str(array.dtype), bit_depth_of_dtype=bit_depth_of(array))
        else:
            write_labels(out / part / name, array)
            facts[f"n_{part}"] = int(array.max())
    return facts


def simulate_folder(
    out: Path,
    *,
    method: str = "cells2d",
    n: int = 16,
    size: tuple[int, int] = (512, 512),
    seed: int = 0,
    component_params: dict[str, Any] | None = None,
    overwrite: bool = False,
    shard: Shard | None = None,
    spec: Any = None,
) -> Path:
    """Write ``n`` simulated images and their label parts into ``out`` (a 'simulation' folder)."""
    from celltool.executor import ExecutorSpec

    if n < 1:
        raise UsageError("--n must be at least 1")
    component = plugins.get("simulators", method)
    params = component.resolve(component_params)
    parts = tuple(component.info.get("parts", ("images",)))
    indices = list(range(n)) if shard is None else shard.take(range(n))
    folder = OutputFolder(out, overwrite=overwrite, shard=shard)
    with folder as work:
        for part in parts:
            (work / part).mkdir(exist_ok=True)
        job = functools.partial(
            simulate_one,
            component=component,
            params=params,
            seed=seed,
            shape=size,
            out=work,
            stem="sim",
        )
        records = run_each(job, indices, spec or ExecutorSpec(), f"simulate ({method})")
        dtype = str(np.dtype(np.uint8 if params.get("bit_depth", 8) == 8 else np.uint16))
        if records:
            dtype = records[0]["dtype"]
        bit_depth = int(params.get("bit_depth") or np.dtype(dtype).itemsize * 8)
        common = dict(
            step="simulate",
            params={**params, "n": n, "size": list(size)},
            seed=seed,
            plugin=component,
        )
        for part in parts:
            if part == "images":
                facts = {"bit_depth": bit_depth, "dtype": dtype, "axes": "YX", "n_images": n}
                record = make_manifest("images", facts=facts, **common)
            else:
                facts = labels_facts(part, n_images=n)
                record = make_manifest("labels", facts=facts, **common)
            folder.part_manifests[part] = record
        folder.manifest = make_manifest(
            "simulation",
            facts={"parts": {p: p for p in parts}, "bit_depth": bit_depth, "n_images": n},
            **common,
        )
    return out


def add(app: typer.Typer) -> None:
    @app.command("simulate")
    @with_component_options("simulators")
    def simulate_command(
        output: OutOpt = None,
        n: Annotated[int, typer.Option("--n", "-n", help="Number of images.")] = 16,
        size: Annotated[
            str, typer.Option("--size", help="Image size HxW (or one number).")
        ] = "512",
        method: Annotated[
            str, typer.Option("--method", "-m", help="Simulator plugin.")
        ] = "cells2d",
        seed: SeedOpt = 0,
        overwrite: OverwriteOpt = False,
        workers: WorkersOpt = 0,
        executor: ExecutorOpt = "auto",
        scheduler: SchedulerOpt = None,
        shard: ShardOpt = None,
        component_params: dict | None = None,
    ) -> None:
        """Simulate fluorescence-like cell images with exact cell and nucleus labels.

        Writes OUT/images, OUT/cells and OUT/nuclei (default OUT: ./sim) and prints OUT.
        """
        out = simulate_folder(
            output or DEFAULT_OUT,
            method=method,
            n=n,
            size=parse_size(size),
            seed=seed,
            component_params=component_params,
            overwrite=overwrite,
            shard=Shard.parse(shard),
            spec=executor_spec(executor, workers, scheduler),
        )
        emit([out])


def demo_stage(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """The demo's first stage: a small simulated data set."""
    from celltool.executor import ExecutorSpec

    return simulate_folder(
        out / "sim",
        n=6 if quick else 24,
        size=(256, 256) if quick else (512, 512),
        seed=seed,
        spec=ExecutorSpec(),
    )


def parse_size(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.lower().replace("x", ",").split(",") if p.strip()]
    except ValueError:
        raise UsageError(f"--size {text!r}: expected HxW or one number") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 16:
        raise UsageError(f"--size {text!r}: expected HxW with both at least 16")
    return parts[0], parts[1]


__all__ = ["simulate_folder", "CelltoolError"]
