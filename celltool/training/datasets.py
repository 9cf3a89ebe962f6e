"""Generic training data sets of 2D images or 3D volumes: one folder, or two unpaired folders.

Items are addressed by a key ``(epoch, index)`` and draw their randomness from
``numpy.random.default_rng([seed, epoch, index])`` (the partner of an unpaired item from
``default_rng([seed, epoch, index, 7])``), so results depend neither on loader workers nor on
where a run was interrupted and resumed (see :mod:`celltool.training.data`).

A folder is a plain folder of images/stacks or a container (e.g. a ``simulation``) whose
``images`` part is used. Bit depth and voxel size come from the manifests (the part's, then
the container's), else from the files (:mod:`celltool.volumes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import list_images
from celltool.manifest import part, read_manifest
from celltool.training.data import bit_depth_from, channels_of, to_unit
from celltool.training.nd import augment_nd, center_crop_nd, check_fits, crop_axes
from celltool.volumes import manifest_voxel_size, read_volume, volume_shape

PERCENTILES = (0.1, 99.9)
MAX_SAMPLES = 1_000_000  # voxels per file for the percentile range


def folder_facts(folder: Path) -> dict[str, Any]:
    """The facts of a data folder: its container's, overridden by its images part's."""
    images = part(folder, "images")
    facts = dict((read_manifest(folder) or {}).get("facts", {}))
    if images != folder:
        facts.update((read_manifest(images) or {}).get("facts", {}))
    facts.pop("parts", None)
    return facts


def percentile_range(arrays: list[np.ndarray]) -> tuple[float, float]:
    """The 0.1-99.9 % intensity range of several arrays (each subsampled to ≤ 1e6 voxels)."""
    samples = []
    for array in arrays:
        flat = array.reshape(-1)
        step = max(1, flat.size // MAX_SAMPLES)
        samples.append(flat[::step].astype(np.float64))
    lo, hi = np.percentile(np.concatenate(samples), PERCENTILES)
    return float(lo), float(max(hi, lo + 1e-6))


class ImageSetDataset:
    """One folder of 2D images or 3D stacks as ``{"image": C×(Z)×Y×X in [-1, 1], "name"}``.

    Config keys: ``seed``, ``crop_size`` (one int or a per-axis tuple, see
    :func:`celltool.training.nd.crop_axes`), ``flip``, ``rotate``, ``normalize``
    (``bit_depth`` | ``percentile``). ``train=False`` gives the centred crop, no augmentation.
    """

    def __init__(self, folder: Path, config: Mapping[str, Any], train: bool = True) -> None:
        self.folder = Path(folder)
        self.images = part(self.folder, "images")
        self.files = list_images(self.images)
        self.train = train
        self.seed = int(config.get("seed", 0))
        self.flip = bool(config.get("flip", True))
        self.rotate = bool(config.get("rotate", True))
        self.facts = folder_facts(self.folder)
        self.manifest = {"facts": self.facts}
        first = read_volume(self.files[0], self.manifest)
        self.dims = first.dims
        self.axes = first.axes
        self.voxel_size = first.voxel_size or manifest_voxel_size(self.manifest, self.dims)
        self.bit_depth = bit_depth_from(self.manifest, first.data)
        data = first.channels_first()
        self.channels = channels_of(first.data) if self.dims == 2 else data.shape[0]
        self.size = first.shape
        try:
            self.crop = crop_axes(config.get("crop_size", 256), self.dims)
        except ValueError as exc:
            raise CelltoolError(f"--crop-size: {exc}", self.folder) from None
        for path in self.files:
            shape, _ = volume_shape(path)
            if len(shape) != self.dims:
                raise CelltoolError(
                    f"is {len(shape)}D while {self.files[0].name} is {self.dims}D", path
                )
            check_fits(shape, self.crop, path)
        self.normalize = str(config.get("normalize", "bit_depth"))
        self.range: tuple[float, float] | None = None
        if self.normalize == "percentile":
            self.range = percentile_range([read_volume(p).data for p in self.files])
        elif self.normalize != "bit_depth":
            raise CelltoolError(f"unknown --normalize {self.normalize!r}", self.folder)

    @property
    def info(self) -> dict[str, Any]:
        return {
            "in_channels": self.channels,
            "out_channels": self.channels,
            "bit_depth": self.bit_depth,
            "size": list(self.size),
            "dims": self.dims,
            "crop": list(self.crop),
            "voxel_size": list(self.voxel_size) if self.voxel_size else None,
            "intensity_range": list(self.range) if self.range else None,
            "n_train": len(self.files),
        }

    def __len__(self) -> int:
        return len(self.files)

    def name(self, index: int) -> str:
        return self.files[index].stem

    def to_unit(self, array: np.ndarray) -> np.ndarray:
        """Stored intensities → float32 in [-1, 1] by this data set's normalisation."""
        if self.range is None:
            return to_unit(array, self.bit_depth)
        lo, hi = self.range
        return (np.clip((array.astype(np.float32) - lo) / (hi - lo), 0, 1) * 2 - 1).astype(
            np.float32
        )

    def array(self, index: int, rng: np.random.Generator | None) -> np.ndarray:
        """Item ``index`` as a (C, *crop) float32 array in [-1, 1]: randomly augmented with
        ``rng`` when training, else the centred crop."""
        path = self.files[index]
        volume = read_volume(path, self.manifest)
        if volume.dims != self.dims:
            raise CelltoolError(f"is {volume.dims}D while the data set is {self.dims}D", path)
        data = volume.channels_first()
        if data.shape[0] != self.channels:
            if self.channels == 1 and self.dims == 2 and channels_of(volume.data) == 1:
                data = data[:1]  # gray stored as RGB(A)
            elif self.channels == 3 and self.dims == 2 and data.shape[0] == 4:
                data = data[:3]  # RGBA: alpha dropped
            else:
                raise CelltoolError(
                    f"has {data.shape[0]} channel(s) while the data set has {self.channels}", path
                )
        if self.train and rng is not None:
            (data,) = augment_nd(
                [data], rng, crop=self.crop, flip=self.flip, rotate=self.rotate, path=path
            )
        else:
            check_fits(data.shape[1:], self.crop, path)
            data = center_crop_nd(data, self.crop)
        return self.to_unit(data)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        import torch

        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng([self.seed, epoch, index]) if self.train else None
        return {"image": torch.from_numpy(self.array(index, rng)), "name": self.name(index)}


class UnpairedDataset:
    """Two folders (domains A and B) sampled without pairing: items ``{"A", "B", "A_name",
    "B_name", "name"}``.

    One epoch iterates over the ``driving`` domain (``"A"`` or ``"B"``): item ``index`` of
    epoch ``epoch`` is its ``index``-th image augmented with ``default_rng([seed, epoch,
    index])``; the other domain's image is drawn uniformly with ``default_rng([seed, epoch,
    index, 7])``, which then augments it. ``train=False``: centred crops, partner
    ``index mod n``. Both domains must have the same dimensionality and channels.
    """

    def __init__(
        self,
        folder_a: Path,
        folder_b: Path,
        config: Mapping[str, Any],
        train: bool = True,
        driving: str = "B",
    ) -> None:
        if driving not in ("A", "B"):
            raise ValueError(f"driving domain must be 'A' or 'B', not {driving!r}")
        self.a = ImageSetDataset(folder_a, config, train)
        self.b = ImageSetDataset(folder_b, config, train)
        if self.a.dims != self.b.dims:
            raise CelltoolError(
                f"is {self.b.dims}D while {self.a.folder} is {self.a.dims}D", self.b.folder
            )
        if self.a.channels != self.b.channels:
            raise CelltoolError(
                f"has {self.b.channels} channel(s) while {self.a.folder} has {self.a.channels}",
                self.b.folder,
            )
        self.train = train
        self.seed = self.a.seed
        self.driving = driving

    @property
    def info(self) -> dict[str, Any]:
        a, b = self.a.info, self.b.info
        drive = b if self.driving == "B" else a
        return {
            "in_channels": a["in_channels"],
            "out_channels": a["in_channels"],
            "bit_depth": a["bit_depth"],
            "size": drive["size"],
            "dims": a["dims"],
            "crop": a["crop"],
            "voxel_size": drive["voxel_size"],
            "n_train": drive["n_train"],
            "driving": self.driving,
            "domains": {"A": a, "B": b},
        }

    def __len__(self) -> int:
        return len(self.b if self.driving == "B" else self.a)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        import torch

        epoch, index = key if isinstance(key, tuple) else (0, key)
        drive, other = (self.b, self.a) if self.driving == "B" else (self.a, self.b)
        if self.train:
            first = drive.array(index, np.random.default_rng([self.seed, epoch, index]))
            rng = np.random.default_rng([self.seed, epoch, index, 7])
            partner = int(rng.integers(0, len(other)))
            second = other.array(partner, rng)
        else:
            partner = index % len(other)
            first, second = drive.array(index, None), other.array(partner, None)
        names = (drive.name(index), other.name(partner))
        if self.driving == "A":
            (a, b), (name_a, name_b) = (first, second), names
        else:
            (a, b), (name_a, name_b) = (second, first), names[::-1]
        return {
            "A": torch.from_numpy(a),
            "B": torch.from_numpy(b),
            "A_name": name_a,
            "B_name": name_b,
            "name": names[0],
        }
