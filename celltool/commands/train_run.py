"""File glue of ``celltool train``: inputs, config file, run folder, resume; demo pairs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from celltool.components import Component
from celltool.errors import UsageError
from celltool.imageio import list_images, read_image, write_image
from celltool.manifest import make_manifest, part, require_kind
from celltool.outputs import OutputFolder, default_output
from celltool.pipes import input_folders

# Options that may change when a run is resumed (they do not change the numbers).
RESUMABLE = {"epochs", "device", "workers", "threads", "tensorboard", "log_every", "samples"}


def run_train(
    component: Component,
    data: list[Path] | None,
    output: Path | None,
    config_file: Path | None,
    resume: Path | None,
    overwrite: bool,
    options: Mapping[str, Any],
) -> Path:
    """Resolve the config and train (or resume); return the run folder."""
    from celltool.training.loop import read_run, read_toml, resolve_config, train

    file_values = read_toml(config_file) if config_file else {}
    if resume is not None:
        record = read_run(resume)
        if record["model"] != component.name:
            raise UsageError(f"--resume {resume}: that run trains '{record['model']}'")
        changed = sorted(k for k, v in {**file_values, **options}.items()
                         if k not in RESUMABLE and record["config"].get(k) != v)  # fmt: skip
        if changed:
            raise UsageError(f"--resume: cannot change {', '.join(changed)} of a run")
        config = dict(record["config"])
        config.setdefault("gemm_convs", False)  # runs from before the option: torch's kernels
        config.update({k: v for k, v in {**file_values, **options}.items() if k in RESUMABLE})
        config = resolve_config(component, config)
        return train(component, None, Path(resume), config, resume=True)
    names = tuple(component.info.get("inputs", ("DATA",)))
    folders = input_folders(data or None, at_least=len(names))
    if len(folders) != len(names):
        raise UsageError(
            f"'{component.name}' trains on {len(names)} folder(s) {' '.join(names)}; "
            f"got {len(folders)}"
        )
    for folder in folders:
        require_kind(folder, component.info.get("data_kinds", ("pairs", "images")))
    config = resolve_config(component, options, file_values)
    run = Path(output) if output else default_output(folders[0], "train")
    return train(component, folders, run, config, overwrite=overwrite)


def write_pairs(
    out: Path,
    splits: Mapping[str, Sequence[tuple[str, np.ndarray, np.ndarray]]],
    *,
    bit_depth: int = 8,
    overwrite: bool = False,
) -> Path:
    """A side-by-side ``pairs`` folder: ``split -> [(stem, image, sketch), ...]``, each file
    ``[image | sketch]`` (left = real image, right = sketch)."""
    folder = OutputFolder(out, overwrite=overwrite)
    with folder as work:
        for split, items in splits.items():
            (work / split).mkdir()
            for stem, image, sketch in items:
                write_image(work / split / f"{stem}.png", np.concatenate([image, sketch], axis=1))
        folder.manifest = make_manifest(
            "pairs",
            step="split",
            params={"method": "side-by-side"},
            facts={"layout": "side-by-side", "bit_depth": bit_depth,
                   "counts": {k: len(v) for k, v in splits.items()}},
        )  # fmt: skip
    return out


def demo_pairs(out: Path, sim: Path, seed: int) -> Path:
    """Pairs (image | cell mask as the sketch) from a simulation: last image = test,
    second last = val, the rest train."""
    images = list_images(part(sim, "images"))
    cells = part(sim, "cells")
    items = []
    for path in images:
        image = read_image(path)
        mask = (read_image(cells / path.name) > 0).astype(image.dtype) * np.iinfo(image.dtype).max
        items.append((path.stem, image, mask))
    splits = {"train": items[:-2] or items, "val": items[-2:-1], "test": items[-1:]}
    bit_depth = int((require_kind(sim, ["simulation"]) or {}).get("facts", {}).get("bit_depth", 8))
    del seed  # the split is by order; kept for the demo_stage signature
    return write_pairs(out, splits, bit_depth=bit_depth)
