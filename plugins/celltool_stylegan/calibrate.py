"""Choose how generated channels are split into cells, against real masks (numpy in, numpy out).

``split_instances`` puts one watershed marker wherever the (Gaussian-smoothed, σ =
``marker_smooth`` px) instance distance reaches ``marker_depth`` px. Too deep a marker cuts an
elongated cell whose distance ridge dips at a waist into fragments; too shallow a marker joins
touching cells. Which pair is right depends on how sharp a run's distance channel came out, so
``celltool generate RUN --split-reference MASKS`` chooses it per run: the first
:data:`SAMPLES` samples' channels are split with every pair of :data:`GRID`, each set is
compared with as many crops of MASKS (cut as the run's training cut its masks) by the mean
W1/std of the seven shape statistics (``celltool.mask_statistics``), and the lowest wins.
MASKS is usually the training masks; never the data a result is scored against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

GRID = {"marker_depth": (0.5, 1.0, 1.5, 2.0, 2.5), "marker_smooth": (0.0, 0.5, 1.0)}
SAMPLES = 200  # samples split with every pair, and reference crops


def score_grid(
    channels: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    split: Mapping[str, float],
    stats: Sequence[str] | None = None,
) -> dict[str, float]:
    """Mean W1/std over ``stats`` (default: all seven) of the maps each GRID pair makes of
    ``channels`` (C×H×W in [-1, 1]) against ``reference``, keyed ``"depth/smooth"``; infinite
    where a pair yields nothing to measure. ``split`` holds split_instances' other arguments
    (threshold, distance_max, min_size)."""
    from celltool.mask_statistics import STATISTICS, collect, compare
    from celltool_stylegan.instances import split_instances

    names = tuple(stats or STATISTICS)
    real = collect(reference)  # once, not per pair
    scores = {}
    for depth in GRID["marker_depth"]:
        for smooth in GRID["marker_smooth"]:
            maps = [split_instances(c[0], c[1], marker_depth=depth, smooth=smooth, **split)
                    for c in channels]  # fmt: skip
            row = compare(real, collect(maps))
            score = float(np.mean([row[f"{k}_w"] for k in names]))
            scores[f"{depth:g}/{smooth:g}"] = score if np.isfinite(score) else float("inf")
    return scores


def best(scores: Mapping[str, float]) -> dict[str, float]:
    """The generate options of the lowest score (the first GRID pair on a tie)."""
    depth, smooth = (float(v) for v in min(scores, key=scores.get).split("/"))
    return {"marker_depth": depth, "marker_smooth": smooth}


def reference_crops(folder: Path, config: Mapping[str, Any], n: int, seed: int) -> list[np.ndarray]:
    """n label maps cut from the masks of ``folder`` as the run's training cut its own (the
    run's resolution, scale and preprocessing; crops from ``default_rng([seed, 0, i])``)."""
    from celltool_stylegan.data import MaskDataset

    data = MaskDataset([folder], {**config, "seed": seed, "epoch_images": n}, train=True)
    return [data.arrays(0, i)[1] for i in range(n)]
