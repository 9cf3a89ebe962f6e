"""Spot label maps and a rendered spot image with a camera noise model (numpy in, numpy out).

- Label map: spot k (id k + 1) covers the pixels whose centre lies within ``radius`` of its
  sub-pixel centre; where discs overlap, a pixel goes to the spot whose centre pixel is nearest
  (then the nearer exact centre), so every spot keeps at least its own centre pixel.
- Image: each spot is a 2D Gaussian PSF (σ px) centred at its sub-pixel position with peak
  ``amplitude`` photons, integrated exactly over each pixel (differences of erf); plus a
  uniform background; the camera draws Poisson photon noise, adds Gaussian read noise (e⁻),
  multiplies by the gain (ADU/e⁻), adds the offset and rounds and clips to the bit depth
  (never wraps).
"""

from __future__ import annotations

import math

import numpy as np

MAX_RADIUS = 20.0


def spot_labels(shape: tuple[int, int], y: np.ndarray, x: np.ndarray, radius: float) -> np.ndarray:
    """uint16 label map of discs (ids 1..N in the order of ``y``/``x``)."""
    if not 0 < radius <= MAX_RADIUS:
        raise ValueError(f"radius {radius} must lie in (0, {MAX_RADIUS}]")
    if y.size >= 2**16:
        raise ValueError(f"{y.size} spots do not fit in a uint16 label map")
    height, width = shape
    labels = np.zeros(shape, dtype=np.uint16)
    best = np.full(shape, np.inf)
    reach = int(math.ceil(radius)) + 1
    for k in range(y.size):
        r0, c0 = int(np.floor(y[k] + 0.5)), int(np.floor(x[k] + 0.5))
        top, left = max(0, r0 - reach), max(0, c0 - reach)
        bottom, right = min(height, r0 + reach + 1), min(width, c0 + reach + 1)
        rows = np.arange(top, bottom)[:, None]
        cols = np.arange(left, right)[None, :]
        exact = (rows - y[k]) ** 2 + (cols - x[k]) ** 2
        own = (rows - r0) ** 2 + (cols - c0) ** 2
        inside = (exact <= radius * radius) | (own == 0)
        key = own * 1e4 + exact  # nearest centre pixel first, then the nearer exact centre
        box = best[top:bottom, left:right]
        win = inside & (key < box)
        box[win] = key[win]
        labels[top:bottom, left:right][win] = k + 1
    return labels


def amplitudes(n: int, rng: np.random.Generator, mean: float, cv: float) -> np.ndarray:
    """Peak photon counts: log-normal with the given mean and coefficient of variation
    (constant for ``cv`` 0)."""
    if cv <= 0:
        return np.full(n, float(mean))
    sigma = math.sqrt(math.log1p(cv * cv))
    return rng.lognormal(math.log(mean) - sigma * sigma / 2, sigma, n)


def _erf(values: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(values)


def render_spots(
    shape: tuple[int, int], y: np.ndarray, x: np.ndarray, peak: np.ndarray, sigma: float
) -> np.ndarray:
    """Expected photons per pixel (float64) of Gaussian spots integrated over each pixel."""
    height, width = shape
    image = np.zeros(shape)
    reach = int(math.ceil(5 * sigma)) + 1  # the tails beyond 5σ: < 1e-6 of a spot
    scale = math.sqrt(2) * sigma
    for k in range(y.size):
        r0, c0 = int(np.floor(y[k] + 0.5)), int(np.floor(x[k] + 0.5))
        top, left = max(0, r0 - reach), max(0, c0 - reach)
        bottom, right = min(height, r0 + reach + 1), min(width, c0 + reach + 1)
        if top >= bottom or left >= right:
            continue
        edges_r = np.arange(top, bottom + 1) - 0.5
        edges_c = np.arange(left, right + 1) - 0.5
        py = np.diff(_erf((edges_r - y[k]) / scale)) / 2
        px = np.diff(_erf((edges_c - x[k]) / scale)) / 2
        total = peak[k] * 2 * math.pi * sigma * sigma  # photons of the whole spot
        image[top:bottom, left:right] += total * py[:, None] * px[None, :]
    return image


def camera(
    expected: np.ndarray,
    rng: np.random.Generator,
    *,
    background: float,
    read_noise: float,
    gain: float,
    offset: float,
    bit_depth: int,
) -> np.ndarray:
    """Photons → ADU: Poisson(expected + background) e⁻, + N(0, read_noise²) e⁻, × gain,
    + offset, rounded and clipped to [0, 2^bit_depth − 1] (uint8 for 8 bits, else uint16)."""
    if bit_depth not in (8, 12, 16):
        raise ValueError(f"bit depth {bit_depth} is not 8, 12 or 16")
    electrons = rng.poisson(np.maximum(expected + background, 0)).astype(np.float64)
    if read_noise > 0:
        electrons += rng.normal(0, read_noise, expected.shape)
    adu = np.rint(electrons * gain + offset)
    top = 2**bit_depth - 1
    return np.clip(adu, 0, top).astype(np.uint8 if bit_depth == 8 else np.uint16)


def binary_mask(labels: np.ndarray) -> np.ndarray:
    """The spot mask as CellGen's pix2pixHD input: uint8 0/255 (lossless PNG, never JPEG)."""
    return ((labels > 0) * 255).astype(np.uint8)
