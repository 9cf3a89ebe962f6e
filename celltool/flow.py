"""Dense optical flow between frames (Farnebäck, with the parameters Sequence-Generation's
metrics notebook uses), shared by the sequence metrics and the temporal models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FARNEBACK = dict(
    pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0
)


def to_uint8(frame: np.ndarray, data_range: float) -> np.ndarray:
    """Scale [0, data_range] to 0..255 (rounded, clipped) for optical flow."""
    x = np.asarray(frame, dtype=np.float64) * (255.0 / float(data_range))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def flows(frames: Sequence[np.ndarray], data_range: float) -> list[np.ndarray]:
    """Farnebäck flow (H, W, 2) from frame k to k+1, for k = 0..T−2."""
    import cv2

    gray = [to_uint8(f, data_range) for f in frames]
    return [
        cv2.calcOpticalFlowFarneback(a, b, None, **FARNEBACK)
        for a, b in zip(gray[:-1], gray[1:], strict=False)
    ]
