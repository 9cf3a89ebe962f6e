"""Training data of the StyleGAN mask model: a folder of masks or label maps.

Accepted inputs (one or more folders): plain images (binary or anti-aliased masks of any bit
depth; > half range = cell), instance label maps (uint16/uint32, or any folder whose manifest
says ``labels``), or a container whose ``cells`` part holds label maps (a segmentation or a
simulation); a sketch's ``index`` part counts every class except wound/tissue/background as
cell. Binary masks get their instances from 8-connected components; label maps keep theirs, so
touching cells stay separable.

Items are addressed by ``(epoch, index)``: an epoch is ``epoch_images`` items (the mask of item
i is i mod #masks) and every item's crop and flip come from
``numpy.random.default_rng([seed, epoch, index])`` — independent of workers and resumes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import list_images, read_image
from celltool.manifest import read_manifest
from celltool_stylegan.instances import components, distance_channel

NOT_CELLS = {"background", "wound", "tissue"}


def mask_files(folder: Path) -> tuple[list[Path], str, list[int] | None]:
    """(files, kind, cell class indices) of one input folder; kind is auto/labels/index."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CelltoolError("folder does not exist", folder)
    manifest = read_manifest(folder) or {}
    parts = manifest.get("facts", {}).get("parts", {})
    for name in ("cells", "labels"):  # a segmentation/simulation, or generated label maps
        if name in parts:
            return list_images(folder / parts[name]), "labels", None
    if "index" in parts and manifest.get("kind") == "sketch":
        classes = manifest["facts"].get("classes", [])
        cells = [int(c["index"]) for c in classes if c["name"] not in NOT_CELLS]
        return list_images(folder / parts["index"]), "index", cells
    kind = "labels" if manifest.get("kind") == "labels" else "auto"
    return list_images(folder), kind, None


def read_mask(path: Path, kind: str = "auto", cells: Sequence[int] | None = None):
    """(foreground float32 in [0, 1], instance labels int32) of one mask file.

    ``auto``: bool or 8-bit images are masks (anti-aliased grey kept as the foreground, cell =
    > 127), wider integer types are label maps unless they hold only two values (a binary
    16-bit mask: its components)."""
    array = read_image(path)
    if array.ndim == 3:
        array = array[..., 0]
    if kind == "index":
        fg = np.isin(array, list(cells or []))
        return fg.astype(np.float32), components(fg).astype(np.int32)
    if kind == "auto" and array.dtype in (np.bool_, np.uint8):
        top = 1.0 if array.dtype == np.bool_ else 255.0
        fg = array.astype(np.float32) / top
        return fg, components(fg > 0.5).astype(np.int32)
    if array.dtype.kind == "f":
        fg = np.clip(array.astype(np.float32), 0, 1)
        return fg, components(fg > 0.5).astype(np.int32)
    if kind == "auto" and len(np.unique(array)) <= 2:  # a binary 16-bit mask: components
        fg = array > 0
        return fg.astype(np.float32), components(fg).astype(np.int32)
    labels = array.astype(np.int32)
    return (labels > 0).astype(np.float32), labels


def rescale(fg: np.ndarray, labels: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Resize by ``scale``: area interpolation for the foreground, nearest for the labels."""
    if scale == 1:
        return fg, labels
    import cv2

    h, w = fg.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    fg = cv2.resize(fg, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    labels = cv2.resize(labels.astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
    return fg, labels.astype(np.int32)


def crop(arrays: Sequence[np.ndarray], size: int, rng: np.random.Generator | None):
    """A size×size window (random, or central when rng is None); smaller masks are padded
    with background."""
    h, w = arrays[0].shape
    ph, pw = max(0, size - h), max(0, size - w)
    if ph or pw:
        arrays = [np.pad(a, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2))) for a in arrays]
        h, w = arrays[0].shape
    if rng is None:
        y, x = (h - size) // 2, (w - size) // 2
    else:
        y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return [a[y : y + size, x : x + size] for a in arrays]


class MaskDataset:
    """Items ``{"image": 1×R×R foreground, "distance": 1×R×R instance distance, "name"}``, both
    in [-1, 1], from a list of mask folders (see the module docstring)."""

    def __init__(self, folders: Sequence[Path], config: Mapping[str, Any], *, train: bool = True):
        self.files: list[tuple[Path, str, list[int] | None]] = []
        for folder in folders:
            files, kind, cells = mask_files(Path(folder))
            self.files += [(p, kind, cells) for p in files]
        if not self.files:
            raise CelltoolError("holds no mask images", Path(folders[0]))
        self.train = train
        self.seed = int(config.get("seed", 0))
        self.resolution = int(config.get("resolution", 128))
        self.scale = float(config.get("scale", 1.0))
        self.mode = str(config.get("preprocess", "crop"))
        self.mirror = bool(config.get("mirror", True))
        self.distance_max = float(config.get("distance_max", 4.0))
        self.length = int(config.get("epoch_images", 1000)) if train else len(self.files)
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        fg, _ = self._load(0)
        self.size = fg.shape

    @property
    def info(self) -> dict[str, Any]:
        return {
            "in_channels": 0,
            "out_channels": 2,
            "bit_depth": 8,
            "size": [self.resolution, self.resolution],
            "n_masks": len(self.files),
            "mask_size": list(self.size),
        }

    def __len__(self) -> int:
        return self.length

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index not in self.cache:
            path, kind, cells = self.files[index]
            try:
                fg, labels = read_mask(path, kind, cells)
            except CelltoolError:
                raise
            except Exception as exc:
                raise CelltoolError(f"unreadable mask ({exc})", path) from None
            if self.mode == "resize":
                scale = self.resolution / max(fg.shape)
                fg, labels = rescale(fg, labels, scale)
            else:
                fg, labels = rescale(fg, labels, self.scale)
            self.cache[index] = (fg, labels)
        return self.cache[index]

    def mask_index(self, index: int) -> int:
        """Training: item i is mask i mod n. Otherwise (sample grids) masks spread over the
        folder (time-lapse neighbours look alike), each with a fixed random crop."""
        n = len(self.files)
        return index % n if self.train else (index * max(1, n // 8)) % n

    def arrays(self, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(foreground [0, 1], labels) of one item, cropped and flipped as training sees it."""
        mask = self.mask_index(index)
        fg, labels = self._load(mask)
        rng = np.random.default_rng([self.seed, epoch, index])
        fg, labels = crop([fg, labels], self.resolution, rng)
        if self.train and self.mirror and rng.random() < 0.5:
            fg, labels = fg[:, ::-1], labels[:, ::-1]
        return np.ascontiguousarray(fg), np.ascontiguousarray(labels)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        import torch

        epoch, index = key if isinstance(key, tuple) else (0, key)
        fg, labels = self.arrays(epoch, index)
        dist = distance_channel(labels, self.distance_max)
        return {
            "image": torch.from_numpy(fg * 2 - 1).unsqueeze(0),
            "distance": torch.from_numpy(dist).unsqueeze(0),
            "name": self.files[self.mask_index(index)][0].stem,
        }
