"""Toy time-lapses of moving cells (numpy only): bright blurred ellipses on a gray background
translated by a constant velocity each frame, with their binary masks. For tests and quick
checks of temporal models (a known, constant motion)."""

from __future__ import annotations

import numpy as np


def moving_cells(
    frames: int,
    size: int = 64,
    *,
    cells: int = 6,
    velocity: tuple[float, float] = (0.0, 2.0),
    radius: tuple[float, float] = (4.0, 7.0),
    seed: int = 0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``frames`` uint8 images and masks (0/255) of ``size``²; cell centres move by
    ``velocity`` = (dy, dx) px per frame and wrap around the borders (periodic field)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, size, (cells, 2))
    radii = rng.uniform(*radius, (cells, 2))
    angles = rng.uniform(0, np.pi, cells)
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    images, masks = [], []
    for t in range(frames):
        mask = np.zeros((size, size), bool)
        moved = centres + t * np.asarray(velocity)
        for (cy, cx), (ry, rx), a in zip(moved, radii, angles, strict=True):
            dy = (yy - cy + size / 2) % size - size / 2  # periodic distance
            dx = (xx - cx + size / 2) % size - size / 2
            u = dy * np.cos(a) + dx * np.sin(a)
            v = -dy * np.sin(a) + dx * np.cos(a)
            mask |= (u / ry) ** 2 + (v / rx) ** 2 <= 1
        body = ndimage.gaussian_filter(mask.astype(np.float64), 1.0)
        noise = np.random.default_rng([seed, t]).normal(0, 3, (size, size))
        image = 90 + 120 * body + noise
        images.append(np.clip(np.rint(image), 0, 255).astype(np.uint8))
        masks.append(mask.astype(np.uint8) * 255)
    return images, masks


def simulate_toy(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    frames: int = 24,
    n_cells: int = 6,
    velocity: tuple[float, float] = (0.0, 2.0),
    radius: tuple[float, float] = (4.0, 7.0),
) -> dict[str, np.ndarray]:
    """The simulator target: ``{"images": (T, H, W) uint8, "cells": (T, H, W) uint16}``
    (cells: connected components of each frame's mask; a square field of side ``shape[0]``)."""
    from scipy import ndimage

    if shape[0] != shape[1]:
        raise ValueError(f"the toy time-lapse is square; got {shape}")
    seed = int(rng.integers(0, 2**31))
    images, masks = moving_cells(
        frames, shape[0], cells=n_cells, velocity=velocity, radius=radius, seed=seed
    )
    labels = [ndimage.label(m > 0)[0].astype(np.uint16) for m in masks]
    return {"images": np.stack(images), "cells": np.stack(labels)}
