"""``demo``: the whole pipeline on simulated data (no data of the user's needed), into one folder.

simulate → segment → sketch → split → train pix2pix → generate → a temporal model on a
simulated time-lapse → evaluate → report. Every stage calls the steps' Python API with plugin
names; the demo imports no plugin.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celltool.console import info
from celltool.executor import ExecutorSpec
from celltool.manifest import make_manifest, write_manifest
from celltool.outputs import check_output

Stage = Callable[[Path, int, bool, dict[str, Path]], Path]
SERIAL = ExecutorSpec("serial")


def stage_simulate(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """A small simulated data set."""
    from celltool.steps.simulation import simulate

    size = (256, 256) if quick else (512, 512)
    return simulate(out / "sim", n=6 if quick else 24, size=size, seed=seed, spec=ExecutorSpec())


def stage_segment(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """Segment the simulated images with the built-in watershed."""
    from celltool.steps.segmentation import segment

    return segment(results["simulate"], out / "segment", min_size=0, spec=ExecutorSpec())


def stage_sketch(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """Levels-7 sketches of the segmentation."""
    from celltool.steps.sketching import sketch

    source = results.get("segment") or results["simulate"]
    return sketch(source, out / "sketch", params={"levels": 7}, seed=seed, spec=ExecutorSpec())


def stage_split(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """Two crops of a quarter of the image size per frame."""
    from celltool.steps.splitting import split

    crop = "64" if quick else "128"
    return split(results["sketch"], out / "pairs", params={"crop": crop, "crops": 2},
                 ratios=(0.7, 0.15, 0.15), seed=seed)  # fmt: skip


def stage_train(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """A small pix2pix on the pairs."""
    from celltool.steps.training import train

    options: dict[str, Any] = {
        "netG": "unet_64" if quick else "unet_128",
        "ngf": 8 if quick else 16,
        "ndf": 8 if quick else 16,
        "crop_size": 64 if quick else 128,
        "epochs": 2 if quick else 4,
        "seed": seed,
        "save_every": 0,
    }
    if quick:
        options["preprocess"] = "crop"
    return train("pix2pix", [results["split"]], out / "run", options=options)


def stage_generate(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """Images generated from the sketches of the test split."""
    from celltool.steps.generation import generate

    return generate(results["train"], [results["split"]], out / "generate", device="cpu",
                    seed=seed)  # fmt: skip


def stage_dual(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """A simulated time-lapse of moving, growing and dividing cells → temporal pairs → a tiny
    dual model → a generated sequence."""
    from celltool.imageio import list_image_tree, read_image, write_image
    from celltool.steps.generation import generate
    from celltool.steps.simulation import simulate
    from celltool.steps.splitting import split
    from celltool.steps.training import train

    frames, size = (12, 32) if quick else (40, 64)
    cells = {"frames": frames, "n_cells": 4 if quick else 8, "cell_radius": "3,5" if quick
             else "5,8", "cycle": "8,12" if quick else "16,26", "speed": 1.0}  # fmt: skip
    sim = simulate(out / "timelapse", method="timelapse2d", n=1, size=(size,), seed=seed,
                   params=cells, spec=SERIAL)  # fmt: skip
    pairs = split(sim, out / "timelapse-pairs", method="frames", by="time", pairs="temporal",
                  ratios=(0.75, 0.0, 0.25), seed=seed)  # fmt: skip
    options: dict[str, Any] = {
        "netG": f"unet_{size}", "ngf": 4 if quick else 16, "ndf": 4 if quick else 16,
        "crop_size": size, "preprocess": "none", "flip": False, "rollout": 2,
        "epochs": 1 if quick else 10, "seed": seed, "save_every": 0, "samples": 2,
        "threads": 1,  # one thread is faster for these tiny networks (and on shared cores)
    }  # fmt: skip
    run = train("dual", [pairs], out / "timelapse-run", options=options)
    start = out / "timelapse-start"
    start.mkdir()
    names = list_image_tree(sim / "images")
    last_train = names[int(frames * 0.75) - 1]
    write_image(start / last_train.name, read_image(sim / "images" / last_train))
    return generate(run, [start], out / "sequence", options={"steps": 4 if quick else 10},
                    device="cpu", seed=seed)  # fmt: skip


def stage_evaluate(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """The segmentation against the simulated ground truth (``evaluate-segment``), and the
    generated images against the real held-out images of the split (``evaluate``)."""
    from celltool.steps.evaluation import evaluate

    evaluate(results["simulate"], results["segment"], out / "evaluate-segment",
             metrics="segmentation", spec=SERIAL, table=False)  # fmt: skip
    return evaluate(results["split"], results["generate"], out / "evaluate", spec=SERIAL,
                    table=False)  # fmt: skip


def stage_report(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """One HTML page of every stage (what it did, samples, metrics, loss curves, sequences)."""
    from celltool.report import build_report

    return build_report(list(results.values()), out / "report", title="celltool demo")


STAGES: dict[str, Stage] = {
    "simulate": stage_simulate,
    "segment": stage_segment,
    "sketch": stage_sketch,
    "split": stage_split,
    "train": stage_train,
    "generate": stage_generate,
    "dual": stage_dual,
    "evaluate": stage_evaluate,
    "report": stage_report,
}


def demo(out: str | Path, *, seed: int = 0, quick: bool = False, overwrite: bool = False) -> Path:
    """Run every stage into ``out``; on failure ``out`` is removed (no partial demo).

    Stages write in place (not into a temp folder that is renamed), because later stages
    record the absolute paths of earlier stages' folders in their manifests.
    """
    out = Path(out)
    check_output(out, [], overwrite)
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Path] = {}
    try:
        for name, stage in STAGES.items():
            info(f"[bold]demo[/]: {name}")
            results[name] = stage(out, seed, quick, dict(results))
        parts = {k: str(Path(v).relative_to(out)) for k, v in results.items()}
        record = make_manifest(
            "demo", step="demo", seed=seed, params={"quick": quick}, facts={"parts": parts}
        )
        write_manifest(out, record)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    for name, path in results.items():
        info(f"  {name:<10} {path}")
    return out
