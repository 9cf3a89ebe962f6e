"""Resampling operations of StyleGAN2/3 in pure PyTorch (no compiled extension).

``upfirdn2d``: upsample by zero insertion, pad (negative = crop), convolve with a FIR filter,
downsample by dropping samples. ``filtered_lrelu``: bias → upsample → leaky ReLU → clamp →
downsample, the alias-free nonlinearity of StyleGAN3 (Karras et al. 2021, §3.2).

Each op has two paths that compute the same numbers (``tests/test_stylegan_ops.py``):

- ``*_ref``: the definition, literally (zero-inserted buffers, full-size filtering, then
  throwing samples away) — slow, kept as the specification;
- the default, which computes neither the inserted zeros nor the discarded samples: on CPU
  maps up to ``MATMUL_MAX`` a separable filter is two matrix products (each axis's
  resampling is a banded matrix); otherwise two 1-D passes, upsampling as a strided transposed
  depthwise convolution and downsampling as a strided depthwise convolution.
  ``benchmarks/bench_stylegan.py --only ops`` measures all three.

Filters are 1-D (separable, applied along x then y) or 2-D (StyleGAN3-R's radial filter).
The filter design follows the papers: a Kaiser-windowed sinc (``scipy.signal.firwin``) or a
Kaiser-windowed jinc for radially symmetric filters.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

Padding = Sequence[int]  # x0, x1, y0, y1 (negative crops)


# -- filters ---------------------------------------------------------------------------------
def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """A 1-D filter normalised to unit DC gain (e.g. the binomial [1, 3, 3, 1])."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    return f / f.sum()


def lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
) -> torch.Tensor | None:
    """A Kaiser-windowed low-pass filter: 1-D sinc (separable) or 2-D jinc (``radial``).

    ``cutoff`` and the transition band ``width`` are in the units of the sampling rate ``fs``.
    One tap means "no filter" (None)."""
    if numtaps < 1:
        raise ValueError("numtaps must be at least 1")
    if numtaps == 1:
        return None
    import scipy.signal
    import scipy.special

    if not radial:
        taps = scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
        return torch.as_tensor(taps, dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    with np.errstate(invalid="ignore", divide="ignore"):
        jinc = scipy.special.j1(2 * np.pi * cutoff * r) / (np.pi * r)
    jinc[r == 0] = cutoff  # the limit of j1(2πcr)/(πr) at r = 0 (only for odd numtaps)
    atten = scipy.signal.kaiser_atten(numtaps, width / (fs / 2))
    window = np.kaiser(numtaps, scipy.signal.kaiser_beta(atten))
    f = jinc * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


def gaussian_filter(sigma: float) -> torch.Tensor | None:
    """A normalised 1-D Gaussian of radius 3σ (StyleGAN3-R's blur of D's input), or None."""
    radius = math.floor(sigma * 3)
    if radius <= 0:
        return None
    t = torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma
    f = torch.exp2(-t.square())
    return f / f.sum()


# -- upfirdn2d -------------------------------------------------------------------------------
def _pad4(padding: int | Padding) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    x0, x1, y0, y1 = padding
    return int(x0), int(x1), int(y0), int(y1)


def upfirdn2d_ref(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: int | Padding = 0,
    gain: float = 1.0,
) -> torch.Tensor:
    """The definition: zero insertion, pad/crop, full convolution with ``f``, decimation."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = _pad4(padding)
    if f is None:
        f = torch.ones(1, dtype=torch.float32, device=x.device)
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [px0, px1, py0, py1])
    f = (f * gain ** (f.ndim / 2)).to(x.dtype).flip(list(range(f.ndim)))  # true convolution
    if f.ndim == 2:
        x = F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)
    else:
        x = F.conv2d(x, f[None, None, None].repeat(c, 1, 1, 1), groups=c)
        x = F.conv2d(x, f[None, None, :, None].repeat(c, 1, 1, 1), groups=c)
    return x[:, :, ::down, ::down]


def _depthwise(x: torch.Tensor, f: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """Correlate every channel with one small kernel ``f`` (kh × kw), strided."""
    c = x.shape[1]
    return F.conv2d(x, f[None, None].expand(c, 1, -1, -1).to(x.dtype), stride=stride, groups=c)


def _depthwise_t(x: torch.Tensor, f: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """Transposed (zero-free upsampling) depthwise convolution with ``f`` (kh × kw)."""
    c = x.shape[1]
    w = f[None, None].expand(c, 1, -1, -1).to(x.dtype)
    return F.conv_transpose2d(x, w, stride=stride, groups=c)


def _up_axis(x: torch.Tensor, f: torch.Tensor, up: int, p0: int, p1: int, axis: int):
    """Upsample along ``axis`` (2 = y, 3 = x) by ``up``, pad (p0, p1), convolve with 1-D f."""
    k = f.numel()
    if up == 1:
        kernel = f.flip(0)
        x = F.pad(x, [p0, p1] if axis == 3 else [0, 0, p0, p1])
        return _depthwise(x, kernel[None] if axis == 3 else kernel[:, None], (1, 1))
    kernel = f[None] if axis == 3 else f[:, None]
    x = _depthwise_t(x, kernel, (1, up) if axis == 3 else (up, 1))
    # the transposed convolution is the full convolution of the zero-inserted signal: keep
    # what the padded definition would produce (F.pad with negative sizes crops)
    lo, hi = p0 - k + 1, p1 + up - k
    return F.pad(x, [lo, hi] if axis == 3 else [0, 0, lo, hi])


MATMUL_MAX = 192  # CPU: separable resampling of maps up to this size as two matrix products


@functools.lru_cache(maxsize=512)
def _resampling_matrix(n, taps, up, down, p0, p1, gain) -> np.ndarray:
    """The 1-D upfirdn of a length-n signal as an (out × n) matrix: output o takes tap k at
    position o·down + k of the zero-inserted, padded signal (the filter flipped: convolution)."""
    f = np.asarray(taps, dtype=np.float64)[::-1] * gain
    k = len(f)
    out = (n * up + p0 + p1 - k) // down + 1
    o, j = np.meshgrid(np.arange(out), np.arange(k), indexing="ij")
    u = o * down + j - p0
    ok = (u >= 0) & (u < n * up) & (u % up == 0)
    a = np.zeros((out, n))
    np.add.at(a, (o[ok], u[ok] // up), np.broadcast_to(f, o.shape)[ok])
    return a


def _matrix(n, f, up, down, p0, p1, gain, like: torch.Tensor) -> torch.Tensor:
    taps = tuple(float(v) for v in f.detach().cpu().double())
    a = _resampling_matrix(n, taps, up, down, p0, p1, float(gain))
    return torch.from_numpy(a).to(device=like.device, dtype=like.dtype)


def use_matmul(x: torch.Tensor) -> bool:
    """Matrix products beat depthwise convolutions on CPUs for small maps (measured in
    benchmarks/bench_stylegan.py ops: 1.5-3× at 32²-128²); GPUs keep the convolutions."""
    return x.device.type == "cpu" and max(x.shape[-2:]) <= MATMUL_MAX


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: int | Padding = 0,
    gain: float = 1.0,
    matmul: bool | None = None,
) -> torch.Tensor:
    """:func:`upfirdn2d_ref` computed without zero buffers or discarded outputs: a separable
    filter as two matrix products on small CPU maps (``matmul``, default :func:`use_matmul`),
    else as strided (transposed) depthwise convolutions."""
    px0, px1, py0, py1 = _pad4(padding)
    if f is None:
        f = torch.ones(1, dtype=torch.float32, device=x.device)
    if f.ndim == 1 and (use_matmul(x) if matmul is None else matmul):
        g = math.sqrt(gain)
        ay = _matrix(x.shape[-2], f, up, down, py0, py1, g, x)
        ax = _matrix(x.shape[-1], f, up, down, px0, px1, g, x)
        return torch.matmul(torch.matmul(ay, x), ax.t())
    if f.ndim == 2:
        return _upfirdn_2d_kernel(x, f * gain, up, down, (px0, px1, py0, py1))
    f = f * math.sqrt(gain)
    if up > 1 or down == 1:
        x = _up_axis(x, f, up, px0, px1, 3)
        x = _up_axis(x, f, up, py0, py1, 2)
        if down > 1:
            x = x[:, :, ::down, ::down]
        return x
    # down only: pad, then correlate with the flipped filter at stride `down` along each axis
    x = F.pad(x, [px0, px1, py0, py1])
    kernel = f.flip(0)
    x = _depthwise(x, kernel[None], (1, down))
    return _depthwise(x, kernel[:, None], (down, 1))


def _upfirdn_2d_kernel(x, f, up, down, pads) -> torch.Tensor:
    """Non-separable (2-D) filter: transposed convolution for up, strided for down."""
    px0, px1, py0, py1 = pads
    kh, kw = f.shape
    if up > 1:
        x = _depthwise_t(x, f, (up, up))
        x = F.pad(x, [px0 - kw + 1, px1 + up - kw, py0 - kh + 1, py1 + up - kh])
        return x[:, :, ::down, ::down]
    x = F.pad(x, [px0, px1, py0, py1])
    return _depthwise(x, f.flip([0, 1]), (down, down))


def filter2d(x: torch.Tensor, f: torch.Tensor | None, gain: float = 1.0) -> torch.Tensor:
    """Filter keeping the size (centred padding)."""
    if f is None:
        return x * gain if gain != 1 else x
    kw = f.shape[-1]
    kh = f.shape[0] if f.ndim == 2 else kw
    pad = [kw // 2, (kw - 1) // 2, kh // 2, (kh - 1) // 2]
    return upfirdn2d(x, f, padding=pad, gain=gain)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Upsample by ``up`` with the FIR filter f (size preserved × up; StyleGAN2's skip path)."""
    k = f.shape[-1]
    pad = [(k + up - 1) // 2, (k - up) // 2]
    return upfirdn2d(x, f, up=up, padding=[pad[0], pad[1], pad[0], pad[1]], gain=up * up)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    """Downsample by ``down`` after low-pass filtering with f."""
    k = f.shape[-1]
    pad = [(k - down + 1) // 2, (k - down) // 2]
    return upfirdn2d(x, f, down=down, padding=[pad[0], pad[1], pad[0], pad[1]])


# -- activation ------------------------------------------------------------------------------
REDUCED = (torch.float16, torch.bfloat16)


def clamp_for(x: torch.Tensor, value: float | None) -> float | None:
    """The layers' conv_clamp (±256): a guard for fp16/bf16 activations. fp32 activations run
    unclamped, as NVlabs' ``--fp32`` (its clamp costs a third of the elementwise time here)."""
    return value if x.dtype in REDUCED else None


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    slope: float = 0.2,
    gain: float = math.sqrt(2),
    clamp: float | None = None,
) -> torch.Tensor:
    """Bias, leaky ReLU (slope 1 = linear), gain and optional clamp to ±``clamp``."""
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, *([1] * (x.ndim - 2)))
    if slope != 1:
        x = F.leaky_relu(x, slope)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def filtered_lrelu_ref(
    x: torch.Tensor,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Padding = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
) -> torch.Tensor:
    """Definition: bias → upfirdn2d(up, padding) → lrelu·gain, clamp → upfirdn2d(down)."""
    x = bias_act(x, b, slope=1, gain=1)
    x = upfirdn2d_ref(x, fu, up=up, padding=padding, gain=up * up)
    x = bias_act(x, None, slope=slope, gain=gain, clamp=clamp)
    return upfirdn2d_ref(x, fd, down=down)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Padding = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    matmul: bool | None = None,
) -> torch.Tensor:
    """:func:`filtered_lrelu_ref` without zero buffers: upsampling as a transposed convolution
    (or a matrix product on small CPU maps), lrelu, downsampling as a strided convolution (or
    a matrix product)."""
    x = bias_act(x, b, slope=1, gain=1)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up * up, matmul=matmul)
    x = bias_act(x, None, slope=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down, matmul=matmul)
