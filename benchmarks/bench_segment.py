"""Segmentation quality of ``celltool segment`` on real data.

1. The shared time-lapse (200 frames, ../shared/data/timelapse): foreground Dice against the
   binary cell masks (anti-aliased: mask > 127) and object F1 at IoU 0.5 (ground-truth objects
   = connected components of the mask), per frame; mean and median over frames.
2. The stardist wheel's real nuclei image (img2d.tif / mask2d.tif), when a stardist wheel is in
   CELLTOOL_TEST_DATA (default .cache/test-data; `make test-data` fetches it).

Runs the real command (``celltool segment ... --clear-border --min-size 40``) and writes
benchmarks/results/segment.json. Usage: python benchmarks/bench_segment.py [--frames N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import TIMELAPSE  # noqa: E402
from machine import finish, machine  # noqa: E402

CELLTOOL = str(Path(sys.executable).with_name("celltool"))
TIMELAPSE_ARGS = ["--clear-border", "--min-size", "40"]


def scores(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from celltool.labels import match_instances

    g, p = gt > 0, pred > 0
    m = match_instances(gt, pred, 0.5)
    return {
        "dice": float(2 * (g & p).sum() / max(1, g.sum() + p.sum())),
        "f1": m.f1,
        "precision": m.precision,
        "recall": m.recall,
        "n_true": m.n_true,
        "n_pred": m.n_pred,
    }


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = ("dice", "f1", "precision", "recall")
    out = {f"mean_{k}": float(np.mean([r[k] for r in rows])) for k in keys}
    out |= {f"median_{k}": float(np.median([r[k] for r in rows])) for k in keys}
    out["frames"] = len(rows)
    return out


def run_segment(images: Path, out: Path, args: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(
        [CELLTOOL, "segment", str(images), "-o", str(out), *args],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    return time.perf_counter() - t0


def bench_timelapse(work: Path, frames: int) -> dict:
    from celltool.imageio import list_images, read_image

    files = list_images(TIMELAPSE / "images")[:frames]
    subset = work / "frames"
    subset.mkdir()
    for f in files:
        os.symlink(f, subset / f.name)
    seconds = run_segment(subset, work / "seg", TIMELAPSE_ARGS)
    rows = []
    for f in files:
        gt, _ = ndimage.label(read_image(TIMELAPSE / "masks" / f.name) > 127)
        rows.append(scores(gt, read_image(work / "seg" / "cells" / f"{f.stem}.png")))
    return {
        "command": f"celltool segment IMAGES {' '.join(TIMELAPSE_ARGS)}",
        "seconds": seconds,
        **summary(rows),
    }


def bench_stardist(work: Path) -> dict | None:
    from conftest import stardist_sample

    sample = stardist_sample()
    if sample is None:
        return None
    image, gt = sample
    from celltool.imageio import read_image, write_image

    (work / "nuc").mkdir()
    write_image(work / "nuc" / "img2d.tif", image)
    args = ["--min-size", "15", "--min-distance", "5", "--background-radius", "30"]
    run_segment(work / "nuc", work / "nuc-seg", args)
    pred = read_image(work / "nuc-seg" / "cells" / "img2d.png")
    return {"command": f"celltool segment IMAGES {' '.join(args)}", **scores(gt, pred)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=200)
    opts = parser.parse_args()
    results: dict = {"machine": machine(), "note": "watershed defaults; see docs/segment.md"}
    work = Path(tempfile.mkdtemp(prefix="bench-segment-"))
    try:
        if (TIMELAPSE / "images").is_dir():
            results["timelapse"] = bench_timelapse(work, opts.frames)
        else:
            print(f"skipping time-lapse: {TIMELAPSE} not found", file=sys.stderr)
        stardist = bench_stardist(work)
        if stardist is None:
            print("skipping stardist sample: no wheel (run `make test-data`)", file=sys.stderr)
        else:
            results["stardist_img2d"] = stardist
    finally:
        shutil.rmtree(work, ignore_errors=True)
    finish(results["machine"])
    out = REPO / "benchmarks" / "results" / "segment.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
