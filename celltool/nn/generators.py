"""U-Net and ResNet generators in 2D and 3D (Isola et al. 2017; Zhu et al. 2017; the 3D ResNet
of cell_data_synthesis: replication padding, instance norm, stride 2 in all axes).

``factor`` on each generator is what input sizes must be a multiple of (per spatial axis).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from celltool.nn.layers import conv, conv_transpose, norm_layer, padding, uses_bias


class UnetBlock(nn.Module):
    """One level of the U-Net: down → (inner levels) → up, with the skip concatenation."""

    def __init__(
        self,
        outer: int,
        inner: int,
        in_channels: int | None = None,
        sub: nn.Module | None = None,
        *,
        outermost: bool = False,
        innermost: bool = False,
        norm=nn.BatchNorm2d,
        dropout: bool = False,
        dims: int = 2,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = uses_bias(norm)
        in_channels = outer if in_channels is None else in_channels
        down = conv(dims)(in_channels, inner, 4, 2, 1, bias=bias)
        up_conv = conv_transpose(dims)
        if outermost:
            up = up_conv(inner * 2, outer, 4, 2, 1)
            layers = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = up_conv(inner, outer, 4, 2, 1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, norm(outer)]
        else:
            up = up_conv(inner * 2, outer, 4, 2, 1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, norm(inner), sub, nn.ReLU(True), up]
            layers.append(norm(outer))
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` halvings (8 for 256² inputs: ``unet_256``)."""

    def __init__(
        self, in_channels: int, out_channels: int, num_downs: int, ngf: int = 64,
        norm: str = "batch", dropout: bool = True, dims: int = 2,
    ) -> None:  # fmt: skip
        super().__init__()
        if num_downs < 5:
            raise ValueError("a U-Net needs at least 5 downsamplings")
        nl = norm_layer(norm, dims)
        kw = {"norm": nl, "dims": dims}
        block = UnetBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, sub=block, dropout=dropout, **kw)
        block = UnetBlock(ngf * 4, ngf * 8, sub=block, **kw)
        block = UnetBlock(ngf * 2, ngf * 4, sub=block, **kw)
        block = UnetBlock(ngf, ngf * 2, sub=block, **kw)
        self.model = UnetBlock(
            out_channels, ngf, in_channels=in_channels, sub=block, outermost=True, **kw
        )
        self.factor = 2**num_downs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResnetBlock(nn.Module):
    def __init__(
        self, dim: int, norm, dropout: bool, bias: bool, dims: int = 2, pad: str = "reflect"
    ) -> None:
        super().__init__()
        pad_layer, conv_layer = padding(pad, dims), conv(dims)
        layers = [pad_layer(1), conv_layer(dim, dim, 3, bias=bias), norm(dim), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [pad_layer(1), conv_layer(dim, dim, 3, bias=bias), norm(dim)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """Two stride-2 convolutions, ``n_blocks`` residual blocks, two transposed convolutions.

    ``pad`` is the padding of the 7-wide and residual convolutions: ``reflect`` (pix2pix,
    CycleGAN) or ``replicate`` (the 3D CycleGAN of cell_data_synthesis). ``bias`` defaults to
    pytorch-CycleGAN-and-pix2pix's rule (biases only with instance norm)."""

    def __init__(
        self, in_channels: int, out_channels: int, ngf: int = 64, norm: str = "batch",
        dropout: bool = False, n_blocks: int = 9, dims: int = 2, pad: str = "reflect",
        bias: bool | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        nl = norm_layer(norm, dims)
        bias = norm == "instance" if bias is None else bias
        pad_layer, conv_layer = padding(pad, dims), conv(dims)
        layers: list[nn.Module] = [
            pad_layer(3),
            conv_layer(in_channels, ngf, 7, bias=bias),
            nl(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                conv_layer(ngf * mult, ngf * mult * 2, 3, 2, 1, bias=bias),
                nl(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, nl, dropout, bias, dims, pad) for _ in range(n_blocks)]
        up = conv_transpose(dims)
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [
                up(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1, bias=bias),
                nl(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [pad_layer(3), conv_layer(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.factor = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


GENERATORS = "unet_<2^k> (unet_256, unet_128, ...), resnet_<n>blocks (resnet_9blocks, ...)"


def make_generator(
    name: str, in_channels: int, out_channels: int, ngf: int, norm: str, dropout: bool,
    *, dims: int = 2, pad: str = "reflect",
) -> nn.Module:  # fmt: skip
    """``unet_256`` (8 downs), ``unet_128`` (7), any ``unet_<2^k>``; ``resnet_9blocks``,
    ``resnet_6blocks``, any ``resnet_<n>blocks``."""
    if name.startswith("unet_"):
        size = int(name.split("_")[1])
        downs = int(round(math.log2(size)))
        if 2**downs != size:
            raise ValueError(f"{name}: the size must be a power of two")
        return UnetGenerator(in_channels, out_channels, downs, ngf, norm, dropout, dims)
    if name.startswith("resnet_") and name.endswith("blocks"):
        blocks = int(name[len("resnet_") : -len("blocks")])
        return ResnetGenerator(
            in_channels, out_channels, ngf, norm, dropout, blocks, dims=dims, pad=pad
        )
    raise ValueError(f"unknown generator {name!r} ({GENERATORS})")
