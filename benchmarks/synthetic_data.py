"""Data of the synthetic-data experiment (benchmarks/experiment_synthetic.py): the real
time-lapse as labelled pairs, label-map sources (transformed real masks, simulated masks, a
folder of generated label maps), images rendered from label maps by a trained image model, and
the statistics that compare generated data with real data."""

from __future__ import annotations

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


def folder_masks(folder: Path, n: int) -> list[np.ndarray]:
    """The first ``n`` label maps of a folder (8-bit files: binary masks → instances)."""
    files = list_images(folder)[:n]
    if len(files) < n:
        raise SystemExit(f"{folder}: {len(files)} label maps, the experiment needs {n}")
    out = []
    for f in files:
        lab = read_image(f)
        out.append(instances_of_mask(lab) if lab.dtype == np.uint8 else lab.astype(np.int32))
    return out


def sketches(out: Path, labels: list[np.ndarray], stems: list[str]) -> Path:
    """Binary masks (0/255 uint8) of label maps: the image model's input."""
    out.mkdir(parents=True, exist_ok=True)
    for stem, lab in zip(stems, labels, strict=True):
        write_image(out / f"{stem}.png", ((lab > 0) * 255).astype(np.uint8))
    return out


def match_histogram(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` with the gray-level distribution of ``reference`` (uint8)."""
    from skimage.exposure import match_histograms

    return np.clip(np.rint(match_histograms(image, reference)), 0, 255).astype(np.uint8)


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
