"""Building blocks shared by the StyleGAN2 and StyleGAN3 networks.

Equalised learning rate (Karras et al. 2018): weights are stored as N(0, 1) / lr_multiplier and
scaled by ``lr_multiplier / sqrt(fan_in)`` at run time. Modulated convolution (Karras et al.
2020, §2.2): the style scales the input channels, demodulation rescales every output channel
of every sample to unit expected variance. It runs here as ONE ordinary convolution of the
batch (style-scaled input, shared weight, per-sample output scale): the same numbers as the
grouped "fused" form, and far faster on CPUs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from celltool_stylegan.ops import bias_act


class Dense(nn.Module):
    """Fully connected layer with equalised learning rate and optional leaky ReLU."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: bool = False,
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
        weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            torch.randn(out_features, in_features) * (weight_init / lr_multiplier)
        )
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init) / lr_multiplier))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype) * self.bias_gain
        x = torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x, None) if self.activation else x


def full(t: torch.Tensor) -> torch.Tensor:
    """At least fp32 (bf16/fp16 → fp32; fp64 stays, for the tests' reference computations)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class Mapping(nn.Module):
    """z → w: pixel-norm, ``layers`` dense layers (lr × 0.01), running mean of w for truncation."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        layers: int = 8,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.998,
    ) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws = z_dim, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(
            *[
                Dense(a, b, activation=True, lr_multiplier=lr_multiplier)
                for a, b in zip(dims[:-1], dims[1:], strict=True)
            ]
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: torch.Tensor,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """B×z_dim → B×num_ws×w_dim (truncated towards the running mean when psi ≠ 1)."""
        x = self.net(normalize_2nd_moment(z.to(self.w_avg.dtype))).to(self.w_avg.dtype)
        if update_emas:
            self.w_avg.copy_(x.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        x = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            x = torch.cat([self.w_avg.lerp(x[:, :cut], truncation_psi), x[:, cut:]], dim=1)
        return x


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    *,
    demodulate: bool = True,
    padding: int = 0,
    input_gain: torch.Tensor | None = None,
    up: int = 1,
) -> torch.Tensor:
    """Modulated (and demodulated) convolution of a batch, as one ordinary convolution.

    ``x`` B×I×H×W, ``weight`` O×I×k×k, ``styles`` B×I. With ``up`` = 2 the convolution is
    transposed with stride 2 (the caller low-pass filters the result). ``input_gain`` scales
    the input channels after demodulation (StyleGAN3's magnitude normalisation).
    """
    dtype = x.dtype
    w = full(weight)
    s = full(styles)
    if demodulate:  # keep the numbers in range (matters in fp16); cancelled by demodulation
        w = w * w.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        s = s * s.square().mean(dim=1, keepdim=True).rsqrt()
    scale = s if input_gain is None else s * input_gain.reshape(1, -1)
    x = x * scale.to(dtype).reshape(*scale.shape, 1, 1)
    if up > 1:
        x = F.conv_transpose2d(x, w.transpose(0, 1).to(dtype), stride=up, padding=padding)
    else:
        x = F.conv2d(x, w.to(dtype), padding=padding)
    if demodulate:
        coefs = (s.square() @ w.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # B×O
        x = x * coefs.to(dtype).reshape(*coefs.shape, 1, 1)
    return x


def fused_modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    *,
    demodulate: bool = True,
    padding: int = 0,
    input_gain: torch.Tensor | None = None,
) -> torch.Tensor:
    """The grouped-convolution form of :func:`modulated_conv2d` (per-sample weights); kept as
    the reference the tests compare against."""
    b = x.shape[0]
    o, i, kh, kw = weight.shape
    w = full(weight)
    s = full(styles)
    if demodulate:
        w = w * w.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        s = s * s.square().mean(dim=1, keepdim=True).rsqrt()
    w = w.unsqueeze(0) * s.reshape(b, 1, i, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(b, o, 1, 1, 1)
    if input_gain is not None:
        w = w * input_gain.reshape(1, 1, i, 1, 1)
    y = F.conv2d(
        x.reshape(1, b * i, *x.shape[2:]), w.reshape(b * o, i, kh, kw).to(x.dtype),
        padding=padding, groups=b,
    )  # fmt: skip
    return y.reshape(b, o, *y.shape[2:])
