"""Speed experiments behind docs/training.md's reading of bench_pix2pix.py (unet_256 +
PatchGAN-70, 256², batch 1):

- ``profile``: torch.profiler's top operators and time shares over 3 training steps: fp32,
  bf16 autocast + channels-last + fused Adam, and that with the GEMM convolutions and master
  weights (copy path; the compiled update is one opaque call to the profiler);
- ``inner-fp32``: that variant with the U-Net's inner levels (from the first level whose down
  convolution has ≥ 512, 256 or 128 input channels) run in fp32, i.e. without autocast's
  weight casts there; interleaved rounds against fp32 and bf16 throughout, in one process;
- ``gemm-columns``: the fast training path (``--master-weights``, bf16, channels-last, fused
  Adam) with ``--gemm-convs``' column limit at 0 (off), 16, 64 (the default) and 256;
- ``gemm-columns-fp32``: the default fp32 path (``--gemm-convs``, fused Adam; ``--variants``
  picks another bench_pix2pix training variant, e.g. ``gemm``) with the column
  limit at 0 (off: torch's kernels, the baseline), 16, 64 (the default), 256 and 1024, training
  steps and batch-1 inference (eval mode, calibrated batch norm), each interleaved in one
  process; run it with and without the AVX2 caps to compare CPU families;
- ``gemm-layers``: forward + backward of single U-Net layers under bf16 autocast, torch's
  convolution kernels against the GEMM path of ``--gemm-convs``;
- ``int8``: post-training int8 quantization (torch.ao FX graph mode, x86 engine, calibrated on
  8 training masks) of a trained run's generator (``--run``, e.g. a mask → image run of
  quality_pix2pix.py with ``--ngf 64``), with and without its transposed convolutions
  quantized: SSIM to the real frames and to the fp32 output on frames 160–199 (four 256² tiles
  per 512² frame), and batch-1 speed against fp32 eager.

    .venv/bin/python benchmarks/pix2pix_experiments.py profile
    .venv/bin/python benchmarks/pix2pix_experiments.py inner-fp32 --rounds 4
    .venv/bin/python benchmarks/pix2pix_experiments.py gemm-columns --rounds 5
    .venv/bin/python benchmarks/pix2pix_experiments.py gemm-columns-fp32 --threads 1 --suffix _x
    .venv/bin/python benchmarks/pix2pix_experiments.py gemm-layers
    .venv/bin/python benchmarks/pix2pix_experiments.py int8 --run /tmp/q64b/run-sketch2image

Writes benchmarks/results/pix2pix_experiments_<name>.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
RESULTS = REPO / "benchmarks" / "results"

import numpy as np  # noqa: E402
import torch  # noqa: E402
from machine import finish, machine  # noqa: E402
from pix2pix_setup import make_trainer, pair  # noqa: E402
from timing import interleave, timed  # noqa: E402


def _steps(trainer, n: int = 4) -> list:
    trainer.train_mode(True)
    return [trainer.ctx.to_device(pair(s)) for s in range(n)]


def profile(args) -> dict:
    out = {}
    variants = args.variants.split(",") if args.variants else PROFILED
    for variant in variants:
        trainer = make_trainer(variant)
        batches = _steps(trainer)
        for i in range(3):  # warm-up
            trainer.train_step(batches[i % 4])
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for i in range(3):
                trainer.train_step(batches[i % 4])
        rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in rows)
        out[variant] = {
            "self_cpu_ms_per_step": total / 3e3,
            "top": [
                {"op": e.key, "share": e.self_cpu_time_total / total, "calls": e.count}
                for e in rows[:8]
            ],
            "categories": _categories(rows, total),
            "by_kind": _by_kind(trainer, batches[0], rows, steps=3),
        }
        for kind, row in out[variant]["by_kind"].items():
            print(f"  {kind:22s} {row}", file=sys.stderr)
        print(variant, f"{total / 3e3:.0f} ms/step", out[variant]["categories"], file=sys.stderr)
        for row in out[variant]["top"]:
            print(f"  {row['share']:6.1%}  {row['op']}", file=sys.stderr)
    return out


PROFILED = ("fp32", "bf16+cl+fused", "bf16+cl+fused+gemm+cmaster")
# op → layer kind, for the flop counter's op names and the profiler's (total time: the op
# with everything it calls, e.g. aten::convolution → mkldnn_convolution)
KINDS = {"convolution": "convolution forward", "convolution_backward": "convolution backward",
         "mm": "matmul (GEMM layers)", "addmm": "matmul (GEMM layers)",
         "bmm": "matmul (GEMM layers)"}  # fmt: skip


def _by_kind(trainer, batch, rows, steps: int) -> dict[str, dict[str, float]]:
    """Per layer kind (convolutions forward and backward, the GEMM layers' matrix products):
    ms per step, GFLOP per step (torch's flop counter) and the achieved GFLOP/s; the rest of
    the step's self time (Adam, norms, activations, copies) as ``other``. Nested calls are
    counted once: a matrix product inside a convolution is not a GEMM layer's."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        trainer.train_step(batch)
    flops: dict[str, float] = {}
    for op, n in counter.get_flop_counts()["Global"].items():
        kind = KINDS.get(str(op).split(".")[1])  # aten.convolution[.default]
        if kind:
            flops[kind] = flops.get(kind, 0.0) + n
    times: dict[str, float] = {}
    for e in rows:
        kind = KINDS.get(e.key.removeprefix("aten::"))
        if kind:
            times[kind] = times.get(kind, 0.0) + e.cpu_time_total / steps / 1e3
    total = sum(e.self_cpu_time_total for e in rows) / steps / 1e3
    out = {
        kind: {
            "ms_per_step": round(ms, 1),
            "GFLOP_per_step": round(flops.get(kind, 0.0) / 1e9, 2),
            "GFLOP_per_s": round(flops.get(kind, 0.0) / 1e9 / (ms / 1e3), 1) if ms else None,
        }
        for kind, ms in times.items()
    }
    out["other"] = {"ms_per_step": round(total - sum(times.values()), 1)}
    return out


def _categories(rows, total: float) -> dict[str, float]:
    """Self-time shares: convolutions, matrix products (the GEMM layers), Adam, copies and
    casts, the rest."""
    shares = dict.fromkeys(("convolution", "matmul", "adam", "copy", "other"), 0.0)
    for e in rows:
        name = e.key.lower()
        if "conv" in name:
            key = "convolution"
        elif name in ("aten::mm", "aten::bmm", "aten::addmm"):
            key = "matmul"
        elif "adam" in name:
            key = "adam"
        elif name in ("aten::copy_", "aten::clone", "aten::_foreach_copy_", "aten::_to_copy"):
            key = "copy"
        else:
            key = "other"
        shares[key] += e.self_cpu_time_total / total
    return {k: round(v, 3) for k, v in shares.items()}


def _inner_fp32(trainer, min_in: int) -> str:
    """Run the first non-outermost U-Net level whose down convolution takes ≥ min_in channels
    (and every level inside it) with autocast off."""
    from celltool.nn.generators import UnetBlock

    for block in trainer.G.modules():
        if isinstance(block, UnetBlock) and not block.outermost:
            down = block.model[1]
            if down.in_channels >= min_in:
                forward = block.forward

                def fp32(x, forward=forward):
                    with torch.autocast(x.device.type, enabled=False):
                        return forward(x.float())

                block.forward = fp32
                return f"{down.in_channels}→{down.out_channels}"
    raise ValueError(f"no U-Net level takes {min_in} channels")


def inner_fp32(args) -> dict:
    trainers, levels = {}, {}
    for name, variant, min_in in (
        ("fp32", "fp32", 0),
        ("bf16+cl+fused", "bf16+cl+fused", 0),
        ("inner fp32 from 512", "bf16+cl+fused", 512),
        ("inner fp32 from 256", "bf16+cl+fused", 256),
        ("inner fp32 from 128", "bf16+cl+fused", 128),
    ):
        trainers[name] = make_trainer(variant)
        if min_in:
            levels[name] = _inner_fp32(trainers[name], min_in)
    return {"first_fp32_level": levels, **_race(trainers, args)}


def gemm_columns(args) -> dict:
    """The fast training path with the GEMM convolutions' column limit at 16, 64 (the
    default), 256 and 0 (off), against fp32."""
    from celltool.training.convs import use_gemm_convs

    trainers = {"fp32": make_trainer("fp32")}
    for columns in (0, 16, 64, 256):
        trainer = make_trainer("bf16+cl+fused+gemm+master")
        for net in trainer.networks.values():
            use_gemm_convs(net, columns)
        trainers[f"master, max_columns {columns}"] = trainer
    return _race(trainers, args)


COLUMNS = (0, 16, 64, 256, 1024)  # unet_256 at 256², batch 1: 1, 4, 16, 64, 256, 1024, ...


def gemm_columns_fp32(args) -> dict:
    """fp32 training steps and batch-1 inference with the column limit at :data:`COLUMNS`;
    ratios against limit 0 (torch's kernels)."""
    from pix2pix_setup import calibrate

    from celltool.training.convs import use_gemm_convs

    variant = args.variants or "gemm+fused"  # the default fp32 path
    trainers = {}
    for columns in COLUMNS:
        trainer = make_trainer(variant)
        for net in trainer.networks.values():
            use_gemm_convs(net, columns)
        trainers[f"max_columns {columns}"] = trainer
    train = _race(trainers, args)
    G = make_trainer("fp32").G
    calibrate(G)
    x = pair(9)["input"]
    runs = {}
    for columns in COLUMNS:
        net = use_gemm_convs(copy.deepcopy(G), columns)

        def run(net=net):
            with torch.inference_mode():
                return net(x)

        for _ in range(2):
            run()
        runs[f"max_columns {columns}"] = run
    table = interleave(runs, args.iters * 4, args.rounds)
    infer = {"load_per_round": table.pop("_loadavg_per_round")}
    base = table["max_columns 0"]["s_per_it"]
    for name, row in table.items():
        infer[name] = {"img_per_s": 1 / row["s_per_it"], "x_off": base / row["s_per_it"]}
        print(f"infer {name:22s} {1 / row['s_per_it']:.2f} img/s  ×{base / row['s_per_it']:.3f}",
              file=sys.stderr)  # fmt: skip
    return {"train_variant": variant, "train": train, "infer_b1_256": infer}


LAYERS = [  # (kind, in channels, out channels, input size): unet_256's inner levels and two
    ("up", 512, 512, 1),  # larger maps where torch's kernels stay (more than 64 columns)
    ("up", 1024, 512, 2),
    ("up", 1024, 512, 4),
    ("up", 1024, 512, 8),
    ("up", 1024, 256, 16),
    ("down", 512, 512, 2),
    ("down", 512, 512, 4),
    ("down", 512, 512, 8),
    ("down", 512, 512, 16),
    ("down", 256, 512, 32),
]


def gemm_layers(args) -> dict:
    """Forward + backward of single layers under bf16 autocast (channels-last input), torch's
    kernels against the GEMM path: median ms over ``args.rounds × args.iters`` calls."""
    from torch import nn

    from celltool.training.convs import use_gemm_convs

    out = {}
    for kind, cin, cout, size in LAYERS:
        conv = nn.ConvTranspose2d if kind == "up" else nn.Conv2d
        native = conv(cin, cout, 4, 2, 1, bias=False)
        gemm = use_gemm_convs(copy.deepcopy(native), max_columns=10**9)
        x = torch.randn(1, cin, size, size).contiguous(memory_format=torch.channels_last)
        ms = {name: _layer_ms(net, x, args) for name, net in (("torch", native), ("gemm", gemm))}
        name = f"{kind} {cin}->{cout} at {size}x{size}"
        out[name] = {**ms, "x_faster": ms["torch"] / ms["gemm"]}
        print(f"{name:26s} torch {ms['torch']:6.2f} ms  gemm {ms['gemm']:6.2f} ms  "
              f"×{ms['torch'] / ms['gemm']:.2f}", file=sys.stderr)  # fmt: skip
    return out


def _layer_ms(net, x: torch.Tensor, args) -> float:
    x = x.clone().requires_grad_(True)
    times = []
    for i in range(2 + args.rounds * args.iters):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = net(x)
        y.float().sum().backward()
        if i >= 2:
            times.append(time.perf_counter() - start)
        net.zero_grad(set_to_none=True)
        x.grad = None
    return statistics.median(times) * 1000


def _race(trainers: dict, args) -> dict:
    """Interleaved rounds of training steps; it/s and the ratio to the first trainer."""
    runs = {}
    for name, trainer in trainers.items():
        batches = _steps(trainer)
        for i in range(3):
            trainer.train_step(batches[i % 4])
        counter = iter(range(10**9))
        runs[name] = lambda t=trainer, b=batches, c=counter: t.train_step(b[next(c) % 4])
    table = interleave(runs, args.iters, args.rounds)
    base = table[next(iter(trainers))]["s_per_it"]
    out = {"load_per_round": table.pop("_loadavg_per_round")}
    for name, row in table.items():
        out[name] = {"it_per_s": 1 / row["s_per_it"], "x_fp32": base / row["s_per_it"]}
        print(f"{name:28s} {1 / row['s_per_it']:.2f} it/s  ×{base / row['s_per_it']:.2f}",
              file=sys.stderr)  # fmt: skip
    return out


def int8(args) -> dict:
    from quality_pix2pix import ssim
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from celltool.imageio import read_image
    from celltool.training.generate import load_trainer

    torch.backends.quantized.engine = "x86"
    data = Path(args.data)
    model, _ = load_trainer(Path(args.run), device="cpu")
    model.train_mode(False)
    G = model.G.eval()

    def unit(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array.astype(np.float32) / 127.5 - 1)[None, None]

    def mask(i: int) -> np.ndarray:
        return ((read_image(data / "masks" / f"{i:03d}.png") > 127) * 255).astype(np.uint8)

    calibration = [unit(mask(i))[..., :256, :256] for i in range(0, 160, 20)]

    def quantize(keep_deconv_fp32: bool):
        mapping = get_default_qconfig_mapping("x86")
        if keep_deconv_fp32:
            mapping = mapping.set_object_type(torch.nn.ConvTranspose2d, None)
        prepared = prepare_fx(copy.deepcopy(G), mapping, example_inputs=(calibration[0],))
        with torch.no_grad():
            for x in calibration:
                prepared(x)
        return convert_fx(prepared)

    def frame(net, m: np.ndarray) -> np.ndarray:
        u, out = unit(m), torch.zeros(1, 1, *m.shape)
        with torch.no_grad():
            for r in range(0, m.shape[0], 256):
                for c in range(0, m.shape[1], 256):
                    out[..., r : r + 256, c : c + 256] = net(u[..., r : r + 256, c : c + 256])
        return np.clip(np.rint((out[0, 0].numpy() + 1) * 127.5), 0, 255).astype(np.uint8)

    def seconds(net, x, n: int = 5) -> float:
        with torch.no_grad():
            net(x)
            return statistics.median(timed(lambda: net(x), n)[0] for _ in range(3))

    x = calibration[0]
    out = {"run": str(args.run), "fp32_s_per_img": seconds(G, x)}
    fp32 = {i: frame(G, mask(i)) for i in range(160, 200)}
    real = {i: read_image(data / "images" / f"{i:03d}.png") for i in range(160, 200)}
    out["fp32_ssim_to_real"] = float(np.mean([ssim(fp32[i], real[i]) for i in real]))
    for name, keep in (("int8 all", False), ("int8, transposed convs fp32", True)):
        net = quantize(keep)
        frames = {i: frame(net, mask(i)) for i in range(160, 200)}
        out[name] = {
            "x_fp32": out["fp32_s_per_img"] / seconds(net, x),
            "ssim_to_real": float(np.mean([ssim(frames[i], real[i]) for i in real])),
            "ssim_to_fp32_output": float(np.mean([ssim(frames[i], fp32[i]) for i in real])),
        }
        print(name, out[name], file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = ("profile", "inner-fp32", "gemm-columns", "gemm-columns-fp32", "gemm-layers", "int8")
    parser.add_argument("name", choices=names)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--run", default="", help="int8: a trained pix2pix mask → image run")
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/timelapse"))
    parser.add_argument(
        "--variants", default="", help="profile: training variants (a,b,...); gemm-columns-fp32: 1"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--suffix", default="", help="appended to the results file's name")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.name == "int8" and not args.run:
        sys.exit("int8 needs --run (a trained mask → image pix2pix run)")
    experiments = {"profile": profile, "inner-fp32": inner_fp32, "gemm-columns": gemm_columns}
    experiments |= {"gemm-layers": gemm_layers, "int8": int8}
    experiments["gemm-columns-fp32"] = gemm_columns_fp32
    where = machine()
    result = {"machine": where, **experiments[args.name](args)}
    finish(where)
    path = RESULTS / f"pix2pix_experiments_{args.name.replace('-', '_')}{args.suffix}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(path)


if __name__ == "__main__":
    main()
