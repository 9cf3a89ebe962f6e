"""A stochastic cell-motion model fitted to a time-lapse's masks and frames (numpy in/out).

The motion network (``model.py``, M) is trained with an L1 loss, so it predicts the median next
sketch; cell motion is mostly random (shape fluctuations, an unpolarised random walk), whose
median is "no motion". Sampling from a fitted model keeps the motion's amount instead:

- **Deformation and migration**: a displacement field μ + D_t (H, W, 2) per step, D AR(1) in
  time, D_{t+1} = ρ·D_t + √(1 − ρ²)·σ·N_t, with N_t white noise smoothed by a Gaussian of
  ``scale`` px (unit variance per component). μ (drift), σ (per axis), ρ and ``scale`` are the
  training frames' Farnebäck flow statistics inside cells (the cell masks dilated by 1 px):
  mean and standard deviation per axis, the correlation of consecutive steps' flow fluctuation
  at the same pixel, and its spatial correlation length.
  The field moves the cells' signed distance map (backward warp), so cells move and change
  shape smoothly, are never blurred, and never vanish by resampling.
- **Stage jitter**: the whole frame shifts by a random vector per step, its std per axis that
  of the training flows' per-frame median (less its mean). It is removed from the in-cell flow
  before σ is measured, and it moves the background too (the start frame carried along by the
  displacements is what the render model redraws).
- **Growth**: the coverage's log growth rate g per frame (least squares over the training
  frames), applied as a displacement that scales each cell about its centre by e^(g/2) per
  step (its area by e^g). Fragments under MIN_OBJECT px (segmentation debris) do not grow.
- **Births**: the object count's log growth rate per frame; each step each cell divides with
  that chance (a 2-px cut across its long axis through its centre).
- Both rates are calibrated by sampling the model itself (windows of up to 40 frames from up
  to 4 training masks, seed 0): deformation splits thin cells and merges touching ones, and
  on a pixel grid a slow growth shows only in part. The growth rate is the one whose sampled
  coverage rate (moves + growth, assumed linear in the rate: two samplings) equals the
  observed rate; the births rate is the observed count rate less the count rate sampled with
  moves and that growth.

Everything is in pixels of the frames it was fitted on: use it at that scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

# cells are counted and flow is measured as celltool evaluate does
from celltool.flow import flows
from celltool.labels import MIN_OBJECT_SIZE as MIN_OBJECT
from celltool.labels import count_objects


@dataclass(frozen=True)
class MotionModel:
    sigma_y: float  # RMS of the flow's fluctuation per frame inside cells, px
    sigma_x: float
    rho: float  # temporal correlation of consecutive flows
    scale: float  # spatial correlation of the flow (Gaussian σ), px
    growth: float  # log coverage growth per frame
    births: float  # log object-count growth per frame (divisions)
    drift_y: float = 0.0  # mean flow per frame inside cells, px (directed migration)
    drift_x: float = 0.0
    jitter_y: float = 0.0  # std of the whole frame's shift per frame, px (stage jitter)
    jitter_x: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MotionModel:
        return cls(**{k: float(data[k]) for k in cls.__dataclass_fields__ if k in data})


def _log_rate(values: Sequence[float]) -> float:
    """Least-squares slope of log(values) per frame (0 for fewer than 2 positive values)."""
    v = np.asarray(values, np.float64)
    keep = v > 0
    if keep.sum() < 2:
        return 0.0
    t = np.flatnonzero(keep)
    return float(np.polyfit(t, np.log(v[keep]), 1)[0])


def _spatial_scale(fields: Sequence[np.ndarray], regions: Sequence[np.ndarray]) -> float:
    """Gaussian σ whose smoothing of white noise gives the flows' correlation at a lag of
    2 px (corr = exp(−lag² / (4σ²))), measured where both pixels lie inside cells."""
    lag, num, den = 2, 0.0, 0.0
    for f, r in zip(fields, regions, strict=True):
        for axis in (0, 1):
            a = np.take(f, range(f.shape[axis] - lag), axis=axis)
            b = np.take(f, range(lag, f.shape[axis]), axis=axis)
            ra = np.take(r, range(r.shape[axis] - lag), axis=axis)
            rb = np.take(r, range(lag, r.shape[axis]), axis=axis)
            both = ra & rb
            num += float(np.sum(a[both] * b[both]))
            den += float(np.sqrt(np.sum(a[both] ** 2) * np.sum(b[both] ** 2)))
    corr = num / den if den > 0 else 0.0
    if corr <= 0.01:
        return 0.5
    return float(lag / np.sqrt(-4.0 * np.log(min(corr, 0.999))))


def fit_motion(
    images: Sequence[np.ndarray], masks: Sequence[np.ndarray], data_range: float = 255.0
) -> MotionModel:
    """Fit a :class:`MotionModel` to consecutive 2D frames (values in [0, ``data_range``]) and
    their boolean cell masks. The flow is the one ``celltool evaluate``'s sequence metrics
    measure (``celltool_metrics.sequence.flows``: Farnebäck with the same parameters)."""
    from scipy import ndimage

    if len(images) < 3 or len(images) != len(masks):
        raise ValueError("fit_motion needs 3 or more frames and a mask for each")
    fields = flows(images, data_range)
    regions = [ndimage.binary_dilation(np.asarray(m, bool)) for m in masks[:-1]]
    shifts = np.array([np.median(f.reshape(-1, 2), axis=0) for f in fields])
    jitter = shifts - shifts.mean(axis=0)
    drift = np.concatenate([f[r] for f, r in zip(fields, regions, strict=True)]).mean(axis=0)
    # the cells' own motion: the flow inside cells less the drift and the frame's jitter
    fields = [f - drift - j for f, j in zip(fields, jitter, strict=True)]
    flow = np.concatenate([f[r] for f, r in zip(fields, regions, strict=True)])
    sigma = flow.std(axis=0)
    num = den_a = den_b = 0.0
    for f0, f1, r0, r1 in zip(fields[:-1], fields[1:], regions[:-1], regions[1:], strict=True):
        both = r0 & r1
        a, b = f0[both], f1[both]
        num += float(np.sum(a * b))
        den_a += float(np.sum(a * a))
        den_b += float(np.sum(b * b))
    rho = num / np.sqrt(den_a * den_b) if den_a > 0 and den_b > 0 else 0.0
    masks = [np.asarray(m, bool) for m in masks]
    moves = MotionModel(
        sigma_y=float(sigma[1]),  # Farnebäck gives (dx, dy)
        sigma_x=float(sigma[0]),
        rho=float(np.clip(rho, 0.0, 0.99)),
        scale=_spatial_scale([f[..., 0] for f in fields], regions),
        growth=0.0,
        births=0.0,
        drift_y=float(drift[1]),
        drift_x=float(drift[0]),
        jitter_y=float(jitter[:, 1].std()),
        jitter_x=float(jitter[:, 0].std()),
    )
    # growth and births are what the observed rates leave after the rest of the model's own
    # effect on coverage and count: simulate it from several training masks
    return _calibrate(moves, masks)


def _calibrate(moves: MotionModel, masks: Sequence[np.ndarray]) -> MotionModel:
    """Growth and births rates whose sampled coverage and count rates equal the observed ones
    (each rate's effect taken as linear: four samplings). Divisions cost a little area (the
    cut), which the growth then makes up."""
    cover_obs = _log_rate([m.mean() for m in masks])
    count_obs = _log_rate([count_objects(m) for m in masks])
    cover0, _ = _simulated_rates(moves, masks)
    growth = cover_obs - cover0
    if cover_obs > 0:  # on a pixel grid a slow growth shows only in part: measure how much
        trial = _simulated_rates(replace(moves, growth=cover_obs), masks)[0]
        gain = (trial - cover0) / cover_obs
        growth = (cover_obs - cover0) / gain if gain > 0.1 else growth
    model = replace(moves, growth=float(growth))
    cover1, count1 = _simulated_rates(model, masks)
    births = count_obs - count1
    if births <= 0:
        return replace(model, births=0.0)
    cover2, count2 = _simulated_rates(replace(model, births=births), masks)
    births_gain = (count2 - count1) / births
    if births_gain > 0.1:
        births = (count_obs - count1) / births_gain
    if cover_obs > 0 and gain > 0.1:
        growth += (cover1 - cover2) / gain  # make up the area the cuts take
    return replace(model, growth=float(growth), births=float(births))


def _simulated_rates(model: MotionModel, masks: Sequence[np.ndarray]) -> tuple[float, float]:
    """Mean log rates (coverage, count) of the model sampled over windows of up to 40 frames
    from up to 4 evenly spaced training masks (seed 0)."""
    length = min(40, len(masks) - 1)
    starts = np.unique(np.linspace(0, len(masks) - 1 - length, 4).astype(int))
    cover_rates, count_rates = [], []
    for k, start in enumerate(starts):
        sampler = MotionSampler(model, masks[start], np.random.default_rng([0, k]))
        frames = [masks[start]] + [sampler.step() for _ in range(length)]
        cover_rates.append(_log_rate([m.mean() for m in frames]))
        count_rates.append(_log_rate([count_objects(m) for m in frames]))
    return float(np.mean(cover_rates)), float(np.mean(count_rates))


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Distance to the boundary, negative inside the mask (float32)."""
    from scipy import ndimage

    mask = np.asarray(mask, bool)
    if not mask.any():
        return np.full(mask.shape, 1e3, np.float32)
    if mask.all():
        return np.full(mask.shape, -1e3, np.float32)
    inside = ndimage.distance_transform_edt(mask)
    outside = ndimage.distance_transform_edt(~mask)
    # pixel centres next to the boundary lie ±0.5 px from it
    return np.where(mask, 0.5 - inside, outside - 0.5).astype(np.float32)


class MotionSampler:
    """Moves a boolean cell mask (and, optionally, the frame it belongs to) step by step
    under a :class:`MotionModel`.

    The state is the backward map φ_t from the current frame to the start frame (composed from
    the per-step fields by bilinear sampling of the smooth map, not of the image), so the mask
    is always the start's signed distance map resampled once, ``sdf_0 ∘ φ_t``: cells
    move and deform without blurring or losing pixels to repeated resampling. The field of view
    is periodic for cells (one leaving at an edge comes back at the opposite one, so drift keeps
    the density), and repeats its edges for images.
    """

    def __init__(self, model: MotionModel, mask: np.ndarray, rng: np.random.Generator) -> None:
        self.model = model
        self.rng = rng
        self.sdf0 = signed_distance(mask)
        h, w = self.sdf0.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self.grid = np.stack([yy, xx], -1)
        self.u = np.zeros((h, w, 2), np.float32)  # φ_t − identity
        self.field = self._noise() if model.rho > 0 else np.zeros((h, w, 2), np.float32)

    def _noise(self) -> np.ndarray:
        from scipy import ndimage

        m = self.model
        out = []
        for sigma in (m.sigma_y, m.sigma_x):
            n = self.rng.standard_normal(self.sdf0.shape)
            if m.scale > 0.5:
                n = ndimage.gaussian_filter(n, m.scale, mode="wrap")
                n /= max(float(n.std()), 1e-12)
            out.append(sigma * n)
        return np.stack(out, -1).astype(np.float32)

    @property
    def phi(self) -> np.ndarray:
        """The backward map (H, W, 2) from the current step to the start frame, (y, x)."""
        return self.grid + self.u

    def warp(self, image: np.ndarray, periodic: bool = False) -> np.ndarray:
        """An image of the start frame moved to the current step (bilinear; edges repeated,
        or wrapped around with ``periodic``)."""
        import cv2

        phi = self.phi
        border = cv2.BORDER_WRAP if periodic else cv2.BORDER_REPLICATE
        return cv2.remap(
            np.asarray(image, np.float32), phi[..., 1], phi[..., 0], cv2.INTER_LINEAR,
            borderMode=border,
        )  # fmt: skip

    @property
    def mask(self) -> np.ndarray:
        return self.warp(self.sdf0, periodic=True) < 0

    def step(self) -> np.ndarray:
        """Advance one frame; returns the new boolean mask."""
        import cv2

        m = self.model
        noise = self._noise()
        self.field = (m.rho * self.field + np.sqrt(1 - m.rho**2) * noise).astype(np.float32)
        shift = np.array([m.drift_y, m.drift_x]) + self.rng.standard_normal(2) * [
            m.jitter_y,
            m.jitter_x,
        ]
        move = shift.astype(np.float32) + self.field
        if m.growth:
            move = move + self._growth_field(self.mask)
        back = self.grid - move  # where each pixel was one step earlier
        # φ_{t+1}(p) = φ_t(back(p)) = back(p) + u_t(back(p)); the displacement u is smooth and
        # small, so repeating it past the edges is a fair extrapolation
        moved_u = [
            cv2.remap(self.u[..., k], back[..., 1], back[..., 0], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
            for k in (0, 1)
        ]  # fmt: skip
        self.u = (np.stack(moved_u, -1) - move).astype(np.float32)
        if m.births > 0:
            self._divide(self.mask)
        return self.mask

    def _growth_field(self, mask: np.ndarray) -> np.ndarray:
        """Displacements that scale every cell (component of MIN_OBJECT px or more) about its
        centre by e^(growth/2) per step, its area by e^growth; pixels within 3 px of a cell
        follow their nearest cell. Smaller fragments (debris) do not grow."""
        from scipy import ndimage

        labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
        out = np.zeros((*mask.shape, 2), np.float32)
        if n == 0:
            return out
        cells = np.bincount(labels.ravel())[1:] >= MIN_OBJECT
        dist, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
        near = labels[iy, ix]
        centres = np.array(ndimage.center_of_mass(mask, labels, range(1, n + 1)))
        centres = np.vstack([[0.0, 0.0], centres])[near]  # each pixel's cell centre
        grows = np.concatenate([[False], cells])[near] & (dist <= 3)
        k = np.expm1(self.model.growth / 2)
        out[grows] = k * (self.grid[grows] - centres[grows])
        return out

    def _divide(self, mask: np.ndarray) -> None:
        """Each cell divides with the births chance: a 2-px cut across its long axis through
        its centre, written into the start map where the cut pixels come from."""
        from scipy import ndimage

        labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
        if n == 0:
            return
        chance = 1.0 - np.exp(-self.model.births)
        h, w = mask.shape
        for i in np.flatnonzero(self.rng.random(n) < chance) + 1:
            ys, xs = np.nonzero(labels == i)
            if len(ys) < 2 * MIN_OBJECT:
                continue
            coords = np.stack([ys, xs], 1).astype(np.float64)
            coords -= coords.mean(0)
            _, vecs = np.linalg.eigh(coords.T @ coords)
            cut = np.abs(coords @ vecs[:, -1]) < 1.0  # across the long axis
            src = self.phi[ys[cut], xs[cut]]
            for dy in (0, 1):  # the four start pixels around each source point
                for dx in (0, 1):
                    sy = (np.floor(src[:, 0]).astype(int) + dy) % h  # periodic, as the mask
                    sx = (np.floor(src[:, 1]).astype(int) + dx) % w
                    self.sdf0[sy, sx] = np.maximum(self.sdf0[sy, sx], 0.5)
