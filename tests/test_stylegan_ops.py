"""StyleGAN ops and networks: the fast paths equal the definitions (float64), filters have the
designed responses, the networks have the paper's structure (tiny sizes)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from celltool_stylegan import ops  # noqa: E402
from celltool_stylegan.layers import fused_modulated_conv2d, modulated_conv2d  # noqa: E402
from celltool_stylegan.networks import make_discriminator, make_generator  # noqa: E402
from celltool_stylegan.stylegan3 import layer_plan, use_reference_ops  # noqa: E402

PADS = [(0, 0, 0, 0), (3, 2, 1, 4), (-1, 2, 5, -2)]


def _x(shape=(1, 2, 9, 11), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("separable,matmul", [(True, True), (True, False), (False, False)])
def test_upfirdn2d_fast_paths_equal_definition_values_and_gradients(separable, matmul):
    """Matrix products (separable filters on CPU maps) and strided (transposed) depthwise
    convolutions both give the definition's numbers."""
    g = torch.Generator().manual_seed(1)
    checked = 0
    for taps, up, down, pad in itertools.product([1, 4, 7], [1, 2, 4], [1, 2], PADS):
        if up > 1 and down > 1:
            continue
        shape = (taps,) if separable else (taps, taps + 1)
        f = torch.rand(*shape, generator=g, dtype=torch.float64)
        x = _x().requires_grad_(True)
        try:
            ref = ops.upfirdn2d_ref(x, f, up, down, pad, gain=2.0)
        except RuntimeError:  # the padded buffer is smaller than the filter
            continue
        fast = ops.upfirdn2d(x, f, up, down, pad, gain=2.0, matmul=matmul)
        assert fast.shape == ref.shape
        assert torch.allclose(fast, ref, atol=1e-12)
        w = torch.randn(ref.shape, generator=g, dtype=torch.float64)
        (ga,) = torch.autograd.grad((ref * w).sum(), x)
        (gb,) = torch.autograd.grad((fast * w).sum(), x)
        assert torch.allclose(ga, gb, atol=1e-12)
        checked += 1
    assert checked >= 20


def test_filtered_lrelu_fast_path_equals_definition():
    fu = ops.lowpass_filter(12, 4.0, 3.0, 16.0)
    fd = ops.lowpass_filter(12, 4.0, 3.0, 16.0)
    fr = ops.lowpass_filter(12, 4.0, 3.0, 16.0, radial=True)
    b = torch.linspace(-1, 1, 3, dtype=torch.float64)
    x = _x((2, 3, 12, 12))
    cases = [(fd, 2, 2, None, True), (fd, 2, 2, None, False), (fd, 4, 2, 0.5, True),
             (fd, 4, 2, 0.5, False), (fr, 2, 2, None, None)]  # fmt: skip
    for down_f, up, down, clamp, matmul in cases:
        kw = dict(up=up, down=down, padding=[5, 6, 5, 6], clamp=clamp)
        ref = ops.filtered_lrelu_ref(x, fu.double(), down_f.double(), b, **kw)
        fast = ops.filtered_lrelu(x, fu.double(), down_f.double(), b, matmul=matmul, **kw)
        assert fast.shape == ref.shape
        assert torch.allclose(fast, ref, atol=1e-12)
        if clamp is not None:  # the clamp acts (between the up- and downsampling)
            kw["clamp"] = None
            assert not torch.allclose(
                ops.filtered_lrelu(x, fu.double(), down_f.double(), b, **kw), fast
            )


def test_lowpass_filters_pass_the_band_and_stop_above_it():
    fs, cutoff, width = 32.0, 4.0, 4.0
    f = ops.lowpass_filter(24, cutoff, width, fs).double().numpy()
    assert abs(f.sum() - 1) < 1e-6 and np.allclose(f, f[::-1])
    freqs = np.linspace(0, fs / 2, 257)
    response = np.abs(np.exp(-2j * np.pi * np.outer(freqs / fs, np.arange(24))) @ f)
    assert response[freqs <= cutoff - width / 2].min() > 0.95
    assert response[freqs >= cutoff + width / 2].max() < 0.05
    r = ops.lowpass_filter(12, cutoff, width, 16.0, radial=True).numpy()
    assert r.shape == (12, 12) and abs(r.sum() - 1) < 1e-5
    assert np.allclose(r, r.T, atol=1e-7) and np.allclose(r, r[::-1, ::-1], atol=1e-7)
    assert ops.lowpass_filter(1, cutoff, width, fs) is None


@pytest.mark.parametrize("demodulate,gain", [(True, None), (True, 0.7), (False, None)])
def test_modulated_conv_as_one_convolution_equals_grouped_form(demodulate, gain):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 5, 9, 9, generator=g, dtype=torch.float64)
    w = torch.randn(4, 5, 3, 3, generator=g, dtype=torch.float64)
    s = torch.randn(3, 5, generator=g, dtype=torch.float64) + 1
    ig = None if gain is None else torch.full((5,), gain, dtype=torch.float64)
    a = modulated_conv2d(x, w, s, demodulate=demodulate, padding=1, input_gain=ig)
    b = fused_modulated_conv2d(x, w, s, demodulate=demodulate, padding=1, input_gain=ig)
    assert torch.allclose(a, b, atol=1e-10)
    if demodulate:  # every output channel of every sample has unit weight norm
        assert 0.2 < float(a.std()) < 5


def tiny(cfg: str, **extra):
    base = dict(cfg=cfg, resolution=16, cbase=256, cmax=8, w_dim=16, map_layers=0, sg3_layers=3)
    return {**base, **extra}


@pytest.mark.parametrize("cfg", ["stylegan3-t", "stylegan3-r"])
def test_stylegan3_fast_ops_equal_reference_ops_in_the_network(cfg):
    torch.manual_seed(0)
    G = make_generator(tiny(cfg), 2).double().eval()
    z = torch.randn(1, 16, dtype=torch.float64)
    with torch.no_grad():
        fast = G(z)
        ref = use_reference_ops(G)(z)
    assert fast.shape == (1, 2, 16, 16)
    assert torch.allclose(fast, ref, atol=1e-10)
    assert float(fast.std()) > 1e-3


def test_stylegan3_translation_of_the_input_shifts_the_image():
    """Alias-free synthesis: moving the Fourier input by 3 output px (1.5 px of the input
    grid: a sub-pixel move in the low-resolution layers) moves the output by 3 px, to 1e-3 of
    its range, in the interior."""
    torch.manual_seed(0)
    G = make_generator(tiny("stylegan3-t", resolution=32), 1).double().eval()
    z = torch.randn(3, 16, dtype=torch.float64)
    with torch.no_grad():
        ws = G.mapping(z)
        a = G.synthesis(ws)
        t = torch.eye(3, dtype=torch.float64)
        t[0, 2] = -3 / 32  # the transform is the inverse of the image's motion; 1 = the image
        G.synthesis.input.transform.copy_(t)
        b = G.synthesis(ws)
    inner = slice(8, 24)
    error = (b[..., inner] - torch.roll(a, 3, dims=3)[..., inner]).abs().max()
    assert error < 1e-3 * a.abs().max()
    assert (b[..., inner] - a[..., inner]).abs().max() > 0.1 * a.abs().max()


def test_stylegan3_layer_plan_follows_the_paper():
    plan = layer_plan(256, layers=14, critical=2)
    cut = plan["cutoffs"]
    assert cut[0] == 2 and cut[-1] == cut[-3] == 128  # last 3 (2 critical + toRGB) at R/2
    assert np.all(np.diff(cut[:13]) > 0)
    assert plan["sizes"][-1] == 256 and plan["sizes"][0] == plan["rates"][0] + 20


def test_parameter_counts_match_nvlabs_at_64px():
    """cbase 16384, 1 channel, 64²: StyleGAN3-T G has NVlabs' 32.3 M parameters; StyleGAN2 G
    with a 2-layer mapping 22.2 M (the figures of FIELD.md F.1's measurement)."""
    n = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    base = dict(resolution=64, cbase=16384, cmax=512, w_dim=512, sg3_layers=14)
    sg3 = make_generator({**base, "cfg": "stylegan3-t", "map_layers": 0}, 1)
    sg2 = make_generator({**base, "cfg": "stylegan2", "map_layers": 2}, 1)
    assert round(n(sg3) / 1e6, 1) == 32.3
    assert round(n(sg2) / 1e6, 1) == 22.2


def test_stylegan2_generator_and_discriminator_shapes_and_ws():
    torch.manual_seed(0)
    G = make_generator(tiny("stylegan2"), 2)
    D = make_discriminator(tiny("stylegan2"), 2)
    assert G.num_ws == 2 * int(math.log2(16)) - 2
    z = torch.randn(5, 16)
    img = G(z)
    assert img.shape == (5, 2, 16, 16)
    assert D(img).shape == (5, 1)  # batch 5: minibatch-std group falls back to a divisor
    with torch.no_grad():
        a, b = G(z, noise_mode="const"), G(z, noise_mode="const")
        c = G(z, noise_mode="random")
    assert torch.equal(a, b)
    G.synthesis.convs[0].noise_strength.data.fill_(1.0)
    with torch.no_grad():
        assert not torch.equal(G(z, noise_mode="random"), c)


def test_truncation_zero_gives_the_mean_w():
    torch.manual_seed(0)
    G = make_generator(tiny("stylegan2"), 1)
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(16))
        ws = G.mapping(torch.randn(4, 16), truncation_psi=0.0)
    assert torch.allclose(ws, G.mapping.w_avg.expand_as(ws))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_paths_equal_cpu_and_fp16_training_steps_are_finite():
    """On a GPU: the convolution paths equal the CPU definition; StyleGAN3-T on CUDA equals
    CPU; fp16 autocast training steps (grad scaler) stay finite."""
    from celltool_stylegan import PARAMS
    from celltool_stylegan.model import StyleGAN

    from celltool.training.api import Context, DataInfo

    f = ops.lowpass_filter(12, 4.0, 3.0, 16.0).double()
    x = _x((2, 3, 12, 12))
    ref = ops.filtered_lrelu_ref(x, f, f, None, up=2, down=2, padding=[5, 6, 5, 6])
    out = ops.filtered_lrelu(x.cuda(), f.cuda(), f.cuda(), None, up=2, down=2, padding=[5, 6, 5, 6])
    assert torch.allclose(out.cpu(), ref, atol=1e-10)
    torch.manual_seed(0)
    G = make_generator(tiny("stylegan3-t"), 2).double().eval()
    z = torch.randn(2, 16, dtype=torch.float64)
    with torch.no_grad():
        a = G(z)
        b = G.cuda()(z.cuda()).cpu()
    assert torch.allclose(a, b, atol=1e-8)
    config = {p.name: p.default for p in PARAMS}
    config.update(tiny("stylegan3-t"), epochs=1, batch_size=4, lr=0.002, seed=0, d_reg_interval=2)
    ctx = Context(torch.device("cuda"), "fp16", scaler=torch.amp.GradScaler("cuda"))
    trainer = StyleGAN(config, DataInfo(0, 2, 8, (16, 16)), ctx)
    batch = {k: (torch.rand(4, 1, 16, 16) * 2 - 1).cuda() for k in ("image", "distance")}
    for _ in range(3):
        losses = trainer.train_step(batch)
        ctx.scaler.update()
    assert all(np.isfinite(v) for v in losses.values())
