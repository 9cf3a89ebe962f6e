"""StyleGAN3 synthesis (Karras et al. 2021, "Alias-Free Generative Adversarial Networks").

The image is a continuous signal sampled on a grid: the input is a set of Fourier features
(sinusoids whose frequencies lie in a disc of radius ``bandwidth``) rotated and translated by
the first w; every layer is a modulated convolution followed by the alias-free nonlinearity
(upsample ×``up``, leaky ReLU, low-pass, downsample ×``down``, :func:`ops.filtered_lrelu`).
Cutoffs grow geometrically from 2 to R/2 over the layers (the last ``critical`` layers at
R/2, critically sampled); the feature maps carry a margin of 10 samples until the last two
layers. Config T: 3×3 convolutions, separable Kaiser filters. Config R: 1×1 convolutions,
radially symmetric (jinc) downsampling filters, doubled channels (rotation equivariance).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from celltool_stylegan import ops
from celltool_stylegan.layers import Dense, full, modulated_conv2d


class FourierInput(nn.Module):
    """Fourier features: sin(2π(f·x + φ)) with random f in a disc, transformed by w."""

    def __init__(
        self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float
    ):
        super().__init__()
        freqs = torch.randn(channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels) - 0.5)
        self.register_buffer("transform", torch.eye(3))  # a user transform of the output
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = Dense(w_dim, 4, weight_init=0.0)  # → rotation (cos, sin), translation
        with torch.no_grad():
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.size, self.sampling_rate, self.bandwidth = size, sampling_rate, bandwidth

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        b = w.shape[0]
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rot = torch.eye(3, device=w.device, dtype=t.dtype).repeat(b, 1, 1)
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        shift = torch.eye(3, device=w.device, dtype=t.dtype).repeat(b, 1, 1)
        shift[:, 0, 2], shift[:, 1, 2] = -t[:, 2], -t[:, 3]
        m = rot @ shift @ self.transform.to(t.dtype).unsqueeze(0)
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ m[:, :2, 2:]).squeeze(2)
        freqs = freqs @ m[:, :2, :2]
        # frequencies moved outside the band by a user transform fade out
        amp = 1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)
        amp = amp.clamp(0, 1)
        # sample positions: pixel centres, the image spanning size/sampling_rate units
        half = 0.5 * self.size / self.sampling_rate
        coords = (torch.arange(self.size, device=w.device, dtype=t.dtype) * 2 + 1) / self.size - 1
        coords = coords * half
        gy, gx = torch.meshgrid(coords, coords, indexing="ij")
        grid = torch.stack([gx, gy], dim=-1)  # H×W×2 (x, y)
        x = torch.einsum("hwk,bck->bhwc", grid, freqs) + phases[:, None, None, :]
        x = torch.sin(x * (2 * math.pi)) * amp[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.weight.shape[0])).t()
        return x.permute(0, 3, 1, 2).contiguous()


class AliasFreeLayer(nn.Module):
    """Modulated conv + filtered leaky ReLU between two sampling rates (or the final toRGB)."""

    def __init__(
        self,
        w_dim: int,
        in_ch: int,
        out_ch: int,
        in_size: int,
        out_size: int,
        in_rate: float,
        out_rate: float,
        in_cutoff: float,
        out_cutoff: float,
        in_half_width: float,
        out_half_width: float,
        *,
        is_torgb: bool,
        critical: bool,
        kernel: int = 3,
        filter_size: int = 6,
        lrelu_upsampling: int = 2,
        radial: bool = False,
        magnitude_ema_beta: float = 0.999,
        conv_clamp: float = 256.0,
    ):
        super().__init__()
        self.is_torgb = is_torgb
        self.kernel = 1 if is_torgb else kernel
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta
        self.affine = Dense(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, self.kernel, self.kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.register_buffer("magnitude_ema", torch.ones([]))
        tmp_rate = max(in_rate, out_rate) * (1 if is_torgb else lrelu_upsampling)
        self.up = int(round(tmp_rate / in_rate))
        self.down = int(round(tmp_rate / out_rate))
        up_taps = filter_size * self.up if self.up > 1 and not is_torgb else 1
        down_taps = filter_size * self.down if self.down > 1 and not is_torgb else 1
        up_f = ops.lowpass_filter(up_taps, in_cutoff, in_half_width * 2, tmp_rate)
        down_f = ops.lowpass_filter(
            down_taps, out_cutoff, out_half_width * 2, tmp_rate, radial=radial and not critical
        )
        self.register_buffer("up_filter", up_f if up_f is not None else torch.ones(1))
        self.register_buffer("down_filter", down_f if down_f is not None else torch.ones(1))
        # padding so that the output grid lands on out_size samples, centred (paper App. C.3)
        total = (out_size - 1) * self.down + 1
        total -= (in_size + self.kernel - 1) * self.up
        total += up_taps + down_taps - 2
        lo = (total + self.up) // 2
        self.padding = [lo, total - lo, lo, total - lo]
        self.reference = False  # True: the definition's slow path (ops.filtered_lrelu_ref)

    def forward(self, x: torch.Tensor, w: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        if update_emas:
            mag = full(x.detach()).square().mean()
            self.magnitude_ema.copy_(mag.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles / math.sqrt(self.weight.shape[1] * self.kernel**2)
        x = modulated_conv2d(
            x, self.weight, styles, demodulate=not self.is_torgb, padding=self.kernel - 1,
            input_gain=self.magnitude_ema.rsqrt().expand(x.shape[1]),
        )  # fmt: skip
        op = ops.filtered_lrelu_ref if self.reference else ops.filtered_lrelu
        return op(
            x,
            self.up_filter if self.up_filter.numel() > 1 else None,
            self.down_filter if self.down_filter.numel() > 1 else None,
            self.bias,
            up=self.up,
            down=self.down,
            padding=self.padding,
            gain=1.0 if self.is_torgb else math.sqrt(2),
            slope=1.0 if self.is_torgb else 0.2,
            clamp=ops.clamp_for(x, self.conv_clamp),
        )


def layer_plan(resolution: int, layers: int = 14, critical: int = 2, first_cutoff: float = 2.0,
               first_stopband: float = 2**2.1, last_stopband_rel: float = 2**0.3,
               margin: int = 10) -> dict[str, np.ndarray]:  # fmt: skip
    """Cutoff, stopband, sampling rate, transition half-width and size of every layer."""
    last_cutoff = resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    exponents = np.minimum(np.arange(layers + 1) / (layers - critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + margin * 2
    sizes[-2:] = resolution
    return {"cutoffs": cutoffs, "rates": rates, "half_widths": half_widths, "sizes": sizes}


class Synthesis3(nn.Module):
    """The StyleGAN3 synthesis network: Fourier input, ``layers`` alias-free layers, toRGB.
    ``num_ws`` = layers + 2 (input transform, every layer, toRGB)."""

    def __init__(
        self,
        w_dim: int,
        resolution: int,
        channels: int,
        cbase: int,
        cmax: int,
        *,
        layers: int = 14,
        critical: int = 2,
        radial: bool = False,
        kernel: int = 3,
        margin: int = 10,
        output_scale: float = 0.25,
        magnitude_ema_beta: float = 0.999,
    ):
        super().__init__()
        if layers <= critical:
            raise ValueError("StyleGAN3 needs more layers than critically sampled ones")
        plan = layer_plan(resolution, layers, critical, margin=margin)
        cut, rates, hw, sizes = plan["cutoffs"], plan["rates"], plan["half_widths"], plan["sizes"]
        ch = np.rint(np.minimum((cbase / 2) / cut, cmax)).astype(int)
        ch = np.maximum(ch, 1)
        ch[-1] = channels
        self.resolution, self.output_scale = resolution, output_scale
        self.input = FourierInput(w_dim, int(ch[0]), int(sizes[0]), rates[0], cut[0])
        self.layers = nn.ModuleList()
        for i in range(layers + 1):
            p = max(i - 1, 0)
            self.layers.append(
                AliasFreeLayer(
                    w_dim,
                    int(ch[p]),
                    int(ch[i]),
                    int(sizes[p]),
                    int(sizes[i]),
                    float(rates[p]),
                    float(rates[i]),
                    float(cut[p]),
                    float(cut[i]),
                    float(hw[p]),
                    float(hw[i]),
                    is_torgb=i == layers,
                    critical=i >= layers - critical,
                    kernel=kernel,
                    radial=radial,
                    magnitude_ema_beta=magnitude_ema_beta,
                )  # fmt: skip
            )
        self.num_ws = layers + 2

    def forward(
        self, ws: torch.Tensor, noise_mode: str = "const", update_emas: bool = False
    ) -> torch.Tensor:
        del noise_mode  # StyleGAN3 has no noise inputs
        x = self.input(ws[:, 0])
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i + 1], update_emas)
        return full(x) * self.output_scale


def use_reference_ops(net: nn.Module, flag: bool = True) -> nn.Module:
    """Switch every alias-free layer to the definition's slow path (for tests and benchmarks)."""
    for m in net.modules():
        if isinstance(m, AliasFreeLayer):
            m.reference = flag
    return net
