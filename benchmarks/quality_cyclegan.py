"""3D CycleGAN quality: does translating simulations make them look like real nuclei?

REAL: stardist's real 3D nuclei (img3d.tif, 31×61×57, uint16; its mask3d.tif is the real
segmentation the metric's regions come from). SIM: a simulation container given with
``--sim`` (images + a label part, e.g. the 3D spheroid simulator's output); or
``--spheroids N``: N volumes of the 3D spheroid simulator made here (celltool_spheroid, the
recipe of docs/spheroid.md's figure: prototypes from img3d/mask3d, 30×120×120 ellipsoid
spheroids, three Gibson-Lanni PSFs); or, without either, a crude stand-in: stardist's own
mask3d (flipped four ways) rendered as blurred blobs + depth attenuation + Poisson noise.

Steps: train ``cyclegan REAL SIM`` at a short CPU budget (documented below), translate SIM
with ``celltool generate`` (blended tiles), then compare with REAL:

- the normalised Wasserstein score of cell_data_synthesis (SEEDS.md §3.7, 1 − W(real, syn) /
  W(real, 0) per z-slice, mean per depth third) in its three regions — FG inside (nuclei),
  BG inside (between nuclei), BG outside — for the naive and the translated volumes. Both
  are put on REAL's intensity scale first: naive = its own 0.1–99.9 % range mapped onto
  REAL's; translated = the network's output through REAL's normalisation (what the run
  learnt). 1 = identical distributions.
- the 3D watershed's CTC DET (celltool_watershed on the volumes, against their labels): on
  REAL (vs mask3d), on naive and on translated SIM (vs the simulation's labels). Translation
  must keep the nuclei where the labels say (label fidelity), and ideally make the segmenter
  behave as on real data.
- seams: how much larger the voxel-to-voxel change is across the planes where the original's
  half-cut stitching switches tiles than across all planes (1 = no seam), for celltool's
  blended tiles (quarter overlap, the default; and half overlap) and for the half-cut
  (overlap 1/2, trim overlap/2, no blending).

    .venv/bin/python benchmarks/quality_cyclegan.py                         # stand-in SIM
    .venv/bin/python benchmarks/quality_cyclegan.py --spheroids 4 \
        --out benchmarks/results/cyclegan_quality_spheroids.json             # spheroids
    .venv/bin/python benchmarks/quality_cyclegan.py --sim SPHEROIDS/ --epochs 300

Writes benchmarks/results/cyclegan_quality.json and a mid-slice figure (…_quality.png).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "plugins"))
from machine import finish, machine  # noqa: E402

WATERSHED = {"background_radius": 0.0, "min_distance": 3}  # DET 0.78 on img3d/mask3d


def stardist_3d() -> tuple[np.ndarray, np.ndarray]:
    import tifffile

    wheels = sorted((REPO / ".cache" / "test-data").glob("stardist-*.whl"))
    if not wheels:
        sys.exit("no stardist wheel in .cache/test-data (run `make test-data` once, online)")
    with zipfile.ZipFile(wheels[0]) as z:
        read = [z.read(f"stardist/data/images/{n}.tif") for n in ("img3d", "mask3d")]
    image, mask = (tifffile.imread(io.BytesIO(b)) for b in read)
    return image, mask.astype(np.uint16)


def make_real(out: Path, image: np.ndarray) -> Path:
    from celltool.volumes import write_volume

    out.mkdir(parents=True, exist_ok=True)
    write_volume(out / "img3d.tif", image)
    return out


def make_standin(out: Path, mask: np.ndarray, seed: int = 0) -> Path:
    """A crude 'simulation': mask3d flipped four ways, each nucleus a blurred blob of random
    brightness, depth attenuation, background, Poisson noise, 8 bits."""
    from scipy import ndimage

    from celltool.manifest import labels_facts, make_manifest, write_manifest
    from celltool.volumes import write_volume

    rng = np.random.default_rng(seed)
    for sub in ("images", "nuclei"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    flips = [(), (1,), (2,), (1, 2)]
    for i, axes in enumerate(flips):
        labels = np.flip(mask, axes) if axes else mask
        bright = np.concatenate([[0.0], rng.uniform(0.5, 1.0, int(labels.max()))])
        signal = ndimage.gaussian_filter(bright[labels], (0.7, 1.5, 1.5))
        depth = np.exp(-np.arange(labels.shape[0]) / 60.0)[:, None, None]
        clean = (0.08 + 0.8 * signal * depth) * 80  # photons
        image = rng.poisson(clean) / 80 * 255
        name = f"sim_{i:04d}.tif"
        write_volume(out / "images" / name, np.clip(image, 0, 255).astype(np.uint8))
        write_volume(out / "nuclei" / name, np.ascontiguousarray(labels))
    common = {"step": "simulate", "params": {"standin": "stardist mask3d blobs"}, "seed": seed}
    facts = {"bit_depth": 8, "axes": "ZYX"}
    write_manifest(out / "images", make_manifest("images", facts=facts, **common))
    write_manifest(out / "nuclei", make_manifest("labels", facts=labels_facts("nuclei"),
                                                 **common))  # fmt: skip
    write_manifest(out, make_manifest("simulation", facts={
        "parts": {"images": "images", "nuclei": "nuclei"}, **facts}, **common))  # fmt: skip
    return out


def make_spheroids(out: Path, image: np.ndarray, mask: np.ndarray, n: int, seed: int) -> Path:
    """n spheroid volumes (docs/spheroid.md's figure recipe) as a simulation container."""
    from celltool_spheroid.masks import ellipsoid_mask
    from celltool_spheroid.pipeline import OUTPUT_VOXEL, SIM_VOXEL, simulate_volume
    from celltool_spheroid.prototypes import augment_prototypes, extract_prototypes
    from celltool_spheroid.psf import psfs_from_optics

    from celltool.manifest import labels_facts, make_manifest, write_manifest
    from celltool.volumes import write_volume

    if (out / "celltool.json").is_file():
        return out
    prototypes = extract_prototypes(image.astype(np.float32), mask)
    prototypes = augment_prototypes(prototypes, np.random.default_rng(1), variants=5)
    region = ellipsoid_mask((14, 56, 56), shape=(30, 120, 120))
    psfs = psfs_from_optics(80, 3, SIM_VOXEL, na=0.8, wavelength=0.52, immersion_index=1.33,
                            sample_index=1.38)  # fmt: skip
    for sub in ("images", "nuclei"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        result = simulate_volume(np.random.default_rng([seed, i]), prototypes, region, psfs,
                                 prototype_voxel=(0.9, 0.489, 0.489), photons=600,
                                 background=20)  # fmt: skip
        name = f"sph_{i:04d}.tif"
        write_volume(out / "images" / name, result["image"], voxel_size=OUTPUT_VOXEL)
        write_volume(out / "nuclei" / name, result["labels"], voxel_size=OUTPUT_VOXEL)
        dtype = result["image"].dtype
    bits = 8 if dtype == np.uint8 else 12  # the default camera is 12-bit
    common = {"step": "simulate", "params": {"recipe": "docs/spheroid.md figure"}, "seed": seed}
    facts = {"bit_depth": bits, "axes": "ZYX", "voxel_size": list(OUTPUT_VOXEL)}
    write_manifest(out / "images", make_manifest("images", facts=facts, **common))
    write_manifest(out / "nuclei", make_manifest("labels", facts=labels_facts("nuclei"),
                                                 **common))  # fmt: skip
    write_manifest(out, make_manifest("simulation", facts={
        "parts": {"images": "images", "nuclei": "nuclei"}, **facts}, **common))  # fmt: skip
    return out


def label_part(sim: Path) -> str:
    from celltool.manifest import read_manifest

    parts = (read_manifest(sim) or {}).get("facts", {}).get("parts", {})
    names = [p for p in parts if p != "images"]
    if not names:
        sys.exit(f"{sim}: a simulation container with a label part is needed")
    return "nuclei" if "nuclei" in names else names[0]


def to_real_scale(volume: np.ndarray, lo_hi: tuple[float, float], real: tuple[float, float]):
    lo, hi = lo_hi
    unit = np.clip((volume.astype(np.float64) - lo) / (hi - lo), 0, 1)
    return real[0] + unit * (real[1] - real[0])


def wasserstein(real, real_mask, volumes, masks) -> dict[str, float]:
    from celltool_metrics.volume import wasserstein_depth

    keys = ("fg", "bg_inside", "bg_outside")
    scores: dict[str, list[float]] = {k: [] for k in keys}
    for vol, msk in zip(volumes, masks, strict=True):
        res = wasserstein_depth(real, vol, real_mask=real_mask > 0, gen_mask=msk > 0,
                                data_range=1.0)  # fmt: skip
        for k in keys:
            thirds = [res[f"{k}_{t}"] for t in ("upper", "middle", "lower")]
            scores[k].append(float(np.nanmean(thirds)))
    out = {k: float(np.mean(v)) for k, v in scores.items()}
    out["mean"] = float(np.mean(list(out.values())))
    return out


def det(volumes, labels) -> dict[str, float]:
    from celltool_metrics.segmentation import ctc_scores
    from celltool_watershed.algo import segment

    preds = [segment(v.astype(np.float32), **WATERSHED)["cells"] for v in volumes]
    s = ctc_scores(list(labels), preds)
    return {k: round(float(s[k]), 4) for k in ("DET", "SEG", "NS", "FN", "FP", "n_ref")}


def seam_ratio(volume: np.ndarray, tile, overlap) -> dict[str, float]:
    """Per axis: mean |v[p] − v[p−1]| over the planes p where the half-cut stitching switches
    tiles, divided by the mean over all planes (1 = those planes are like any other)."""
    from celltool.training.tiling import starts

    v = volume.astype(np.float64)
    out = {}
    for axis, name in enumerate("zyx"):
        t, o = tile[axis], overlap[axis]
        n = v.shape[axis]
        if n <= t:
            continue
        origins = starts(n, t, t - o)
        planes = [s + o // 2 for s in origins[1:]]
        diff = np.abs(np.diff(v, axis=axis))  # diff[p-1] = v[p] - v[p-1]
        per_plane = diff.mean(axis=tuple(a for a in range(3) if a != axis))
        out[name] = float(np.mean(per_plane[[p - 1 for p in planes]]) / np.mean(per_plane))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sim", type=Path, help="A simulation container (default: stand-in).")
    parser.add_argument("--spheroids", type=int, default=0, help="Simulate N spheroids as SIM.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/celltool-quality-cyclegan"))
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--ngf", type=int, default=8)
    parser.add_argument("--netG", default="resnet_9blocks")
    parser.add_argument("--crop", default="16,48,48")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reuse", action="store_true", help="Evaluate the finished run in --work again."
    )
    parser.add_argument("--device", default="cpu")
    default_out = REPO / "benchmarks/results/cyclegan_quality.json"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()

    from celltool import plugins
    from celltool.imageio import list_images, write_image
    from celltool.manifest import part, read_manifest
    from celltool.training.generate import generate_folder
    from celltool.training.loop import train
    from celltool.training.runs import read_run, resolve_config
    from celltool.volumes import read_volume

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    image, mask = stardist_3d()
    real = make_real(work / "real", image)
    if args.spheroids:
        sim = make_spheroids(work / "spheroids", image, mask, args.spheroids, args.seed)
    else:
        sim = args.sim or make_standin(work / "standin", mask)
    labels_name = label_part(sim)
    run = work / "run"
    options = {"netG": args.netG, "ngf": args.ngf, "ndf": args.ngf, "crop_size": args.crop,
               "epochs": args.epochs, "normalize": "percentile", "precision": args.precision,
               "threads": args.threads, "seed": args.seed, "samples": 2, "save_every": 0,
               "device": args.device}  # fmt: skip
    component = plugins.get("trainers", "cyclegan")
    where = machine(args.device, training_threads=args.threads)
    t0 = time.time()
    done = (read_manifest(run) or {}).get("facts", {}).get("status") == "done"
    if args.reuse and done:  # evaluate a finished run again (no training)
        train_s = float(json.loads(args.out.read_text())["train_s"]) if args.out.is_file() else 0
    else:
        train(component, [real, sim], run, resolve_config(component, options), overwrite=True)
        train_s = time.time() - t0
    info = read_run(run)["data_info"]["domains"]
    real_range = tuple(info["A"]["intensity_range"])
    sim_range = tuple(info["B"]["intensity_range"])
    crop = tuple(int(c) for c in args.crop.split(","))
    t0 = time.time()
    out = generate_folder(run, [sim], work / "translated", options={}, overwrite=True,
                          device=args.device, precision=args.precision)  # fmt: skip
    generate_s = time.time() - t0
    half = tuple(c // 2 for c in crop)
    halfcut = generate_folder(run, [sim], work / "halfcut", overwrite=True, device=args.device,
                              options={"overlap": half, "trim": tuple(h // 2 for h in half),
                                       "blend": "none"})  # fmt: skip
    wide = generate_folder(run, [sim], work / "blended_half", overwrite=True, device=args.device,
                           options={"overlap": half})  # fmt: skip
    names = [p.name for p in list_images(part(sim, "images"))]
    naive = [read_volume(part(sim, "images") / n).data for n in names]
    labels = [read_volume(part(sim, labels_name) / n).data for n in names]
    translated = [read_volume(part(out, "images") / n).data for n in names]
    assert all(np.array_equal(read_volume(part(out, labels_name) / n).data, lab)
               for n, lab in zip(names, labels, strict=True))  # labels copied  # fmt: skip
    top = 2 ** int(read_manifest(out)["facts"]["bit_depth"]) - 1  # the input's bit depth
    naive_r = [to_real_scale(v, sim_range, real_range) for v in naive]
    trans_r = [to_real_scale(v, (0, top), real_range) for v in translated]
    real_f = image.astype(np.float64)
    overlap = tuple(c // 4 for c in crop)
    result = {
        "real": "stardist img3d.tif 31×61×57 (mask3d: 51 nuclei)",
        "sim": str(sim)
        if args.sim
        else (
            f"{args.spheroids} spheroids (docs/spheroid.md figure recipe)"
            if args.spheroids
            else "stand-in: stardist mask3d ×4 flips as blurred blobs"
        ),
        "n_sim": len(names),
        "config": options,
        "train_s": round(train_s, 1),
        "generate_s": round(generate_s, 1),
        "wasserstein": {
            "naive": wasserstein(real_f, mask, naive_r, labels),
            "translated": wasserstein(real_f, mask, trans_r, labels),
        },
        "det_watershed": {
            "params": WATERSHED,
            "real_vs_mask3d": det([image], [mask]),
            "naive": det(naive, labels),
            "translated": det(translated, labels),
        },
        "seam_ratio": {
            "blended_default": [seam_ratio(v, crop, overlap) for v in translated],
            "blended_half_overlap": [
                seam_ratio(read_volume(part(wide, "images") / n).data, crop, half) for n in names
            ],
            "halfcut_original": [
                seam_ratio(read_volume(part(halfcut, "images") / n).data, crop, half) for n in names
            ],  # fmt: skip
        },
        "machine": finish(where),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    z = image.shape[0] // 2

    def show(v: np.ndarray) -> np.ndarray:
        s = v[z].astype(np.float64)
        lo, hi = np.percentile(s, (0.5, 99.5))
        return (np.clip((s - lo) / max(hi - lo, 1e-9), 0, 1) * 255).astype(np.uint8)

    slices = [show(real_f), show(naive_r[0]), show(trans_r[0])]
    height = max(s.shape[0] for s in slices)
    row = []
    for s in slices:  # real | naive | translated, padded to one height, 2 px white gaps
        row += [np.pad(s, ((0, height - s.shape[0]), (0, 2)), constant_values=255)]
    figure = np.concatenate(row, axis=1)[:, :-2]
    write_image(args.out.with_suffix(".png"), np.kron(figure, np.ones((4, 4), np.uint8)))
    print(json.dumps({k: result[k] for k in ("wasserstein", "det_watershed", "seam_ratio")},
                     indent=1))  # fmt: skip
    print(args.out)


if __name__ == "__main__":
    main()
