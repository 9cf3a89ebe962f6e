"""pix2pix networks and losses: U-Net and ResNet generators, PatchGAN and pixel discriminators,
vanilla / LSGAN / hinge GAN losses (Isola et al. 2017; Zhu et al. 2017 for the ResNet)."""

from __future__ import annotations

import functools
import math

import torch
from torch import nn


def norm_layer(kind: str):
    if kind == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if kind == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if kind == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


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
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = norm.func is nn.InstanceNorm2d if isinstance(norm, functools.partial) else True
        in_channels = outer if in_channels is None else in_channels
        down = nn.Conv2d(in_channels, inner, 4, 2, 1, bias=bias)
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1)
            layers = [down, sub, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, norm(outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=bias)
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
        norm: str = "batch", dropout: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        if num_downs < 5:
            raise ValueError("a U-Net needs at least 5 downsamplings")
        nl = norm_layer(norm)
        block = UnetBlock(ngf * 8, ngf * 8, innermost=True, norm=nl)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, sub=block, norm=nl, dropout=dropout)
        block = UnetBlock(ngf * 4, ngf * 8, sub=block, norm=nl)
        block = UnetBlock(ngf * 2, ngf * 4, sub=block, norm=nl)
        block = UnetBlock(ngf, ngf * 2, sub=block, norm=nl)
        self.model = UnetBlock(
            out_channels, ngf, in_channels=in_channels, sub=block, outermost=True, norm=nl
        )
        self.factor = 2**num_downs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm, dropout: bool, bias: bool) -> None:
        super().__init__()
        layers = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=bias),
            norm(dim),
            nn.ReLU(True),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm(dim)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """Two stride-2 convolutions, ``n_blocks`` residual blocks, two transposed convolutions."""

    def __init__(
        self, in_channels: int, out_channels: int, ngf: int = 64, norm: str = "batch",
        dropout: bool = False, n_blocks: int = 9,
    ) -> None:  # fmt: skip
        super().__init__()
        nl = norm_layer(norm)
        bias = norm == "instance"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=bias),
            nl(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1, bias=bias),
                nl(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, nl, dropout, bias) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1, bias=bias
                ),
                nl(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.factor = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` = 3 gives 70×70 receptive fields (``basic``)."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        nl = norm_layer(norm)
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=bias),
                nl(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1×1 PatchGAN: classifies every pixel."""

    def __init__(self, in_channels: int, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        nl = norm_layer(norm)
        bias = norm == "instance"
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias),
            nl(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def make_generator(
    name: str, in_channels: int, out_channels: int, ngf: int, norm: str, dropout: bool
) -> nn.Module:
    """``unet_256`` (8 downs), ``unet_128`` (7), any ``unet_<2^k>``; ``resnet_9blocks``,
    ``resnet_6blocks``."""
    if name.startswith("unet_"):
        size = int(name.split("_")[1])
        downs = int(round(math.log2(size)))
        if 2**downs != size:
            raise ValueError(f"{name}: the size must be a power of two")
        return UnetGenerator(in_channels, out_channels, downs, ngf, norm, dropout)
    if name.startswith("resnet_") and name.endswith("blocks"):
        blocks = int(name[len("resnet_") : -len("blocks")])
        return ResnetGenerator(in_channels, out_channels, ngf, norm, dropout, blocks)
    raise ValueError(f"unknown generator {name!r}")


def make_discriminator(name: str, in_channels: int, ndf: int, n_layers: int, norm: str):
    if name == "basic":
        return PatchDiscriminator(in_channels, ndf, 3, norm)
    if name == "n_layers":
        return PatchDiscriminator(in_channels, ndf, n_layers, norm)
    if name == "pixel":
        return PixelDiscriminator(in_channels, ndf, norm)
    raise ValueError(f"unknown discriminator {name!r}")


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """N(0, 0.02) for convolutions, N(1, 0.02) for batch-norm scales, zero biases."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


class GANLoss(nn.Module):
    """``vanilla`` (BCE with logits), ``lsgan`` (MSE) or ``hinge``; one mode for D and G."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        if mode not in ("vanilla", "lsgan", "hinge"):
            raise ValueError(f"unknown gan mode {mode!r}")
        self.mode = mode

    def forward(self, pred: torch.Tensor, real: bool, for_discriminator: bool = True):
        pred = pred.float()
        if self.mode == "hinge":
            if for_discriminator:
                return torch.relu(1 - pred).mean() if real else torch.relu(1 + pred).mean()
            return -pred.mean()
        target = torch.full_like(pred, 1.0 if real else 0.0)
        if self.mode == "lsgan":
            return nn.functional.mse_loss(pred, target)
        return nn.functional.binary_cross_entropy_with_logits(pred, target)
