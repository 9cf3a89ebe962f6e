"""pix2pixHD's training data: label maps (+ instance maps) and images from a ``pairs`` folder.

Layouts (``facts.layout``):

- ``side-by-side`` (``celltool split``): ``<split>/NAME`` = ``[image | sketch]``; there is no
  instance part, so the edge map comes from the class map's own boundaries;
- ``folders``: ``<split>/image/NAME``, ``<split>/sketch/NAME`` (class indices or gray sketch)
  and an optional ``<split>/instance/NAME`` (uint16 instance ids): when present, the edge map
  comes from the instance ids (touching cells of one class stay apart).

Items are addressed by ``(epoch, index)``; one random crop/flip (``default_rng([seed, epoch,
index])``) is applied to image, labels and instances alike (labels and instances with nearest
neighbour), then the edge map and the one-hot input are computed on the crop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import list_images, read_image
from celltool.manifest import read_manifest
from celltool.training.data import (
    augment,
    bit_depth_from,
    center_crop,
    channels_first,
    channels_of,
    pair_files,
    split_side_by_side,
    to_unit,
)
from celltool_pix2pixhd.labels import class_view, decode_indices, encode, get_edges, label_count


@dataclass(frozen=True)
class Item:
    """One pair: a side-by-side file (``image`` only) or image/sketch/instance files."""

    name: str
    image: Path
    sketch: Path | None = None
    instance: Path | None = None


@dataclass(frozen=True)
class Decoding:
    """How a folder's sketches become the generator input."""

    label_nc: int
    mode: str  # "index" | "gray"
    classes: list | None
    scale: int  # 257: 8-bit sketch values stored in a 16-bit side-by-side file
    in_bit_depth: int  # label_nc 0: the sketch's bit depth as a plain image


def first_folder(folder: Any) -> Path:
    """``make_dataset`` receives one folder now and a list of folders later: take the first."""
    return Path(folder[0] if isinstance(folder, (list, tuple)) else folder)


def label_pair_files(folder: Path, split: str) -> tuple[str, list[Item]]:
    """The layout and items of one split; instance files by stem when ``instance/`` exists."""
    manifest = read_manifest(folder) or {}
    if manifest.get("facts", {}).get("pairs") == "temporal":
        raise CelltoolError("holds temporal pairs; pix2pixHD trains on single pairs", folder)
    layout, found = pair_files(folder, split)
    if layout == "side-by-side":
        return layout, [Item(Path(p).stem, Path(p)) for p in found]
    base = folder / split / "instance"
    instances = {p.stem: p for p in list_images(base)} if base.is_dir() else {}
    items = []
    for image, sketch in found:
        if instances and image.stem not in instances:
            raise CelltoolError(f"has no instance map for '{image.stem}'", base)
        items.append(Item(image.stem, image, sketch, instances.get(image.stem)))
    return layout, items


def read_item(item: Item) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(image, sketch, instance ids or None) as stored."""
    if item.sketch is None:
        image, sketch = split_side_by_side(read_image(item.image), item.image)
        return image, sketch, None
    image, sketch = read_image(item.image), read_image(item.sketch)
    instance = read_image(item.instance) if item.instance is not None else None
    for other, path in ((sketch, item.sketch), (instance, item.instance)):
        if other is not None and other.shape[:2] != image.shape[:2]:
            raise CelltoolError(f"size {other.shape[:2]} differs from {image.shape[:2]}", path)
    if instance is not None and instance.ndim != 2:
        raise CelltoolError(f"instance map must be 2D, not {instance.shape}", item.instance)
    return image, sketch, instance


def folder_decoding(
    manifest: Mapping[str, Any] | None,
    layout: str,
    image: np.ndarray,
    sketch: np.ndarray,
    requested_nc: int,
) -> Decoding:
    """The decoding of a pairs folder, from its manifest only (no guessing from the values):
    ``label_nc`` from ``facts.classes`` (or the user's ``--label-nc``), gray or index from the
    ``split`` step's ``--sketch``; split's 16-bit side-by-side files hold 8-bit sketches × 257."""
    manifest = manifest or {}
    facts, params = manifest.get("facts", {}), manifest.get("params", {})
    classes = facts.get("classes") or None
    label_nc = label_count(requested_nc, classes)
    mode = "gray" if params.get("sketch") == "gray" and classes else "index"
    scaled = bool(facts.get("sketch_scaled_by_257"))
    wide = layout == "side-by-side" and image.dtype == np.uint16 and sketch.dtype == np.uint16
    in_depth = 8 if sketch.dtype == np.uint8 else bit_depth_from(manifest, image)
    return Decoding(label_nc, mode, classes, 257 if (scaled and wide) else 1, in_depth)


def edge_source(decoding: Decoding, has_instances: bool, no_instance: bool) -> str:
    """``instance`` (instance maps), ``classes`` (class-map boundaries) or ``none``."""
    if no_instance:
        return "none"
    if has_instances:
        return "instance"
    return "classes" if decoding.label_nc > 0 else "none"


def make_input(
    sketch: np.ndarray,
    instance: np.ndarray | None,
    decoding: Decoding,
    edges: str,
    path: Path,
    *,
    sketch_channels: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """A (cropped) stored sketch (+ instance ids) → (generator input, 1-channel view)."""
    if decoding.label_nc > 0:
        labels = decode_indices(
            sketch, label_nc=decoding.label_nc, mode=decoding.mode,
            classes=decoding.classes, scale=decoding.scale, path=path,
        )  # fmt: skip
        planes, view = labels, class_view(labels, decoding.label_nc, decoding.classes)
    else:
        planes = to_unit(channels_first(sketch, sketch_channels), decoding.in_bit_depth)
        labels, view = None, planes[:1]
    edge = None
    if edges == "instance":
        if instance is None:
            raise CelltoolError("the model needs an instance map for this input", path)
        edge = get_edges(instance)
    elif edges == "classes":
        edge = get_edges(labels if labels is not None else sketch)
    if edge is not None:
        view = np.where(edge[None] > 0, np.float32(1), view)
    return encode(planes, edge, decoding.label_nc), view


class LabelPairsDataset:
    """Items ``{"input", "target", "view", "name"}`` of one split (see the module doc)."""

    def __init__(
        self, folder: Path, split: str, config: Mapping[str, Any], *, train: bool = True
    ) -> None:
        self.folder = first_folder(folder)
        self.layout, self.items = label_pair_files(self.folder, split)
        if not self.items:
            raise CelltoolError(f"split '{split}' holds no pairs", self.folder)
        self.train = train
        self.seed = int(config.get("seed", 0))
        self.crop = int(config.get("crop_size", 256))
        self.load = int(config.get("load_size", 0)) or round(self.crop * 286 / 256)
        self.mode = str(config.get("preprocess", "crop"))
        self.flip = bool(config.get("flip", True))
        self.cache: dict[int, tuple] | None = {} if config.get("cache") else None
        manifest = read_manifest(self.folder)
        image, sketch, instance = self._read(0)
        self.decoding = folder_decoding(
            manifest, self.layout, image, sketch, int(config.get("label_nc", -1))
        )
        self.edges = edge_source(
            self.decoding, instance is not None, bool(config.get("no_instance", False))
        )
        self.bit_depth = bit_depth_from(manifest, image)
        self.image_channels = channels_of(image)
        self.sketch_channels = 1 if self.decoding.label_nc else channels_of(sketch)
        self.size = image.shape[:2]

    @property
    def in_channels(self) -> int:
        planes = self.decoding.label_nc or self.sketch_channels
        return planes + (self.edges != "none")

    @property
    def info(self) -> dict[str, Any]:
        d = self.decoding
        return {
            "in_channels": self.in_channels,
            "out_channels": self.image_channels,
            "bit_depth": self.bit_depth,
            "size": list(self.size),
            "n_train": len(self.items),
            "label_nc": d.label_nc,
            "sketch_mode": d.mode if d.label_nc else "image",
            "sketch_channels": self.sketch_channels,
            "in_bit_depth": d.in_bit_depth,
            "edges": self.edges,
            "classes": d.classes,
        }

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, index: int) -> tuple:
        if self.cache is not None and index in self.cache:
            return self.cache[index]
        out = read_item(self.items[index])
        if self.cache is not None:
            self.cache[index] = out
        return out

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        import torch

        epoch, index = key if isinstance(key, tuple) else (0, key)
        image, sketch, instance = self._read(index)
        target = to_unit(channels_first(image, self.image_channels), self.bit_depth)
        arrays = [target, channels_first(sketch, 1 if self.decoding.label_nc else
                                         self.sketch_channels).astype(np.float32)]  # fmt: skip
        if instance is not None:
            arrays.append(instance[None].astype(np.float32))  # ids < 2^24 stay exact
        if self.train:
            rng = np.random.default_rng([self.seed, epoch, index])
            arrays = augment(
                arrays, rng, crop=self.crop, load=self.load, mode=self.mode, flip=self.flip,
                nearest=[False] + [True] * (len(arrays) - 1),
            )  # fmt: skip
        else:
            arrays = [center_crop(a, self.crop) for a in arrays]
        target, sketch_c = arrays[0], arrays[1]
        inst = arrays[2][0].astype(np.int64) if instance is not None else None
        raw = sketch_c[0] if self.decoding.label_nc else sketch_c.transpose(1, 2, 0)
        raw = np.rint(raw).astype(sketch.dtype)
        x, view = make_input(
            raw, inst, self.decoding, self.edges, self.items[index].image,
            sketch_channels=self.sketch_channels,
        )  # fmt: skip
        return {
            "input": torch.from_numpy(x),
            "target": torch.from_numpy(np.ascontiguousarray(target)),
            "view": torch.from_numpy(np.ascontiguousarray(view)),
            "name": self.items[index].name,
        }
