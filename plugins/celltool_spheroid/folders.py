"""File glue of the spheroid plugin: prototype folders, volumes with their voxel sizes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import list_images
from celltool.manifest import read_manifest
from celltool_spheroid.prototypes import Prototype


def read_stack(path: Path, voxel_size: Sequence[float] = ()) -> tuple[np.ndarray, tuple]:
    """A 3D volume and its voxel size (µm, z y x): ``voxel_size`` when given, else the file's
    metadata or its folder's manifest; None when unknown."""
    from celltool.volumes import read_volume

    path = Path(path)
    volume = read_volume(path, read_manifest(path.parent) if path.parent.is_dir() else None)
    data = np.asarray(volume.data)
    if data.ndim != 3:
        raise CelltoolError(f"is not a 3D stack (Z, Y, X): shape {data.shape}", path)
    size = tuple(float(v) for v in voxel_size) or volume.voxel_size
    return data, (tuple(size) if size else None)


def stack_files(path: Path) -> list[Path]:
    """A TIFF file, or the TIFF stacks of a folder (its ``images`` part for a container)."""
    from celltool.manifest import part

    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CelltoolError("does not exist", path)
    files = [p for p in list_images(part(path, "images")) if p.suffix.lower() in (".tif", ".tiff")]
    if not files:
        raise CelltoolError("holds no TIFF stacks", path)
    return files


def write_prototypes(
    work: Path, prototypes: Sequence[Prototype], voxel_size: Sequence[float], stem: str = "p"
) -> None:
    """``images/pNNNN.tif`` (float32 in [0, 1]) and ``labels/pNNNN.tif`` (uint8 0/1), with the
    voxel size in their OME metadata."""
    from celltool.volumes import write_volume

    for sub in ("images", "labels"):
        (work / sub).mkdir(exist_ok=True)
    width = max(4, len(str(len(prototypes))))
    for i, proto in enumerate(prototypes):
        name = f"{stem}{i:0{width}d}.tif"
        write_volume(work / "images" / name, proto.image.astype(np.float32), voxel_size=voxel_size)
        write_volume(work / "labels" / name, proto.mask.astype(np.uint8), voxel_size=voxel_size)


_CACHE: dict[Any, Any] = {}


def load_prototypes(folder: str | Path) -> tuple[list[Prototype], tuple[float, ...]]:
    """A prototypes folder's prototypes and voxel size (cached per process)."""
    from celltool.volumes import read_volume

    folder = Path(folder)
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None or manifest.get("kind") != "prototypes":
        raise CelltoolError(
            "is not a prototypes folder (made by 'celltool prototypes VOLUME LABELS')", folder
        )
    key = ("prototypes", str(folder.resolve()), (folder / "celltool.json").stat().st_mtime_ns)
    if key not in _CACHE:
        voxel = manifest.get("facts", {}).get("voxel_size")
        if not voxel or len(voxel) != 3:
            raise CelltoolError("prototypes manifest has no voxel_size (z, y, x)", folder)
        out = []
        for path in list_images(folder / "images"):
            image = np.asarray(read_volume(path).data, dtype=np.float32)
            mask = np.asarray(read_volume(folder / "labels" / path.name).data) > 0
            if image.shape != mask.shape or image.ndim != 3:
                raise CelltoolError("prototype image and label differ in shape", path)
            out.append(Prototype(image, mask))
        _CACHE[key] = (out, tuple(float(v) for v in voxel))
    return _CACHE[key]


def cached(key: Any, make: Any) -> Any:
    """A per-process cache for what every volume of a run shares (mask, PSFs)."""
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]
