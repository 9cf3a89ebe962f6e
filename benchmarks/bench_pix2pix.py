"""pix2pix speed: training iterations/s and inference images/s, unet_256 + PatchGAN-70, 256²,
1 channel, batch 1, against a plain fp32 eager run of the same networks in the same invocation.

Variants (each measured, each checked against fp32 for output quality):
  fp32                  baseline: eager, contiguous, torch.no_grad at inference
  channels_last         fp32, channels-last memory format
  bf16                  bf16 autocast
  bf16+cl               bf16 autocast + channels-last (+ inference_mode at inference)
  bf16+cl+fused         ... + fused Adam (training only)
  cl+compile            fp32 channels-last + torch.compile of G (skipped with --no-compile)
  bf16+cl+compile       bf16 + channels-last + torch.compile of G

Quality: inference variants report the PSNR of their output against the fp32 output (same
weights, same input; images in [-1, 1] → range 2); training variants run the same steps from the
same weights and data and report G_L1 after them next to fp32's.

    .venv/bin/python benchmarks/bench_pix2pix.py [--quick] [--device cpu|cuda]

Writes benchmarks/results/pix2pix.json. Medians over --repeats runs of --iters iterations.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "plugins"))

import torch  # noqa: E402

G_FLOPS_REF = 11.9e9  # the brief's figure for unet_256 (ngf 64, 1 channel, 256²) forward


def make_trainer(variant: str, device: str):
    from celltool_pix2pix import PARAMS
    from celltool_pix2pix.model import Pix2Pix

    from celltool.training.api import Context, DataInfo

    config = {p.name: p.default for p in PARAMS}
    config.update(epochs=200, batch_size=1, lr=2e-4, seed=0)
    config["fused_adam"] = "fused" in variant
    config["compile"] = "compile" in variant
    bf16 = "bf16" in variant
    ctx = Context(
        device=torch.device(device),
        precision="bf16" if bf16 else "fp32",
        channels_last="cl" in variant.split("+") or variant == "channels_last",
    )
    torch.manual_seed(0)
    return Pix2Pix(config, DataInfo(1, 1, 8, (256, 256)), ctx)


def batch(device: str, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(1, 1, 256, 256, generator=g) > 0.7).float() * 2 - 1
    b = torch.tanh(torch.randn(1, 1, 256, 256, generator=g))
    return {"input": a.to(device), "target": b.to(device)}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_train(variant: str, device: str, iters: int, warmup: int, repeats: int) -> dict:
    trainer = make_trainer(variant, device)
    trainer.train_mode(True)
    data = [trainer.ctx.to_device(batch(device, s)) for s in range(4)]
    for i in range(warmup):
        trainer.train_step(data[i % 4])
    rates = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        for i in range(iters):
            trainer.train_step(data[i % 4])
        sync(device)
        rates.append(iters / (time.perf_counter() - t0))
    # quality probe: the same 4 steps from fresh, identical weights
    probe = make_trainer(variant, device)
    probe.train_mode(True)
    torch.manual_seed(1)
    losses = [probe.train_step(d)["G_L1"] for d in data]
    return {"it_per_s": statistics.median(rates), "runs": rates, "G_L1_after_4": losses[-1]}


@torch.no_grad()
def time_infer(variant: str, device: str, iters: int, warmup: int, repeats: int, ref=None):
    trainer = make_trainer(variant, device)
    trainer.train_mode(False)
    x = trainer.ctx.to_device(batch(device, 9))["input"]
    if variant == "fp32":

        def run():
            return trainer.G(x).float()
    else:

        def run():
            return trainer.predict(x)

    for _ in range(warmup):
        out = run()
    rates = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(iters):
            out = run()
        sync(device)
        rates.append(iters / (time.perf_counter() - t0))
    result = {"img_per_s": statistics.median(rates), "runs": rates}
    if ref is not None:
        mse = float(((out.float().cpu() - ref) ** 2).mean())
        result["psnr_vs_fp32_db"] = (
            99.0 if mse == 0 else 10 * torch.log10(torch.tensor(4 / mse)).item()
        )
    return result, out.float().cpu()


def flops() -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    trainer = make_trainer("fp32", "cpu")
    x = batch("cpu")
    with FlopCounterMode(display=False) as counter:
        trainer.G(x["input"])
    g_fwd = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(x)
    return {"G_forward": g_fwd, "train_step": counter.get_total_flops()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Few iterations, no compile.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--variants", default="", help="Comma list (fp32 is always run).")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/pix2pix.json")
    args = parser.parse_args()
    iters, repeats, warmup = (2, 1, 1) if args.quick else (args.iters, args.repeats, 2)
    variants = ["fp32", "channels_last", "bf16", "bf16+cl", "bf16+cl+fused"]
    if not (args.quick or args.no_compile):
        variants += ["cl+compile", "bf16+cl+compile"]
    if args.variants:
        variants = ["fp32"] + [v for v in args.variants.split(",") if v != "fp32"]
    count = flops()
    result = {
        "device": args.device,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "iters": iters,
        "repeats": repeats,
        "flops": count,
        "note": "shared 2-core machine: timings noisy",
        "train": {},
        "infer": {},
    }
    ref = None
    for v in variants:
        r = time_train(v, args.device, iters, warmup, repeats)
        r["GFLOP_per_s"] = r["it_per_s"] * count["train_step"] / 1e9
        result["train"][v] = r
        print(f"train {v:18s} {r['it_per_s']:.3f} it/s  G_L1 {r['G_L1_after_4']:.4f}", flush=True)
    for v in variants:
        if v == "bf16+cl+fused":
            continue
        r, out = time_infer(v, args.device, iters * 2, warmup, repeats, ref)
        if v == "fp32":
            ref = out
        r["GFLOP_per_s"] = r["img_per_s"] * count["G_forward"] / 1e9
        result["infer"][v] = r
        print(
            f"infer {v:18s} {r['img_per_s']:.3f} img/s {r.get('psnr_vs_fp32_db', '')}", flush=True
        )
    base_t, base_i = result["train"]["fp32"]["it_per_s"], result["infer"]["fp32"]["img_per_s"]
    result["speedup_train"] = {k: v["it_per_s"] / base_t for k, v in result["train"].items()}
    result["speedup_infer"] = {k: v["img_per_s"] / base_i for k, v in result["infer"].items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"speedup_train": result["speedup_train"],
                      "speedup_infer": result["speedup_infer"]}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
