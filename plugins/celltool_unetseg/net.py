"""A small segmentation U-Net (Ronneberger et al. 2015) in 2D or 3D: two 3×3 convolutions with
normalisation and ReLU per level, max-pooling down, transposed convolutions up, skip
concatenations, 1×1 logits out. Built from celltool.nn's layers by dimensionality."""

from __future__ import annotations

import torch
from torch import nn

from celltool.nn.layers import conv, conv_transpose, norm_layer, uses_bias


def double_conv(c_in: int, c_out: int, norm: str, dims: int) -> nn.Sequential:
    nl = norm_layer(norm, dims)
    bias = uses_bias(nl)
    layers: list[nn.Module] = []
    for a, b in ((c_in, c_out), (c_out, c_out)):
        layers += [conv(dims)(a, b, 3, padding=1, bias=bias), nl(b), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class SegUNet(nn.Module):
    """``depth`` halvings (inputs must be a multiple of ``factor`` = 2**depth per axis);
    ``base`` filters at full resolution, doubled per level (capped at 16·base)."""

    def __init__(
        self, in_channels: int, out_channels: int, base: int = 16, depth: int = 3,
        norm: str = "batch", dims: int = 2,
    ) -> None:  # fmt: skip
        super().__init__()
        widths = [min(base * 2**i, base * 16) for i in range(depth + 1)]
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths[:-1]:
            self.down.append(double_conv(c, w, norm, dims))
            c = w
        self.pool = (nn.MaxPool2d if dims == 2 else nn.MaxPool3d)(2)
        self.bottom = double_conv(widths[-2], widths[-1], norm, dims)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for lo, hi in zip(reversed(widths[:-1]), reversed(widths[1:]), strict=True):
            self.up.append(conv_transpose(dims)(hi, lo, 2, stride=2))
            self.merge.append(double_conv(2 * lo, lo, norm, dims))
        self.head = conv(dims)(widths[0], out_channels, 1)
        self.factor = 2**depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips), strict=True):
            x = merge(torch.cat([skip, up(x)], 1))
        return self.head(x)
