"""Differentiable augmentation of the discriminator's input, for small data sets.

- ADA (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data"): the
  geometric part of the 'bgc' pipeline, which is what suits masks — x-flip, 90° rotation,
  integer translation (±12.5 %), isotropic scale (lognormal, σ = 0.2·ln 2), rotation (two
  draws with probability 1 − √(1 − p) each), anisotropic scale, fractional translation
  (σ = 0.125) — plus cutout (half-size square set to 0). Every transform is applied with
  probability ``p``; :class:`AdaController` moves ``p`` so that the fraction of real images on
  which D outputs a positive logit (r_t = E[sign D(x)]) stays near the target 0.6.
- DiffAugment (Zhao et al. 2020): translation (±1/8, zero fill) and cutout, always on.

Both act on B×C×H×W tensors (all channels of a sample get the same transform), are
differentiable with respect to the image (G learns through them) and draw from the torch RNG
of the device (checkpointed by the framework, so a resumed run draws the same numbers). The
geometric transforms are one affine warp per sample (``grid_sample``, bilinear, reflection
padding); integer transforms land exactly on pixel centres, so they do not blur.
Augmentation runs only inside the training losses: generation never sees it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LN2 = math.log(2)


def _rot(theta: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    m = _eye(theta)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def _eye(like: torch.Tensor) -> torch.Tensor:
    return torch.eye(3, device=like.device, dtype=like.dtype).repeat(like.shape[0], 1, 1)


def _scale(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _eye(sx)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _shift(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _eye(tx)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _gate(p: float, n: int, device: torch.device) -> torch.Tensor:
    """1 where a transform applies (probability p), 0 elsewhere."""
    return (torch.rand(n, device=device) < p).float()


def ada_matrices(n: int, p: float, size: int, device: torch.device) -> torch.Tensor:
    """Per-sample 3×3 matrices mapping OUTPUT to INPUT pixel coordinates (centred, pixels)."""
    m = torch.eye(3, device=device).repeat(n, 1, 1)
    # x-flip
    flip = 1 - 2 * (_gate(p, n, device) * torch.randint(0, 2, (n,), device=device))
    m = m @ _scale(flip, torch.ones_like(flip))
    # 90° rotations
    k = _gate(p, n, device) * torch.randint(0, 4, (n,), device=device)
    m = m @ _rot(k * (math.pi / 2))
    # integer translation, ±12.5 % of the size
    t = (torch.rand(n, 2, device=device) * 2 - 1) * 0.125
    t = torch.round(t * size) * _gate(p, n, device)[:, None]
    m = m @ _shift(t[:, 0], t[:, 1])
    # isotropic scale
    s = torch.exp2(torch.randn(n, device=device) * 0.2 * _gate(p, n, device))
    m = m @ _scale(s, s)
    # rotation before anisotropy (probability 1 − √(1 − p), twice: overall ≈ p)
    p_rot = 1 - math.sqrt(max(1 - p, 0))
    a = (torch.rand(n, device=device) * 2 - 1) * math.pi * _gate(p_rot, n, device)
    m = m @ _rot(a)
    s = torch.exp2(torch.randn(n, device=device) * 0.2 * _gate(p, n, device))
    m = m @ _scale(s, 1 / s)
    a = (torch.rand(n, device=device) * 2 - 1) * math.pi * _gate(p_rot, n, device)
    m = m @ _rot(a)
    # fractional translation, σ = 0.125 of the size
    t = torch.randn(n, 2, device=device) * 0.125 * size * _gate(p, n, device)[:, None]
    m = m @ _shift(t[:, 0], t[:, 1])
    return torch.linalg.inv(m)  # the transform moves the image; sampling needs its inverse


def warp(x: torch.Tensor, matrices: torch.Tensor, padding_mode: str = "reflection"):
    """Resample every sample of x through its output→input pixel matrix (centred coords)."""
    n, _, h, w = x.shape
    # pixel coords → normalised [-1, 1] (align_corners=False): u = x_pix / (w/2)
    to_norm = torch.diag(torch.tensor([2 / w, 2 / h, 1.0], device=x.device))
    to_pix = torch.diag(torch.tensor([w / 2, h / 2, 1.0], device=x.device))
    theta = (to_norm @ matrices @ to_pix)[:, :2, :]
    grid = F.affine_grid(theta.to(x.dtype), [n, 1, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def cutout(x: torch.Tensor, p: float, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of side ``ratio``·size in each sample with probability p."""
    n, _, h, w = x.shape
    gate = _gate(p, n, x.device)
    centre = torch.rand(n, 2, device=x.device)
    ys = (torch.arange(h, device=x.device) + 0.5) / h
    xs = (torch.arange(w, device=x.device) + 0.5) / w
    inside_y = (ys[None] - centre[:, 0:1]).abs() < ratio / 2
    inside_x = (xs[None] - centre[:, 1:2]).abs() < ratio / 2
    hole = inside_y[:, :, None] & inside_x[:, None, :] & (gate[:, None, None] > 0)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def ada(x: torch.Tensor, p: float) -> torch.Tensor:
    """The ADA transforms with probability p each (identity, bit for bit, when p = 0)."""
    if p <= 0:
        return x
    m = ada_matrices(x.shape[0], p, x.shape[-1], x.device)
    return cutout(warp(x, m), p)


def diffaugment(x: torch.Tensor, ratio: float = 0.125, cut: float = 0.5) -> torch.Tensor:
    """DiffAugment 'translation,cutout': integer shifts up to ±ratio·size (zero fill), then
    cutout of a ``cut``-sized square, on every sample."""
    n, _, h, w = x.shape
    t = torch.round((torch.rand(n, 2, device=x.device) * 2 - 1) * ratio * h)
    x = warp(x, _shift(-t[:, 0], -t[:, 1]), padding_mode="zeros")
    return cutout(x, 1.0, cut)


@dataclass
class AdaController:
    """ADA's heuristic: every ``interval`` steps, p += sign(r_t − target) · batch·interval /
    (speed_kimg·1000), clamped to [0, 1]; r_t = mean sign of D's logits on real images."""

    target: float = 0.6
    interval: int = 4
    speed_kimg: float = 500.0
    p: float = 0.0
    sign_sum: float = 0.0
    count: int = 0

    def accumulate(self, real_logits: torch.Tensor) -> None:
        self.sign_sum += float(real_logits.detach().sign().sum())
        self.count += int(real_logits.numel())

    def update(self, step: int, batch: int, reduce=None) -> None:
        """After optimisation step ``step`` (1-based) of a (global) ``batch``: adjust p.
        ``reduce`` sums (sign_sum, count) over processes under torchrun."""
        if step % self.interval:
            return
        total, count = self.sign_sum, self.count
        if reduce is not None:
            total, count = reduce(total, count)
        if count:
            rt = total / count
            adjust = math.copysign(1.0, rt - self.target) if rt != self.target else 0.0
            step_size = batch * self.interval / (self.speed_kimg * 1e3)
            self.p = min(max(self.p + adjust * step_size, 0.0), 1.0)
        self.sign_sum, self.count = 0.0, 0

    def state(self) -> dict:
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count}

    def load(self, state: dict) -> None:
        self.p = float(state.get("p", 0.0))
        self.sign_sum = float(state.get("sign_sum", 0.0))
        self.count = int(state.get("count", 0))
