"""Spheroid masks: from a microscopy volume (extract_spheroid_mask.py of cell_data_synthesis,
with its closing really iterated) or a filled ellipsoid / hollow shell from radii
(create_ellipsoid_mask.py). Volumes are (Z, Y, X); masks are boolean."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool_spheroid.errors import BadInput, BadParameter

MAX_MASK_VOXELS = 2_000_000_000


def ellipsoid_mask(
    radii: Sequence[float],
    *,
    inner: float | None = None,
    shape: Sequence[int] | None = None,
) -> np.ndarray:
    """A filled ellipsoid of semi-axes ``radii`` (z, y, x, in voxels), or a hollow shell.

    The ellipsoid is centred in ``shape`` (default ``2·ceil(r) + 1`` per axis, the smallest box
    that holds it). ``inner`` in (0, 1) removes the ellipsoid of semi-axes ``inner · radii``
    (create_ellipsoid_mask.py used 2/3): a shell of thickness ``(1 − inner) · radii``.
    """
    r = np.asarray(radii, dtype=float)
    if r.shape != (3,) or np.any(r <= 0):
        raise BadParameter(f"radii must be three positive numbers (z, y, x), got {list(radii)}")
    if inner is not None and not 0 < inner < 1:
        raise BadParameter(f"the shell's inner fraction must lie in (0, 1), got {inner}")
    if shape is None:
        shape = tuple(int(2 * np.ceil(v) + 1) for v in r)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1 or np.prod(shape, dtype=float) > MAX_MASK_VOXELS:
        raise BadParameter(f"mask shape must be three positive sizes below 2e9 voxels: {shape}")
    axes = [(np.arange(n) - (n - 1) / 2) / v for n, v in zip(shape, r, strict=True)]
    dist = axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
    mask = dist <= 1.0
    if inner is not None:
        mask &= dist > inner**2
    return mask


def _ellipsoid_element(semi_axes: Sequence[float]) -> np.ndarray:
    """A small rounded structuring element (odd size, centred) of the given semi-axes."""
    half = [int(np.floor(a)) for a in semi_axes]
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    return sum((g / a) ** 2 for g, a in zip(grids, semi_axes, strict=True)) <= 1.0


def _dilate(mask: np.ndarray, radii: Sequence[float]) -> np.ndarray:
    """Dilation by the ellipsoid of semi-axes ``radii`` (voxels), via a distance transform."""
    from scipy import ndimage

    dist = ndimage.distance_transform_edt(~mask, sampling=[1.0 / r for r in radii])
    return dist <= 1.0


def closing(mask: np.ndarray, radii: Sequence[float]) -> np.ndarray:
    """Morphological closing by an ellipsoid of semi-axes ``radii`` (voxels).

    The volume is padded so that the erosion neither sticks to nor eats from the edges; the
    result contains ``mask``.
    """
    pad = [int(np.ceil(r)) + 1 for r in radii]
    padded = np.pad(mask, [(p, p) for p in pad])
    grown = _dilate(padded, radii)
    closed = ~_dilate(~grown, radii)
    inner = tuple(slice(p, p + n) for p, n in zip(pad, mask.shape, strict=True))
    return closed[inner] | mask


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component of ``mask`` (all False when empty)."""
    from scipy import ndimage

    pieces, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if count <= 1:
        return pieces > 0
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0
    return pieces == int(np.argmax(sizes))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill every background component except the largest (the outside), as the original."""
    from scipy import ndimage

    background, count = ndimage.label(~mask)
    if count <= 1:
        return mask.copy()
    sizes = np.bincount(background.ravel())
    sizes[0] = 0
    return background != int(np.argmax(sizes))


def spheroid_mask(
    volume: np.ndarray,
    *,
    sigma: float = 5.0,
    opening_radii: Sequence[float] = (1.0, 1.5, 1.5),
    closing_radii: Sequence[float] = (20.0, 15.0, 25.0),
) -> np.ndarray:
    """The region of the cell culture in a microscopy volume (an over-segmentation).

    Gaussian blur (``sigma`` voxels); voxels below the blurred volume's mean are background;
    opening by a small rounded element (``opening_radii``, the original's 3×4×4 cross); the
    largest 26-connected component; holes filled; closing by an ellipsoid of
    ``closing_radii`` voxels — ten iterations of the original's 5×4×6 element, which its loop
    meant but did not do (each pass restarted from the same input).
    """
    from scipy import ndimage

    radii = (*opening_radii, *closing_radii)
    if not (0 <= sigma <= 100 and len(radii) == 6 and all(0 < r <= 1000 for r in radii)):
        raise BadParameter(
            f"sigma must lie in 0..100 and the opening/closing radii (3 each) in (0, 1000] "
            f"voxels, got {sigma}, {list(opening_radii)}, {list(closing_radii)}"
        )
    vol = np.asarray(volume)
    if vol.ndim != 3 or min(vol.shape) < 2:
        raise BadInput(f"a spheroid mask needs a 3D volume (Z, Y, X), got shape {vol.shape}")
    smooth = ndimage.gaussian_filter(vol.astype(np.float32), sigma)
    foreground = smooth >= smooth.mean()
    foreground = ndimage.binary_opening(foreground, _ellipsoid_element(opening_radii))
    foreground = largest_component(foreground)
    if not foreground.any():
        return foreground
    foreground = fill_holes(foreground)
    return closing(foreground, closing_radii)
