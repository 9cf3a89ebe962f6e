"""Speed of the pure-PyTorch StyleGAN: training and generation images/s, and the resampling ops'
fast paths against their definitions.

    .venv/bin/python benchmarks/bench_stylegan.py                 # CPU: recipe + full SG3-T 64²
    .venv/bin/python benchmarks/bench_stylegan.py --only ops
    .venv/bin/python benchmarks/bench_stylegan.py --device cuda   # s/kimg on a GPU

Training: one ``StyleGAN.train_step`` on a batch of random masks (G step through D, D step on
fake and real; no regularisation), plus the lazy R1 step (every 16th) and, for StyleGAN2, the
path-length step (every 4th) amortised: img/s = batch / (t_step + t_R1/16 [+ t_pl/4]).
Generation: G_ema synthesis of a batch (noise const) + the watershed split into label maps.
Wall-clock rates and process CPU seconds per image (steadier when other jobs share the cores).
Writes benchmarks/results/stylegan.json (or --out) with CPU model, torch version, threads and
the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import timing
from machine import finish, machine

REPO = Path(__file__).resolve().parents[1]

CONFIGS = {
    # the documented CPU recipe (docs/stylegan.md)
    "cpu-64": {"cfg": "stylegan2", "resolution": 64, "cbase": 2048, "cmax": 64, "w_dim": 128,
               "map_layers": 2, "batch_size": 8, "pl_weight": 0.0, "style_mixing": 0.0},
    "cpu-128": {"cfg": "stylegan2", "resolution": 128, "cbase": 2048, "cmax": 64, "w_dim": 128,
                "map_layers": 2, "batch_size": 8, "pl_weight": 0.0, "style_mixing": 0.0},
    # NVlabs' figures in FIELD.md F.1 were measured at cbase 16384, batch 4, 64², 1 channel
    "sg3t-full-64": {"cfg": "stylegan3-t", "resolution": 64, "cbase": 16384, "cmax": 512,
                     "w_dim": 512, "batch_size": 4},
    "sg2-full-64": {"cfg": "stylegan2", "resolution": 64, "cbase": 16384, "cmax": 512,
                    "w_dim": 512, "batch_size": 4},
    # GPU only (--only): NVlabs' table quotes StyleGAN3-T at 256², 1 GPU, batch 32
    "sg3t-full-256": {"cfg": "stylegan3-t", "resolution": 256, "cbase": 16384, "cmax": 512,
                      "w_dim": 512, "batch_size": 32},
}  # fmt: skip
GPU_ONLY = ("sg3t-full-256",)


def make_trainer(options: dict, device: str, precision: str):
    import torch
    from celltool_stylegan import PARAMS
    from celltool_stylegan.model import StyleGAN

    from celltool.training.api import Context, DataInfo

    config = {p.name: p.default for p in PARAMS}
    config.update({"epochs": 1, "batch_size": 4, "lr": 0.002, "seed": 0, "aug": "ada", **options})
    ctx = Context(torch.device(device), precision=precision)
    res = int(config["resolution"])
    trainer = StyleGAN(config, DataInfo(0, 2, 8, (res, res)), ctx)
    trainer.ada.p = 0.2  # augmentation on, as in a small-data run
    return trainer


CPU_SECONDS: list[float] = [0.0]  # process CPU seconds of the last timed() call, per repeat


def timed(fn, device: str, repeat: int) -> float:
    """Wall seconds per call (after one warm-up call); CPU seconds in CPU_SECONDS[0]."""
    fn()
    wall, CPU_SECONDS[0] = timing.timed(fn, repeat, device)
    return wall


def bench_config(name: str, options: dict, device: str, precision: str, repeat: int) -> dict:
    import numpy as np
    import torch
    from celltool_stylegan.generate import to_instances

    torch.manual_seed(0)
    t = make_trainer(options, device, precision)
    b, r = int(t.config["batch_size"]), int(t.config["resolution"])
    g = torch.Generator().manual_seed(0)
    batch = {k: (torch.rand(b, 1, r, r, generator=g) * 2 - 1).to(device)
             for k in ("image", "distance")}  # fmt: skip
    real = t.real_images(batch)

    def step() -> None:
        t.steps = 1  # keep the lazy regularisation phases out of this timing
        t.train_step(batch)

    def r1() -> None:
        t.optimizers["D"].zero_grad(set_to_none=True)
        (t.r1_penalty(real) * 16).backward()
        t.optimizers["D"].step()

    def pl() -> None:
        t.optimizers["G"].zero_grad(set_to_none=True)
        (t.path_length_penalty(max(1, b // 2)) * 4).backward()
        t.optimizers["G"].step()

    t_step = timed(step, device, repeat)
    c_step = CPU_SECONDS[0]
    t_r1 = timed(r1, device, max(1, repeat // 2))
    c_r1 = CPU_SECONDS[0]
    t_pl = c_pl = 0.0
    if t.pl_weight > 0:
        t_pl = timed(pl, device, max(1, repeat // 2))
        c_pl = CPU_SECONDS[0]
    per_batch = t_step + t_r1 / 16 + t_pl / 4
    cpu_per_batch = c_step + c_r1 / 16 + c_pl / 4
    z = torch.randn(b, t.G_ema.z_dim, device=device)

    def gen() -> None:
        with torch.no_grad(), t.ctx.autocast():
            t.G_ema(z, noise_mode="const")

    t_gen = timed(gen, device, repeat)
    c_gen = CPU_SECONDS[0]
    with torch.no_grad():
        out = t.G_ema(z, noise_mode="const").float().cpu().numpy()
    to_instances(np.clip(out[0], -1, 1), {}, t.config)  # warm-up (imports)
    t0 = time.perf_counter()
    for channels in out:
        to_instances(np.clip(channels, -1, 1), {}, t.config)
    t_split = (time.perf_counter() - t0) / b
    params = sum(p.numel() for p in t.G.parameters())
    return {
        "config": name,
        "options": options,
        "G_params_M": round(params / 1e6, 2),
        "train_img_per_s": round(b / per_batch, 3),
        "train_s_per_img": round(per_batch / b, 4),
        "train_s_per_kimg": round(per_batch / b * 1000, 1),
        "train_cpu_s_per_img": round(cpu_per_batch / b, 4),
        "step_s": round(t_step, 4),
        "r1_step_s": round(t_r1, 4),
        "pl_step_s": round(t_pl, 4),
        "generate_img_per_s": round(b / t_gen, 3),
        "generate_s_per_img": round(t_gen / b, 5),
        "generate_cpu_s_per_img": round(c_gen / b, 5),
        "split_s_per_img": round(t_split, 5),
    }


def _op_row(fn, x, fu, fd, case, path, device, repeat) -> dict:
    c, s, up, down, taps = case
    pad = [taps // 2 + 4] * 4

    def run() -> None:
        x.grad = None
        fn(x, fu, fd, None, up=up, down=down, padding=pad).sum().backward()

    return {"op": "filtered_lrelu fwd+bwd", "shape": [4, c, s, s], "up": up, "down": down,
            "taps": taps, "path": path,
            "ms": round(timed(run, device, repeat) * 1000, 2)}  # fmt: skip


def bench_ops(device: str, repeat: int) -> list[dict]:
    """filtered_lrelu of StyleGAN3-T-like layers: the definition (zero-inserted buffers), the
    convolution path and (CPU) the matrix-product path; max |difference| to the definition."""
    import functools

    import torch
    from celltool_stylegan import ops

    rows = []
    cases = [(256, 36, 2, 2, 12), (128, 52, 4, 2, 24)]  # a 2× layer, a 4×-up layer
    for case in cases:
        c, s, up, down, taps = case
        x = torch.randn(4, c, s, s, device=device, requires_grad=True)
        fu = ops.lowpass_filter(taps, 8.0, 6.0, 32.0).to(device)
        fd = ops.lowpass_filter(12, 8.0, 6.0, 32.0).to(device)
        paths = {"reference": ops.filtered_lrelu_ref,
                 "conv": functools.partial(ops.filtered_lrelu, matmul=False)}  # fmt: skip
        if device == "cpu":
            paths["matmul"] = functools.partial(ops.filtered_lrelu, matmul=True)
        pad = [taps // 2 + 4] * 4
        with torch.no_grad():
            ref = ops.filtered_lrelu_ref(x, fu, fd, None, up=up, down=down, padding=pad)
        for path, fn in paths.items():
            row = _op_row(fn, x, fu, fd, case, path, device, repeat)
            with torch.no_grad():
                out = fn(x, fu, fd, None, up=up, down=down, padding=pad)
            row["max_abs_diff_vs_reference"] = float((out - ref).abs().max())
            rows.append(row)
    return rows


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None, help="config names and/or 'ops'")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/stylegan.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.only or [*(c for c in CONFIGS if c not in GPU_ONLY), "ops"]
    results: dict = {
        "machine": machine(args.device, precision=args.precision),
        "configs": [],
    }
    for name in names:
        if name == "ops":
            results["ops"] = bench_ops(args.device, max(args.repeat, 3))
            for row in results["ops"]:
                print(json.dumps(row), flush=True)
        else:
            row = bench_config(name, CONFIGS[name], args.device, args.precision, args.repeat)
            results["configs"].append(row)
            print(json.dumps(row), flush=True)
    finish(results["machine"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
