"""Procedural 2D fluorescence-like cell images with exact ground truth (numpy in, numpy out)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

MIN_CELL_AREA = 40


def wobble_terms(rng: np.random.Generator, irregularity: float) -> list[tuple[float, float]]:
    """(amplitude, phase) of the outline harmonics k = 2..5 of one irregular shape."""
    return [(rng.normal(0, irregularity / k), rng.uniform(0, 2 * np.pi)) for k in range(2, 6)]


def shape_mask(
    terms: list[tuple[float, float]],
    radius: float,
    aspect: float,
    angle: float,
    dy: np.ndarray,
    dx: np.ndarray,
) -> np.ndarray:
    """A filled irregular ellipse centred at 0 with the outline harmonics ``terms``, over pixel
    offsets ``dy`` and ``dx`` (fixed terms keep a cell's outline from frame to frame)."""
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    a, b = radius * np.sqrt(aspect), radius / np.sqrt(aspect)
    phi = np.arctan2(v, u)
    rho = np.hypot(u, v)
    r_edge = a * b / np.sqrt((b * np.cos(phi)) ** 2 + (a * np.sin(phi)) ** 2)
    wobble = np.ones_like(phi)
    for k, (amplitude, phase) in enumerate(terms, start=2):
        wobble += amplitude * np.cos(k * phi + phase)
    return rho <= r_edge * np.clip(wobble, 0.5, 1.5)


def _shape_mask(
    rng: np.random.Generator,
    radius: float,
    aspect: float,
    irregularity: float,
    angle: float,
    dy: np.ndarray,
    dx: np.ndarray,
) -> np.ndarray:
    """A filled irregular ellipse centred at 0, over pixel offsets ``dy`` and ``dx``."""
    return shape_mask(wobble_terms(rng, irregularity), radius, aspect, angle, dy, dx)


def _largest_piece(mask: np.ndarray) -> np.ndarray:
    pieces, count = ndimage.label(mask)
    if count <= 1:
        return mask
    sizes = np.bincount(pieces.ravel())[1:]
    return pieces == 1 + int(np.argmax(sizes))


def _box(shape: tuple[int, int], cy: int, cx: int, size: int) -> tuple[slice, slice]:
    """Image slices of a (size, size) box centred at (cy, cx), clipped to the image."""
    half = size // 2
    ys = slice(max(cy - half, 0), min(cy - half + size, shape[0]))
    xs = slice(max(cx - half, 0), min(cx - half + size, shape[1]))
    return ys, xs


def _offsets(ys: slice, xs: slice, cy: float, cx: float) -> tuple[np.ndarray, np.ndarray]:
    dy = np.arange(ys.start, ys.stop, dtype=np.float32)[:, None] - np.float32(cy)
    dx = np.arange(xs.start, xs.stop, dtype=np.float32)[None, :] - np.float32(cx)
    return dy, dx


def place_cells(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    n_cells: int,
    cell_radius: tuple[float, float],
    elongation: tuple[float, float],
    irregularity: float,
    max_overlap: float,
    nucleus_scale: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Cell and nucleus instance maps (uint16, nucleus i inside cell i, ids 1..N)."""
    cells = np.zeros(shape, np.uint16)
    nuclei = np.zeros(shape, np.uint16)
    placed, tries = 0, 0
    while placed < n_cells and tries < 30 * n_cells:
        tries += 1
        radius = rng.uniform(*cell_radius)
        aspect = rng.uniform(*elongation)
        angle = rng.uniform(0, np.pi)
        size = int(2 * radius * np.sqrt(aspect) * 1.6) | 1
        cy, cx = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
        ys, xs = _box(shape, cy, cx, size)
        dy, dx = _offsets(ys, xs, cy, cx)
        body = _shape_mask(rng, radius, aspect, irregularity, angle, dy, dx)
        area = body.sum()
        if area < MIN_CELL_AREA:
            continue
        taken = cells[ys, xs] > 0
        if (body & taken).sum() > max_overlap * area:
            continue
        visible = _largest_piece(body & ~taken)  # one connected region per instance
        if visible.sum() < MIN_CELL_AREA:
            continue
        placed += 1
        cells[ys, xs][visible] = placed
        scale = rng.uniform(*nucleus_scale)
        shift = rng.normal(0, radius * (1 - scale) * 0.25, size=2)
        nucleus = _shape_mask(
            rng,
            radius * scale,
            1 + (aspect - 1) * 0.5,
            irregularity * 0.5,
            angle + rng.normal(0, 0.2),
            dy - np.float32(shift[0]),
            dx - np.float32(shift[1]),
        )
        nuclei[ys, xs][_largest_piece(nucleus & visible)] = placed
    return cells, nuclei


def check_counts(shape: tuple[int, int], n_cells: int, cell_radius: tuple[float, float]) -> None:
    """Refuse more cells than the image area holds (placement would try in vain for minutes):
    at most twice the area over the smallest cell's."""
    from celltool.errors import UsageError

    lo = min(cell_radius)
    if lo <= 0 or max(cell_radius) < lo:
        raise UsageError(f"--cell-radius {cell_radius}: expected 0 < lo <= hi")
    limit = int(2 * shape[0] * shape[1] / (np.pi * lo**2)) + 1
    if n_cells > limit:
        raise UsageError(
            f"--n-cells {n_cells}: a {shape[0]}x{shape[1]} image holds at most about {limit} "
            f"cells of radius {lo:g} px; lower --n-cells or --cell-radius"
        )


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return noise / (noise.std() + 1e-8)


def background_pattern(
    rng: np.random.Generator, shape: tuple[int, int], background: float, texture: float
) -> np.ndarray:
    """The background signal: ``background`` with a smooth (sigma 16 px) variation."""
    return background * (1 + 0.3 * texture * _smooth_noise(rng, shape, 16.0))


def render(
    cells: np.ndarray,
    nuclei: np.ndarray,
    rng: np.random.Generator,
    *,
    background: float,
    cell_intensity: tuple[float, float],
    nucleus_gain: float,
    texture: float,
    vignetting: float,
    psf_sigma: float,
    photons: float,
    read_noise: float,
    bit_depth: int,
    levels: np.ndarray | None = None,
    background_field: np.ndarray | None = None,
) -> np.ndarray:
    """Fluorescence image of the given cells: signal, vignetting, PSF, shot and read noise.

    ``levels`` (brightness per id, ``levels[0]`` = 0) and ``background_field`` (the smooth
    background pattern, :func:`background_pattern`) default to fresh draws from ``rng``; a
    time-lapse passes its own so that a cell keeps its brightness and the background its
    pattern from frame to frame.
    """
    if levels is None:
        n = int(cells.max())
        levels = np.concatenate([[0.0], rng.uniform(*cell_intensity, size=n)])
    signal = np.asarray(levels, np.float32)[cells]
    signal = np.where(nuclei > 0, signal * nucleus_gain, signal)
    signal *= np.clip(1 + texture * _smooth_noise(rng, cells.shape, 2.0), 0.2, None)
    if background_field is None:
        background_field = background_pattern(rng, cells.shape, background, texture)
    signal += background_field
    yy, xx = np.mgrid[0 : cells.shape[0], 0 : cells.shape[1]].astype(np.float32)
    r2 = ((yy - cells.shape[0] / 2) ** 2 + (xx - cells.shape[1] / 2) ** 2) / (
        (cells.shape[0] / 2) ** 2 + (cells.shape[1] / 2) ** 2
    )
    signal *= 1 - vignetting * r2
    if psf_sigma > 0:
        signal = ndimage.gaussian_filter(signal, psf_sigma)
    counts = rng.poisson(np.clip(signal, 0, None) * photons).astype(np.float32)
    counts += rng.normal(0, read_noise, size=counts.shape).astype(np.float32)
    full = 2**bit_depth - 1
    brightest = max(cell_intensity) * max(nucleus_gain, 1.0) + background
    gray = counts * (0.9 * full / (brightest * photons))
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.clip(np.rint(gray), 0, full).astype(dtype)


def simulate_cells(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    n_cells: int = 40,
    cell_radius=(12.0, 26.0),
    elongation=(1.0, 2.6),
    irregularity: float = 0.12,
    max_overlap: float = 0.2,
    nucleus_scale=(0.35, 0.55),
    background: float = 0.08,
    cell_intensity=(0.25, 0.75),
    nucleus_gain: float = 1.5,
    texture: float = 0.25,
    vignetting: float = 0.35,
    psf_sigma: float = 1.2,
    photons: float = 120.0,
    read_noise: float = 3.0,
    bit_depth: int = 8,
) -> dict[str, np.ndarray]:
    """One simulated image: ``{"images": image, "cells": labels, "nuclei": labels}``."""
    check_counts(shape, n_cells, cell_radius)
    cells, nuclei = place_cells(
        shape,
        rng,
        n_cells=n_cells,
        cell_radius=cell_radius,
        elongation=elongation,
        irregularity=irregularity,
        max_overlap=max_overlap,
        nucleus_scale=nucleus_scale,
    )
    image = render(
        cells,
        nuclei,
        rng,
        background=background,
        cell_intensity=cell_intensity,
        nucleus_gain=nucleus_gain,
        texture=texture,
        vignetting=vignetting,
        psf_sigma=psf_sigma,
        photons=photons,
        read_noise=read_noise,
        bit_depth=bit_depth,
    )
    return {"images": image, "cells": cells, "nuclei": nuclei}
