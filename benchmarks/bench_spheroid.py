"""Speed of the 3D spheroid simulator against cell_data_synthesis (Bruch et al.) on the same work.

    .venv/bin/python benchmarks/bench_spheroid.py [--sizes 8x48x48,16x80x80,24x96x96,40x200x200]
                                                  [--repeats 3] [--seed 0] [--augment K]

The configuration of the reference measurement: nucleus prototypes extracted from stardist's
img3d.tif/mask3d.tif (prototype voxel 0.9 × 0.489 × 0.489 µm), a filled ellipsoid mask at the
output resolution, a 15³ Gaussian PSF on the simulation grid, cell_data_synthesis' default
voxel sizes (simulation 0.9002694 × 0.1221902², output 1.5001311 × 0.488759²) and its
defaults otherwise (max_overlap 0, min_dist 0, break_criterion 1000, f2p with B = 150).

The original code was measured once, on this machine, at 24×96×96 (grid 70×384×384, 52
nuclei, 8,085 attempts): 315 s wall, 154 s CPU; its parts cost ~14 ms CPU per placement
attempt, ~1 G multiply-adds/s in its direct convolution and ~0.6 µs per voxel in its depth
loop. For the other sizes the reference is extrapolated from those unit costs, with our own
attempt count standing in for the original's ("reference_cpu_s_estimated").

Prints per-stage seconds and the speed-ups, and writes benchmarks/results/spheroid.json with
the CPU model, versions, thread count and load average (spheroid_augmentK.json with
--augment K: K augmented variants of each prototype, as the original's prototype sets).
Needs the stardist package in .cache/test-data (`make test-data`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins"), str(REPO / "tests")]
from machine import finish, machine  # noqa: E402

PROTOTYPE_VOXEL = (0.9, 0.489, 0.489)
REFERENCE = {  # cell_data_synthesis at 24×96×96 on this machine
    "size": [24, 96, 96],
    "sim_shape": [70, 384, 384],
    "nuclei": 52,
    "attempts": 8085,
    "wall_s": 315.0,
    "cpu_s": 154.0,
    "cpu_s_per_attempt": 0.014,
    "multiply_adds_per_s": 1.0e9,
    "depth_loop_s_per_voxel": 0.6e-6,
}
PSF_SIZE = 15


def reference_cpu(attempts: int, sim_shape) -> float:
    """The original's CPU seconds for this work, from its measured unit costs."""
    voxels = float(np.prod(sim_shape))
    return (
        attempts * REFERENCE["cpu_s_per_attempt"]
        + voxels * PSF_SIZE**3 / REFERENCE["multiply_adds_per_s"]
        + voxels * REFERENCE["depth_loop_s_per_voxel"]
    )


def version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_size(size, prototypes, psf, seed: int, repeats: int) -> dict:
    """Median figures over ``repeats`` volumes (streams [seed, repeat, *size])."""
    from celltool_spheroid.masks import ellipsoid_mask
    from celltool_spheroid.pipeline import simulate_volume

    mask = ellipsoid_mask([n / 2 for n in size], shape=size)
    runs = []
    for repeat in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = simulate_volume(
            np.random.default_rng([seed, repeat, *size]), prototypes, mask, [psf],
            prototype_voxel=PROTOTYPE_VOXEL,
        )  # fmt: skip
        facts = result["facts"]
        facts["wall_s"], facts["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        facts["reference_cpu_s"] = reference_cpu(facts["attempts"], facts["sim_shape"])
        runs.append(facts)

    def median(key, sub=None):
        values = [r[key] if sub is None else r[key][sub] for r in runs]
        return round(statistics.median(values), 4)

    row = {
        "size": list(size),
        "sim_shape": runs[0]["sim_shape"],
        "nuclei_placed": median("placed"),
        "nuclei_in_output": median("nuclei"),
        "attempts": median("attempts"),
        "wall_s": median("wall_s"),
        "cpu_s": median("cpu_s"),
        "stage_wall_s": {k: median("seconds", k) for k in runs[0]["seconds"]},
        "stage_cpu_s": {k: median("cpu_seconds", k) for k in runs[0]["cpu_seconds"]},
        "placement_cpu_ms_per_attempt": round(
            1000 * statistics.median(r["cpu_seconds"]["placement"] / r["attempts"] for r in runs),
            4,
        ),
        "reference_cpu_s_estimated": round(median("reference_cpu_s"), 1),
        "speedup_cpu_vs_estimate": round(
            statistics.median(r["reference_cpu_s"] / r["cpu_s"] for r in runs), 1
        ),
    }
    row["peak_rss_mb_so_far"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if list(size) == REFERENCE["size"]:
        row["speedup_cpu_vs_measured"] = round(REFERENCE["cpu_s"] / row["cpu_s"], 1)
        row["speedup_wall_vs_measured"] = round(REFERENCE["wall_s"] / row["wall_s"], 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8x48x48,16x80x80,24x96x96,40x200x200")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--augment", type=int, default=0, help="augmented variants per prototype (not reference)"
    )
    args = parser.parse_args()

    from celltool_spheroid.pipeline import SIM_VOXEL
    from celltool_spheroid.prototypes import extract_prototypes
    from celltool_spheroid.psf import gaussian_psf
    from spheroid_data import read_stardist_3d

    sample = read_stardist_3d()
    if sample is None:
        sys.exit("stardist's img3d/mask3d not found in .cache/test-data: run `make test-data`")
    where = machine()
    t0 = time.perf_counter()
    prototypes = extract_prototypes(*sample)
    extract_s = time.perf_counter() - t0
    if args.augment:
        from celltool_spheroid.prototypes import augment_prototypes

        rng = np.random.default_rng(args.seed)
        prototypes = augment_prototypes(prototypes, rng, variants=args.augment)
    half = PSF_SIZE // 2
    psf = gaussian_psf(SIM_VOXEL, [2 * v for v in SIM_VOXEL], half=(half, half, half))
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    rows = []
    for size in sizes:
        row = run_size(size, prototypes, psf, args.seed, args.repeats)
        rows.append(row)
        stages = ", ".join(f"{k} {v:.2f}" for k, v in row["stage_cpu_s"].items())
        line = (
            f"{'x'.join(map(str, size)):>11}: grid {'x'.join(map(str, row['sim_shape']))}, "
            f"{row['nuclei_placed']:.0f} nuclei, {row['attempts']:.0f} attempts, "
            f"wall {row['wall_s']:.2f} s, CPU {row['cpu_s']:.2f} s (CPU: {stages}); "
            f"×{row['speedup_cpu_vs_estimate']} vs the original's estimated "
            f"{row['reference_cpu_s_estimated']:.0f} s CPU"
        )
        if "speedup_cpu_vs_measured" in row:
            line += (
                f"; ×{row['speedup_cpu_vs_measured']} CPU / ×{row['speedup_wall_vs_measured']} "
                f"wall vs its measured {REFERENCE['cpu_s']:.0f} s CPU / {REFERENCE['wall_s']:.0f} s"
            )
        print(line, flush=True)
    results = {
        "machine": finish(where),
        "versions": {
            "fft_workers": "all usable cores (scipy.fft workers=-1)",
            "numpy": np.__version__,
            "scipy": version("scipy"),
            "opencv": version("opencv-python-headless"),
        },
        "note": "medians over repeats (different seeds: the attempt count varies); CPU time "
        "is the fairer figure on a shared machine (a load average above the core count "
        "inflates wall time); FFTs use all cores, so CPU can exceed wall on a quiet machine",
        "configuration": {
            "prototypes": f"{len(prototypes)} from stardist img3d/mask3d "
            f"({args.augment} augmented variants each)",
            "prototype_voxel_um": list(PROTOTYPE_VOXEL),
            "sim_voxel_um": list(SIM_VOXEL),
            "psf": f"{PSF_SIZE}^3 Gaussian, sigma 2 voxels",
            "mask": "filled ellipsoid at output resolution",
            "repeats": args.repeats,
            "seed": args.seed,
        },
        "prototype_extraction_s": round(extract_s, 4),
        "reference": REFERENCE,
        "sizes": rows,
    }
    name = "spheroid.json" if not args.augment else f"spheroid_augment{args.augment}.json"
    out = REPO / "benchmarks" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
