"""Time one sketch of a 1536x2048 image (Biomedical-Image-Generation's frame size) and
Biomedical-Image-Generation's way of doing it.

Writes benchmarks/results/sketch.json. Run: .venv/bin/python benchmarks/bench_sketch.py [--runs N]
The input is a simulated frame (celltool's cells2d, ~1500 cells) with a cell-free wound band.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
from pathlib import Path

import numpy as np
from machine import finish, machine
from timing import medians

SHAPE = (1536, 2048)
RESULTS = Path(__file__).parent / "results" / "sketch.json"


def frame(seed: int = 0):
    from celltool_simulate.sim2d import simulate_cells

    out = simulate_cells(SHAPE, np.random.default_rng(seed), n_cells=1500, cell_radius=(12, 20))
    cells, nuclei = out["cells"], out["nuclei"]
    band = slice(800, 1200)  # a scratch: no cells in these columns
    cells[:, band] = 0
    nuclei[:, band] = 0
    return out["images"], cells, nuclei


def seed_way(image8, cells, nuclei):
    """Biomedical-Image-Generation's per-cell boundary loops (all ids) and OpenCV disc
    morphology (levels 4)."""
    import cv2
    from scipy import ndimage

    def disc(r):
        y, x = np.mgrid[-r : r + 1, -r : r + 1]
        return (x * x + y * y <= r * r).astype(np.uint8)

    boundary = np.zeros(cells.shape, bool)
    for i in range(1, int(cells.max()) + 1):
        m = cells == i
        boundary |= m & ~ndimage.binary_erosion(m)
    h0 = np.pad((cells == 0).astype(np.uint8) * 255, 60)
    d = cv2.dilate(cv2.erode(h0, disc(60)), disc(140))
    d2 = cv2.erode(d, disc(50))
    return boundary, d, d2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--seed-runs", type=int, default=1, help="runs of Biomedical-Image-Generation's (slow) way"
    )
    args = parser.parse_args()
    from celltool_sketch.reference import cell_means, class_table, layer_bounds, render, to_gray8

    from celltool import plugins
    from celltool.imageio import write_image, write_labels
    from celltool.steps.sketching import render_one

    image, cells, nuclei = frame()
    bounds7 = layer_bounds(cell_means(to_gray8(image), cells, nuclei), 7)
    bounds9 = layer_bounds(cell_means(to_gray8(image), cells, nuclei), 9)
    where = machine()
    results = {"shape": list(SHAPE), "cells": int(cells.max()), "runs": args.runs}
    for levels, bounds in ((4, []), (7, bounds7), (9, bounds9)):
        job = functools.partial(render, cells, nuclei, image, levels=levels, bounds=bounds)
        median, times, cpu = medians(job, args.runs)
        results[f"render_levels{levels}_s"] = median
        results[f"render_levels{levels}_cpu_s"] = cpu
        runs = ", ".join(f"{t:.3f}" for t in times)
        print(f"render levels {levels}: median {median:.3f} s (cpu {cpu:.3f} s)  ({runs})")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for part in ("images", "cells", "nuclei", "index", "gray"):
            (tmp / part).mkdir()
        write_image(tmp / "images/a.png", image)
        write_labels(tmp / "cells/a.png", cells)
        write_labels(tmp / "nuclei/a.png", nuclei)
        item = (Path("a.png"), tmp / "images/a.png", tmp / "cells/a.png", tmp / "nuclei/a.png")
        component = plugins.get("sketchers", "reference")
        params = component.resolve({"levels": 7})
        gray7 = np.array([c["gray"] for c in class_table(7)], dtype=np.uint8)
        median, times, cpu = medians(
            lambda: render_one(
                item,
                component=component,
                params=params,
                state={"bounds": bounds7},
                gray=gray7,
                out=tmp,
                binary=False,
            ),  # fmt: skip
            args.runs,
        )
        results["per_image_with_io_levels7_s"] = median
        results["per_image_with_io_levels7_cpu_s"] = cpu
        print(
            f"per image incl. reading 3 PNGs, writing 2 (levels 7): {median:.3f} s (cpu {cpu:.3f})"
        )
    median, _, _ = medians(lambda: seed_way(to_gray8(image), cells, nuclei), args.seed_runs)
    results["seed_way_boundaries_and_wound_s"] = median
    results["speedup_levels4_vs_seed_way"] = median / results["render_levels4_s"]
    print(
        f"Biomedical-Image-Generation's way (per-cell loops + OpenCV discs): {median:.2f} s; "
        f"speed-up x{results['speedup_levels4_vs_seed_way']:.0f}"
    )
    results["machine"] = finish(where)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
