"""The GEMM convolutions (training.convs) and master weights (training.master) compute what
torch's kernels and autocast compute; checkpoints keep fp32 weights; resume stays exact."""

from __future__ import annotations

import pytest
from test_train import _train, _weights, pairs  # noqa: F401  (pairs is a fixture)
from test_train_fast import images

torch = pytest.importorskip("torch")
nn = torch.nn

CASES = [  # (transposed, cin, cout, kernel, stride, padding, output_padding, bias, size, batch)
    (False, 8, 6, 4, 2, 1, 0, False, 8, 1),  # pix2pix down
    (False, 5, 7, 3, 1, 1, 0, True, 6, 2),  # same-size 3×3 with bias, batch 2
    (False, 4, 3, (3, 2), (2, 1), (1, 0), 0, True, 7, 1),  # non-square, odd size
    (True, 8, 6, 4, 2, 1, 0, False, 4, 1),  # pix2pix up
    (True, 5, 4, 3, 2, 1, 1, True, 5, 2),  # output_padding, bias, batch 2
    (True, 6, 3, 3, 1, 1, 0, True, 1, 1),  # a 1×1 map
]


def layer(case) -> nn.Module:
    transposed, cin, cout, k, s, p, op, bias, _, _ = case
    if transposed:
        return nn.ConvTranspose2d(cin, cout, k, s, p, output_padding=op, bias=bias)
    return nn.Conv2d(cin, cout, k, s, p, bias=bias)


def run(net: nn.Module, x: torch.Tensor, autocast: bool = False):
    x = x.clone().requires_grad_(True)
    net.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y = net(x)
    weights = torch.linspace(-1, 1, y.numel()).reshape(y.shape)
    (y.float() * weights).sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    return y.detach().float(), x.grad.clone(), grads


@pytest.mark.parametrize("case", CASES)
def test_gemm_convolutions_equal_torch_kernels(case):
    from celltool.training.convs import GemmConv2d, GemmConvTranspose2d, use_gemm_convs

    torch.manual_seed(0)
    ref = layer(case)
    fast = use_gemm_convs(layer(case))
    fast.load_state_dict(ref.state_dict())
    assert isinstance(fast, (GemmConv2d, GemmConvTranspose2d))
    assert fast.state_dict().keys() == ref.state_dict().keys()
    size, batch = case[8], case[9]
    x = torch.randn(batch, case[1], size, size)
    (y0, gx0, gw0), (y1, gx1, gw1) = run(ref, x), run(fast, x)
    assert y1.shape == y0.shape and y0.abs().max() > 0.1
    assert torch.allclose(y1, y0, atol=1e-5), (y1 - y0).abs().max()
    assert torch.allclose(gx1, gx0, atol=1e-5)
    for a, b in zip(gw1, gw0, strict=True):
        assert torch.allclose(a, b, atol=1e-4)
    # under bf16 autocast: one bf16 rounding apart, as two bf16 kernels are
    (y0, gx0, _), (y1, gx1, _) = run(ref, x, True), run(fast, x, True)
    scale = float(y0.abs().max())
    assert (y1 - y0).abs().max() <= 0.02 * scale
    assert (gx1 - gx0).abs().max() <= 0.02 * float(gx0.abs().max())


def test_gemm_path_is_taken_only_for_small_maps():
    from celltool.training.convs import use_gemm_convs

    net = use_gemm_convs(nn.Conv2d(2, 3, 4, 2, 1, bias=False), max_columns=16)
    calls = []
    original = torch.matmul

    def spy(*args):
        calls.append(args[0].shape)
        return original(*args)

    x_small, x_large = torch.randn(1, 2, 8, 8), torch.randn(1, 2, 10, 10)  # 16 / 25 columns
    torch.matmul = spy
    try:
        net(x_small)
        assert len(calls) == 1
        net(x_large)
        assert len(calls) == 1  # torch's kernel
        use_gemm_convs(net, max_columns=0)
        net(x_small)
        assert len(calls) == 1  # switched off
    finally:
        torch.matmul = original


def tiny_trainer(master: bool, gemm: bool = True, fused: bool = False):
    from celltool_pix2pix import PARAMS
    from celltool_pix2pix.model import Pix2Pix

    from celltool.training.api import Context, DataInfo
    from celltool.training.master import MasterWeights

    values = {p.name: p.default for p in PARAMS}
    values.update(epochs=2, batch_size=1, lr=2e-4, seed=0, netG="unet_32", ngf=4, ndf=4)
    values.update(fused_adam=True)
    ctx = Context(
        torch.device("cpu"),
        precision="bf16",
        gemm_convs=gemm,
        master=MasterWeights(torch.bfloat16, fused=fused) if master else None,
    )
    torch.manual_seed(0)
    trainer = Pix2Pix(values, DataInfo(1, 1, 8, (32, 32)), ctx)
    ctx.adopt(trainer.optimizers.values())
    trainer.train_mode(True)
    return trainer


def same_losses(ref, other, steps: int, tol: float) -> None:
    """Train both on the same batches and dropout seeds; every loss within ``tol`` relative."""
    for step in range(steps):
        batch = {"input": images(step, n=1), "target": images(step + 10, n=1)}
        torch.manual_seed(step)
        a = ref.train_step(batch)
        torch.manual_seed(step)
        b = other.train_step(batch)
        for key in a:
            assert abs(a[key] - b[key]) <= tol * max(1.0, abs(a[key])), (step, key)


@pytest.mark.parametrize("gemm", [False, True])
def test_master_weights_train_as_autocast_does(gemm):
    """The same bf16 weights and gradients as autocast: bit-identical weights after 4 steps
    with torch's kernels; with the GEMM convolutions the two graphs round a few gradients
    differently (losses still within 1e-3)."""
    ref, fast = tiny_trainer(False, gemm), tiny_trainer(True, gemm)
    conv = fast.G.model.model[0]
    assert conv.weight.dtype == torch.bfloat16  # working weights
    bn = next(m for m in fast.G.modules() if isinstance(m, nn.BatchNorm2d))
    assert bn.weight.dtype == torch.float32  # norms stay fp32
    same_losses(ref, fast, steps=4, tol=1e-3)
    master = fast.ctx.master
    for name in ("G", "D") if not gemm else ():
        mine = master.state_dict(fast.networks[name])
        for key, value in ref.networks[name].state_dict().items():
            assert mine[key].dtype == value.dtype, key
            assert torch.equal(mine[key], value), key
    # the working weights are the masters rounded to bf16
    w = fast.G.model.model[0].weight
    assert torch.equal(w, master.master_of[w].to(torch.bfloat16))
    assert all(p.grad is None for p in fast.G.parameters() if p.dtype == torch.bfloat16)


def test_fused_master_step_matches_the_copy_path():
    """The compiled one-pass Adam on the masters gives what torch's fused Adam gives on them,
    and leaves torch's state layout (so checkpoints do not depend on the path)."""
    plain, fused = tiny_trainer(True), tiny_trainer(True, fused=True)
    same_losses(plain, fused, steps=3, tol=1e-4)
    assert fused.ctx.master._fused_ran  # the compiled path really ran
    for name in ("G", "D"):
        opt_a, opt_b = plain.optimizers[name], fused.optimizers[name]
        pairs_ = zip(opt_a.param_groups[0]["params"], opt_b.param_groups[0]["params"], strict=True)
        for pa, pb in pairs_:
            assert torch.allclose(pa, pb, atol=1e-5), name
            sa, sb = opt_a.state[pa], opt_b.state[pb]
            assert sa.keys() == sb.keys() == {"step", "exp_avg", "exp_avg_sq"}
            assert float(sb["step"]) == 3.0
            assert torch.allclose(sa["exp_avg_sq"], sb["exp_avg_sq"], rtol=1e-3, atol=1e-12)
    w = fused.G.model.model[0].weight
    assert torch.equal(w, fused.ctx.master.master_of[w].to(torch.bfloat16))


def test_fused_master_step_falls_back_to_copies_when_it_cannot_compile(monkeypatch):
    import celltool.training.master as master_module

    def broken():
        def fail(*args):
            raise RuntimeError("no C++ compiler")

        return fail

    monkeypatch.setattr(master_module, "_compiled_adam", broken)
    plain, fused = tiny_trainer(True), tiny_trainer(True, fused=True)
    batch = {"input": images(0, n=1), "target": images(10, n=1)}
    torch.manual_seed(0)
    plain.train_step(batch)
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="fused master step unavailable .no C.. compiler"):
        fused.train_step(batch)
    assert fused.ctx.master.fused is False
    for pa, pb in zip(plain.G.parameters(), fused.G.parameters(), strict=True):
        assert torch.equal(pa, pb)  # the copy path ran, from torch's fresh state


def test_master_weights_zero_grad_drops_working_gradients():
    trainer = tiny_trainer(True)
    opt = trainer.optimizers["G"]
    with trainer.ctx.autocast():
        out = trainer.G(images(0, n=1))
    out.float().sum().backward()
    assert trainer.G.model.model[0].weight.grad is not None
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in trainer.G.parameters())


def test_master_weights_need_bf16_and_resume_exactly(pairs, tmp_path):  # noqa: F811
    from test_train import TINY_CONFIG

    from celltool import plugins
    from celltool.errors import UsageError
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    with pytest.raises(UsageError, match="--master-weights needs --precision bf16"):
        _train(pairs, tmp_path / "bad", epochs=1, master_weights=True, precision="fp32")
    extra = {"precision": "bf16", "master_weights": True, "fused_adam": True}
    _train(pairs, tmp_path / "full", **extra)
    _train(pairs, tmp_path / "cut", stop=5, **extra)
    component = plugins.get("trainers", "pix2pix")
    config = resolve_config(
        component, {**TINY_CONFIG, "epochs": 3, "checkpoint_steps": 1, "seed": 3, **extra}
    )
    train(component, None, tmp_path / "cut", config, resume=True)
    full, cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert full.keys() == cut.keys()
    for key in full:
        assert full[key].dtype != torch.bfloat16, key  # checkpoints hold the fp32 masters
        assert torch.equal(full[key], cut[key]), key
