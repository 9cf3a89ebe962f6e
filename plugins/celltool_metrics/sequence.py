"""Sequence metrics: a generated time-lapse against the real continuation (numpy in, dicts out).

Frames are 2D gray arrays; generated step k is compared with real frame k (the caller aligns
them). Motion uses dense Farnebäck flow (celltool.flow) with Sequence-Generation's parameters on
8-bit frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool.flow import flows, to_uint8
from celltool.labels import MIN_OBJECT_SIZE, count_objects, foreground
from celltool_metrics import image

__all__ = ["MIN_OBJECT_SIZE", "count_objects", "flows", "foreground", "to_uint8"]


def _check(real: Sequence[np.ndarray], gen: Sequence[np.ndarray]) -> None:
    if len(real) != len(gen):
        raise ValueError(f"{len(real)} real frames but {len(gen)} generated frames")
    if len(real) < 2:
        raise ValueError("sequence metrics need at least 2 frames")
    for r, g in zip(real, gen, strict=False):
        if r.shape != g.shape or r.ndim != 2:
            raise ValueError(f"frames must be 2D and of equal shape, not {r.shape} vs {g.shape}")


def motion(
    real: Sequence[np.ndarray], gen: Sequence[np.ndarray], *, data_range: float
) -> dict[str, object]:
    """Flow agreement and motion amount.

    ``flow_cosine``: per pixel (f_r·f_g)/(‖f_r‖‖f_g‖ + 1e−6), averaged over pixels, then over
    steps (Sequence-Generation's definition; where flows are below ~1e−3 px the 1e−6 dominates,
    so even identical slow sequences score below 1). ``flow_cosine_weighted``:
    Σ f_r·f_g / Σ ‖f_r‖‖f_g‖ per step (magnitude-weighted; 1 for identical motion), mean over steps.
    ``flow_magnitude_real/_generated``: mean over steps of the mean flow magnitude (px/frame).
    """
    _check(real, gen)
    fr, fg = flows(real, data_range), flows(gen, data_range)
    cos, wcos, mag_r, mag_g = [], [], [], []
    for a, b in zip(fr, fg, strict=False):
        na, nb = np.linalg.norm(a, axis=2), np.linalg.norm(b, axis=2)
        dot = np.sum(a * b, axis=2)
        cos.append(float(np.mean(dot / (na * nb + 1e-6))))
        norm = float(np.sum(na * nb, dtype=np.float64))
        wcos.append(float(np.sum(dot, dtype=np.float64)) / norm if norm > 0 else float("nan"))
        mag_r.append(float(na.mean()))
        mag_g.append(float(nb.mean()))
    return {
        "flow_cosine": float(np.mean(cos)),
        "flow_cosine_weighted": float(np.mean(wcos)),
        "flow_magnitude_real": float(np.mean(mag_r)),
        "flow_magnitude_generated": float(np.mean(mag_g)),
        "curves": {
            "flow_cosine": cos,
            "flow_cosine_weighted": wcos,
            "flow_magnitude_real": mag_r,
            "flow_magnitude_generated": mag_g,
        },
    }


def frame_difference(
    real: Sequence[np.ndarray], gen: Sequence[np.ndarray], *, data_range: float
) -> dict[str, object]:
    """Mean over steps of ‖F_{k+1} − F_k‖_F with frames scaled to [0, 1] by ``data_range``."""
    _check(real, gen)

    def norms(frames: Sequence[np.ndarray]) -> list[float]:
        x = [np.asarray(f, dtype=np.float64) / float(data_range) for f in frames]
        return [float(np.linalg.norm(b - a)) for a, b in zip(x[:-1], x[1:], strict=False)]

    nr, ng = norms(real), norms(gen)
    return {
        "frame_difference_real": float(np.mean(nr)),
        "frame_difference_generated": float(np.mean(ng)),
        "curves": {"frame_difference_real": nr, "frame_difference_generated": ng},
    }


def objects(
    real: Sequence[np.ndarray],
    gen: Sequence[np.ndarray],
    *,
    data_range: float,
    min_object_size: int = MIN_OBJECT_SIZE,
) -> dict[str, object]:
    """Object count (Otsu foreground, 8-connected components ≥ ``min_object_size`` px) and
    foreground coverage (fraction of pixels) per frame; scalars are mean |generated − real|
    over frames."""
    _check(real, gen)

    def curves(frames: Sequence[np.ndarray]) -> tuple[list[int], list[float]]:
        counts, cover = [], []
        for f in frames:
            mask = foreground(f)
            counts.append(count_objects(mask, min_object_size))
            cover.append(float(mask.mean()))
        return counts, cover

    cr, vr = curves(real)
    cg, vg = curves(gen)
    return {
        "object_count_error": float(np.mean(np.abs(np.subtract(cg, cr)))),
        "coverage_error": float(np.mean(np.abs(np.subtract(vg, vr)))),
        "curves": {
            "object_count_real": cr,
            "object_count_generated": cg,
            "coverage_real": vr,
            "coverage_generated": vg,
        },
    }


def per_step(
    real: Sequence[np.ndarray], gen: Sequence[np.ndarray], *, data_range: float
) -> dict[str, object]:
    """PSNR, SSIM (Gaussian) and MAE of generated step k against real frame k, and their means."""
    _check(real, gen)
    curves = {
        "step_psnr": [
            image.psnr(r, g, data_range=data_range) for r, g in zip(real, gen, strict=False)
        ],
        "step_ssim": [
            image.ssim(r, g, data_range=data_range) for r, g in zip(real, gen, strict=False)
        ],
        "step_mae": [image.mae(r, g) for r, g in zip(real, gen, strict=False)],
    }
    return {**{k: float(np.mean(v)) for k, v in curves.items()}, "curves": curves}
