"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"):
the synthesis network (config F: 'skip' generator) and the residual discriminator, which
StyleGAN3 keeps as its discriminator.

Channels per resolution r: ``min(cbase // r, cmax)`` (cbase 32768, cmax 512 in the paper;
small values for CPU training). Convolutions are followed by bias, leaky ReLU ×√2 and a clamp
to ±256 (conv_clamp) that keeps mixed precision finite.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from celltool_stylegan.layers import Dense, full, modulated_conv2d
from celltool_stylegan.ops import bias_act, clamp_for, setup_filter, upfirdn2d, upsample2d

CONV_CLAMP = 256.0
BLUR = (1, 3, 3, 1)


def channels_for(resolution: int, cbase: int, cmax: int) -> int:
    return max(1, min(cbase // resolution, cmax))


class StyleConv(nn.Module):
    """Modulated 3×3 convolution (optionally ×2 upsampling), noise, bias, leaky ReLU."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, up: int = 1):
        super().__init__()
        self.affine = Dense(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("blur", setup_filter(BLUR))
        self.up, self.resolution = up, resolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        styles = self.affine(w)
        if self.up > 1:  # transposed conv stride 2 (2H+1), then the [1,3,3,1] low-pass → 2H
            x = modulated_conv2d(x, self.weight, styles, up=2)
            x = upfirdn2d(x, self.blur, padding=1, gain=4)
        else:
            x = modulated_conv2d(x, self.weight, styles, padding=1)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
            x = x + noise * self.noise_strength.to(x.dtype)
        elif noise_mode == "const":
            x = x + (self.noise_const * self.noise_strength).to(x.dtype)
        return bias_act(x, self.bias, clamp=clamp_for(x, CONV_CLAMP))


class ToImage(nn.Module):
    """Modulated 1×1 convolution to the output channels, no demodulation, no activation."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int):
        super().__init__()
        self.affine = Dense(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.gain = 1 / math.sqrt(in_ch)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.gain, demodulate=False)
        return bias_act(x, self.bias, slope=1, gain=1, clamp=clamp_for(x, CONV_CLAMP))


class Synthesis2(nn.Module):
    """StyleGAN2 'skip' synthesis: a learned 4×4 constant, two style convs per resolution, the
    image as the sum of upsampled per-resolution outputs. ``num_ws`` = 2·log2(R) − 2."""

    def __init__(self, w_dim: int, resolution: int, channels: int, cbase: int, cmax: int):
        super().__init__()
        log2 = int(math.log2(resolution))
        if 2**log2 != resolution or resolution < 4:
            raise ValueError(f"resolution must be a power of two ≥ 4, not {resolution}")
        self.resolution = resolution
        self.resolutions = [2**i for i in range(2, log2 + 1)]
        ch = {r: channels_for(r, cbase, cmax) for r in self.resolutions}
        self.const = nn.Parameter(torch.randn(ch[4], 4, 4))
        self.convs = nn.ModuleList()
        self.to_images = nn.ModuleList()
        for r in self.resolutions:
            if r > 4:
                self.convs.append(StyleConv(ch[r // 2], ch[r], w_dim, r, up=2))
            self.convs.append(StyleConv(ch[r], ch[r], w_dim, r))
            self.to_images.append(ToImage(ch[r], channels, w_dim))
        self.num_ws = len(self.convs) + 1
        self.register_buffer("blur", setup_filter(BLUR))

    def forward(
        self, ws: torch.Tensor, noise_mode: str = "random", update_emas: bool = False
    ) -> torch.Tensor:
        del update_emas  # StyleGAN2 synthesis tracks no statistics
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        img = None
        conv = iter(enumerate(self.convs))
        for level, _r in enumerate(self.resolutions):
            n = 1 if level == 0 else 2
            for _ in range(n):
                i, layer = next(conv)
                x = layer(x, ws[:, i], noise_mode)
            y = full(self.to_images[level](x, ws[:, i + 1]))
            img = y if img is None else upsample2d(img, self.blur) + y
        return img


# -- discriminator ---------------------------------------------------------------------------
class Conv(nn.Module):
    """Equalised-lr convolution; ``down`` = 2 low-pass filters then strides."""

    def __init__(self, in_ch, out_ch, k, *, bias=True, activation=True, down=1):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, k, k))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.gain = 1 / math.sqrt(in_ch * k * k)
        self.activation, self.down, self.k = activation, down, k
        self.register_buffer("blur", setup_filter(BLUR))

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.gain).to(x.dtype)
        b = None if self.bias is None else self.bias.to(x.dtype)
        if self.k == 1 and self.down > 1:  # low-pass and decimate, then the 1×1 conv
            x = F.conv2d(upfirdn2d(x, self.blur, down=2, padding=1), w, b)
        elif self.down > 1:
            # low-pass (4 taps, padded so that the strided conv gives H/2), then stride 2
            x = upfirdn2d(x, self.blur, padding=(self.k - 1) // 2 + 1)
            x = F.conv2d(x, w, b, stride=2)
        else:
            x = F.conv2d(x, w, b, padding=self.k // 2)
        if not self.activation:
            return x * gain if gain != 1 else x
        clamp = clamp_for(x, CONV_CLAMP * gain)
        return bias_act(x, None, slope=0.2, gain=math.sqrt(2) * gain, clamp=clamp)


class DBlock(nn.Module):
    """Residual block: conv 3×3, conv 3×3 ↓2, plus a 1×1 ↓2 skip, both scaled by √½."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = Conv(in_ch, mid_ch, 3)
        self.conv1 = Conv(mid_ch, out_ch, 3, down=2)
        self.skip = Conv(in_ch, out_ch, 1, bias=False, activation=False, down=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(x, gain=math.sqrt(0.5))
        return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


def minibatch_std(x: torch.Tensor, group: int = 4) -> torch.Tensor:
    """Append the mean over features of the per-group standard deviation as one channel."""
    n, c, h, w = x.shape
    g = min(group, n)
    while n % g:
        g -= 1
    y = full(x).reshape(g, -1, c, h, w)
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean(dim=[1, 2, 3])
    y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w).to(x.dtype)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: fromRGB 1×1, residual blocks down to 4×4, minibatch
    standard deviation, 3×3 conv, dense, dense → one logit per image."""

    def __init__(self, resolution: int, channels: int, cbase: int, cmax: int, mbstd: int = 4):
        super().__init__()
        log2 = int(math.log2(resolution))
        if 2**log2 != resolution or resolution < 4:
            raise ValueError(f"resolution must be a power of two ≥ 4, not {resolution}")
        ch = {2**i: channels_for(2**i, cbase, cmax) for i in range(2, log2 + 1)}
        self.from_image = Conv(channels, ch[resolution], 1)
        self.blocks = nn.ModuleList(
            DBlock(ch[r], ch[r], ch[r // 2]) for r in (2**i for i in range(log2, 2, -1))
        )
        self.mbstd = mbstd
        self.conv = Conv(ch[4] + 1, ch[4], 3)
        self.fc = Dense(ch[4] * 16, ch[4], activation=True)
        self.out = Dense(ch[4], 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.from_image(img)
        for block in self.blocks:
            x = block(x)
        x = self.conv(minibatch_std(x, self.mbstd))
        x = self.fc(full(x.flatten(1)))
        return self.out(x)
