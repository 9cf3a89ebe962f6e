"""Where fluorescent spots go (numpy in, numpy out).

Spots are placed **inside cells**: in a compartment map (each allowed pixel holds its cell's id)
made from the cell and nucleus label maps. Per cell, the number of spots is Poisson with a mean
per cell or per unit area; positions are uniform over the compartment's pixels or clustered
around cell-specific centres, with a sub-pixel offset. A spot's centre always lies in a pixel of
its own cell, and no two spots share a centre pixel (so every spot keeps its own pixel in the
label map, see ``render.spot_labels``).

Coordinates: ``x`` is the column and ``y`` the row; the pixel (row r, column c) covers
``[c − 0.5, c + 0.5) × [r − 0.5, r + 0.5)``, so ``round(x), round(y)`` is the pixel a spot is in.

``cellgen_layout`` reproduces CellGen's Points.py cluster layout (five fixed clusters on a
1024² canvas, scaled to the image) with fresh draws per image and without its uint8 wrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COMPARTMENTS = ("cytoplasm", "nucleus", "cell")
# CellGen Tools/Points.py: cluster centres (x, y) on 1024², spots per cluster, scale factors
CELLGEN_CENTRES = ((550, 10), (500, 410), (10, 900), (1020, 350), (1020, 1))
CELLGEN_COUNTS = (50, 50, 40, 40, 30)
CELLGEN_SCALES = (1.3, 0.8, 0.9, 0.9, 1.0)
CELLGEN_STRETCH = np.array([[-5.0, 2.0], [5.0, 0.0]])  # cluster 2: draws z·C
CELLGEN_SPREAD = 50.0  # d ~ U(0, 50) px on 1024²


@dataclass
class Spots:
    """Spot centres (sub-pixel) and the id of the cell each lies in (0: outside cells)."""

    y: np.ndarray
    x: np.ndarray
    cell: np.ndarray
    dropped: int = 0  # spots that found no free pixel (or fell off the image)

    def __len__(self) -> int:
        return int(self.y.size)


def compartment(cells: np.ndarray, nuclei: np.ndarray | None, which: str) -> np.ndarray:
    """The cell id at every pixel where spots may go, 0 elsewhere.

    ``cytoplasm``: cell pixels outside nuclei (all cell pixels without a nucleus map);
    ``nucleus``: cell pixels inside nuclei; ``cell``: all cell pixels."""
    cells = cells.astype(np.int64)
    if which == "cell" or (which == "cytoplasm" and nuclei is None):
        return cells
    if nuclei is None:
        raise ValueError("the nucleus compartment needs a nuclei label map")
    if nuclei.shape != cells.shape:
        raise ValueError(f"nuclei {nuclei.shape} and cells {cells.shape} differ in size")
    if which == "cytoplasm":
        return np.where(nuclei > 0, 0, cells)
    if which == "nucleus":
        return np.where(nuclei > 0, cells, 0)
    raise ValueError(f"unknown compartment {which!r} (one of {', '.join(COMPARTMENTS)})")


def cell_pixels(region: np.ndarray) -> dict[int, np.ndarray]:
    """Flat pixel indices of every cell id > 0 of a compartment map."""
    flat = region.ravel()
    order = np.argsort(flat, kind="stable")
    ids, starts = np.unique(flat[order], return_index=True)
    ends = np.append(starts[1:], flat.size)
    return {int(i): order[s:e] for i, s, e in zip(ids, starts, ends, strict=True) if i > 0}


def spot_counts(
    areas: dict[int, int], rng: np.random.Generator, per_cell: float, density: float
) -> dict[int, int]:
    """Poisson counts per cell: mean ``density`` spots per 1000 px² of the compartment when
    ``density`` > 0, else ``per_cell``. A cell never gets more spots than it has pixels."""
    out = {}
    for cell, area in areas.items():
        mean = density * area / 1000.0 if density > 0 else per_cell
        out[cell] = min(int(rng.poisson(mean)), area)
    return out


def _subpixel(flat: np.ndarray, width: int, rng: np.random.Generator) -> tuple:
    rows, cols = np.divmod(flat, width)
    return rows + rng.uniform(-0.5, 0.5, flat.size), cols + rng.uniform(-0.5, 0.5, flat.size)


def place_uniform(region: np.ndarray, counts: dict[int, int], rng: np.random.Generator) -> Spots:
    """``counts[cell]`` spots per cell on distinct pixels, uniform over the compartment."""
    pixels = cell_pixels(region)
    ys, xs, ids = [], [], []
    for cell in sorted(counts):
        n = counts[cell]
        if n <= 0 or cell not in pixels:
            continue
        chosen = rng.choice(pixels[cell], size=n, replace=False)
        y, x = _subpixel(chosen, region.shape[1], rng)
        ys.append(y)
        xs.append(x)
        ids.append(np.full(n, cell))
    return _join(ys, xs, ids)


def place_clustered(
    region: np.ndarray,
    counts: dict[int, int],
    rng: np.random.Generator,
    *,
    clusters: int,
    sigma: float,
    tries: int = 50,
) -> Spots:
    """Per cell, ``clusters`` centres uniform in its compartment; each spot = a random centre +
    N(0, sigma²) in x and y, redrawn (at most ``tries`` times) until it lands on a free pixel
    of the same cell; after that a free pixel of the cell is taken uniformly."""
    height, width = region.shape
    pixels = cell_pixels(region)
    taken = np.zeros(region.size, dtype=bool)
    ys, xs, ids = [], [], []
    for cell in sorted(counts):
        n = counts[cell]
        if n <= 0 or cell not in pixels:
            continue
        cy, cx = _subpixel(rng.choice(pixels[cell], size=max(1, clusters)), width, rng)
        for _ in range(n):
            for _ in range(tries):
                k = int(rng.integers(cy.size))
                y, x = cy[k] + sigma * rng.standard_normal(), cx[k] + sigma * rng.standard_normal()
                r, c = int(np.floor(y + 0.5)), int(np.floor(x + 0.5))
                if 0 <= r < height and 0 <= c < width:
                    flat = r * width + c
                    if region[r, c] == cell and not taken[flat]:
                        break
            else:
                free = pixels[cell][~taken[pixels[cell]]]
                flat = int(rng.choice(free))
                (y,), (x,) = _subpixel(np.array([flat]), width, rng)
            taken[flat] = True
            ys.append(np.array([y]))
            xs.append(np.array([x]))
            ids.append(np.array([cell]))
    return _join(ys, xs, ids)


def cellgen_layout(region: np.ndarray, rng: np.random.Generator) -> Spots:
    """CellGen's Points.py layout, scaled from 1024² to the image: 210 spots in five clusters
    at fixed centres; position = centre + s·d·z with d ~ U(0, 50 px) and z a standard normal
    pair (cluster 2: z·C, C = [[−5, 2], [5, 0]]). Unlike the original, every image draws anew
    (it re-seeded with 0 per image) and no spot is lost to a uint8 wrap. Spots that fall off
    the image, or on a pixel already taken, are dropped (counted). ``cell`` is the id under
    the spot (0 outside the compartment: the layout ignores cells, as the original)."""
    height, width = region.shape
    sx, sy = width / 1024.0, height / 1024.0
    ys, xs = [], []
    for i, ((cx, cy), n, s) in enumerate(
        zip(CELLGEN_CENTRES, CELLGEN_COUNTS, CELLGEN_SCALES, strict=True)
    ):
        z = rng.standard_normal((n, 2))
        if i == 1:
            z = z @ CELLGEN_STRETCH
        d = rng.uniform(0, CELLGEN_SPREAD, (n, 1))
        offset = s * d * z
        xs.append(cx * sx + offset[:, 0] * sx)
        ys.append(cy * sy + offset[:, 1] * sy)
    y, x = np.concatenate(ys), np.concatenate(xs)
    r, c = np.floor(y + 0.5).astype(np.int64), np.floor(x + 0.5).astype(np.int64)
    inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
    flat = np.where(inside, r * width + c, -1)
    keep = inside.copy()
    seen: set[int] = set()
    for i, f in enumerate(flat):
        if keep[i] and f in seen:
            keep[i] = False
        seen.add(int(f))
    cell = np.zeros(y.size, dtype=np.int64)
    cell[keep] = region.ravel()[flat[keep]]
    return Spots(y[keep], x[keep], cell[keep], dropped=int((~keep).sum()))


def _join(ys: list, xs: list, ids: list) -> Spots:
    if not ys:
        empty = np.zeros(0)
        return Spots(empty, empty.copy(), np.zeros(0, dtype=np.int64))
    return Spots(np.concatenate(ys), np.concatenate(xs), np.concatenate(ids).astype(np.int64))
