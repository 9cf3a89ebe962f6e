"""Image-pair metrics (numpy in, float out).

Every function takes the real image ``real`` and the generated image ``gen`` (same shape,
2D or 3D gray; any numeric dtype) and ``data_range``: the largest possible value minus the
smallest (255 for 8-bit, 4095 for 12-bit data, whatever the container dtype). Intensities are
used as stored; no function rescales by the dtype maximum.
"""

from __future__ import annotations

import numpy as np

N_BINS = 256
FLOOR = 1e-10


def _same_shape(real: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    real, gen = np.asarray(real), np.asarray(gen)
    if real.shape != gen.shape:
        raise ValueError(f"shapes differ: {real.shape} vs {gen.shape}")
    return real, gen


def _diff(real: np.ndarray, gen: np.ndarray) -> np.ndarray:
    real, gen = _same_shape(real, gen)
    return np.subtract(real, gen, dtype=np.float64)


CV_NORM_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64)


def _norm(real: np.ndarray, gen: np.ndarray, kind: str) -> float:
    """Σ|r − g| (``"l1"``) or Σ(r − g)² (``"l2sqr"``), accumulated in float64.

    OpenCV's norm for the common dtypes (no temporary arrays), numpy otherwise.
    """
    real, gen = _same_shape(real, gen)
    if real.dtype == gen.dtype and real.dtype.type in CV_NORM_DTYPES and real.size:
        import cv2

        flag = cv2.NORM_L1 if kind == "l1" else cv2.NORM_L2SQR
        a = np.ascontiguousarray(real).reshape(1, -1)
        b = np.ascontiguousarray(gen).reshape(1, -1)
        return float(cv2.norm(a, b, flag))
    d = np.subtract(real, gen, dtype=np.float64).ravel()
    return float(np.abs(d).sum()) if kind == "l1" else float(np.sum(d * d))


def mse(real: np.ndarray, gen: np.ndarray, *, data_range: float | None = None) -> float:
    """Mean squared error, in squared intensity units."""
    return _norm(real, gen, "l2sqr") / np.asarray(real).size


def mae(real: np.ndarray, gen: np.ndarray, *, data_range: float | None = None) -> float:
    """Mean absolute error, in intensity units."""
    return _norm(real, gen, "l1") / np.asarray(real).size


def psnr(real: np.ndarray, gen: np.ndarray, *, data_range: float) -> float:
    """10·log10(data_range² / MSE) in dB; +inf for identical images."""
    err = mse(real, gen)
    if err == 0:
        return float("inf")
    return float(10 * np.log10(float(data_range) ** 2 / err))


def ssim(
    real: np.ndarray,
    gen: np.ndarray,
    *,
    data_range: float,
    ssim_window: str = "gaussian",
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Mean SSIM (Wang et al. 2004) of 2D images, or the mean over slices of a 3D stack.

    ``ssim_window="gaussian"`` (default): 11-tap Gaussian window, σ 1.5, population covariance
    (Wang et al.). ``ssim_window="uniform7"``: 7×7 uniform window with sample covariance (N−1), as
    scikit-image's default (Biomedical-Image-Generation's Metrics.py). The mean skips a border
    of half the window (as scikit-image does), and filtering reflects at the edges
    (ndimage/skimage "reflect").
    """
    a, b = _same_shape(real, gen)
    if a.ndim == 3:
        return float(
            np.mean(
                [
                    ssim(x, y, data_range=data_range, ssim_window=ssim_window)
                    for x, y in zip(a, b, strict=False)
                ]
            )
        )
    if a.ndim != 2:
        raise ValueError(f"SSIM needs 2D images or 3D stacks, not shape {a.shape}")
    import cv2

    if ssim_window == "gaussian":
        size, cov_norm = 11, 1.0

        def smooth(x: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(x, (size, size), 1.5, borderType=cv2.BORDER_REFLECT)

    elif ssim_window == "uniform7":
        size = 7
        n = size * size
        cov_norm = n / (n - 1)

        def smooth(x: np.ndarray) -> np.ndarray:
            return cv2.blur(x, (size, size), borderType=cv2.BORDER_REFLECT)

    else:
        raise ValueError(f"unknown SSIM window {ssim_window!r} (gaussian or uniform7)")
    if min(a.shape) < size:
        raise ValueError(f"SSIM needs images of at least {size}×{size}, not {a.shape}")
    # float32 on [0, 1]-scaled values (twice as fast as float64). The second moments come from
    # mean-centred copies, so E[x²] − E[x]² does not cancel catastrophically: equal to
    # skimage's float64 result to ~1e-6 for 8- to 16-bit data.
    scale = np.float32(1.0 / float(data_range))
    a = a.astype(np.float32) * scale
    b = b.astype(np.float32) * scale
    pad = (size - 1) // 2
    inner = (slice(pad, -pad), slice(pad, -pad))  # the border skimage leaves out of the mean
    ux, uy = smooth(a)[inner], smooth(b)[inner]
    ma, mb = np.float32(a.mean(dtype=np.float64)), np.float32(b.mean(dtype=np.float64))
    a -= ma
    b -= mb
    sxx, syy, sxy = smooth(a * a)[inner], smooth(b * b)[inner], smooth(a * b)[inner]
    uxc, uyc = ux - ma, uy - mb
    c1, c2 = k1**2, k2**2
    # in place on the cropped views: vx = cov_norm·(E[a'²] − E[a']²), ..., fewer temporaries
    for moment, square in ((sxx, uxc * uxc), (syy, uyc * uyc), (sxy, uxc * uyc)):
        np.subtract(moment, square, out=moment)
        moment *= cov_norm
    ux2, uy2, uxy = ux * ux, uy * uy, ux * uy
    uxy *= 2
    uxy += c1  # 2·ux·uy + C1
    sxy *= 2
    sxy += c2  # 2·vxy + C2
    uxy *= sxy  # numerator
    ux2 += uy2
    ux2 += c1  # ux² + uy² + C1
    sxx += syy
    sxx += c2  # vx + vy + C2
    ux2 *= sxx  # denominator
    uxy /= ux2
    return float(uxy.mean(dtype=np.float64))


def pearson(real: np.ndarray, gen: np.ndarray, *, data_range: float | None = None) -> float:
    """Pearson correlation of the pixel values (NaN if either image is constant)."""
    a, b = _same_shape(real, gen)
    a = a.ravel().astype(np.float64)
    b = b.ravel().astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    # elementwise products, not np.dot: BLAS threads would compete with the worker processes
    denom = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denom) if denom > 0 else float("nan")


def histogram(image: np.ndarray, data_range: float) -> np.ndarray:
    """256-bin probabilities over [0, data_range] (sums to 1).

    Integer images: bin k holds values v with ⌊v·256/(data_range+1)⌋ = k, so 8-bit data gets one
    bin per gray level (Biomedical-Image-Generation's bins) and 12/16-bit data equal-width bins of
    (data_range+1)/256 levels. Float images: ⌊v·256/data_range⌋, clipped to 0..255.
    """
    image = np.asarray(image)
    if image.dtype == np.uint8 and int(data_range) == 255:
        idx = image  # one bin per gray level
    elif image.dtype.kind in "ui":
        idx = image.astype(np.int64, copy=False) * N_BINS // (int(data_range) + 1)
    elif image.dtype.kind == "b":
        idx = image.astype(np.int64) * (N_BINS - 1)
    else:
        idx = np.floor(image.astype(np.float64) * N_BINS / float(data_range)).astype(np.int64)
    idx = np.clip(idx, 0, N_BINS - 1).ravel()
    counts = np.bincount(idx, minlength=N_BINS).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def cross_entropy(real: np.ndarray, gen: np.ndarray, *, data_range: float) -> float:
    """Histogram cross-entropy −Σ p_k ln q_k (nats); p real, q generated, both floored at 1e-10."""
    _same_shape(real, gen)
    p = np.maximum(histogram(real, data_range), FLOOR)
    q = np.maximum(histogram(gen, data_range), FLOOR)
    return float(-np.sum(p * np.log(q)))


def bhattacharyya(real: np.ndarray, gen: np.ndarray, *, data_range: float) -> float:
    """Bhattacharyya coefficient BC = Σ √(p_k q_k) of the 256-bin histograms (1 = identical)."""
    _same_shape(real, gen)
    return float(np.sum(np.sqrt(histogram(real, data_range) * histogram(gen, data_range))))


def bhattacharyya_distance(real: np.ndarray, gen: np.ndarray, *, data_range: float) -> float:
    """Bhattacharyya distance D_B = −ln BC (0 = identical, +inf for disjoint histograms)."""
    bc = bhattacharyya(real, gen, data_range=data_range)
    return float(-np.log(bc)) if bc > 0 else float("inf")


SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)


def gradient_error(real: np.ndarray, gen: np.ndarray, *, data_range: float | None = None) -> float:
    """mean(|Gx_r − Gx_g| + |Gy_r − Gy_g|) of 3×3 Sobel gradients, in float (intensity units).

    Borders reflect (scipy ``ndimage.convolve`` mode 'reflect'). 3D stacks: per slice.
    """
    import cv2

    diff = _diff(real, gen).astype(np.float32)
    slices = diff if diff.ndim == 3 else diff[None]
    total = 0.0
    for d in slices:
        gx = cv2.filter2D(d, cv2.CV_32F, SOBEL_X, borderType=cv2.BORDER_REFLECT)
        gy = cv2.filter2D(d, cv2.CV_32F, SOBEL_X.T, borderType=cv2.BORDER_REFLECT)
        total += float(
            np.mean(np.abs(gx), dtype=np.float64) + np.mean(np.abs(gy), dtype=np.float64)
        )
    return total / len(slices)


def threshold_mask(image: np.ndarray, level: float = 128.0) -> np.ndarray:
    """Sequence-Generation's IoU binarisation: min-max scale to [0, 255], then > 128
    (constant → all False)."""
    x = np.asarray(image)
    lo, hi = x.min(), x.max()
    if hi == lo:
        return np.zeros(x.shape, dtype=bool)
    if x.dtype.kind in "ui" and float(level).is_integer():
        # (x − lo)·255/(hi − lo) > level  ⟺  x − lo > ⌊level·(hi − lo)/255⌋ for integers
        return x > int(lo) + (int(level) * (int(hi) - int(lo))) // 255
    x = x.astype(np.float64)
    return (x - float(lo)) * (255.0 / (float(hi) - float(lo))) > level


def iou(real: np.ndarray, gen: np.ndarray, *, data_range: float | None = None) -> float:
    """|A∩B| / |A∪B| of the thresholded images; 1 when both masks are empty."""
    _same_shape(real, gen)
    a, b = threshold_mask(real), threshold_mask(gen)
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0
