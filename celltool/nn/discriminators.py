"""PatchGAN and pixel discriminators in 2D and 3D.

The 3D PatchGAN of cell_data_synthesis strides (2, 2, 2) in its first layer and (1, 2, 2)
afterwards (``z_stride_once=True``): z-crops are short (32 slices) and anisotropic.
"""

from __future__ import annotations

import torch
from torch import nn

from celltool.nn.layers import conv, norm_layer


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` = 3 gives 70×70 receptive fields (``basic``)."""

    def __init__(
        self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch",
        *, dims: int = 2, z_stride_once: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        nl = norm_layer(norm, dims)
        bias = norm == "instance"
        conv_layer = conv(dims)

        def stride(n: int) -> int | tuple[int, ...]:
            if n >= n_layers:
                return 1
            return (1, 2, 2) if (dims == 3 and z_stride_once) else 2

        layers: list[nn.Module] = [conv_layer(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            layers += [
                conv_layer(ndf * prev, ndf * mult, 4, stride(n), 1, bias=bias),
                nl(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(conv_layer(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1×1 PatchGAN: classifies every pixel (voxel)."""

    def __init__(
        self, in_channels: int, ndf: int = 64, norm: str = "batch", *, dims: int = 2
    ) -> None:
        super().__init__()
        nl = norm_layer(norm, dims)
        bias = norm == "instance"
        conv_layer = conv(dims)
        self.model = nn.Sequential(
            conv_layer(in_channels, ndf, 1),
            nn.LeakyReLU(0.2, True),
            conv_layer(ndf, ndf * 2, 1, bias=bias),
            nl(ndf * 2),
            nn.LeakyReLU(0.2, True),
            conv_layer(ndf * 2, 1, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


DISCRIMINATORS = ("basic", "n_layers", "pixel")


def make_discriminator(
    name: str, in_channels: int, ndf: int, n_layers: int, norm: str,
    *, dims: int = 2, z_stride_once: bool = False,
) -> nn.Module:  # fmt: skip
    """``basic`` (PatchGAN 70×70), ``n_layers`` (PatchGAN of ``n_layers``), ``pixel``."""
    kw = {"dims": dims, "z_stride_once": z_stride_once}
    if name == "basic":
        return PatchDiscriminator(in_channels, ndf, 3, norm, **kw)
    if name == "n_layers":
        return PatchDiscriminator(in_channels, ndf, n_layers, norm, **kw)
    if name == "pixel":
        return PixelDiscriminator(in_channels, ndf, norm, dims=dims)
    raise ValueError(f"unknown discriminator {name!r} (one of {', '.join(DISCRIMINATORS)})")
