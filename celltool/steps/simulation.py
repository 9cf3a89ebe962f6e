"""``simulate``: simulated images (2D, or 3D stacks) with exact ground-truth label parts."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from celltool import plugins
from celltool.components import Component
from celltool.errors import CelltoolError, UsageError
from celltool.executor import ExecutorSpec
from celltool.imageio import (
    as_labels,
    atomic_write_bytes,
    bit_depth_of,
    write_image,
    write_labels,
)
from celltool.manifest import labels_facts, make_manifest
from celltool.outputs import OutputFolder, Shard
from celltool.steps.common import input_paths, run_each

MAX_IMAGES = 1_000_000
MAX_SIDE = {2: 16384, 3: 4096}  # px per axis
MAX_VOXELS = 2**31  # one item's array (the simulator allocates float32 copies of it)


def simulate_one(
    index: int,
    *,
    component: Component,
    params: dict[str, Any],
    seed: int,
    shape: tuple[int, ...],
    out: Path,
    stem: str,
) -> dict[str, Any]:
    """Simulate item ``index`` (its own seeded stream) and write every part."""
    rng = np.random.default_rng([seed, index])
    result = dict(component.load()(shape, rng, **params))
    facts: dict[str, Any] = dict(result.pop("_facts", {}))
    tracks = result.pop("_tracks", None)
    info = component.info
    name = f"{stem}_{index:04d}"
    voxel = facts.get("voxel_size")
    for part, array in result.items():
        if not (out / part).is_dir():
            raise CelltoolError(
                f"simulator '{component.name}' returned part '{part}' that its info.parts "
                "does not list"
            )
        array = np.asarray(array)
        if info.frames:
            (out / part / name).mkdir(exist_ok=True)
            width = max(3, len(str(len(array) - 1)))
            for t, frame in enumerate(array):
                _write_part(out / part / name / f"t{t:0{width}d}", part, frame, info.dims, voxel)
        else:
            _write_part(out / part / name, part, array, info.dims, voxel)
        if part == "images":
            facts.update(dtype=str(array.dtype), bit_depth_of_dtype=bit_depth_of(array))
        else:
            facts[f"n_{part}"] = int(array.max())
    if tracks is not None:
        (out / "tracks").mkdir(exist_ok=True)
        rows = np.asarray(tracks, dtype=np.int64).reshape(-1, 4)
        text = "".join(" ".join(map(str, r)) + "\n" for r in rows.tolist())
        atomic_write_bytes(out / "tracks" / f"{name}.txt", text.encode())
    return facts


def _write_part(
    stem: Path, part: str, array: np.ndarray, dims: int, voxel: list | None = None
) -> None:
    """One image (``images``) or label map (any other part): PNG in 2D; OME-TIFF (ZYX, with
    the voxel size) in 3D, label maps as uint16."""
    if dims == 3:
        from celltool.volumes import write_volume

        path = stem.with_name(stem.name + ".tif")
        if part != "images":
            array = as_labels(array, path)
        write_volume(path, array, voxel_size=voxel)
        return
    path = stem.with_name(stem.name + ".png")
    if part == "images":
        write_image(path, array)
    else:
        write_labels(path, array)


def check_shape(size: tuple[int, ...] | None, dims: int) -> tuple[int, ...] | None:
    """The item shape for a ``dims``-D simulator: one number for every axis, or one per axis
    (None: the simulator decides)."""
    if size is None:
        return None
    size = tuple(int(s) for s in size)
    if len(size) == 1:
        size = size * dims
    if len(size) != dims:
        raise UsageError(f"--size: this simulator makes {dims}D items; give {dims} sizes")
    if min(size) < (16 if dims == 2 else 4) or max(size) > MAX_SIDE[dims]:
        lo = 16 if dims == 2 else 4
        raise UsageError(f"--size {size}: each side must lie in [{lo}, {MAX_SIDE[dims]}] px")
    if int(np.prod(size, dtype=np.int64)) > MAX_VOXELS:
        raise UsageError(f"--size {size}: more than {MAX_VOXELS} pixels per item")
    return size


def simulate(
    out: str | Path,
    *,
    method: str = "cells2d",
    n: int = 16,
    size: tuple[int, ...] | None = None,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    shard: Shard | None = None,
    spec: ExecutorSpec | None = None,
) -> Path:
    """Write ``n`` simulated items and their label parts into ``out`` (a 'simulation');
    ``size`` None: the simulator's default size (2D: 512²; 3D spheroids: the mask's shape)."""
    out = Path(out)
    if not 0 <= n <= MAX_IMAGES:
        raise UsageError(f"--n {n}: expected 0..{MAX_IMAGES}")
    component = plugins.get("simulators", method)
    resolved = component.resolve(params)
    shape = check_shape(tuple(size) if size else component.info.default_size, component.info.dims)
    parts = tuple(component.info.parts)
    indices = list(range(n)) if shard is None else shard.take(range(n))
    inputs = input_paths(component, resolved)
    folder = OutputFolder(out, inputs=inputs, overwrite=overwrite, shard=shard)
    with folder as work:
        for part in parts:
            (work / part).mkdir(exist_ok=True)
        job = functools.partial(
            simulate_one,
            component=component,
            params=resolved,
            seed=seed,
            shape=shape,
            out=work,
            stem="sim",
        )
        records = run_each(job, indices, spec, f"simulate ({method})")
        _write_manifests(folder, component, resolved, records, n, shape, seed, inputs)
    return out


def _write_manifests(
    folder: OutputFolder,
    component: Component,
    params: dict[str, Any],
    records: list[dict[str, Any]],
    n: int,
    shape: tuple[int, ...],
    seed: int,
    inputs: list[Path],
) -> None:
    dims = component.info.dims
    dtype = str(np.dtype(np.uint8 if params.get("bit_depth", 8) == 8 else np.uint16))
    if records:
        dtype = records[0]["dtype"]
    bit_depth = int(params.get("bit_depth") or np.dtype(dtype).itemsize * 8)
    shared = {k: v for k, v in (records[0] if records else {}).items() if k == "voxel_size"}
    common = dict(
        step="simulate",
        params={
            "method": component.name,
            **params,
            "n": n,
            "size": list(shape) if shape else None,
        },  # fmt: skip
        seed=seed,
        plugin=component,
        inputs=inputs,
    )
    for part in component.info.parts:
        if part == "images":
            facts = {"bit_depth": bit_depth, "dtype": dtype, "axes": "YX" if dims == 2 else "ZYX"}
            record = make_manifest("images", facts={**facts, "n_images": n, **shared}, **common)
        else:
            record = make_manifest(
                "labels", facts=labels_facts(part, n_images=n, **shared), **common
            )
        folder.part_manifests[part] = record
    parts = {p: p for p in component.info.parts}
    folder.manifest = make_manifest(
        "simulation",
        facts={
            "parts": parts,
            "sequences": bool(component.info.frames),
            "bit_depth": bit_depth,
            "n_images": n,
            "dims": dims,
            **shared,
        },
        **common,
    )


def parse_size(text: str) -> tuple[int, ...] | None:
    """``"512"``, ``"256x512"`` or ``"32,128,128"`` → a tuple of ints ("" → None)."""
    if not text.strip():
        return None
    try:
        parts = tuple(int(p) for p in text.lower().replace("x", ",").split(",") if p.strip())
    except ValueError:
        raise UsageError(f"--size {text!r}: expected HxW (or ZxYxX, or one number)") from None
    if not parts:
        raise UsageError(f"--size {text!r}: expected HxW (or ZxYxX, or one number)")
    return parts
