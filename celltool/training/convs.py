"""2D convolutions as one matrix product where that beats the CPU's convolution kernels.

A convolution over few positions with many channels (the inner levels of a U-Net: 512 or 1024
channels at 1²–8²) is a product of its weight matrix with very few columns. oneDNN's kernels
spend most of their time there re-laying-out the weights (megabytes, every call, forward and
backward), 2–7× slower than the plain product on a 2-core CPU
(``benchmarks/pix2pix_experiments.py gemm-layers``). This module computes such layers as

- ``Conv2d``: ``W (Cout, Cin·k²) @ unfold(x)`` — im2col, then one GEMM;
- ``ConvTranspose2d``: ``fold(Wᵀ (Cout·k², Cin) @ x)`` — one GEMM, then col2im, summed in fp32;

the same mathematics (differences are rounding: ~1e-6 relative in fp32, one bf16 rounding under
autocast), the same parameters and ``state_dict``. The choice is per call: the product is used
on CPU tensors when it has at most ``max_columns`` columns (batch × positions), and the
layer's own kernel otherwise (larger maps, CUDA, groups, dilation, non-zero padding modes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MAX_COLUMNS = 64  # measured crossover on a 2-core AVX-512 CPU: 8² positions at batch 1


class GemmConv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs small-map calls as im2col + GEMM (see the module doc)."""

    max_columns: int = MAX_COLUMNS

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.padding, str) or not gemm_applies(self, x):
            return super().forward(x)
        n, _, h, w = x.shape
        ho, wo = conv_output_size((h, w), self.kernel_size, self.stride, self.padding)
        if n * ho * wo > self.max_columns:
            return super().forward(x)
        cols = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
        out = torch.matmul(self.weight.reshape(self.out_channels, -1), cols)
        out = out.reshape(n, self.out_channels, ho, wo)
        return out if self.bias is None else out + self.bias.reshape(1, -1, 1, 1).to(out.dtype)


class GemmConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` that runs small-map calls as GEMM + col2im (see the module doc)."""

    max_columns: int = MAX_COLUMNS

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is not None or not gemm_applies(self, x):
            return super().forward(x, output_size)
        n, cin, h, w = x.shape
        if n * h * w > self.max_columns:
            return super().forward(x)
        kh, kw = self.kernel_size
        (sh, sw), (ph, pw), (oh, ow) = self.stride, self.padding, self.output_padding
        size = ((h - 1) * sh - 2 * ph + kh + oh, (w - 1) * sw - 2 * pw + kw + ow)
        # (N, H·W, Cin) @ (Cin, Cout·kh·kw): the weight in its own layout (a transposed weight
        # would make autocast's cast and its gradient's cast strided copies, 5× slower)
        cols = torch.matmul(x.reshape(n, cin, h * w).transpose(1, 2), self.weight.reshape(cin, -1))
        cols = cols.transpose(1, 2)
        # col2im sums up to (k/s)² overlapping products per pixel: do it in fp32, as the
        # convolution kernels accumulate, and round once
        out = F.fold(cols.float(), size, self.kernel_size, padding=self.padding, stride=self.stride)
        out = out.to(cols.dtype)
        return out if self.bias is None else out + self.bias.reshape(1, -1, 1, 1).to(out.dtype)


def gemm_applies(layer: nn.modules.conv._ConvNd, x: torch.Tensor) -> bool:
    """Whether a call can take the GEMM path at all (before the size test)."""
    return (
        x.device.type == "cpu"
        and x.dim() == 4
        and layer.groups == 1
        and layer.dilation == (1, 1)
        and layer.padding_mode == "zeros"
    )


def conv_output_size(size, kernel, stride, padding) -> tuple[int, int]:
    return tuple(
        (s + 2 * p - k) // st + 1 for s, k, st, p in zip(size, kernel, stride, padding, strict=True)
    )


_SWAPS = {nn.Conv2d: GemmConv2d, nn.ConvTranspose2d: GemmConvTranspose2d}


def use_gemm_convs(net: nn.Module, max_columns: int = MAX_COLUMNS) -> nn.Module:
    """Turn every plain ``nn.Conv2d``/``nn.ConvTranspose2d`` of ``net`` into its GEMM-capable
    subclass in place (same parameter objects, same ``state_dict``); ``max_columns=0`` turns
    the GEMM path off again. Returns ``net``."""
    for module in net.modules():
        swap = _SWAPS.get(type(module))
        if swap is not None:
            module.__class__ = swap
        if isinstance(module, (GemmConv2d, GemmConvTranspose2d)):
            module.max_columns = max_columns
    return net
