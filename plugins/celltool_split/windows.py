"""Where samples are cut from a frame: numpy in, numpy out.

A splitter (the ``register_splitters`` family) is ``f(shape, rng, **params) -> windows``:
``shape`` is the frame's (H, W), ``rng`` a seeded ``numpy.random.Generator`` of that frame, and
``windows`` a list of ``(row, col, height, width)`` cut from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool.errors import InfeasibleError, UsageError

Window = tuple[int, int, int, int]


def crop_size(crop: Sequence[int]) -> tuple[int, int]:
    size = tuple(int(v) for v in crop)
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or min(size) < 1:
        raise UsageError(f"--crop {','.join(map(str, crop))}: expected H,W or one number")
    return size  # type: ignore[return-value]


def random_crops(
    shape: Sequence[int],
    rng: np.random.Generator,
    *,
    crop: Sequence[int] = (256, 256),
    crops: int = 4,
    min_distance: float = -1.0,
    max_tries: int = 1000,
) -> list[Window]:
    """``crops`` origins uniform over the frame, each farther than ``min_distance`` from every
    origin accepted before (rejection sampling, at most ``max_tries`` draws in all; after
    ``max_tries // 10`` rejections in a row the accepted origins are dropped and it restarts).

    ``min_distance`` -1 means the crop diagonal, so crops never overlap.
    Raises :class:`InfeasibleError` when the crop does not fit or the draws run out.
    """
    h, w = crop_size(crop)
    height, width = int(shape[0]), int(shape[1])
    if crops < 1:
        raise UsageError("--crops must be at least 1")
    if h > height or w > width:
        raise InfeasibleError(f"a {h}x{w} crop does not fit in a {height}x{width} frame")
    limit = float(np.hypot(h, w)) if min_distance < 0 else float(min_distance)
    accepted: list[tuple[int, int]] = []
    best = 0
    rejected = 0
    restart_after = max(10, int(max_tries) // 10)
    for _ in range(max(1, int(max_tries))):
        row = int(rng.integers(0, height - h + 1))
        col = int(rng.integers(0, width - w + 1))
        if all(np.hypot(row - r, col - c) > limit for r, c in accepted):
            accepted.append((row, col))
            best, rejected = max(best, len(accepted)), 0
            if len(accepted) == crops:
                return [(r, c, h, w) for r, c in accepted]
        else:
            rejected += 1
            if rejected >= restart_after:  # the accepted origins block the rest: start over
                accepted, rejected = [], 0
    raise InfeasibleError(
        f"placed at most {best} of {crops} {h}x{w} crops with origins more than "
        f"{limit:.1f} px apart in a {height}x{width} frame after {max_tries} tries; "
        "lower --crops or --min-distance, or use a smaller --crop"
    )


def whole_frame(shape: Sequence[int], rng: np.random.Generator) -> list[Window]:
    """One sample: the whole frame."""
    return [(0, 0, int(shape[0]), int(shape[1]))]
