"""2D images and 3D stacks with their axes and voxel size (µm).

Reading: any image :func:`celltool.imageio.read_image` reads, plus what the file says about
its axes and voxel size. Axes come from celltool's own TIFF metadata (``axes``, written by
:func:`celltool.imageio.write_image`), OME-XML or ImageJ hyperstack metadata, else from the
shape (``YX``, ``YXC`` for a trailing axis of 1-4, ``ZYX``). The voxel size comes from the
folder manifest (``facts.voxel_size``, [z, y, x] µm) when the caller passes it, else from the
file: OME ``PhysicalSizeX/Y/Z`` (with their units), or ImageJ's ``spacing`` (z) and the
XResolution/YResolution tags (pixels per ``unit``).

Writing: :func:`write_volume` writes OME-TIFF (axes and ``PhysicalSize*`` in µm), losslessly
and atomically; every reader that understands OME (Fiji, napari, tifffile) sees the voxel size.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import (
    TIFF_DTYPES,
    TIFF_EXTS,
    atomic_write_bytes,
    default_axes,
    read_image,
)

SPATIAL = "ZYX"
# unit name (lower case) -> factor to µm
UNITS = {
    "µm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "\\u00b5m": 1.0,
    "nm": 1e-3, "nanometer": 1e-3, "mm": 1e3, "millimeter": 1e3, "m": 1e6, "cm": 1e4,
}  # fmt: skip


@dataclass(frozen=True)
class Volume:
    """An image or stack as stored (``data`` in the order of ``axes``), and its voxel size
    in µm per spatial axis in ``spatial`` order ((z, y, x) or (y, x)), or None when unknown."""

    data: np.ndarray
    axes: str
    voxel_size: tuple[float, ...] | None = None

    @property
    def spatial(self) -> str:
        """The spatial axes in order: ``"ZYX"`` or ``"YX"``."""
        return "".join(a for a in SPATIAL if a in self.axes)

    @property
    def dims(self) -> int:
        return len(self.spatial)

    @property
    def shape(self) -> tuple[int, ...]:
        """Spatial shape ((Z, Y, X) or (Y, X))."""
        return tuple(self.data.shape[self.axes.index(a)] for a in self.spatial)

    def channels_first(self) -> np.ndarray:
        """The data as (C, *spatial): a missing channel axis becomes C = 1."""
        return to_channels_first(self.data, self.axes)


def to_channels_first(data: np.ndarray, axes: str) -> np.ndarray:
    """(…) in ``axes`` → (C, Z, Y, X) or (C, Y, X). Channel axes are ``C`` or ``S``
    (samples, e.g. RGB); a time axis of length 1 is dropped, a longer one is refused."""
    axes = axes.upper()
    if len(axes) != data.ndim:
        raise ValueError(f"axes {axes!r} do not fit shape {data.shape}")
    for i, a in reversed(list(enumerate(axes))):
        if a not in "CSZYX":
            if data.shape[i] != 1:
                raise ValueError(f"axis {a!r} of length {data.shape[i]} is not supported")
            data, axes = data.take(0, axis=i), axes[:i] + axes[i + 1 :]
    channel = [i for i, a in enumerate(axes) if a in "CS"]
    if len(channel) > 1:
        raise ValueError(f"axes {axes!r} have more than one channel axis")
    if not channel:
        data, axes = data[None], "C" + axes
    spatial = [axes.index(a) for a in SPATIAL if a in axes]
    order = [i for i, a in enumerate(axes) if a in "CS"] + spatial
    return np.ascontiguousarray(data.transpose(order))


# -- reading ---------------------------------------------------------------------------------
def manifest_voxel_size(manifest: Mapping[str, Any] | None, dims: int) -> tuple[float, ...] | None:
    """``facts.voxel_size`` ([z, y, x] µm; [y, x] accepted for images) for ``dims`` axes."""
    size = (manifest or {}).get("facts", {}).get("voxel_size")
    if not size:
        return None
    size = tuple(float(v) for v in size)
    if len(size) == 3 and dims == 2:
        return size[1:]
    return size if len(size) == dims else None


def read_volume(path: str | Path, manifest: Mapping[str, Any] | None = None) -> Volume:
    """Read an image or stack with its axes and voxel size (see the module docstring);
    ``manifest`` is the manifest of the folder holding it (its voxel size wins)."""
    path = Path(path)
    if path.suffix.lower() not in TIFF_EXTS:
        data = read_image(path)
        axes = default_axes(data) if data.ndim == 3 else "YX"
        volume = Volume(data, axes)
    else:
        volume = _read_tiff(path)
    size = manifest_voxel_size(manifest, volume.dims)
    if size is not None:
        return Volume(volume.data, volume.axes, size)
    return volume


def _read_tiff(path: Path) -> Volume:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            data = np.asarray(tif.asarray())
            axes, size = tiff_axes_and_size(tif, data)
    except FileNotFoundError:
        raise CelltoolError("file does not exist", path) from None
    except Exception as exc:
        raise CelltoolError(f"cannot read image ({exc.__class__.__name__}: {exc})", path) from None
    return Volume(data, axes, size)


def tiff_axes_and_size(tif: Any, data: np.ndarray) -> tuple[str, tuple[float, ...] | None]:
    """Axes of ``data`` (as ``tif.asarray()`` returned it) and the voxel size the file records."""
    axes = None
    meta = tif.shaped_metadata
    if meta and "axes" in meta[0]:
        axes = str(meta[0]["axes"]).upper()
    elif tif.is_ome or tif.is_imagej:
        axes = str(tif.series[0].axes).upper()
    if axes is None or len(axes) != data.ndim or not set(axes) <= set("TCSZYXQ"):
        axes = default_axes(data)
    axes = axes.replace("Q", "Z") if axes.count("Q") == 1 and "Z" not in axes else axes
    spatial = "".join(a for a in SPATIAL if a in axes)
    sizes: dict[str, float] = {}
    if tif.is_ome:
        sizes = _ome_sizes(tif.ome_metadata or "")
    elif tif.is_imagej:
        sizes = _imagej_sizes(tif)
    if all(a in sizes for a in spatial):
        return axes, tuple(sizes[a] for a in spatial)
    return axes, None


def _ome_sizes(xml: str) -> dict[str, float]:
    """``PhysicalSize{X,Y,Z}`` of the first OME ``Pixels`` element, in µm."""
    import xml.etree.ElementTree as ET

    try:
        pixels = ET.fromstring(xml).find(".//{*}Pixels")
    except ET.ParseError:
        return {}
    if pixels is None:
        return {}
    out = {}
    for axis in "XYZ":
        value = pixels.get(f"PhysicalSize{axis}")
        factor = UNITS.get(pixels.get(f"PhysicalSize{axis}Unit", "µm").lower())
        if value is not None and factor is not None:
            out[axis] = float(value) * factor
    return out


def _imagej_sizes(tif: Any) -> dict[str, float]:
    """ImageJ: x/y from the resolution tags (pixels per unit), z from ``spacing``."""
    meta = tif.imagej_metadata or {}
    factor = UNITS.get(str(meta.get("unit", "")).lower())
    if factor is None:
        return {}
    tags = tif.pages[0].tags
    out = {}
    for axis, tag in (("X", "XResolution"), ("Y", "YResolution")):
        if tag in tags:
            num, den = tags[tag].value
            if num:
                out[axis] = den / num * factor
    if "spacing" in meta:
        out["Z"] = float(meta["spacing"]) * factor
    return out


def volume_shape(path: str | Path) -> tuple[tuple[int, ...], str]:
    """(spatial shape, axes) of an image file, reading only its header when it is a TIFF."""
    path = Path(path)
    if path.suffix.lower() not in TIFF_EXTS:
        volume = read_volume(path)
        return volume.shape, volume.axes
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            axes, _ = tiff_axes_and_size(tif, _Shape(series.shape))  # type: ignore[arg-type]
    except FileNotFoundError:
        raise CelltoolError("file does not exist", path) from None
    except Exception as exc:
        raise CelltoolError(f"cannot read image ({exc.__class__.__name__}: {exc})", path) from None
    shape = tuple(series.shape)
    return tuple(shape[axes.index(a)] for a in SPATIAL if a in axes), axes


class _Shape:
    """Stands in for an array where only ``shape`` and ``ndim`` are looked at."""

    def __init__(self, shape: Sequence[int]) -> None:
        self.shape = tuple(shape)
        self.ndim = len(self.shape)


# -- writing ---------------------------------------------------------------------------------
def write_volume(
    path: str | Path,
    data: np.ndarray,
    *,
    voxel_size: Sequence[float] | None = None,
    axes: str | None = None,
) -> Path:
    """Write an image or stack as OME-TIFF, losslessly and atomically.

    ``axes`` defaults to ``ZYX`` for 3D arrays (``YX`` for 2D); ``voxel_size`` is in µm per
    spatial axis in (z, y, x) / (y, x) order and is written as ``PhysicalSize*`` in µm.
    """
    import tifffile

    path = Path(path)
    data = np.asarray(data)
    if path.suffix.lower() not in TIFF_EXTS:
        raise CelltoolError("volumes are written as OME-TIFF (.tif/.tiff)", path)
    if data.dtype.type not in TIFF_DTYPES or data.dtype == np.bool_:
        raise CelltoolError(f"celltool does not write {data.dtype} volumes", path)
    axes = (axes or ("ZYX" if data.ndim == 3 else default_axes(data))).upper()
    if len(axes) != data.ndim:
        raise CelltoolError(f"axes {axes!r} do not fit an array of shape {data.shape}", path)
    metadata: dict[str, Any] = {"axes": axes}
    spatial = "".join(a for a in SPATIAL if a in axes)
    if voxel_size is not None:
        if len(voxel_size) != len(spatial):
            raise CelltoolError(
                f"voxel size {tuple(voxel_size)} does not fit axes {spatial!r}", path
            )
        for axis, value in zip(spatial, voxel_size, strict=True):
            metadata[f"PhysicalSize{axis}"] = float(value)
            metadata[f"PhysicalSize{axis}Unit"] = "µm"
    buffer = io.BytesIO()
    rgb = axes.endswith(("C", "S")) and data.shape[-1] in (3, 4)
    tifffile.imwrite(
        buffer, data, ome=True, photometric="rgb" if rgb else "minisblack", metadata=metadata
    )
    atomic_write_bytes(path, buffer.getvalue())
    return path
