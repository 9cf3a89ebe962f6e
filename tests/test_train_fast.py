"""The fast paths of pix2pix (channels-last, bf16, torch.compile with frozen weights) give the
outputs of the plain fp32 eager path within tolerance, on tiny networks. No timing here: speed is
measured by benchmarks/bench_pix2pix.py."""

from __future__ import annotations

import pytest
from test_train import _train, incli, make_pairs

from celltool.imageio import read_image

torch = pytest.importorskip("torch")


def tiny(channels_last: bool = False, precision: str = "fp32", **config):
    """A unet_32 (ngf 4) + PatchGAN (ndf 4) pix2pix with batch norm whose running statistics
    are no longer the initial 0/1 (so eval-mode folding of batch norm is exercised)."""
    from celltool_pix2pix import PARAMS
    from celltool_pix2pix.model import Pix2Pix

    from celltool.training.api import Context, DataInfo

    values = {p.name: p.default for p in PARAMS}
    values.update(epochs=2, batch_size=1, lr=2e-4, seed=0, netG="unet_32", ngf=4, ndf=4)
    values.update(dropout=False, **config)
    ctx = Context(torch.device("cpu"), precision=precision, channels_last=channels_last)
    torch.manual_seed(0)
    trainer = Pix2Pix(values, DataInfo(1, 1, 8, (32, 32)), ctx)
    trainer.train_mode(True)
    with torch.no_grad():
        for seed in range(3):
            trainer.G(images(seed, ctx.channels_last))
    trainer.train_mode(False)
    return trainer


def images(seed: int, channels_last: bool = False, n: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 32, 32, generator=g) * 2 - 1
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def assert_trains_alike(ref, fast, steps: int, rel: float, weights_atol: float | None) -> None:
    """Train both for ``steps`` identical batches: every loss within ``rel`` (relative, at
    least absolute), and G's weights within ``weights_atol`` afterwards (None: not compared)."""
    ref.train_mode(True)
    fast.train_mode(True)
    for seed in range(steps):
        batch = {"input": images(seed, n=1), "target": images(seed + 10, n=1)}
        a = ref.train_step(batch)
        b = fast.train_step(fast.ctx.to_device(batch))
        for key in a:
            assert abs(a[key] - b[key]) <= rel * max(1.0, abs(a[key])), (seed, key)
    if weights_atol is not None:
        for p, q in zip(ref.G.parameters(), fast.G.parameters(), strict=True):
            assert torch.allclose(p, q, atol=weights_atol)


def test_channels_last_predict_equals_fp32():
    ref, fast = tiny(), tiny(channels_last=True)
    x = images(7)
    out = fast.predict(x)
    assert out.shape == (2, 1, 32, 32)
    assert torch.allclose(out, ref.predict(x), atol=1e-5)
    assert not torch.equal(out[0], out[1])  # a real image-dependent output


def test_bf16_predict_close_to_fp32():
    ref, fast = tiny(), tiny(channels_last=True, precision="bf16")
    x = images(8)
    a, b = ref.predict(x), fast.predict(x)
    assert b.dtype == torch.float32
    assert (a - b).abs().max() < 0.05  # bf16 keeps 8 bits of mantissa
    assert (a - b).abs().max() > 0  # the bf16 copy really ran in bf16
    net, dtype = fast._inference_net(2)
    assert dtype == torch.bfloat16 and next(net.parameters()).dtype == torch.bfloat16
    assert next(fast.G.parameters()).dtype == torch.float32  # the trained weights stay fp32


def test_channels_last_and_fused_adam_train_like_fp32():
    ref, fast = tiny(fused_adam=False), tiny(channels_last=True, fused_adam=True)
    assert_trains_alike(ref, fast, steps=3, rel=1e-4, weights_atol=1e-5)


@pytest.mark.slow
def test_compiled_predict_and_training_match_eager():
    """torch.compile (inductor; freezing at inference) against eager fp32."""
    ref, fast = tiny(), tiny(channels_last=True, compile=True)
    x = images(9)
    assert torch.allclose(fast.predict(x), ref.predict(x), atol=1e-4)
    ref, fast = tiny(), tiny(compile=True)
    assert_trains_alike(ref, fast, steps=3, rel=1e-3, weights_atol=None)


@pytest.mark.slow
def test_generate_compile_option_matches_eager(tmp_path):
    pairs = make_pairs(tmp_path)
    run = _train(pairs, tmp_path / "run", epochs=1)
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        res = incli("generate", run, pairs, "-o", tmp_path / name, *extra)
        assert res.returncode == 0, res.stderr
    a = read_image(tmp_path / "eager" / "f005.png").astype(int)
    b = read_image(tmp_path / "compiled" / "f005.png").astype(int)
    assert a.shape == (48, 48) and a.std() > 0
    assert abs(a - b).max() <= 1  # 8-bit rounding of a < 1e-4 difference
    # the fastest CPU path: a compiled bf16 copy of the generator
    res = incli("generate", run, pairs, "-o", tmp_path / "bf16", "--compile", "--precision", "bf16")
    assert res.returncode == 0, res.stderr
    c = read_image(tmp_path / "bf16" / "f005.png").astype(int)
    assert abs(a - c).mean() < 2 and abs(a - c).max() <= 16 and not (a == c).all()
