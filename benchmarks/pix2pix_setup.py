"""The networks and inputs every pix2pix speed benchmark uses: ``make_trainer(variant)`` builds
the trainer ``celltool train pix2pix`` builds for a variant, ``pair(seed)`` a random sketch/image
pair, ``calibrate(G)`` batch-norm statistics for eval-mode inference."""

from __future__ import annotations

import torch


def make_trainer(variant: str, compile_: bool = False):
    """The trainer ``celltool train`` builds for a variant: parts ``bf16`` (autocast), ``cl``
    (channels-last inputs), ``fused`` (fused Adam), ``compile``, ``gemm`` (--gemm-convs; every
    other variant runs torch's convolution kernels), ``master`` (--master-weights: bf16
    weights, fp32 masters stepped by the compiled one-pass Adam), ``cmaster`` (the same with
    the copy path: grads → masters, torch's Adam, masters → weights)."""
    from celltool_pix2pix import PARAMS
    from celltool_pix2pix.model import Pix2Pix

    from celltool.training.api import Context, DataInfo
    from celltool.training.master import MasterWeights

    config = {p.name: p.default for p in PARAMS}
    config.update(epochs=200, batch_size=1, lr=2e-4, seed=0)
    parts = variant.split("+")
    config["fused_adam"] = "fused" in parts
    config["compile"] = compile_ or "compile" in parts
    ctx = Context(
        device=torch.device("cpu"),
        precision="bf16" if "bf16" in parts else "fp32",
        channels_last="cl" in parts or variant == "compile",
        gemm_convs="gemm" in parts,
        master=MasterWeights(torch.bfloat16, fused="master" in parts)
        if {"master", "cmaster"} & set(parts)
        else None,
    )
    torch.manual_seed(0)
    trainer = Pix2Pix(config, DataInfo(1, 1, 8, (256, 256)), ctx)
    ctx.adopt(trainer.optimizers.values())
    return trainer


def pair(seed: int, batch: int = 1, size: int = 256) -> dict:
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(batch, 1, size, size, generator=g) > 0.7).float() * 2 - 1
    b = torch.tanh(torch.randn(batch, 1, size, size, generator=g))
    return {"input": a, "target": b}


def calibrate(net: torch.nn.Module) -> None:
    """Batch-norm running statistics from 8 random inputs (cumulative average)."""
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    with torch.no_grad():
        for s in range(8):
            net(pair(100 + s)["input"])
    for m in bns:
        m.momentum = 0.1
    net.eval()
