"""Separable resampling between voxel grids that share their origin (the volume's first corner).

A grid of ``n_in`` voxels of size ``d_in`` maps onto ``n_out`` voxels of size ``d_out``; output
voxel ``o`` covers input coordinates ``[o·r, (o+1)·r)`` with ``r = d_out / d_in`` (input voxel
``i`` covers ``[i, i+1)``).

- ``area``: the mean over the output voxel's footprint (exact overlap weights). This is what a
  camera pixel does laterally and it is the anti-aliasing filter of a down-sampling; it keeps
  the mean intensity.
- ``linear``: linear interpolation at the output voxel's centre (a point sample: a focal plane
  in z, or up-sampling).
- ``nearest``: the input voxel under the output voxel's centre (labels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def output_size(n_in: int, d_in: float, d_out: float) -> int:
    """Voxels needed to cover ``n_in`` voxels of size ``d_in`` with voxels of size ``d_out``."""
    return max(1, int(round(n_in * d_in / d_out)))


def axis_weights(n_in: int, n_out: int, ratio: float, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Gather indices and weights ``(idx, w)``, each (K, n_out):
    ``out[o] = Σ_k w[k, o] · x[idx[k, o]]``."""
    o = np.arange(n_out, dtype=np.float64)
    if mode == "linear":
        centre = np.clip((o + 0.5) * ratio - 0.5, 0.0, n_in - 1)
        low = np.minimum(np.floor(centre).astype(np.int64), max(n_in - 2, 0))
        frac = centre - low
        idx = np.stack([low, np.minimum(low + 1, n_in - 1)])
        return idx, np.stack([1.0 - frac, frac])
    if mode == "nearest":
        idx = np.minimum(np.floor((o + 0.5) * ratio).astype(np.int64), n_in - 1)
        return idx[None], np.ones((1, n_out))
    if mode != "area":
        raise ValueError(f"unknown resampling mode {mode!r} (area, linear, nearest)")
    start = np.minimum(o * ratio, n_in - 1e-9)
    stop = np.clip((o + 1) * ratio, start + 1e-9, n_in)
    first = np.floor(start).astype(np.int64)
    k_max = int(np.max(np.ceil(stop) - first))
    idx = first[None, :] + np.arange(k_max)[:, None]
    overlap = np.minimum(idx + 1, stop[None, :]) - np.maximum(idx, start[None, :])
    w = np.clip(overlap, 0.0, None) / (stop - start)[None, :]
    return np.minimum(idx, n_in - 1), w


def resample_axis(
    x: np.ndarray, axis: int, n_out: int, ratio: float, mode: str, out_dtype=np.float32
) -> np.ndarray:
    """Resample ``x`` along ``axis`` to ``n_out`` voxels (see the module docstring)."""
    n_in = x.shape[axis]
    if mode == "nearest":
        if n_in == n_out and ratio == 1.0:
            return x
        return np.take(x, axis_weights(n_in, n_out, ratio, mode)[0][0], axis=axis)
    if n_in == n_out and ratio == 1.0:
        return x.astype(out_dtype, copy=False)
    idx, w = axis_weights(n_in, n_out, ratio, mode)
    shape = [1] * x.ndim
    shape[axis] = n_out
    out = None
    for k in range(idx.shape[0]):
        term = np.take(x, idx[k], axis=axis).astype(out_dtype, copy=False)
        term *= w[k].astype(out_dtype).reshape(shape)
        out = term if out is None else out.__iadd__(term)
    return out


def resample(
    volume: np.ndarray,
    voxel_in: Sequence[float],
    voxel_out: Sequence[float],
    modes: Sequence[str],
    shape_out: Sequence[int] | None = None,
) -> np.ndarray:
    """Resample a (Z, Y, X) volume from voxel size ``voxel_in`` to ``voxel_out``, one mode per
    axis (z, y, x). Axes are done in the order that shrinks the data first."""
    if shape_out is None:
        shape_out = [
            output_size(n, a, b) for n, a, b in zip(volume.shape, voxel_in, voxel_out, strict=True)
        ]
    ratios = [b / a for a, b in zip(voxel_in, voxel_out, strict=True)]
    order = sorted(range(3), key=lambda ax: shape_out[ax] / volume.shape[ax])
    out = volume
    for axis in order:
        out = resample_axis(out, axis, int(shape_out[axis]), ratios[axis], modes[axis])
    return out
