"""Small PNG plots of metric values with numpy + OpenCV (no matplotlib dependency)."""

from __future__ import annotations

import numpy as np

W, H, MARGIN = 760, 360, 48
WHITE, BLACK, BLUE, GRAY = (255, 255, 255), (0, 0, 0), (180, 110, 40), (200, 200, 200)


def _text(img: np.ndarray, text: str, xy: tuple[int, int], scale: float = 0.42) -> None:
    import cv2

    cv2.putText(img, text, xy, cv2.FONT_HERSHEY_SIMPLEX, scale, BLACK, 1, cv2.LINE_AA)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def box_and_histogram(values: np.ndarray, title: str, bins: int = 20) -> np.ndarray:
    """An RGB image: a box plot (left; whiskers at 1.5·IQR, outliers as dots) and a histogram."""
    import cv2

    img = np.full((H, W, 3), 255, np.uint8)
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    _text(img, f"{title}  (n={len(v)})", (MARGIN, 24), 0.55)
    if v.size == 0:
        _text(img, "no finite values", (MARGIN, H // 2))
        return img
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo or max(abs(hi), 1.0) * 1e-3
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    top, bottom = 50, H - MARGIN

    def y_of(x: float) -> int:
        return int(round(bottom - (x - lo) / (hi - lo) * (bottom - top)))

    # box plot in [MARGIN, 260]
    x0, x1 = MARGIN + 60, 240
    cv2.line(img, (MARGIN + 40, top), (MARGIN + 40, bottom), BLACK, 1)
    for tick in np.linspace(lo, hi, 5):
        y = y_of(tick)
        cv2.line(img, (MARGIN + 36, y), (MARGIN + 40, y), BLACK, 1)
        _text(img, _fmt(tick), (2, y + 4), 0.35)
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    iqr = q3 - q1
    inside = v[(v >= q1 - 1.5 * iqr) & (v <= q3 + 1.5 * iqr)]
    wlo, whi = float(inside.min()), float(inside.max())
    xm = (x0 + x1) // 2
    cv2.rectangle(img, (x0, y_of(q3)), (x1, y_of(q1)), BLUE, 2)
    cv2.line(img, (x0, y_of(med)), (x1, y_of(med)), BLACK, 2)
    for a, b in ((q3, whi), (q1, wlo)):
        cv2.line(img, (xm, y_of(a)), (xm, y_of(b)), BLACK, 1)
        cv2.line(img, (xm - 15, y_of(b)), (xm + 15, y_of(b)), BLACK, 1)
    for out in v[(v < wlo) | (v > whi)]:
        cv2.circle(img, (xm, y_of(out)), 3, BLACK, 1)
    _text(img, f"median {_fmt(med)}", (x0, H - 18), 0.38)
    # histogram in [300, W - MARGIN]
    hx0, hx1 = 300, W - 20
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    cmax = max(int(counts.max()), 1)
    cv2.line(img, (hx0, bottom), (hx1, bottom), BLACK, 1)
    bw = (hx1 - hx0) / bins
    for i, c in enumerate(counts):
        xa, xb = int(hx0 + i * bw), int(hx0 + (i + 1) * bw) - 1
        yb = int(round(bottom - c / cmax * (bottom - top)))
        if c:
            cv2.rectangle(img, (xa, yb), (xb, bottom), BLUE, -1)
    _text(img, _fmt(edges[0]), (hx0, bottom + 16), 0.35)
    _text(img, _fmt(edges[-1]), (hx1 - 60, bottom + 16), 0.35)
    _text(img, f"max count {cmax}", (hx0, top - 6), 0.35)
    return img
