"""Reference ("sketch") classes, vectorised: numpy in, numpy out.

Reproduces Biomedical-Image-Generation's Reference1/2/3 class sets (``levels`` 4, 7, 9) and the
binary cell/background sketch of Sequence-Generation (``levels`` 1); see docs/sketch-split.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEED_SHAPE = (1536, 2048)  # Biomedical-Image-Generation's frame size (H, W): its radii
SEED_RADII = (60, 60, 140, 50)  # pad, open (erode), grow (dilate), shrink (erode)
SEED_OUTER_LIMITS = (55.0, 95.0)  # Reference3's fixed outer limits
LEVELS = (1, 4, 7, 9)
N_LAYERS = {1: 0, 4: 1, 7: 3, 9: 5}


def class_names(levels: int) -> list[str]:
    """Class names by index for ``levels`` (1, 4, 7 or 9)."""
    if levels not in LEVELS:
        raise ValueError(f"levels must be one of {LEVELS}, not {levels}")
    if levels == 1:
        return ["background", "cell"]
    if levels == 4:
        return ["wound", "tissue", "cytoplasm", "cytoplasm boundary", "nucleus"]
    layers = [f"cytoplasm {k}" for k in range(1, N_LAYERS[levels] + 1)]
    return ["wound", "tissue", *layers, "cytoplasm boundary", "nucleus", "nuclear boundary"]


def gray_values(n_classes: int) -> np.ndarray:
    """``uint8(linspace(0, 255, n))`` truncated as in Biomedical-Image-Generation (63.75 → 63)."""
    return np.linspace(0, 255, n_classes).astype(np.uint8)


def class_table(levels: int) -> list[dict]:
    names = class_names(levels)
    gray = gray_values(len(names))
    pairs = enumerate(zip(names, gray, strict=True))
    return [{"index": i, "name": n, "gray": int(g)} for i, (n, g) in pairs]


def scaled_radii(shape: Sequence[int], base: Sequence[int] = SEED_RADII) -> tuple[int, ...]:
    """Wound radii for an image of ``shape``: Biomedical-Image-Generation's radii times
    sqrt(H·W / (1536·2048)), rounded, at least 1. At 1536×2048 they are exactly its
    (60, 60, 140, 50)."""
    scale = float(np.sqrt(shape[0] * shape[1] / (SEED_SHAPE[0] * SEED_SHAPE[1])))
    return tuple(max(1, int(round(r * scale))) for r in base)


def to_gray8(image: np.ndarray) -> np.ndarray:
    """Biomedical-Image-Generation's intensity scale: PIL 'L' luma for colour, then autocontrast
    (cutoff 0).

    Autocontrast stretches [min, max] linearly to [0, 255] and truncates, like PIL's LUT.
    """
    image = np.asarray(image)
    if image.ndim == 3:
        rgb = image[..., :3].astype(np.float64)
        image = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    lo, hi = float(image.min()), float(image.max())
    if hi <= lo:
        return np.zeros(image.shape, np.uint8)
    if image.dtype in (np.uint8, np.uint16):  # a look-up table, as PIL does
        values = np.arange(int(hi) + 1, dtype=np.float64)
        lut = np.clip(np.floor((values - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)
        return lut[image]
    scaled = np.floor((image.astype(np.float64) - lo) * (255.0 / (hi - lo)))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def inner_boundaries(labels: np.ndarray, thickness: int = 1) -> np.ndarray:
    """Inner contours of every instance in one pass (the highest id included).

    A pixel of instance i is a boundary pixel when it does not survive ``thickness`` binary
    erosions of instance i's mask with the 3×3 cross, the outside of the image counting as
    background: exactly Biomedical-Image-Generation's per-cell ``mask & ~binary_erosion(mask)``
    for thickness 1.
    """
    eroded = np.asarray(labels)
    for _ in range(max(0, int(thickness))):
        padded = np.pad(eroded, 1)
        centre = padded[1:-1, 1:-1]
        same = (
            (padded[:-2, 1:-1] == centre)
            & (padded[2:, 1:-1] == centre)
            & (padded[1:-1, :-2] == centre)
            & (padded[1:-1, 2:] == centre)
        )
        eroded = np.where(same, centre, 0)
    return (np.asarray(labels) != 0) & (eroded == 0)


def _disc_threshold(r: int) -> float:
    """A distance between r and sqrt(r² + 1): d > it ⇔ d² > r² for exact distances."""
    return (r + float(np.sqrt(r * r + 1.0))) / 2


def _erode_disc(mask: np.ndarray, r: int) -> np.ndarray:
    """Erosion of a 0/255 uint8 mask by the disc {x²+y² ≤ r²}: keep p when no 0 pixel lies
    within distance r (pixels outside the array do not count, as OpenCV's erosion border)."""
    import cv2

    if cv2.countNonZero(mask) == mask.size:
        return mask.copy()
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return cv2.compare(dist, _disc_threshold(r), cv2.CMP_GT)


def _dilate_disc(mask: np.ndarray, r: int) -> np.ndarray:
    """Dilation of a 0/255 uint8 mask by the disc: p is set when a set pixel lies within r."""
    import cv2

    if not cv2.countNonZero(mask):
        return mask.copy()
    return cv2.bitwise_not(_erode_disc(cv2.bitwise_not(mask), r))


def wound_masks(
    cells: np.ndarray, radii: Sequence[int] = SEED_RADII
) -> tuple[np.ndarray, np.ndarray]:
    """Biomedical-Image-Generation's wound morphology on the cell-free mask; returns ``(M2, M3)``.

    H0 = cells == 0, padded with a ``pad``-px frame of False; E = erode(H0, open);
    D = dilate(E, grow); D2 = erode(D, shrink) with disc kernels; crop; M2 = D, M3 = D2.
    The discs are applied through exact Euclidean distance transforms (same result as
    Biomedical-Image-Generation's OpenCV erode/dilate with disc kernels, in time independent of
    the radius).
    """
    pad, r_open, r_grow, r_shrink = (int(r) for r in radii)
    h0 = np.pad((np.asarray(cells) == 0).view(np.uint8) * np.uint8(255), pad)
    grown = _dilate_disc(_erode_disc(h0, r_open), r_grow)
    shrunk = _erode_disc(grown, r_shrink)
    crop = (slice(pad, pad + cells.shape[0]), slice(pad, pad + cells.shape[1]))
    return grown[crop] > 0, shrunk[crop] > 0


def cell_means(gray8: np.ndarray, cells: np.ndarray, nuclei: np.ndarray | None) -> np.ndarray:
    """Mean of ``gray8`` over each cell's non-nuclear pixels, indexed by cell id (NaN where a
    cell has none): Biomedical-Image-Generation's ``cyto2`` means."""
    cyto = np.asarray(cells)
    if nuclei is not None:
        cyto = np.where(np.asarray(nuclei) != 0, 0, cyto)
    n = int(cells.max()) + 1 if cells.size else 1
    area = np.bincount(cyto.ravel(), minlength=n).astype(np.float64)
    total = np.bincount(cyto.ravel(), weights=gray8.ravel().astype(np.float64), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = total / area
    means[area == 0] = np.nan
    means[0] = np.nan
    return means


def layer_bounds(means: np.ndarray, levels: int, limits: Sequence[float] = ()) -> list[float]:
    """Layer bounds from the per-cell means of the whole input set (NaNs ignored).

    levels 7: the 1/3 and 2/3 quantiles (or the two ``limits``). levels 9: outer limits
    (``limits`` if two are given, else 55, 95) and the 1/3, 2/3 quantiles of the means in
    [lower, upper) as inner bounds, or all four bounds from ``limits``. Quantiles are linear
    (``numpy.quantile``), not Biomedical-Image-Generation's index terciles.
    """
    limits = [float(v) for v in limits]
    means = np.asarray(means, np.float64)
    means = means[np.isfinite(means)]
    if levels == 7:
        if limits:
            return limits
        return [float(v) for v in np.quantile(means, [1 / 3, 2 / 3])] if means.size else [0, 0]
    if levels == 9:
        if len(limits) == 4:
            return limits
        lower, upper = limits or list(SEED_OUTER_LIMITS)
        between = means[(means >= lower) & (means < upper)]
        inner = np.quantile(between, [1 / 3, 2 / 3]) if between.size else [lower, upper]
        return [lower, float(inner[0]), float(inner[1]), upper]
    return []


def check_limits(levels: int, limits: Sequence[float]) -> str | None:
    """A problem with ``limits`` for ``levels``, or None."""
    want = {7: (2,), 9: (2, 4)}.get(levels, (0,))
    if limits and len(limits) not in want:
        return f"--limits takes {' or '.join(map(str, want))} values for --levels {levels}"
    if list(limits) != sorted(limits):
        return "--limits must be increasing"
    return None


def render(
    cells: np.ndarray,
    nuclei: np.ndarray | None = None,
    image: np.ndarray | None = None,
    *,
    levels: int = 4,
    bounds: Sequence[float] = (),
    radii: Sequence[int] | None = None,
    thickness: int = 1,
    dilate: bool = False,
    wound: bool = True,
    limits: Sequence[float] = (),
) -> np.ndarray:
    """Class-index map (uint8) of one image: see :func:`class_names` for the classes.

    ``cells``/``nuclei`` are instance maps (0 = background); ``image`` is needed for the
    cytoplasm layers (levels 7, 9); ``bounds`` are the layer bounds (:func:`layer_bounds`).
    ``radii`` = (pad, open, grow, shrink) of the wound rule (default: scaled to the image);
    ``thickness`` is the boundary width; ``dilate`` thickens the cytoplasm boundary by a 3×3
    dilation (Reference1); ``wound=False`` paints no wound (everything outside cells is tissue).
    ``limits`` is accepted for the command's sake (the bounds already hold them).
    """
    cells = np.asarray(cells)
    if levels == 1:
        return (cells != 0).astype(np.uint8)
    nuclei = np.zeros_like(cells) if nuclei is None else np.asarray(nuclei)
    in_cell = cells != 0
    in_nucleus = nuclei != 0
    if wound:
        m2, m3 = wound_masks(cells, radii or scaled_radii(cells.shape))
        healing = m2 & ~in_cell & ~in_nucleus
    else:
        healing = m3 = np.zeros(cells.shape, bool)
    cyto_edge = inner_boundaries(cells, thickness)
    if dilate:
        import cv2

        cyto_edge = cv2.dilate(cyto_edge.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    cyto_edge &= ~m3  # Biomedical-Image-Generation drops boundaries near the wound (boundary_mask2)
    out = np.where(healing, 0, 1).astype(np.uint8)
    n_layers = N_LAYERS[levels]
    cyto = in_cell & ~cyto_edge
    if n_layers == 1:
        out[cyto] = 2
    else:
        if image is None:
            raise ValueError(f"levels {levels} needs the image for the cytoplasm layers")
        means = cell_means(to_gray8(image), cells, nuclei)
        layer = np.searchsorted(np.asarray(bounds, np.float64), means, side="right")
        layer = np.where(np.isnan(means), 0, layer)  # all-nucleus cells: painted over anyway
        out[cyto] = 2 + layer[cells[cyto]]
    edge_class = 2 + n_layers
    out[cyto_edge & ~healing] = edge_class
    if levels == 4:
        out[in_nucleus] = edge_class + 1  # the nucleus includes its boundary (README; fix #10)
    else:
        nuc_edge = inner_boundaries(nuclei, thickness)
        out[in_nucleus & ~nuc_edge] = edge_class + 1
        out[nuc_edge] = edge_class + 2
    return out


def gray_sketch(index: np.ndarray, levels: int) -> np.ndarray:
    """The gray-coded sketch: the gray value of every class index (linspace)."""
    return gray_values(len(class_names(levels)))[index]
