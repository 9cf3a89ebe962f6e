"""3D distribution metrics of stacks (Z, Y, X) (numpy in, dicts out), after SEEDS.md §3.7."""

from __future__ import annotations

import numpy as np


def regions(mask: np.ndarray, closing: int = 15, erode: int = 2) -> dict:
    """Foreground, inside-background and outside-background masks of a binary segmentation.

    close(S) = ``closing``× dilation then ``closing``× erosion (6-connected element); the stack
    is padded by ``closing + 1`` empty voxels on every side so the closing neither sticks to
    nor is eaten from the stack's edges (cell_data_synthesis padded z only, by 16).
    BG inside = erode(close(S) ∧ ¬S, ``erode``×); BG outside = erode(¬close(S), ``erode``×).
    """
    from scipy import ndimage

    s = np.asarray(mask, dtype=bool)
    st = ndimage.generate_binary_structure(3, 1)
    pad = closing + 1
    padded = np.pad(s, pad)
    closed = ndimage.binary_erosion(
        ndimage.binary_dilation(padded, st, iterations=closing), st, iterations=closing
    )[pad:-pad, pad:-pad, pad:-pad]
    return {
        "fg": s,
        "bg_inside": ndimage.binary_erosion(closed & ~s, st, iterations=erode),
        "bg_outside": ndimage.binary_erosion(~closed, st, iterations=erode),
    }


def thirds(n: int) -> list[slice]:
    """Upper / middle / lower thirds of ``n`` slices, split at round(n/3)·(1, 2)."""
    a = round(n / 3)
    return [slice(0, a), slice(a, 2 * a), slice(2 * a, n)]


def wasserstein_depth(
    real: np.ndarray,
    gen: np.ndarray,
    *,
    real_mask: np.ndarray,
    gen_mask: np.ndarray,
    data_range: float,
    gen_data_range: float | None = None,
) -> dict[str, object]:
    """Normalised Wasserstein score 1 − W(real, syn)/W(real, 0) per z-slice and region.

    Intensities are scaled to [0, 1] by each stack's data range; W is the 1D Wasserstein
    distance of the voxel values of one region in one slice (scipy); W(real, 0) = mean(real).
    Slices 0..min(Z_real, Z_gen)−1 are compared; a slice where a region is empty is NaN.
    Scalars: the mean score per region and depth third (``fg_upper`` … ``bg_outside_lower``)
    and their mean ``wasserstein_depth``.
    """
    from scipy.stats import wasserstein_distance

    r = np.asarray(real, dtype=np.float64) / float(data_range)
    g = np.asarray(gen, dtype=np.float64) / float(gen_data_range or data_range)
    if r.ndim != 3 or g.ndim != 3:
        raise ValueError("the Wasserstein depth score needs 3D stacks (Z, Y, X)")
    rr, gr = regions(real_mask), regions(gen_mask)
    depth = min(len(r), len(g))
    curves: dict[str, list[float]] = {}
    out: dict[str, object] = {}
    for name in ("fg", "bg_inside", "bg_outside"):
        scores = []
        for z in range(depth):
            a, b = r[z][rr[name][z]], g[z][gr[name][z]]
            w0 = float(np.mean(np.abs(a))) if a.size else 0.0
            if a.size == 0 or b.size == 0 or w0 == 0:
                scores.append(float("nan"))
            else:
                scores.append(1.0 - wasserstein_distance(a, b) / w0)
        curves[name] = scores
        for third, sl in zip(("upper", "middle", "lower"), thirds(depth), strict=False):
            part = np.asarray(scores[sl])
            out[f"{name}_{third}"] = (
                float(np.nanmean(part)) if np.isfinite(part).any() else float("nan")
            )
    out["wasserstein_depth"] = float(np.nanmean([v for v in out.values() if isinstance(v, float)]))
    out["curves"] = curves
    return out


def center_crop(volume: np.ndarray, tile: int) -> np.ndarray:
    """Crop y and x (each by its own remainder) to a multiple of ``tile``, centred."""
    _, h, w = volume.shape
    ry, rx = h % tile, w % tile
    return volume[:, ry // 2 : ry // 2 + h - ry, rx // 2 : rx // 2 + w - rx]


def edge_profile(
    volume: np.ndarray,
    *,
    data_range: float,
    tile: int = 100,
    min_length: int = 50,
    min_peak: float = 0.026,
) -> np.ndarray:
    """Mean q95 Sobel edge strength versus depth below the sharpest slice (SEEDS.md §3.7).

    Scale to [0, 1]; Gaussian blur σ (0, 3, 3); per-slice Sobel magnitude (skimage); tiles of
    Z × ``tile`` × ``tile``; per tile the 95th percentile per slice; each tile profile starts at
    its maximum; tiles with a profile shorter than ``min_length`` or a peak below ``min_peak``
    are dropped; the profiles are averaged aligned at their start (NaN where none remain).
    """
    from scipy import ndimage
    from skimage.filters import sobel

    v = np.asarray(volume, dtype=np.float64) / float(data_range)
    if min(v.shape[-2:]) < tile:
        from celltool.errors import UsageError

        size = "x".join(map(str, v.shape[-2:]))
        raise UsageError(f"--edge-tile {tile}: larger than the {size} slices of the volumes")
    v = center_crop(ndimage.gaussian_filter(v, sigma=(0, 3, 3)), tile)
    edges = np.stack([sobel(s) for s in v])
    z, h, w = edges.shape
    tiles = edges.reshape(z, h // tile, tile, w // tile, tile).transpose(1, 3, 0, 2, 4)
    q95 = np.percentile(tiles.reshape(h // tile, w // tile, z, -1), 95, axis=-1)
    profiles = []
    for p in q95.reshape(-1, z):
        p = p[int(np.argmax(p)) :]
        if len(p) >= min_length and p.max() >= min_peak:
            profiles.append(p)
    if not profiles:
        return np.full(0, np.nan)
    out = np.full((len(profiles), max(map(len, profiles))), np.nan)
    for i, p in enumerate(profiles):
        out[i, : len(p)] = p
    return np.nanmean(out, axis=0)


def edge_depth(
    real: np.ndarray,
    gen: np.ndarray,
    *,
    data_range: float,
    gen_data_range: float | None = None,
    edge_tile: int = 100,
    edge_min_length: int = 50,
    edge_min_peak: float = 0.026,
) -> dict[str, object]:
    """|profile_gen − profile_real| of :func:`edge_profile`: mean per depth third (``upper``,
    ``middle``, ``lower``) and overall (``edge_depth``)."""
    kw = dict(tile=edge_tile, min_length=edge_min_length, min_peak=edge_min_peak)
    pr = edge_profile(real, data_range=data_range, **kw)
    pg = edge_profile(gen, data_range=gen_data_range or data_range, **kw)
    n = min(len(pr), len(pg))
    diff = np.abs(pg[:n] - pr[:n])
    out: dict[str, object] = {}
    for third, sl in zip(("upper", "middle", "lower"), thirds(n), strict=False):
        out[third] = float(np.mean(diff[sl])) if diff[sl].size else float("nan")
    out["edge_depth"] = float(np.mean(diff)) if n else float("nan")
    out["curves"] = {"edge_q95_real": pr.tolist(), "edge_q95_generated": pg.tolist()}
    return out
