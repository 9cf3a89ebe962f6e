"""pix2pixHD speed: training iterations/s and generation images/s at 256², 1 channel, batch 1,
against a plain fp32 eager run of the same networks in the same invocation.

Networks: the global generator (``--ngf``, 4 down-samplings, 9 residual blocks, instance norm),
the 2-scale discriminator (``--ndf``, 3 layers) and, unless ``--no-vgg``, the VGG16 perceptual
loss (weights from ``celltool lpips-weights`` or CELLTOOL_VGG_WEIGHTS; random weights with
``--random-vgg``: the same cost). Input: a 2-class one-hot map + edge map (3 channels).

Variants (the framework's precision paths, what ``celltool train/generate`` run):
  training   fp32 (torch's kernels; the baseline) · gemm (--gemm-convs, the CPU default) ·
             bf16 (--precision bf16: autocast) · bf16+master (--precision bf16
             --master-weights, fp32 masters)
  generate   fp32 (eager, inference mode; the baseline) · bf16 (--precision bf16: autocast) ·
             gemm
Variants are interleaved round by round and reported as medians (wall and process CPU time,
see bench_pix2pix.py); the load average of each round is recorded.

    .venv/bin/python benchmarks/bench_pix2pixhd.py --rounds 3 --iters 2     # a few minutes

Writes benchmarks/results/pix2pixhd.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins"), str(REPO / "benchmarks")]

import torch  # noqa: E402
from machine import finish, machine  # noqa: E402
from timing import interleave, ratios  # noqa: E402


def make_trainer(variant: str, args):
    """The Pix2PixHD trainer ``celltool train`` builds for a variant."""
    from celltool_pix2pixhd import PARAMS
    from celltool_pix2pixhd.model import Pix2PixHD

    from celltool.training.api import Context, DataInfo
    from celltool.training.master import MasterWeights

    config = {p.name: p.default for p in PARAMS}
    config.update(epochs=200, batch_size=1, lr=2e-4, seed=0, ngf=args.ngf, ndf=args.ndf,
                  no_vgg_loss=args.no_vgg, vgg_weights=args.vgg_weights)  # fmt: skip
    info = DataInfo(3, 1, 8, (256, 256), {"label_nc": 2, "edges": "classes"})
    ctx = Context(
        device=torch.device("cpu"),
        precision="bf16" if "bf16" in variant else "fp32",
        gemm_convs="gemm" in variant or "master" in variant,
        master=MasterWeights(torch.bfloat16, fused=True) if "master" in variant else None,
    )
    torch.manual_seed(0)
    trainer = Pix2PixHD(config, info, ctx)
    ctx.adopt(trainer.optimizers.values())
    return trainer


def batch(seed: int, size: int = 256) -> dict:
    g = torch.Generator().manual_seed(seed)
    cls = (torch.rand(1, 1, size // 8, size // 8, generator=g) > 0.6).float()
    cls = torch.nn.functional.interpolate(cls, size=(size, size))
    edge = (torch.nn.functional.max_pool2d(cls, 3, 1, 1) != -torch.nn.functional.max_pool2d(
        -cls, 3, 1, 1)).float()  # fmt: skip
    x = torch.cat([1 - cls, cls, edge], 1)
    return {"input": x, "target": torch.tanh(torch.randn(1, 1, size, size, generator=g))}


def flops(args) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    trainer = make_trainer("fp32", args)
    b = batch(0)
    with FlopCounterMode(display=False) as counter:
        trainer.G(b["input"])
    g = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(b)
    return {"G_forward": g, "train_step": counter.get_total_flops()}


def bench_training(args, count: dict) -> dict:
    data = [batch(s) for s in range(4)]
    runs, first = {}, {}
    for v in ("fp32", "gemm", "bf16", "bf16+master"):
        t = make_trainer(v, args)
        t.train_mode(True)
        first[v] = t.train_step(data[0])  # loads VGG, warms up
        counter = iter(range(10**9))
        runs[v] = lambda t=t, c=counter: t.train_step(data[next(c) % 4])
    table = interleave(runs, args.iters, args.rounds)
    ratios(table, "fp32")
    for v in runs:
        table[v]["it_per_s"] = table[v]["per_s"]
        table[v]["GFLOP_per_s"] = table[v]["per_s"] * count["train_step"] / 1e9
        table[v]["first_step_losses"] = first[v]
    return table


def bench_generate(args, count: dict) -> dict:
    x = batch(9)["input"]
    fp32 = make_trainer("fp32", args)
    runs = {}
    for v in ("fp32", "bf16", "gemm"):
        t = fp32 if v == "fp32" else make_trainer(v, args)
        t.G.load_state_dict(fp32.G.state_dict())
        t.train_mode(False)
        runs[v] = lambda t=t: t.predict(x)
    ref = runs["fp32"]()
    quality = {v: float((fn() - ref).abs().max()) for v, fn in runs.items()}
    table = interleave(runs, args.iters, args.rounds)
    ratios(table, "fp32")
    for v in runs:
        table[v]["img_per_s"] = table[v]["per_s"]
        table[v]["GFLOP_per_s"] = table[v]["per_s"] * count["G_forward"] / 1e9
        table[v]["max_abs_diff_vs_fp32"] = quality[v]
    return table


def show(title: str, table: dict, unit: str) -> None:
    print(f"\n{title} (load per round {table['_loadavg_per_round']})", file=sys.stderr)
    for name, r in table.items():
        if not name.startswith("_"):
            print(f"  {name:12s} {r['per_s']:7.3f} {unit}  x{r['speedup_wall']:.2f} wall  "
                  f"x{r['speedup_cpu']:.2f} cpu", file=sys.stderr)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ngf", type=int, default=8)
    parser.add_argument("--ndf", type=int, default=16)
    parser.add_argument("--no-vgg", action="store_true", help="Without the perceptual loss.")
    parser.add_argument("--vgg-weights", default="", help="VGG16 weights file.")
    parser.add_argument(
        "--random-vgg", action="store_true", help="Random VGG16 weights (the same cost)."
    )
    parser.add_argument("--iters", type=int, default=2, help="Calls per timing.")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds (median).")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/pix2pixhd.json")
    args = parser.parse_args()
    if args.random_vgg and not args.no_vgg:
        from torchvision.models import vgg

        path = Path("/tmp/celltool-bench-random-vgg16.pth")
        state = vgg.make_layers(vgg.cfgs["D"]).state_dict()
        torch.save({f"features.{k}": v for k, v in state.items()}, path)
        args.vgg_weights = str(path)
    count = flops(args)
    result: dict = {
        "machine": machine(),
        "networks": {
            "ngf": args.ngf,
            "ndf": args.ndf,
            "netG": "global",
            "n_blocks": 9,
            "num_D": 2,
            "n_layers_D": 3,
            "vgg_loss": not args.no_vgg,
            "size": 256,
            "batch": 1,
            "in_channels": 3,
        },  # fmt: skip
        "flops": count,
        "iters": args.iters,
        "rounds": args.rounds,
    }
    result["train"] = bench_training(args, count)
    show("training step, batch 1, 256²", result["train"], "it/s")
    result["generate"] = bench_generate(args, count)
    show("generation, batch 1, 256²", result["generate"], "img/s")
    finish(result["machine"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
