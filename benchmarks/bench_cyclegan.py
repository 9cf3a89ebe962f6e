"""3D CycleGAN speed: training iterations/s and inference voxels/s, for the documented CPU
budget and for the original's configuration, against a plain fp32 eager run in the same
invocation.

Configurations (1 channel, batch 1, resnet_9blocks generators, 3D PatchGAN, instance norm):
  documented  ngf = ndf = 8, crops 16×48×48 (benchmarks/quality_cyclegan.py, docs/cyclegan.md)
  original    ngf = ndf = 64, crops 32×256×256 (cell_data_synthesis' settings_template)

Training variants (``CycleGAN.train_step``, what ``celltool train cyclegan`` runs): ``fp32``
(eager, the baseline) and ``bf16`` (``--precision bf16``: autocast; AMX/AVX-512-BF16 on this
CPU). Inference (``G_B`` on one crop-sized tile, eval mode): ``fp32`` (no_grad, the
baseline), ``fp32_im`` (inference_mode), ``bf16`` (autocast, what ``celltool generate
--precision bf16`` runs); and the whole ``generate`` path (blended tiles, quarter overlap) on
a 32×96×96 volume for the documented configuration. Variants are timed in interleaved rounds
(medians); wall-clock and process CPU seconds (steadier on shared cores) are both recorded,
with the load average.

The original's training step does not fit this machine's memory on CPU (the autograd memory
is measured at 16×64×64 and scaled by voxels); it runs with ``--device cuda``.

    .venv/bin/python benchmarks/bench_cyclegan.py                  # CPU, ~15 min on 2 shared cores
    python benchmarks/bench_cyclegan.py --device cuda --out benchmarks/results/cyclegan_cuda.json

Writes benchmarks/results/cyclegan.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "plugins"))

import timing  # noqa: E402
import torch  # noqa: E402
from machine import finish, machine  # noqa: E402

CONFIGS = {
    "documented": {"ngf": 8, "crop": (16, 48, 48)},
    "original": {"ngf": 64, "crop": (32, 256, 256)},
}


def make_trainer(ngf: int, crop: tuple[int, ...], precision: str, device: str):
    """The trainer ``celltool train cyclegan`` builds (defaults of the plugin)."""
    from celltool_cyclegan import PARAMS
    from celltool_cyclegan.model import CycleGAN

    from celltool.training.api import Context, DataInfo

    config = {p.name: p.default for p in PARAMS}
    config.update(epochs=200, batch_size=1, lr=2e-4, seed=0, ngf=ngf, ndf=ngf, crop_size=crop)
    info = DataInfo(1, 1, 8, crop, extra={"dims": 3, "crop": list(crop)})
    torch.manual_seed(0)
    return CycleGAN(config, info, Context(device=torch.device(device), precision=precision))


def batch(crop, device, seed=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.rand(1, 1, *crop, generator=g) * 2 - 1).to(device) for k in ("A", "B")}


def interleave(
    runs: dict[str, Callable], iters: int, rounds: int, device: str, warmup: bool = True
) -> dict:
    """Every variant once per round (after one warm-up call each); medians over rounds; ratios
    against the first variant."""
    table = timing.interleave(runs, iters, rounds, device=device, warmup=warmup)
    return timing.ratios(table, next(iter(runs)))


def bench_training(cfg: dict, args) -> dict:
    runs = {}
    for precision in ("fp32", "bf16"):
        trainer = make_trainer(cfg["ngf"], cfg["crop"], precision, args.device)
        data = batch(cfg["crop"], args.device)
        runs[precision] = lambda t=trainer, d=data: t.train_step(d)
    table = interleave(runs, args.iters, args.rounds, args.device)
    for name in runs:
        table[name]["it_per_s"] = 1 / table[name]["s_per_it"]
    return table


def bench_inference(cfg: dict, args, iters: int, rounds: int, big: bool = False) -> dict:
    """G_B on one crop-sized tile; ``big`` (the original's 32×256×256 with ngf 64 on CPU):
    fp32 and bf16 only, one timed call each, no warm-up."""
    trainer = make_trainer(cfg["ngf"], cfg["crop"], "fp32", args.device)
    trainer.train_mode(False)
    G = trainer.G_B
    x = batch(cfg["crop"], args.device)["B"]
    voxels = x.numel()

    def no_grad():
        with torch.no_grad():
            return G(x)

    def inference_mode():
        with torch.inference_mode():
            return G(x)

    def bf16():
        with torch.inference_mode(), torch.autocast(x.device.type, dtype=torch.bfloat16):
            return G(x)

    runs = {"fp32": no_grad, "fp32_im": inference_mode, "bf16": bf16}
    if big:
        runs.pop("fp32_im")
    table = interleave(runs, iters, rounds, args.device, warmup=not big)
    if not big:
        with torch.inference_mode():
            ref = G(x).float()
            low = bf16().float()
        table["bf16"]["max_abs_diff_vs_fp32"] = float((low - ref).abs().max())
    for name in runs:
        table[name]["voxels_per_s"] = voxels / table[name]["s_per_it"]
    return table


def bench_generate(cfg: dict, args) -> dict:
    """The whole generate path (tiled_apply with quarter overlaps) on a 32×96×96 volume."""
    from celltool.training.tiling import tiled_apply

    trainer = make_trainer(cfg["ngf"], cfg["crop"], "fp32", args.device)
    trainer.train_mode(False)
    volume = torch.rand(1, 32, 96, 96, generator=torch.Generator().manual_seed(1)) * 2 - 1
    tile = cfg["crop"]
    overlap = tuple(t // 4 for t in tile)

    def run():
        return tiled_apply(trainer.predict, volume, tile=tile, overlap=overlap, factor=4)

    table = interleave({"fp32": run}, 1, args.rounds, args.device)
    table["fp32"]["voxels_per_s"] = volume.numel() / table["fp32"]["s_per_it"]
    return table


def autograd_bytes(ngf: int, crop: tuple[int, ...], device: str) -> int:
    """Bytes autograd keeps for one training step's forward passes (G and D), summed over
    the saved tensors (storage counted once)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        try:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        except (RuntimeError, NotImplementedError):
            pass
        return t

    trainer = make_trainer(ngf, crop, "fp32", device)
    data = batch(crop, device)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        A, B = data["A"], data["B"]
        fake_B, fake_A = trainer.G_A(A), trainer.G_B(B)
        rec = (trainer.G_B(fake_B), trainer.G_A(fake_A), trainer.G_A(B), trainer.G_B(A))
        preds = (trainer.D_A(fake_B), trainer.D_B(fake_A))
        del rec, preds
    return sum(seen.values())


def rates(table: dict, key: str) -> dict[str, float]:
    return {k: round(v[key], 3) for k, v in table.items() if not k.startswith("_")}


def mem_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads.")
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--original-iters", type=int, default=1)
    parser.add_argument("--skip-original", action="store_true", help="Documented config only.")
    parser.add_argument(
        "--resume", action="store_true", help="Keep the stages an interrupted run finished."
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/cyclegan.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result: dict = {
        "machine": machine(args.device),
        "device": args.device,
        "iters": args.iters,
        "rounds": args.rounds,
        "configs": {k: {"ngf": v["ngf"], "crop": list(v["crop"])} for k, v in CONFIGS.items()},
    }
    partial = args.out.with_suffix(".partial.json")  # every finished stage, for --resume
    if args.resume and partial.is_file():
        result.update(json.loads(partial.read_text()))

    def stage(name: str, fn: Callable[[], object]) -> None:
        if name not in result:
            result[name] = fn()
            partial.write_text(json.dumps(result, indent=1) + "\n")

    doc = CONFIGS["documented"]
    stage("documented_train", lambda: bench_training(doc, args))
    print("documented train it/s", rates(result["documented_train"], "it_per_s"))
    stage("documented_infer_tile", lambda: bench_inference(doc, args, args.iters, args.rounds))
    stage("documented_generate", lambda: bench_generate(doc, args))
    print("documented generate voxels/s", rates(result["documented_generate"], "voxels_per_s"))
    orig = CONFIGS["original"]
    if args.skip_original:
        orig = {"ngf": 4, "crop": (16, 32, 32)}  # a smoke run of the code path
        result["configs"]["original"] = {"ngf": 4, "crop": [16, 32, 32], "skipped": True}
    big = not args.device.startswith("cuda") and not args.skip_original
    stage("original_infer_tile", lambda: bench_inference(orig, args, args.original_iters, 1, big))
    print("original inference voxels/s", rates(result["original_infer_tile"], "voxels_per_s"))
    small = (16, 64, 64)  # padding weighs less than at smaller crops: a closer estimate
    scale = (orig["crop"][0] * orig["crop"][1] * orig["crop"][2]) / (16 * 64 * 64)
    need = autograd_bytes(orig["ngf"], small, args.device) * scale
    result["original_train_autograd_gb_estimate"] = round(need / 2**30, 1)
    available = torch.cuda.mem_get_info()[0] if args.device.startswith("cuda") else mem_available()
    result["memory_available_gb"] = round(available / 2**30, 1)
    if need < 0.6 * available:
        saved = args.iters, args.rounds
        args.iters, args.rounds = args.original_iters, 1
        stage("original_train", lambda: bench_training(orig, args))
        args.iters, args.rounds = saved
    else:
        result["original_train"] = (
            f"not run: the step keeps ~{need / 2**30:.0f} GB for autograd (measured at "
            f"16×64×64, scaled by voxels); {available / 2**30:.0f} GB available"
        )
    finish(result["machine"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    partial.unlink(missing_ok=True)
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=1))
    print(args.out)


if __name__ == "__main__":
    main()
