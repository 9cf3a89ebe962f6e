"""The time-lapse grows: forecast the held-back frames' density from the training frames alone.

The shared time-lapse has 61 cells at frame 000 and 108 per frame over frames 150–159; the
held-back frames 160–199 have more. A mask model trained on frames 000–159 learns their density,
so :func:`forecast` predicts the mean cell count and coverage per frame over frames 160–199 from
frames 000–159 only, and the StyleGAN benchmark steers generation to it (``--steer``).

The rule is chosen by a backtest inside the training frames: each candidate (a straight line
or an exponential, fitted to the last W frames) forecasts frames 120–159 from the frames
before 120, and the one with the lowest mean relative error over both statistics is refitted
on frames 000–159 and extrapolated. The held-back frames play no part.

The spacing of the cells (mean distance from a cell's centroid to its nearest neighbour's) is
not extrapolated along time: the rule the backtest picks for it forecasts frames 160–199 wider
apart than frames 150–159 while the density grows (recorded as ``spacing_extrapolated``, the
rejected alternative). It follows the density instead: per training frame,
mean distance ∝ count^b (b fitted on frames 000–159 in log-log; −0.48, close to the −½ of
points placed at random), so the forecast count growth g gives the spacing factor g^b.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

RULES = [(kind, window) for kind in ("linear", "exponential") for window in (40, 80, 120)]


def frame_statistics(
    read: Callable[[int], np.ndarray], frames: Sequence[int]
) -> dict[str, np.ndarray]:
    """Per frame: objects (8-connected components of mask > 127), foreground fraction and the
    mean distance between nearest-neighbour centroids (``spacing``)."""
    from scipy import ndimage

    from celltool.labels import centroid_spacing

    count, coverage, spacing = [], [], []
    for i in frames:
        mask = read(i) > 127
        labels, k = ndimage.label(mask, structure=np.ones((3, 3), bool))
        count.append(k)
        coverage.append(float(mask.mean()))
        spacing.append(float(np.mean(centroid_spacing(labels))) if k > 1 else np.nan)
    return {"count": np.asarray(count, float), "coverage": np.asarray(coverage),
            "spacing": np.asarray(spacing)}  # fmt: skip


def spacing_exponent(count: np.ndarray, spacing: np.ndarray) -> float:
    """b of spacing ∝ count^b, least squares in log-log over the frames that have both."""
    ok = (count > 1) & np.isfinite(spacing)
    return float(np.polyfit(np.log(count[ok]), np.log(spacing[ok]), 1)[0])


def extrapolate(
    values: np.ndarray, known: np.ndarray, horizon: np.ndarray, kind: str, window: int
) -> float:
    """Mean over ``horizon`` of a line (or an exponential: a line in log) fitted by least
    squares to the last ``window`` of the ``known`` frames."""
    t = known[-window:]
    y = values[t]
    if kind == "exponential":
        y = np.log(np.maximum(y, 1e-12))
    fitted = np.polyval(np.polyfit(t, y, 1), horizon)
    return float(np.mean(np.exp(fitted) if kind == "exponential" else fitted))


def forecast(
    stats: dict[str, np.ndarray], last_train: int = 159, horizon: tuple[int, int] = (160, 199),
    backtest_from: int = 120,
) -> dict:  # fmt: skip
    """Choose a rule by backtest on the training frames (``stats`` indexed by frame 0 …
    ``last_train``) and forecast the mean of each statistic over ``horizon``."""
    past, test = np.arange(backtest_from), np.arange(backtest_from, last_train + 1)
    errors = {}
    for kind, window in RULES:
        errors[f"{kind}_{window}"] = {
            k: extrapolate(v, past, test, kind, window) / float(np.mean(v[test])) - 1
            for k, v in stats.items()
        }
    best = min(errors, key=lambda r: np.mean(np.abs(list(errors[r].values()))))
    kind, window = best.rsplit("_", 1)
    ahead = np.arange(horizon[0], horizon[1] + 1)
    train = np.arange(last_train + 1)
    return {
        "rule": best,
        "backtest_relative_error": errors,
        "forecast": {k: extrapolate(v, train, ahead, kind, int(window)) for k, v in stats.items()},
    }


def crop_targets(
    data: Path, frames: range, seen: Sequence[np.ndarray], spacing: bool = False
) -> tuple[dict[str, float], dict]:  # fmt: skip
    """Mean count and coverage per crop to steer to: the training crops' means scaled by the
    forecast growth from the training frames (``frames``) to frames 160–199; with ``spacing``
    also the mean nearest-neighbour distance (``nn_distance``, over objects), the training
    crops' scaled by the count growth to the power :func:`spacing_exponent`."""
    from celltool.imageio import read_image
    from celltool.labels import centroid_spacing, label_density

    stats = frame_statistics(lambda i: read_image(data / f"{i:03d}.png"), range(160))
    density = {k: stats[k] for k in ("count", "coverage")}
    trend = forecast(density)
    frame_means = {k: float(np.mean(v[list(frames)])) for k, v in stats.items()}
    growth = {k: trend["forecast"][k] / frame_means[k] for k in density}
    count, coverage = np.array([label_density(s) for s in seen]).T
    crop_means = {"count": float(count.mean()), "coverage": float(coverage.mean())}
    targets = {k: crop_means[k] * growth[k] for k in crop_means}
    extra = {}
    if spacing:
        b = spacing_exponent(stats["count"], stats["spacing"])
        growth["nn_distance"] = growth["count"] ** b
        crop_means["nn_distance"] = float(np.mean(np.concatenate(
            [centroid_spacing(s) for s in seen])))  # fmt: skip
        targets["nn_distance"] = crop_means["nn_distance"] * growth["nn_distance"]
        extra = {"spacing_exponent": b,
                 "spacing_extrapolated": forecast({"spacing": stats["spacing"]})}  # fmt: skip
    return targets, {**trend, **extra, "growth": growth, "training_frame_means": frame_means,
                     "training_crop_means": crop_means, "targets": targets}  # fmt: skip
