"""How real does a naive 3D spheroid simulation look? The baseline the 3D CycleGAN must beat.

REAL: stardist's real 3D nuclei (img3d.tif, 31×61×57, its mask3d.tif gives the regions).
SIM: N volumes of the 3D spheroid simulator made from img3d's own prototypes (the recipe of
docs/spheroid.md's figure; the same volumes as ``quality_cyclegan.py --spheroids N`` with the
same ``--seed``). Each SIM volume is put on REAL's intensity scale (its 0.1–99.9 % range over
all SIM volumes mapped onto REAL's), then scored with ``celltool evaluate``'s volume metric
``wasserstein_depth`` (cell_data_synthesis' normalised Wasserstein score, 1 − W(real, sim) /
W(real, 0) per z-slice; 1 = identical distributions) in each region (FG inside = nuclei,
BG inside = between nuclei, BG outside) and depth third (upper, middle, lower).

    .venv/bin/python benchmarks/realism_spheroid.py --spheroids 4

Writes benchmarks/results/spheroid_realism.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import finish, machine  # noqa: E402

REGIONS = ("fg", "bg_inside", "bg_outside")
THIRDS = ("upper", "middle", "lower")


def scores(real: np.ndarray, real_mask: np.ndarray, volumes, masks) -> dict[str, dict]:
    """Per region and depth third: the mean over volumes of the normalised Wasserstein score."""
    from celltool_metrics.volume import wasserstein_depth

    found: dict[str, dict[str, list[float]]] = {r: {t: [] for t in THIRDS} for r in REGIONS}
    for vol, msk in zip(volumes, masks, strict=True):
        res = wasserstein_depth(real, vol, real_mask=real_mask > 0, gen_mask=msk > 0,
                                data_range=1.0)  # fmt: skip
        for r in REGIONS:
            for t in THIRDS:
                found[r][t].append(float(res[f"{r}_{t}"]))
    table = {r: {t: float(np.nanmean(v)) for t, v in found[r].items()} for r in REGIONS}
    for r in REGIONS:
        table[r]["mean"] = float(np.nanmean([table[r][t] for t in THIRDS]))
    table["mean"] = float(np.mean([table[r]["mean"] for r in REGIONS]))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spheroids", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/celltool-realism-spheroid"))
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks/results/spheroid_realism.json"
    )
    args = parser.parse_args()

    from quality_cyclegan import make_spheroids, stardist_3d, to_real_scale

    from celltool.imageio import list_images
    from celltool.manifest import part
    from celltool.volumes import read_volume

    where = machine()
    t0 = time.time()
    image, mask = stardist_3d()
    sim = make_spheroids(
        args.work / f"spheroids-{args.seed}", image, mask, args.spheroids, args.seed
    )
    simulate_s = time.time() - t0
    names = [p.name for p in list_images(part(sim, "images"))][: args.spheroids]
    volumes = [read_volume(part(sim, "images") / n).data.astype(np.float64) for n in names]
    labels = [read_volume(part(sim, "nuclei") / n).data for n in names]
    real = image.astype(np.float64)
    real_range = tuple(np.percentile(real, (0.1, 99.9)))
    sim_range = tuple(np.percentile(np.concatenate([v.ravel() for v in volumes]), (0.1, 99.9)))
    naive = [to_real_scale(v, sim_range, real_range) for v in volumes]
    result = {
        "real": "stardist img3d.tif 31×61×57 (mask3d: 51 nuclei)",
        "sim": f"{len(names)} spheroids 30×120×120 (docs/spheroid.md figure recipe), "
        f"seed {args.seed}",
        "simulate_s": round(simulate_s, 1),
        "wasserstein": scores(real, mask, naive, labels),
        "identical_real": scores(real, mask, [real], [mask]),  # the metric's ceiling: 1
        "machine": finish(where),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["wasserstein"], indent=1))
    print(args.out)


if __name__ == "__main__":
    main()
