"""Paired training data (the ``pairs`` folder kind) and seeded, resumable augmentation.

Items are addressed by a key ``(epoch, index)``: the augmentation of item ``index`` in epoch
``epoch`` draws from ``numpy.random.default_rng([seed, epoch, index])``, so results depend
neither on loader workers nor on where a run was interrupted and resumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import header_shape, list_images, read_image
from celltool.manifest import MANIFEST_NAME, read_manifest, recorded_bit_depth

SPLITS = ("train", "val", "test")


# -- reading ---------------------------------------------------------------------------------
def pair_files(folder: Path, split: str) -> tuple[str, list[Any]]:
    """The layout of a pairs folder and its items of ``split``.

    Side-by-side: a list of files ``[image | sketch]``. Folders: a list of ``(image, sketch)``
    path tuples matched by stem. A folder without a manifest is taken as side-by-side (data
    sets made for the original pix2pix).
    """
    folder = Path(folder)
    manifest = read_manifest(folder) or {}
    layout = manifest.get("facts", {}).get("layout", "side-by-side")
    base = folder / split
    if not base.is_dir():
        raise CelltoolError(f"has no '{split}' split", folder)
    if layout == "folders":
        images = {p.stem: p for p in list_images(base / "image")}
        sketches = {p.stem: p for p in list_images(base / "sketch")}
        missing = sorted(set(images) ^ set(sketches))
        if missing:
            raise CelltoolError(f"image and sketch files do not match: {missing[:3]}", base)
        return layout, [(images[s], sketches[s]) for s in images]
    if layout != "side-by-side":
        raise CelltoolError(f"unknown pairs layout {layout!r}", folder)
    return layout, list_images(base)


def image_size(path: Path) -> tuple[int, ...]:
    """The (Y, X[, C]) shape of an image file from its header (decoded when the header cannot
    be parsed); a CelltoolError naming the file when it is not a readable image."""
    found = header_shape(path)
    return tuple(found[0]) if found is not None else tuple(read_image(path).shape)


def check_files(paths: Sequence[Path]) -> list[tuple[int, ...]]:
    """The shape of every file a data set lists, read from its header before training starts:
    a broken or foreign file is one line naming it, not an error (or nothing) later."""
    return [image_size(Path(p)) for p in paths]


def split_side_by_side(array: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``[image | sketch]`` → (image, sketch): left half = real image, right half = sketch."""
    width = array.shape[1]
    if width % 2:
        raise CelltoolError(f"side-by-side pair has an odd width {width}", path)
    return array[:, : width // 2], array[:, width // 2 :]


def channels_first(array: np.ndarray, channels: int) -> np.ndarray:
    """(Y, X[, C]) → (C, Y, X); RGB with identical channels becomes gray when ``channels == 1``."""
    if array.ndim == 2:
        array = array[:, :, None]
    array = array[:, :, :3] if array.shape[2] == 4 else array
    if channels == 1:
        array = array[:, :, :1]
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def channels_of(array: np.ndarray) -> int:
    """1 for gray, also for RGB whose three channels are identical (original pix2pix data)."""
    if array.ndim == 2 or array.shape[2] == 1:
        return 1
    rgb = array[:, :, :3]
    if np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2]):
        return 1
    return 3


def check_input(
    array: np.ndarray,
    path: Path,
    *,
    channels: int,
    bit_depth: int | None = None,
    dims: int = 2,
) -> np.ndarray:
    """``array`` if a model trained on ``channels``-channel, ``bit_depth``-bit, ``dims``-D
    data takes it as it is; else a CelltoolError naming the file. Nothing is mangled in
    silence: a 3D stack is not a 5-row image, colour is not its red channel, 16-bit values are
    not clipped to 8 bits. A gray image given to a colour model is replicated per channel; an
    alpha channel is ignored."""
    if dims == 2 and (array.ndim > 3 or (array.ndim == 3 and array.shape[2] > 4)):
        raise CelltoolError(f"is a 3D stack {array.shape}; this model takes 2D images", path)
    if dims == 2:
        have = channels_of(array)
        if have != channels and not (have == 1 and channels == 3):
            raise CelltoolError(
                f"has {have} channels; the model was trained on {channels}-channel images "
                "(convert it first)",
                path,
            )
    if bit_depth is not None and array.dtype.kind in "ui" and array.size:
        top = 2**bit_depth - 1
        if int(array.max()) > top:
            raise CelltoolError(
                f"holds values up to {int(array.max())}; the model was trained on "
                f"{bit_depth}-bit images (0..{top})",
                path,
            )
        if array.dtype.itemsize == 1 and bit_depth > 8:
            raise CelltoolError(f"is 8-bit; the model was trained on {bit_depth}-bit images", path)
    return array


def to_unit(array: np.ndarray, bit_depth: int) -> np.ndarray:
    """Integer image → float32 in [-1, 1] using the recorded bit depth (not the dtype)."""
    if array.dtype.kind == "f":
        return array.astype(np.float32) * 2 - 1
    scale = float(2**bit_depth - 1)
    return np.clip(array.astype(np.float32) / scale, 0, 1) * 2 - 1


def from_unit(array: np.ndarray, bit_depth: int) -> np.ndarray:
    """[-1, 1] → uint8 (bit depth ≤ 8) or uint16 scaled to the bit depth."""
    scale = 2**bit_depth - 1
    values = np.rint((np.clip(array, -1, 1) + 1) / 2 * scale)
    return values.astype(np.uint8 if bit_depth <= 8 else np.uint16)


def bit_depth_from(
    manifest: Mapping[str, Any] | None, sample: np.ndarray, folder: Path | None = None
) -> int:
    """The bit depth integer images are scaled by: the manifest's ``facts.bit_depth`` (checked
    against the images' type; errors name ``folder``'s manifest), else 8 for uint8 and 16 for
    other images."""
    where = Path(folder or ".")
    depth = recorded_bit_depth(manifest, where)
    if depth is None:
        return 8 if sample.dtype == np.uint8 else 16
    if sample.dtype.kind in "ui" and depth > sample.dtype.itemsize * 8:
        raise CelltoolError(
            f"facts.bit_depth {depth} does not fit its {sample.dtype} images",
            where / MANIFEST_NAME,
        )
    return depth


# -- augmentation ----------------------------------------------------------------------------
def augment(
    arrays: Sequence[np.ndarray],
    rng: np.random.Generator,
    *,
    crop: int,
    load: int,
    mode: str,
    flip: bool,
    nearest: Sequence[bool],
) -> list[np.ndarray]:
    """Apply ONE random resize/crop/flip to several aligned (C, Y, X) arrays.

    ``nearest[i]``: resize array i with nearest neighbour (sketches/masks keep their codes;
    Sequence-Generation's bicubic resize blurred them), else with area/linear interpolation.
    """
    import cv2

    out = list(arrays)
    if mode == "resize_and_crop":
        resized = []
        for array, near in zip(out, nearest, strict=False):
            interp = cv2.INTER_NEAREST if near else cv2.INTER_LINEAR
            planes = [cv2.resize(p, (load, load), interpolation=interp) for p in array]
            resized.append(np.stack(planes))
        out = resized
    if mode in ("resize_and_crop", "crop"):
        height, width = out[0].shape[1:]
        if height < crop or width < crop:
            raise ValueError(f"image {height}x{width} is smaller than crop_size {crop}")
        y = int(rng.integers(0, height - crop + 1))
        x = int(rng.integers(0, width - crop + 1))
        out = [a[:, y : y + crop, x : x + crop] for a in out]
    if flip and rng.random() < 0.5:
        out = [a[:, :, ::-1] for a in out]
    return [np.ascontiguousarray(a) for a in out]


def center_crop(array: np.ndarray, crop: int) -> np.ndarray:
    height, width = array.shape[-2:]
    y, x = max(0, (height - crop) // 2), max(0, (width - crop) // 2)
    return np.ascontiguousarray(array[..., y : y + crop, x : x + crop])


# -- the data set ----------------------------------------------------------------------------
class PairsDataset:
    """Items of one split of a ``pairs`` folder as ``{"input", "target", "name"}`` tensors.

    Keys are ``(epoch, index)`` (see the module docstring); ``train=False`` gives the
    un-augmented centre crop. ``info`` holds channels and bit depth for the trainer.
    """

    def __init__(
        self,
        folder: Path,
        split: str,
        config: Mapping[str, Any],
        *,
        train: bool = True,
    ) -> None:
        self.folder = Path(folder)
        self.split = split
        self.layout, self.items = pair_files(self.folder, split)
        if not self.items:
            raise CelltoolError(f"split '{split}' holds no pairs", self.folder)
        check_files([p for item in self.items for p in (item if isinstance(item, tuple) else
                                                        (item,))])  # fmt: skip
        self.train = train
        self.seed = int(config.get("seed", 0))
        self.direction = config.get("direction", "sketch2image")
        self.crop = int(config.get("crop_size", 256))
        self.load = int(config.get("load_size", 0)) or round(self.crop * 286 / 256)
        self.mode = config.get("preprocess", "resize_and_crop")
        self.flip = bool(config.get("flip", True))
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = (
            {} if config.get("cache") else None
        )
        manifest = read_manifest(self.folder)
        image, sketch = self._read(0)
        self.bit_depth = bit_depth_from(manifest, image, self.folder)
        self.sketch_bit_depth = 8 if sketch.dtype == np.uint8 else self.bit_depth
        self.image_channels = channels_of(image)
        self.sketch_channels = channels_of(sketch)
        self.size = image.shape[:2]
        self.classes = (manifest or {}).get("facts", {}).get("classes")

    @property
    def info(self) -> dict[str, Any]:
        sketch_first = self.direction == "sketch2image"
        chans = (self.sketch_channels, self.image_channels)
        depths = (self.sketch_bit_depth, self.bit_depth)
        return {
            "in_channels": chans[0] if sketch_first else chans[1],
            "out_channels": chans[1] if sketch_first else chans[0],
            "bit_depth": depths[1] if sketch_first else depths[0],
            "in_bit_depth": depths[0] if sketch_first else depths[1],
            "size": list(self.size),
            "n_train": len(self.items),
            "classes": self.classes,
        }

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is not None and index in self.cache:
            return self.cache[index]
        item = self.items[index]
        if self.layout == "folders":
            image, sketch = read_image(item[0]), read_image(item[1])
        else:
            image, sketch = split_side_by_side(read_image(item), item)
        if self.cache is not None:
            self.cache[index] = (image, sketch)
        return image, sketch

    def name(self, index: int) -> str:
        item = self.items[index]
        return Path(item[0] if isinstance(item, tuple) else item).stem

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        import torch

        epoch, index = key if isinstance(key, tuple) else (0, key)
        image, sketch = self._read(index)
        image = to_unit(channels_first(image, self.image_channels), self.bit_depth)
        sketch = to_unit(channels_first(sketch, self.sketch_channels), self.sketch_bit_depth)
        if self.train:
            rng = np.random.default_rng([self.seed, epoch, index])
            image, sketch = augment(
                [image, sketch],
                rng,
                crop=self.crop,
                load=self.load,
                mode=self.mode,
                flip=self.flip,
                nearest=[False, True],
            )
        else:
            image, sketch = center_crop(image, self.crop), center_crop(sketch, self.crop)
        source, target = (sketch, image) if self.direction == "sketch2image" else (image, sketch)
        return {
            "input": torch.from_numpy(source),
            "target": torch.from_numpy(target),
            "name": self.name(index),
        }
