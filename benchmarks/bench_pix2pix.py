"""pix2pix speed: training iterations/s and inference images/s, unet_256 + PatchGAN-70, 256²,
1 channel, batch 1, against a plain fp32 eager run of the same networks in the same invocation.

Baseline ``fp32``: eager, contiguous tensors, ``torch.no_grad`` (inference) / torch's default Adam
(training), denormals NOT flushed. Every other variant is timed in the same rounds, interleaved
with the baseline (round r runs every variant once), and the figures are medians over rounds:
wall-clock rate and process CPU seconds per iteration (``time.process_time``, all threads; the
steadier figure when other jobs share the cores). ``os.getloadavg()`` is recorded per round.

Inference variants (``G.eval()``; the networks' batch-norm running statistics are first
calibrated on 8 random inputs so that eval-mode activations look like a trained model's):
  fp32             baseline
  cl               + channels-last, inference_mode
  cl+bf16w         + weights and activations in bf16 (model.to(bfloat16))
  gemm             fp32 with --gemm-convs (small-map convolutions as one GEMM)
  cl+bf16w+gemm    what ``celltool generate --precision bf16`` runs (no compile)
  cl+autocast      + bf16 autocast
  jit_freeze       torch.jit.trace + freeze + optimize_for_inference (oneDNN prepacking)
  compile          what ``celltool generate`` runs with ``compile = true, channels_last = true``:
                   torch.compile (inductor) with freezing=True, channels-last, fp32
  compile+bf16     what ``celltool generate --compile --precision bf16`` runs: the same with a
                   bf16 copy of the generator (weights and activations)
Batch 4 at 256² and batch 1 at 512² (what generate feeds with tiles) run fp32, cl, compile and
compile+bf16.
Training variants (``Pix2Pix.train_step``, the code ``celltool train`` runs), named by their
parts (see make_trainer): fp32 (torch's kernels, default Adam: the baseline), gemm, bf16+cl
(autocast), bf16+cl+fused, bf16+cl+fused+gemm, bf16+cl+fused+gemm+cmaster (master weights,
copy path), bf16+cl+fused+gemm+master (what ``celltool train
--precision bf16 --channels-last --fused-adam --master-weights`` runs; --gemm-convs is on by
default), and with torch.compile bf16+cl+fused+compile, bf16+cl+fused+gemm+master+compile
(``--variants a,b`` picks any combination; ``--train-only`` skips inference).

Quality: inference outputs against the fp32 output on the same input (max |Δ|, PSNR with range 2,
SSIM of the tanh output mapped to 8 bits); training: the G_L1 / D losses of --quality-steps steps
from identical weights and data against fp32's (dropout masks differ under torch.compile, whose
RNG is its own, so compare the mean of the last steps rather than step-by-step values).

    .venv/bin/python benchmarks/bench_pix2pix.py            # full (~20 min on 2 shared cores)
    .venv/bin/python benchmarks/bench_pix2pix.py --quick    # a few minutes, no torch.compile

``--fp32-only`` leaves out every bf16 variant (on a CPU without native bf16 they run 33–70×
slower than fp32) and times the fp32 options instead: training fp32, gemm, cl, gemm+cl,
gemm+cl+fused and (without --quick) cl+fused+compile; inference as above without
the bf16 ones. ``--threads N`` sets torch's thread count. Every result carries the machine
record (benchmarks/machine.py: CPU, capability and any cap, family, clock, load before/after)
and the fp32 peak of the threads used (threads × 32 flops/cycle with AVX2, 64 with AVX-512, ×
the reported clock); each row's ``of_fp32_peak`` is its GFLOP/s against it. To reproduce an AVX2
machine on an AVX-512 one: ``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2
MKL_ENABLE_INSTRUCTIONS=AVX2``.

Writes benchmarks/results/pix2pix.json (or --out).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "plugins"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from machine import finish, fp32_peak_gflops, machine  # noqa: E402
from pix2pix_setup import calibrate, make_trainer, pair  # noqa: E402
from timing import interleave, ratios, timed  # noqa: E402

CL = torch.channels_last


# -- quality --------------------------------------------------------------------------------
def compare(out: torch.Tensor, ref: torch.Tensor) -> dict:
    from skimage.metrics import structural_similarity

    out, ref = out.float(), ref.float()
    mse = float(((out - ref) ** 2).mean())
    to8 = lambda t: np.round((t.clamp(-1, 1).numpy() + 1) * 127.5).astype(np.uint8)  # noqa: E731
    a, b = to8(out), to8(ref)
    ssim = min(
        structural_similarity(a[i, c], b[i, c], data_range=255)
        for i in range(a.shape[0])
        for c in range(a.shape[1])
    )
    return {
        "max_abs_diff": float((out - ref).abs().max()),
        "psnr_db": 99.0 if mse == 0 else float(10 * np.log10(4 / mse)),
        "ssim_8bit": float(ssim),
        "max_8bit_diff": int(np.abs(a.astype(int) - b).max()),
    }


# -- inference ------------------------------------------------------------------------------
def inference_runs(
    G: torch.nn.Module,
    x: torch.Tensor,
    quick: bool,
    with_compile: bool,
    light: bool,
    fp32_only: bool = False,
) -> dict:
    """name → callable returning the output (``light``: fp32, cl and the compiled ones only;
    ``fp32_only``: no bf16 variant)."""
    runs: dict[str, Callable] = {}

    def eager(net, inp, mode=torch.no_grad, autocast=False):
        def run():
            with mode(), torch.autocast("cpu", torch.bfloat16, enabled=autocast):
                return net(inp)

        return run

    runs["fp32"] = eager(G, x)
    gcl, xcl = copy.deepcopy(G).to(memory_format=CL), x.contiguous(memory_format=CL)
    runs["cl"] = eager(gcl, xcl, torch.inference_mode)
    gb, xb = copy.deepcopy(gcl).to(torch.bfloat16), xcl.to(torch.bfloat16)
    if not light:
        from celltool.training.convs import use_gemm_convs

        if not fp32_only:
            runs["cl+bf16w"] = eager(gb, xb, torch.inference_mode)
        runs["gemm"] = eager(use_gemm_convs(copy.deepcopy(G)), x, torch.inference_mode)
        if fp32_only:
            gclg = use_gemm_convs(copy.deepcopy(gcl))
            runs["gemm+cl"] = eager(gclg, xcl, torch.inference_mode)
        else:
            gbg = use_gemm_convs(copy.deepcopy(gb))
            # what generate --precision bf16 runs
            runs["cl+bf16w+gemm"] = eager(gbg, xb, torch.inference_mode)
    if not (quick or light or fp32_only):
        runs["cl+autocast"] = eager(gcl, xcl, torch.inference_mode, autocast=True)
    if not (quick or light):
        with torch.no_grad():
            traced = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(G, x)))
        runs["jit_freeze"] = eager(traced, x)
    if with_compile:
        trainer = make_trainer("compile")
        trainer.G.load_state_dict(G.state_dict())
        trainer.train_mode(False)
        runs["compile"] = lambda: trainer.predict(x)
    if with_compile and not fp32_only:
        fastest = make_trainer("bf16+cl+compile")
        fastest.G.load_state_dict(G.state_dict())
        fastest.train_mode(False)
        runs["compile+bf16"] = lambda: fastest.predict(x)
    return runs


def bench_inference(G, batch: int, size: int, args, with_compile: bool, light=False) -> dict:
    x = pair(9, batch, size)["input"]
    runs = inference_runs(G, x, args.quick, with_compile, light, args.fp32_only)
    quality = {}
    first_call = {}
    with torch.no_grad():
        ref = G(x).float()
    for name, fn in runs.items():  # warm-up (compilation; first calls are slow) and quality
        first_call[name] = timed(fn, 1)[0]
        timed(fn, 2)
        quality[name] = compare(fn().float(), ref)
    table = interleave(runs, args.iters, args.rounds)
    ratios(table, "fp32")
    for name in runs:
        r = table[name]
        r["img_per_s"] = batch / r["s_per_it"]
        r["GFLOP_per_s"] = r["img_per_s"] * G_FWD * (size / 256) ** 2 / 1e9
        r["of_fp32_peak"] = r["GFLOP_per_s"] / PEAK if PEAK else None
        r["first_call_s"] = first_call[name]
        r["quality_vs_fp32"] = quality[name]
    return table


# -- training -------------------------------------------------------------------------------
def bench_training(args, variants: list[str]) -> dict:
    data = [pair(s) for s in range(4)]
    trainers, quality, first_step = {}, {}, {}
    for v in variants:
        probe = make_trainer(v)  # quality: identical weights, data and seed for every variant
        probe.train_mode(True)
        torch.manual_seed(1)
        w0 = time.perf_counter()
        losses = []
        for i in range(args.quality_steps):
            losses.append(probe.train_step(probe.ctx.to_device(data[i % 4])))
            if i == 0:
                first_step[v] = time.perf_counter() - w0
        quality[v] = {k: [float(s[k]) for s in losses] for k in losses[0]}
        trainers[v] = probe  # keep training the same object for the timing
    runs = {}
    for v, t in trainers.items():
        batches = [t.ctx.to_device(d) for d in data]
        counter = iter(range(10**9))
        runs[v] = lambda t=t, b=batches, c=counter: t.train_step(b[next(c) % 4])
    table = interleave(runs, args.iters, args.rounds)
    ratios(table, "fp32")
    tail = max(1, args.quality_steps // 3)
    ref = quality["fp32"]
    for v in variants:
        r, q = table[v], quality[v]
        r["it_per_s"] = r["per_s"]
        r["GFLOP_per_s"] = r["it_per_s"] * STEP_FLOPS / 1e9
        r["of_fp32_peak"] = r["GFLOP_per_s"] / PEAK if PEAK else None
        r["first_step_s"] = first_step[v]
        r["quality_vs_fp32"] = {
            "steps": args.quality_steps,
            "G_L1_mean_last": statistics.mean(q["G_L1"][-tail:]),
            "fp32_G_L1_mean_last": statistics.mean(ref["G_L1"][-tail:]),
            "G_L1_max_rel_diff_per_step": max(
                abs(a - b) / abs(b) for a, b in zip(q["G_L1"], ref["G_L1"], strict=True)
            ),
            "D_fake_mean_last": statistics.mean(q["D_fake"][-tail:]),
            "fp32_D_fake_mean_last": statistics.mean(ref["D_fake"][-tail:]),
            "losses": q,
        }
    return table


def flops() -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    trainer = make_trainer("fp32")
    x = pair(0)
    with FlopCounterMode(display=False) as counter:
        trainer.G(x["input"])
    g_fwd = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(x)
    return {"G_forward": g_fwd, "train_step": counter.get_total_flops()}


G_FWD, STEP_FLOPS = 11.9e9, 85.6e9  # replaced by the flop counter's figures in main()
PEAK: float | None = None  # fp32 GFLOP/s of the threads used (main())


def show(title: str, table: dict, unit: str) -> None:
    print(f"\n{title}  (load per round: {table['_loadavg_per_round']})", file=sys.stderr)
    for name, r in table.items():
        if name.startswith("_"):
            continue
        q = r.get("quality_vs_fp32", {})
        qs = (
            f"PSNR {q['psnr_db']:.1f} dB SSIM8 {q['ssim_8bit']:.4f}"
            if "psnr_db" in q
            else f"G_L1(last) {q['G_L1_mean_last']:.4f} vs {q['fp32_G_L1_mean_last']:.4f}"
            if "G_L1_mean_last" in q
            else ""
        )
        print(
            f"  {name:14s} {r['per_s'] if unit == 'it/s' else r.get('img_per_s', 0):7.3f} {unit}"
            f"  x{r['speedup_wall']:.2f} wall  x{r['speedup_cpu']:.2f} cpu"
            f"  {r.get('GFLOP_per_s', 0):6.1f} GFLOP/s"
            f" ({100 * (r.get('of_fp32_peak') or 0):.0f} % of peak)  {qs}",
            file=sys.stderr,
            flush=True,
        )


def invocations(args) -> None:
    """Run the training benchmark in ``args.invocations`` fresh processes; per variant, the
    median, min and max of the in-process ratios against fp32."""
    import subprocess
    import tempfile

    if not args.train_only:
        raise SystemExit("--invocations needs --train-only")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.invocations):
            out = Path(tmp) / f"{i}.json"
            argv = _drop_option(_drop_option(sys.argv[1:], "--invocations"), "--out")
            subprocess.run([sys.executable, __file__, *argv, "--out", str(out)], check=True)
            runs.append(json.loads(out.read_text()))
    summary: dict = {}
    for variant in runs[0]["train"]:
        if variant.startswith("_"):
            continue
        wall = [r["train"][variant]["speedup_wall"] for r in runs]
        cpu = [r["train"][variant]["speedup_cpu"] for r in runs]
        rate = [r["train"][variant]["it_per_s"] for r in runs]
        summary[variant] = {
            "speedup_wall": wall,
            "speedup_wall_median": statistics.median(wall),
            "speedup_cpu_median": statistics.median(cpu),
            "it_per_s": rate,
        }
        spread = f"(min {min(wall):.2f}, max {max(wall):.2f})"
        rates = [round(x, 2) for x in rate]
        print(f"  {variant:34s} x{statistics.median(wall):.2f} wall {spread}  it/s {rates}")
    result = {"invocations": args.invocations, "argv": sys.argv[1:], "summary": summary}
    result["runs"] = runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(args.out)


def _drop_option(argv: list[str], option: str) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == option:
            skip = True
        elif not a.startswith(option + "="):
            out.append(a)
    return out


def main() -> None:
    global G_FWD, STEP_FLOPS, PEAK
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="A few minutes: no torch.compile.")
    parser.add_argument("--iters", type=int, default=3, help="Calls per timing.")
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (median).")
    parser.add_argument("--quality-steps", type=int, default=30)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--infer-b1-only", action="store_true", help="Batch-1 inference only.")
    parser.add_argument("--train-only", action="store_true", help="Training variants only.")
    parser.add_argument(
        "--variants", default="", help="Comma-separated training variants (default: all)."
    )
    parser.add_argument(
        "--invocations",
        type=int,
        default=1,
        help="With --train-only: run it N times, each in a fresh process, and report the "
        "spread of the ratios (the fp32 baseline's speed varies between processes).",
    )
    parser.add_argument(
        "--fp32-only", action="store_true", help="No bf16 variant (CPUs without native bf16)."
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's).")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/pix2pix.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.invocations > 1:
        invocations(args)
        return
    if args.quick:
        args.iters, args.rounds, args.quality_steps = 2, 3, 6
    import torch._dynamo.config as dynamo

    dynamo.cache_size_limit = 64  # many compiled instances of the same forward in one process
    where = machine(onednn=torch.backends.mkldnn.is_available())
    PEAK = fp32_peak_gflops(where)
    count = flops()
    G_FWD, STEP_FLOPS = count["G_forward"], count["train_step"]
    compile_ = not args.quick
    result: dict = {
        "machine": where,
        "fp32_peak_GFLOP_per_s": PEAK,
        "command": "benchmarks/bench_pix2pix.py " + " ".join(sys.argv[1:]),
        "iters": args.iters,
        "rounds": args.rounds,
        "quick": args.quick,
        "fp32_only": args.fp32_only,
        "flops": count,
        "note": "shared cores: wall timings noisy when the load exceeds the cores; "
        "cpu_s_per_it is steadier",
    }
    G = make_trainer("fp32").G
    calibrate(G)
    if not args.train_only:
        result["infer_b1_256"] = bench_inference(G, 1, 256, args, compile_)
        show("inference, batch 1, 256²", result["infer_b1_256"], "img/s")
    if args.infer_b1_only:
        args.skip_train = True
    elif not (args.quick or args.train_only):
        result["infer_b4_256"] = bench_inference(G, 4, 256, args, compile_, light=True)
        show("inference, batch 4, 256²", result["infer_b4_256"], "img/s")
        result["infer_b1_512"] = bench_inference(G, 1, 512, args, compile_, light=True)
        show("inference, batch 1, 512²", result["infer_b1_512"], "img/s")
    if not args.skip_train:
        variants = ["fp32", "gemm", "bf16+cl", "bf16+cl+fused", "bf16+cl+fused+gemm"]
        variants += ["bf16+cl+fused+gemm+cmaster", "bf16+cl+fused+gemm+master"]
        if compile_:
            variants += ["bf16+cl+fused+compile", "bf16+cl+fused+gemm+master+compile"]
        if args.fp32_only:
            variants = ["fp32", "gemm", "cl", "gemm+cl", "gemm+cl+fused"]
            variants += ["cl+fused+compile"] if compile_ else []
        if args.variants:
            variants = ["fp32"] + [v for v in args.variants.split(",") if v != "fp32"]
        result["train"] = bench_training(args, variants)
        show("training step, batch 1, 256²", result["train"], "it/s")
    finish(where)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
