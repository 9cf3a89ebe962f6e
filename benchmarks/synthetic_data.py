"""Data of the synthetic-data experiment (benchmarks/experiment_synthetic.py): the real
time-lapse as labelled pairs, label-map sources (transformed real masks, simulated masks, a
folder of generated label maps), corrections of rendered images towards real ones (background
field, contrast, gray levels), the statistics that compare generated data with real data, and
the agreement of two rankings (Kendall's τ)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from celltool.imageio import list_images, read_image, write_image, write_labels
from celltool.labels import instances_of_mask, relabel_sequential
from celltool.manifest import make_manifest, write_manifest
from celltool.outputs import OutputFolder

Item = tuple[str, np.ndarray, np.ndarray]  # (stem, image, instance labels)


def real_frames(data: Path, frames: Iterable[int]) -> list[Item]:
    """Frames of the shared time-lapse with their instances (connected components of the
    binary masks, > 127)."""
    out = []
    for i in frames:
        image = read_image(data / "images" / f"{i:03d}.png")
        out.append(
            (f"{i:03d}", image, instances_of_mask(read_image(data / "masks" / f"{i:03d}.png")))
        )
    return out


def labelled_pairs(out: Path, splits: dict[str, list[Item]]) -> Path:
    """A ``pairs`` folder in the folders layout with instance labels (as ``celltool split
    --layout folders --labels instances`` writes): ``<split>/image/``, ``<split>/labels/``."""
    folder = OutputFolder(out, overwrite=True)
    with folder as work:
        for split, items in splits.items():
            for sub in ("image", "labels"):
                (work / split / sub).mkdir(parents=True)
            for stem, image, labels in items:
                write_image(work / split / "image" / f"{stem}.png", image)
                write_labels(work / split / "labels" / f"{stem}.png", relabel_sequential(labels))
        folder.manifest = make_manifest(
            "pairs", step="split", params={"method": "arrays", "labels": "instances"},
            facts={"layout": "folders", "labels": "instances (<split>/labels/, uint16)",
                   "bit_depth": 8, "counts": {k: len(v) for k, v in splits.items()}},
        )  # fmt: skip
    return out


def images_and_labels(out: Path, items: list[Item]) -> tuple[Path, Path]:
    """``out/images`` and ``out/labels`` (a ``labels`` folder) of items, for a benchmark."""
    for sub in ("images", "labels"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for stem, image, labels in items:
        write_image(out / "images" / f"{stem}.png", image)
        write_labels(out / "labels" / f"{stem}.png", relabel_sequential(labels))
    write_manifest(out / "labels", make_manifest("labels", step="experiment",
                                                 facts={"target": "cells"}))  # fmt: skip
    return out / "images", out / "labels"


# --- label-map sources --------------------------------------------------------------------------


def transformed(labels: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Real instance maps, each turned by one of the 8 symmetries of the square and shifted
    cyclically by a random offset (cells cut by the border become two border cells)."""
    out = []
    for i, lab in enumerate(labels):
        rng = np.random.default_rng([seed, i])
        k = int(rng.integers(0, 8))
        lab = np.swapaxes(lab, 0, 1) if k & 4 else lab
        lab = lab[::-1] if k & 2 else lab
        lab = lab[:, ::-1] if k & 1 else lab
        shift = (int(rng.integers(0, lab.shape[0])), int(rng.integers(0, lab.shape[1])))
        rolled = np.roll(lab, shift, axis=(0, 1))
        out.append(split_cut_objects(rolled))
    return out


def split_cut_objects(labels: np.ndarray) -> np.ndarray:
    """Relabel so that every connected piece of an object is an object (1..N)."""
    from scipy import ndimage

    out = np.zeros(labels.shape, np.int32)
    n = 0
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        pieces, k = ndimage.label(labels[sl] == i, structure=np.ones((3, 3), bool))
        out[sl][pieces > 0] = pieces[pieces > 0] + n
        n += k
    return out


def simulated(n: int, size: int, seed: int, **params: Any) -> list[np.ndarray]:
    """Cell label maps of celltool's cells2d simulator (a hand-made mask generator)."""
    from celltool import plugins

    component = plugins.get("simulators", "cells2d")
    resolved = component.resolve(params)
    fn = component.load()
    return [
        np.asarray(fn((size, size), np.random.default_rng([seed, i]), **resolved)["cells"])
        for i in range(n)
    ]


def folder_masks(folder: Path, n: int, size: int = 512) -> list[np.ndarray]:
    """``n`` label maps of ``size``² from a folder (8-bit files: binary masks → instances).
    Maps smaller than ``size`` (e.g. the StyleGAN mask generator's 64² samples, trained on
    64² crops of the frames at their scale) are laid side by side, in file order, into a
    mosaic of ``size``² (ids kept apart per tile; cells cut at tile edges as in any crop)."""
    files = list_images(folder)
    first = read_image(files[0]) if files else np.zeros((size, size))
    per = int(np.ceil(size / first.shape[0])) * int(np.ceil(size / first.shape[1]))
    if len(files) < n * per:
        raise SystemExit(f"{folder}: {len(files)} label maps, the experiment needs {n * per}")
    out = []
    for i in range(n):
        tiles = [_instances(read_image(f)) for f in files[i * per : (i + 1) * per]]
        out.append(tiles[0] if per == 1 else mosaic(tiles, size))
    return out


def _instances(lab: np.ndarray) -> np.ndarray:
    return instances_of_mask(lab) if lab.dtype == np.uint8 else lab.astype(np.int32)


def mosaic(tiles: list[np.ndarray], size: int) -> np.ndarray:
    """Label maps of one shape laid row by row into a ``size``² map, ids offset per tile."""
    h, w = tiles[0].shape
    cols = int(np.ceil(size / w))
    rows = int(np.ceil(size / h))
    out = np.zeros((rows * h, cols * w), np.int32)
    offset = 0
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = np.where(tile > 0, tile + offset, 0)
        offset += int(tile.max())
    return relabel_sequential(out[:size, :size]).astype(np.int32)


def sketches(out: Path, labels: list[np.ndarray], stems: list[str]) -> Path:
    """Binary masks (0/255 uint8) of label maps: the image model's input."""
    out.mkdir(parents=True, exist_ok=True)
    for stem, lab in zip(stems, labels, strict=True):
        write_image(out / f"{stem}.png", ((lab > 0) * 255).astype(np.uint8))
    return out


def background_field(images: list[np.ndarray], sigma: float = 4.0) -> np.ndarray:
    """The images' smooth background (illumination: vignetting, gradients): the per-pixel
    median over the set, then a 7×7 median on a 4× coarser grid (removes cells that stay in
    place over a time-lapse, up to ~28 px wide), back to full size, Gaussian-smoothed."""
    from scipy import ndimage

    stack = np.stack([np.asarray(im, np.float32) for im in images])
    median = np.median(stack, axis=0)
    coarse = ndimage.median_filter(median[::4, ::4], size=7, mode="reflect")
    zoom = [a / b for a, b in zip(median.shape, coarse.shape, strict=True)]
    full = ndimage.zoom(coarse, zoom, order=1, mode="nearest", grid_mode=True)
    return ndimage.gaussian_filter(full[: median.shape[0], : median.shape[1]], sigma)


def match_background(
    images: list[np.ndarray], real_field: np.ndarray, sigma: float = 4.0
) -> list[np.ndarray]:
    """Rendered images with their own background field replaced by the real one (the
    camera's illumination: vignetting, gradients), in uint8."""
    own = background_field(images, sigma)
    return [
        np.clip(np.rint(im.astype(np.float32) - own + real_field), 0, 255).astype(np.uint8)
        for im in images
    ]


def contrast_gain(real: list[Item], synthetic: list[Item]) -> float:
    """How much brighter, above the background, cells are in the real images than in the
    synthetic ones: (cell mean − background mean) of real over that of synthetic."""

    def contrast(items: list[Item]) -> float:
        fg = np.mean([im[lab > 0].mean() for _, im, lab in items])
        bg = np.mean([im[lab == 0].mean() for _, im, lab in items])
        return float(fg - bg)

    return contrast(real) / max(contrast(synthetic), 1e-6)


def match_contrast(images: list[np.ndarray], field: np.ndarray, gain: float) -> list[np.ndarray]:
    """Images whose deviation from the background ``field`` is multiplied by ``gain``."""
    return [
        np.clip(np.rint(field + gain * (im.astype(np.float32) - field)), 0, 255).astype(np.uint8)
        for im in images
    ]


def match_histogram(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` with the gray-level distribution of ``reference`` (uint8)."""
    from skimage.exposure import match_histograms

    return np.clip(np.rint(match_histograms(image, reference)), 0, 255).astype(np.uint8)


def improve(
    variant: str, images: list, labels: list, real: list, field: np.ndarray
) -> list[np.ndarray]:
    """Rendered images corrected towards the real ones: ``bg`` the real camera's background
    field (vignetting, gradients), ``con`` the real cells' contrast above it, ``hist`` the gray
    levels of a real training frame."""
    if "bg" in variant:
        images = match_background(images, field)
    if "con" in variant:
        gain = contrast_gain(real, [("", im, lab) for im, lab in zip(images, labels, strict=True)])
        images = match_contrast(images, field, gain)
        print(f"{variant}: contrast gain {gain:.3f}", file=sys.stderr)
    if "hist" in variant:
        images = [match_histogram(im, real[i % len(real)][1]) for i, im in enumerate(images)]
    return images


# --- statistics of generated against real data ---------------------------------------------------


def object_stats(labels: list[np.ndarray]) -> dict[str, float]:
    """Objects per image, area, eccentricity and solidity (medians and quartiles), foreground
    fraction, fraction of objects touching another."""
    from scipy import ndimage
    from skimage.measure import regionprops

    counts, areas, ecc, sol, touching = [], [], [], [], []
    for lab in labels:
        props = regionprops(lab)
        counts.append(len(props))
        areas += [p.area for p in props]
        ecc += [p.eccentricity for p in props]
        sol += [p.solidity for p in props]
        grown = ndimage.grey_dilation(lab, size=3)
        touching.append(float(np.mean((grown != lab) & (lab > 0) & (grown > 0))))
    q = lambda v: [float(x) for x in np.percentile(v, [25, 50, 75])]  # noqa: E731
    return {
        "objects_per_image": float(np.mean(counts)),
        "area_q25_50_75": q(areas),
        "eccentricity_q25_50_75": q(ecc),
        "solidity_q25_50_75": q(sol),
        "foreground_fraction": float(np.mean([np.mean(lab > 0) for lab in labels])),
        "touching_boundary_fraction": float(np.mean(touching)),
    }


def intensity_stats(images: list[np.ndarray], labels: list[np.ndarray]) -> dict[str, Any]:
    """Mean and spread of the cells' and the background's gray levels, the image-wide
    256-bin histogram (for the Bhattacharyya coefficient) and the local noise (std of the
    background after a 3×3 median)."""
    from scipy import ndimage

    fg = np.concatenate([im[lab > 0].ravel() for im, lab in zip(images, labels, strict=True)])
    bg = np.concatenate([im[lab == 0].ravel() for im, lab in zip(images, labels, strict=True)])
    noise = [
        float(np.std((im.astype(np.float32) - ndimage.median_filter(im, 3))[lab == 0]))
        for im, lab in zip(images, labels, strict=True)
    ]
    hist = np.bincount(np.concatenate([im.ravel() for im in images]), minlength=256)[:256]
    return {
        "cell_mean": float(fg.mean()),
        "cell_std": float(fg.std()),
        "background_mean": float(bg.mean()),
        "background_std": float(bg.std()),
        "contrast": float(fg.mean() - bg.mean()),
        "noise_std": float(np.mean(noise)),
        "histogram": (hist / hist.sum()).tolist(),
    }


def bhattacharyya(p: list[float], q: list[float]) -> float:
    return float(np.sum(np.sqrt(np.asarray(p) * np.asarray(q))))


def agreement(on_real: dict, on_syn: dict, entries: list[str]) -> dict[str, Any]:
    """Kendall's τ between the rankings on real and synthetic data, per score, and the
    per-segmenter differences (synthetic − real)."""
    from scipy.stats import kendalltau

    scores = ("ap_at.0.5", "f1", "seg", "SEG_all")
    value = lambda r, e, c: r[e][c] if c == "SEG_all" else r[e][c][0]  # noqa: E731
    out: dict[str, Any] = {"segmenters": entries, "kendall_tau": {},
                           "difference_synthetic_minus_real": {}}  # fmt: skip
    for c in scores:
        a = [value(on_real, e, c) for e in entries]
        b = [value(on_syn, e, c) for e in entries]
        tau = kendalltau(a, b)
        out["kendall_tau"][c] = {"tau": float(tau.statistic), "p": float(tau.pvalue)}
        out["difference_synthetic_minus_real"][c] = {
            e: y - x for e, x, y in zip(entries, a, b, strict=True)
        }
    return out
