"""``celltool generate RUN SIM/`` for cyclegan: translate every image or volume, keep labels.

Inputs are plain folders or files (→ a ``generated`` folder of translations) or containers
such as a ``simulation`` (→ a ``simulation`` container: the translations as its ``images``
part, every other part — the label maps — copied as it is, so the output goes straight into
split, benchmark or segmenter training). Each volume is translated with overlapping,
weight-blended tiles (:func:`celltool.training.tiling.tiled_apply`) and written with the
input's dtype and bit depth, axes and voxel size (volumes as OME-TIFF).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from celltool.console import track
from celltool.errors import CelltoolError
from celltool.imageio import list_images, write_image
from celltool.manifest import make_manifest, read_manifest, write_manifest
from celltool.training.api import GenerateJob
from celltool.training.data import bit_depth_from, channels_of, from_unit, to_unit
from celltool.training.datasets import folder_facts
from celltool.training.tiling import tiled_apply
from celltool.volumes import read_volume, write_volume

IMAGES = "images"


@dataclass
class Source:
    """One input: a plain folder or file, or a container with parts."""

    path: Path
    images: list[Path]
    facts: dict[str, Any]
    parts: dict[str, str]  # container parts (name → sub-folder); empty for plain inputs


def sources(inputs: list[Path]) -> list[Source]:
    out = []
    for path in map(Path, inputs):
        if not path.is_dir():
            out.append(Source(path, [path], {}, {}))
            continue
        manifest = read_manifest(path) or {}
        parts = dict(manifest.get("facts", {}).get("parts", {}))
        if parts and IMAGES not in parts:
            raise CelltoolError(f"container has no '{IMAGES}' part to translate", path)
        folder = path / parts[IMAGES] if parts else path
        out.append(Source(path, list_images(folder), folder_facts(path), parts))
    containers = {bool(s.parts) for s in out}
    if len(containers) > 1:
        raise CelltoolError("mixes containers (e.g. simulations) and plain images", out[0].path)
    names = [sorted(s.parts) for s in out]
    if any(n != names[0] for n in names):
        raise CelltoolError(f"inputs have different parts: {names}", out[0].path)
    return out


def items(srcs: list[Source]) -> Iterator[tuple[Source, Path]]:
    seen: set[str] = set()
    for src in srcs:
        for path in src.images:
            if path.stem in seen:
                raise CelltoolError(f"two inputs named '{path.stem}'", src.path)
            seen.add(path.stem)
            yield src, path


def tile_options(trainer: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """tile (0 = the training crop), overlap (0 = a quarter of the tile), trim, blend,
    batch size, per spatial axis."""
    from celltool.training.nd import crop_axes

    dims = trainer.dims
    tile = _axes(options.get("tile"), dims)
    tile = tuple(t or c for t, c in zip(tile, trainer.crop, strict=True))
    overlap = _axes(options.get("overlap"), dims)
    overlap = tuple(o or t // 4 for o, t in zip(overlap, tile, strict=True))
    crop_axes(tile, dims)  # validates
    return {
        "tile": tile,
        "overlap": overlap,
        "trim": _axes(options.get("trim"), dims),
        "blend": str(options.get("blend") or "cosine"),
        "batch_size": max(1, min(256, int(options.get("batch_size") or 1))),
    }


def _axes(value: Any, dims: int) -> tuple[int, ...]:
    """An option given as int, "a,b,c" or a tuple → one int per axis (a Z,Y,X value on 2D
    images uses Y,X)."""
    if value is None or value == "":
        return (0,) * dims
    if isinstance(value, str):
        value = [int(v) for v in value.strip().strip("[]()").split(",") if v.strip()]
    values = (int(value),) if isinstance(value, (int, np.integer)) else tuple(map(int, value))
    if len(values) == 1:
        values *= dims
    elif len(values) == 3 and dims == 2:
        values = values[1:]
    if len(values) != dims:
        raise CelltoolError(f"{values} does not fit {dims}D data (give 1 or {dims} values)")
    return values


def translate(trainer: Any, data: np.ndarray, in_unit: Any, opts: Mapping[str, Any]) -> np.ndarray:
    """(C, *spatial) as stored → (C, *spatial) float32 translation in [-1, 1]."""
    x = torch.from_numpy(in_unit(data))
    y = tiled_apply(trainer.predict, x, factor=trainer.factor, **opts)
    return y.cpu().numpy()


def generate_translations(trainer: Any, job: GenerateJob) -> dict[str, Any]:
    srcs = sources(job.inputs)
    container = bool(srcs[0].parts)
    opts = tile_options(trainer, job.options)
    domain = trainer.info.extra.get("domains", {}).get(
        "B" if trainer.config["direction"] == "sim2real" else "A", {}
    )
    out_images = job.out / IMAGES if container else job.out
    out_images.mkdir(exist_ok=True)
    records: list[dict[str, Any]] = []
    todo = list(items(srcs))
    for src, path in track(todo, len(todo), "generate"):
        records.append(_one(trainer, src, path, out_images, domain, opts))
    facts = _facts(trainer, records, opts)
    if not container:
        return facts
    part_facts = {k: facts[k] for k in ("bit_depth", "dtype", "axes", "voxel_size", "n_images")}
    write_manifest(
        out_images,
        make_manifest(IMAGES, step="generate", inputs=[s.path / s.parts[IMAGES] for s in srcs],
                      facts={**part_facts, "translated_by": "cyclegan"}),
    )  # fmt: skip
    copied = _copy_parts(srcs, job.out)
    parts = {name: name for name in srcs[0].parts}
    return {
        **facts,
        "kind": "simulation",
        "parts": parts,
        "labels": "copied",
        "copied_parts": copied,
    }


def _one(trainer, src: Source, path: Path, out: Path, domain: Mapping[str, Any], opts) -> dict:
    volume = read_volume(path, {"facts": src.facts})
    if volume.dims != trainer.dims:
        raise CelltoolError(
            f"is {volume.dims}D; the run {'translates volumes' if trainer.dims == 3 else 'is 2D'}",
            path,
        )
    data = volume.channels_first()
    channels = trainer.info.in_channels
    if data.shape[0] != channels:
        if channels == 1 and volume.dims == 2 and channels_of(volume.data) == 1:
            data = data[:1]
        else:
            raise CelltoolError(f"has {data.shape[0]} channel(s); the run has {channels}", path)
    bit_depth = bit_depth_from({"facts": src.facts}, volume.data)
    in_unit = _normaliser(domain, bit_depth)
    y = translate(trainer, data, in_unit, opts)
    if volume.data.dtype.kind == "f":
        stored = ((np.clip(y, -1, 1) + 1) / 2).astype(np.float32)
    else:
        stored = from_unit(y, bit_depth)
    if volume.dims == 3:
        name = f"{path.stem}.tif"
        array = stored[0] if stored.shape[0] == 1 else stored.transpose(1, 0, 2, 3)
        axes = "ZYX" if stored.shape[0] == 1 else "ZCYX"
        write_volume(out / name, array, voxel_size=volume.voxel_size, axes=axes)
    else:
        png = path.suffix.lower() == ".png" and stored.dtype != np.float32
        name = f"{path.stem}{'.png' if png else '.tif'}"
        array = stored[0] if stored.shape[0] == 1 else stored.transpose(1, 2, 0)
        if volume.voxel_size and not png:
            write_volume(out / name, array, voxel_size=volume.voxel_size,
                         axes="YX" if array.ndim == 2 else "YXC")  # fmt: skip
        else:
            write_image(out / name, array)
    return {
        "bit_depth": bit_depth,
        "dtype": str(stored.dtype),
        "axes": "ZYX" if volume.dims == 3 else "YX",
        "voxel_size": list(volume.voxel_size) if volume.voxel_size else None,
        "shape": list(volume.shape),
    }


def _normaliser(domain: Mapping[str, Any], bit_depth: int):
    """The input normalisation the network was trained with: the training data set's
    percentile range when it used one, else the input's own bit depth."""
    rng = domain.get("intensity_range")
    if rng:
        lo, hi = float(rng[0]), float(rng[1])
        return lambda a: (np.clip((a.astype(np.float32) - lo) / (hi - lo), 0, 1) * 2 - 1).astype(
            np.float32
        )
    return lambda a: to_unit(a, bit_depth)


def _facts(trainer, records: list[dict[str, Any]], opts: Mapping[str, Any]) -> dict[str, Any]:
    first = records[0]
    sizes = {tuple(r["voxel_size"]) if r["voxel_size"] else None for r in records}
    depths = {r["bit_depth"] for r in records}
    return {
        "bit_depth": first["bit_depth"] if len(depths) == 1 else sorted(depths),
        "dtype": first["dtype"],
        "axes": first["axes"],
        "voxel_size": first["voxel_size"] if len(sizes) == 1 else None,
        "n_images": len(records),
        "count": len(records),
        "direction": trainer.config["direction"],
        "tiling": {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()},
    }


def _copy_parts(srcs: list[Source], out: Path) -> list[str]:
    """Copy every non-image part (label maps) of the input containers into ``out``, with a
    manifest that says where it was copied from."""
    copied = []
    for name in sorted(srcs[0].parts):
        if name == IMAGES:
            continue
        target = out / name
        target.mkdir(exist_ok=True)
        origins, kind, facts = [], "labels", {}
        for src in srcs:
            folder = src.path / src.parts[name]
            manifest = read_manifest(folder) or {}
            kind, facts = manifest.get("kind", kind), dict(manifest.get("facts", facts))
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.name != "celltool.json":
                    if (target / path.name).exists():
                        raise CelltoolError(f"two inputs hold '{name}/{path.name}'", src.path)
                    shutil.copy2(path, target / path.name)
            origins.append(folder)
        facts["copied_from"] = [str(p.resolve()) for p in origins]
        write_manifest(target, make_manifest(kind, step="generate", inputs=origins, facts=facts))
        copied.append(name)
    return copied
