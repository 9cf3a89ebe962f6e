"""The checks that need a GPU, as one script (run on a lent CUDA machine; see docs/training.md).

    python3 benchmarks/gpu_checks.py --out DIR            # on the GPU machine
    python3 benchmarks/gpu_checks.py --device cpu --quick  # the same code paths on a CPU

1. The CUDA paths of the framework through the Python API: pix2pix trained with
   ``--precision auto`` (bf16 on bf16 GPUs) and ``fp16`` (autocast + grad scaler), generated on
   the GPU; exact resume on CUDA (2 epochs = 1 epoch + resume 1, equal weights); a 3D
   CycleGAN and a StyleGAN trained and generating on the GPU.
2. Speed: pix2pix (unet_256 + PatchGAN at 256², batch 1) training steps/s and inference
   images/s in fp32, bf16 and fp16, interleaved, medians.

Writes DIR/gpu_checks.json. celltool need not be installed: the script registers the built-in
plugins from pyproject.toml's entry points for itself (the GPU machine has no registry access).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import tomllib
from timing import interleave

REPO = Path(__file__).resolve().parents[1]


def register_source_tree(site: Path) -> None:
    """Make ``celltool`` and its plugins importable from the source tree, with their entry
    points, without pip (a dist-info folder written from pyproject.toml)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    eps = project["project"]["entry-points"]["celltool"]
    dist = site / "celltool-0.1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: celltool\nVersion: 0.1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in eps.items())
    (dist / "entry_points.txt").write_text(f"[celltool]\n{lines}\n")
    for path in (str(site), str(REPO), str(REPO / "plugins")):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ["CELLTOOL_NO_CACHE"] = "1"


def run_check(label: str, results: dict, fn, *args, **kw):
    """Run one check, record its seconds (or its error) under ``label``, print it; keep going."""
    t0 = time.perf_counter()
    try:
        value = fn(*args, **kw)
        results[label] = {"ok": True, "seconds": round(time.perf_counter() - t0, 2)}
        if isinstance(value, dict):
            results[label].update(value)
    except Exception as exc:  # keep going: one report of everything
        results[label] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:400]}
    print(label, json.dumps(results[label]), flush=True)


def pairs_folder(work: Path, quick: bool) -> Path:
    from celltool.steps.segmentation import segment
    from celltool.steps.simulation import simulate
    from celltool.steps.sketching import sketch
    from celltool.steps.splitting import split

    size = (128, 128) if quick else (256, 256)
    sim = simulate(work / "sim", n=6, size=size, seed=1, params={"n_cells": 14})
    sk = sketch(segment(sim, work / "seg"), work / "sk", params={"levels": 7})
    crop = "64" if quick else "128"
    return split(sk, work / "pairs", params={"crop": crop, "crops": 2, "min_distance": 20},
                 ratios=(4, 1, 1))  # fmt: skip


def checksum(run: Path) -> float:
    import torch

    state = torch.load(run / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
    return float(sum(t.double().sum() for net in state["networks"].values()
                     for t in net.values() if t.is_floating_point()))  # fmt: skip


def pix2pix_paths(work: Path, device: str, quick: bool) -> dict:
    """Train + generate with auto and fp16 precision; exact resume on the device."""
    from celltool.manifest import read_manifest
    from celltool.steps.generation import generate
    from celltool.steps.training import train

    pairs = pairs_folder(work, quick)
    size = 64 if quick else 128
    base = {"netG": f"unet_{size}", "ngf": 8, "ndf": 8, "crop_size": size, "preprocess": "crop",
            "device": device, "save_every": 0, "samples": 1}  # fmt: skip
    out = {}
    for precision in ("auto", "fp16") if device.startswith("cuda") else ("auto",):
        run = train("pix2pix", [pairs], work / f"run-{precision}",
                    options={**base, "epochs": 2, "precision": precision})  # fmt: skip
        gen = generate(run, [pairs], work / f"gen-{precision}", device=device)
        out[precision] = {
            "chosen": read_manifest(run)["params"]["precision"],
            "generated_with": read_manifest(gen)["params"]["precision"],
            "images": read_manifest(gen)["facts"]["count"],
        }
    straight = train("pix2pix", [pairs], work / "r2", options={**base, "epochs": 2,
                                                              "precision": "fp32"})  # fmt: skip
    cut = train("pix2pix", [pairs], work / "r1", options={**base, "epochs": 1,
                                                         "precision": "fp32"})  # fmt: skip
    train("pix2pix", None, options={"epochs": 2, "device": device}, resume=cut)
    out["resume_equal"] = checksum(straight) == checksum(cut)
    return out


def cyclegan_3d(work: Path, device: str) -> dict:
    import numpy as np

    from celltool.steps.generation import generate
    from celltool.steps.training import train
    from celltool.volumes import write_volume

    rng = np.random.default_rng(0)
    for domain, scale in (("real", 200), ("sim", 120)):
        (work / domain).mkdir(parents=True)
        for i in range(2):
            vol = (rng.random((16, 48, 48)) * scale).astype(np.uint8)
            write_volume(work / domain / f"v{i}.tif", vol, voxel_size=(1.0, 0.5, 0.5))
    run = train("cyclegan", [work / "real", work / "sim"], work / "cg",
                options={"epochs": 2, "ngf": 4, "ndf": 4, "crop_size": "16,32,32",
                         "device": device, "samples": 1})  # fmt: skip
    gen = generate(run, [work / "sim"], work / "cg-gen", device=device)
    return {"files": sorted(p.name for p in gen.rglob("*.tif"))}


def stylegan(work: Path, device: str) -> dict:
    import numpy as np

    from celltool.imageio import write_image
    from celltool.steps.generation import generate
    from celltool.steps.training import train

    rng = np.random.default_rng(1)
    (work / "masks").mkdir(parents=True)
    for i in range(8):
        mask = np.zeros((64, 64), np.uint8)
        for _ in range(3):
            y, x = rng.integers(8, 56, 2)
            mask[y - 5 : y + 5, x - 7 : x + 7] = 255
        write_image(work / "masks" / f"m{i}.png", mask)
    run = train("stylegan", [work / "masks"], work / "sg",
                options={"resolution": 32, "cbase": 512, "cmax": 32, "kimg": 0.032,
                         "batch_size": 4, "device": device, "samples": 1})  # fmt: skip
    gen = generate(run, [], work / "sg-gen", options={"count": 4}, device=device, seed=3)
    return {"labels": len(list((gen / "labels").glob("*")))}


def pix2pix_speed(device: str, rounds: int) -> dict:
    """Training steps/s and inference images/s of unet_256 + PatchGAN-70 at 256², batch 1."""
    import torch

    from celltool import plugins
    from celltool.training.api import DataInfo
    from celltool.training.runs import resolve_config
    from celltool.training.runtime import make_context

    component = plugins.get("trainers", "pix2pix")
    info = DataInfo(1, 1, 8, (256, 256))
    x = torch.rand(1, 1, 256, 256, device=device) * 2 - 1
    out: dict = {}
    trainers = {}
    for precision in ("fp32", "bf16", "fp16"):
        config = resolve_config(component, {"precision": precision, "device": device,
                                            "deterministic": False})  # fmt: skip
        trainers[precision] = component.load()(config, info, make_context(config))
    batch = {"input": x, "target": x.flip(-1)}

    def step(trainer):
        return lambda: trainer.train_step(batch)

    def infer(trainer):
        def run():
            with torch.inference_mode(), trainer.ctx.autocast():
                trainer.G(x)

        return run

    train = interleave({p: step(t) for p, t in trainers.items()}, 10, rounds, device=device,
                       warmup=True)  # fmt: skip
    for trainer in trainers.values():
        trainer.train_mode(False)
    infer_t = interleave({p: infer(t) for p, t in trainers.items()}, 20, rounds, device=device,
                         warmup=True)  # fmt: skip
    for precision in trainers:
        out[precision] = {"train_it_s": round(train[precision]["per_s"], 2),
                          "infer_img_s": round(infer_t[precision]["per_s"], 2)}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip", nargs="*", default=(), help="checks to leave out")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    args = ap.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            import celltool  # noqa: F401
            from celltool import plugins

            plugins.get("trainers", "pix2pix")
        except Exception:
            register_source_tree(work / "site")
        from machine import machine

        results: dict = {
            "machine": machine(args.device),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "bf16_supported": bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()),
        }
        print(json.dumps(results), flush=True)
        checks = {
            "pix2pix_paths": lambda: pix2pix_paths(work / "p2p", args.device, args.quick),
            "cyclegan_3d": lambda: cyclegan_3d(work / "cg", args.device),
            "stylegan": lambda: stylegan(work / "sg", args.device),
            "pix2pix_speed": lambda: pix2pix_speed(args.device, args.rounds),
        }
        for name, check in checks.items():
            if name not in args.skip and not (args.quick and name == "pix2pix_speed"):
                run_check(name, results, check)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_checks.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
