"""What ``celltool generate`` feeds a pix2pixHD run: label maps (+ instance maps) → encoded input.

Inputs, per folder (or single files):

- a ``pairs`` folder: its ``test`` split (sketch side; ``instance/`` when the layout has it),
  decoded through that folder's own manifest;
- a ``sketch`` folder: its ``index`` part; instance ids from the cell label maps it was made from
  (``facts.cells``) when that folder exists;
- any other folder or file: label maps as the run was trained on them (class indices, the class
  table's gray values, or plain images for ``label_nc`` 0).

``--instances DIR`` gives instance maps by stem for any input. A run trained with instance edges
that gets no instance map falls back to the class map's boundaries (with a warning).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from celltool.console import warn
from celltool.errors import CelltoolError
from celltool.imageio import list_images, read_image
from celltool.manifest import part, read_manifest
from celltool.training.api import DataInfo
from celltool_pix2pixhd.data import (
    Decoding,
    folder_decoding,
    label_pair_files,
    make_input,
    read_item,
)

Loader = Callable[[], tuple[np.ndarray, str]]


def run_decoding(info: DataInfo) -> Decoding:
    """How plain label-map files are read for this run."""
    extra = info.extra
    mode = str(extra.get("sketch_mode", "index"))
    return Decoding(
        label_nc=int(extra.get("label_nc", 0)),
        mode="gray" if mode == "gray" else "index",
        classes=extra.get("classes"),
        scale=1,
        in_bit_depth=int(extra.get("in_bit_depth", 8)),
    )


def _instance_files(folder: Path | None) -> dict[str, Path]:
    """Instance maps of a folder by stem (empty without a folder)."""
    return {} if folder is None else {p.stem: p for p in list_images(folder)}


def _loader(
    read: Callable[[], tuple[np.ndarray, np.ndarray | None]],
    decoding: Decoding,
    info: DataInfo,
    path: Path,
    warned: list[bool],
) -> Loader:
    wanted = str(info.extra.get("edges", "none"))
    channels = int(info.extra.get("sketch_channels", 1))

    def load() -> tuple[np.ndarray, str]:
        sketch, instance = read()
        edges = wanted
        if wanted == "instance" and instance is None:
            edges = "classes" if decoding.label_nc > 0 else "zeros"
            if not warned[0]:
                using = "class-map boundaries" if edges == "classes" else "an empty edge map"
                warn(f"pix2pixhd: no instance map for {path.name} (and maybe others): {using}")
                warned[0] = True
        x, _ = make_input(
            sketch, instance, decoding, "none" if edges == "zeros" else edges, path,
            sketch_channels=channels,
        )  # fmt: skip
        if edges == "zeros":
            x = np.concatenate([x, np.zeros_like(x[:1])])
        if x.shape[0] != info.in_channels:
            raise CelltoolError(
                f"encodes to {x.shape[0]} input channels; the run expects {info.in_channels}",
                path,
            )
        return x, edges

    return load


def encoded_inputs(
    folders: list[Path], info: DataInfo, instances: str | Path | None
) -> Iterator[tuple[str, Loader]]:
    """(stem, loader) for every input; the loader returns (encoded input, edge source)."""
    given = Path(instances) if instances else None
    if given is not None and not given.is_dir():
        raise CelltoolError("instance folder does not exist", given)
    warned = [False]
    seen: set[str] = set()
    for folder in map(Path, folders):
        for stem, read, decoding, path in _entries(folder, info, given):
            if stem in seen:
                raise CelltoolError(f"two inputs named '{stem}'", folder)
            seen.add(stem)
            yield stem, _loader(read, decoding, info, path, warned)


def _entries(folder: Path, info: DataInfo, given: Path | None):
    manifest = read_manifest(folder) if folder.is_dir() else None
    kind = (manifest or {}).get("kind")
    plain = run_decoding(info)
    if kind == "pairs":
        layout, items = label_pair_files(folder, "test")
        if not items:
            return
        image, sketch, _ = read_item(items[0])
        decoding = folder_decoding(manifest, layout, image, sketch, plain.label_nc)
        by_stem = _instance_files(given)
        for item in items:
            inst = by_stem.get(item.name)

            def read(item=item, inst=inst):
                _, sketch, instance = read_item(item)
                return sketch, read_image(inst) if inst is not None else instance

            yield item.name, read, decoding, item.sketch or item.image
        return
    cells = None
    if kind == "sketch":
        files = list_images(part(folder, "index"))
        plain = Decoding(plain.label_nc, "index", plain.classes, 1, plain.in_bit_depth)
        source = (manifest or {}).get("facts", {}).get("cells")
        cells = Path(source) if source and Path(source).is_dir() else None
    elif folder.is_dir():
        files = list_images(folder)
    else:
        files = [folder]
    by_stem = _instance_files(given or cells)
    for path in files:
        inst = by_stem.get(path.stem)

        def read(path=path, inst=inst):
            return read_image(path), read_image(inst) if inst is not None else None

        yield path.stem, read, plain, path
