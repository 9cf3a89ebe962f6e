"""Run cellpose models as a celltool segmenter (numpy in, numpy out).

Works with cellpose 3.x (``CellposeModel(model_type=NAME)`` for built-in names, or a model file)
and 4.x (``CellposeModel(pretrained_model="cpsam" | FILE)``). cellpose itself downloads missing
named models and silently falls back to a default for a model path that does not exist; here a
missing file is an error and nothing is downloaded unless ``download=True``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from celltool.errors import CelltoolError, UsageError

# Biomedical-Image-Generation's segmentation.py settings (SEEDS.md §1.1): cyto at 31.1 px with
# flow 0.9, nuclei at 15.2 px. "seed" is the preset's old name.
BIOMEDICAL = {
    "model": "cyto",
    "diameter": 31.1,
    "flow_threshold": 0.9,
    "nuclei_model": "nuclei",
    "nuclei_diameter": 15.2,
    "nuclei_flow_threshold": 0.4,
}
PRESETS: dict[str, dict[str, Any]] = {"biomedical-image-generation": BIOMEDICAL, "seed": BIOMEDICAL}
DEFAULTS = {
    "model": "",
    "diameter": 0.0,
    "flow_threshold": 0.4,
    "nuclei_model": "",
    "nuclei_diameter": 0.0,
    "nuclei_flow_threshold": 0.4,
}


def cellpose_major() -> int:
    try:
        return int(metadata.version("cellpose").split(".")[0])
    except metadata.PackageNotFoundError:
        raise UsageError(
            "the cellpose segmenter needs cellpose: pip install 'celltool[cellpose]'"
        ) from None


def apply_preset(params: dict[str, Any], preset: str) -> dict[str, Any]:
    """Fill options still at their defaults from the preset."""
    if preset == "none":
        return dict(params)
    if preset not in PRESETS:
        raise UsageError(f"--preset {preset!r}: one of none, {', '.join(PRESETS)}")
    out = dict(params)
    for key, value in PRESETS[preset].items():
        if out.get(key, DEFAULTS[key]) == DEFAULTS[key]:
            out[key] = value
    return out


def model_file_name(name: str, major: int) -> str:
    """The file cellpose keeps a named model in, inside its model folder."""
    if major < 4 and name in ("cyto", "cyto2", "nuclei"):
        return f"{name}torch_0"
    return name


def looks_like_path(model: str) -> bool:
    return os.sep in model or model.startswith(".") or Path(model).suffix != ""


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name too long for the file system
        return False


def resolve_model(model: str, major: int, download: bool, flag: str = "--model") -> tuple[str, str]:
    """``("name", NAME)`` or ``("file", PATH)``; errors for missing files and models."""
    if looks_like_path(model) or _is_file(Path(model)):
        path = Path(model).expanduser()
        if not _is_file(path):
            raise UsageError(f"{flag} {path}: cellpose model file does not exist")
        return "file", str(path)
    from cellpose import models

    known = list(getattr(models, "MODEL_NAMES", [])) or ["cpsam"]
    if major >= 4 and model != "cpsam" and model not in known:
        raise UsageError(
            f"{flag}: cellpose {major}.x has no model '{model[:60]}' (it has cpsam); give a "
            f"model file with {flag} PATH or install cellpose<4 for the 3.x models"
        )
    if model not in known:
        raise UsageError(
            f"{flag}: unknown cellpose model '{model[:60]}' (names: {', '.join(known)}); "
            f"or give a model file with {flag} PATH"
        )
    cached = Path(models.MODEL_DIR) / model_file_name(model, major)
    if not cached.is_file() and not download:
        raise CelltoolError(
            f"cellpose model '{model}' is not installed (looked for {cached}). Copy the model "
            "file there (or set CELLPOSE_LOCAL_MODELS_PATH to its folder), pass the file with "
            "--model PATH, or allow a download with --download",
            cached,
        )
    return "name", model


def is_run(model: str) -> bool:
    """Whether ``model`` names a run folder of ``celltool train cellpose``."""
    from celltool.manifest import read_manifest

    path = Path(model).expanduser()
    return path.is_dir() and (read_manifest(path) or {}).get("kind") == "run"


def load_run(run: str, major: int, gpu: bool) -> Any:
    """The cellpose model of a ``celltool train cellpose`` run (its latest checkpoint)."""
    from celltool.training.generate import load_trainer

    if major >= 4:
        raise UsageError(f"{run}: runs of `celltool train cellpose` need cellpose 3.x")
    trainer, record = load_trainer(Path(run).expanduser(), device="cuda" if gpu else "cpu")
    if record["model"] != "cellpose":
        raise CelltoolError(f"is a '{record['model']}' run, not a cellpose run", run)
    return trainer.cellpose_model(gpu=gpu)


def load_model(model: str, major: int, download: bool, gpu: bool, flag: str = "--model") -> Any:
    from cellpose import models

    if is_run(model):
        return load_run(model, major, gpu)
    how, value = resolve_model(model, major, download, flag)
    if major >= 4:
        return models.CellposeModel(gpu=gpu, pretrained_model=value)
    if how == "name":
        return models.CellposeModel(gpu=gpu, model_type=value)
    return models.CellposeModel(gpu=gpu, pretrained_model=value)


def run_model(
    model: Any, image: np.ndarray, major: int, diameter: float, flow: float, cellprob: float
) -> np.ndarray:
    kwargs = dict(diameter=diameter or None, flow_threshold=flow, cellprob_threshold=cellprob)
    if major < 4:
        kwargs["channels"] = [0, 0]
    masks = model.eval(image.astype(np.float32), **kwargs)[0]
    return np.asarray(masks)


def make_segmenter(
    *,
    model: str = "",
    diameter: float = 0.0,
    flow_threshold: float = 0.4,
    cellprob_threshold: float = 0.0,
    nuclei_model: str = "",
    nuclei_diameter: float = 0.0,
    nuclei_flow_threshold: float = 0.4,
    preset: str = "none",
    download: bool = False,
    gpu: bool = False,
) -> Callable[..., dict[str, np.ndarray]]:
    """Load the model(s) once; return ``segment(image, nuclei=None) -> {"cells", "nuclei"?}``."""
    major = cellpose_major()
    p = apply_preset(
        dict(
            model=model,
            diameter=diameter,
            flow_threshold=flow_threshold,
            nuclei_model=nuclei_model,
            nuclei_diameter=nuclei_diameter,
            nuclei_flow_threshold=nuclei_flow_threshold,
        ),
        preset,
    )
    cells_net = load_model(p["model"] or ("cpsam" if major >= 4 else "cyto3"), major, download, gpu)
    nuclei_net = None
    if p["nuclei_model"]:
        nuclei_net = load_model(p["nuclei_model"], major, download, gpu, "--nuclei-model")

    def segment(image: np.ndarray, nuclei: np.ndarray | None = None) -> dict[str, np.ndarray]:
        out = {
            "cells": run_model(
                cells_net, image, major, p["diameter"], p["flow_threshold"], cellprob_threshold
            )
        }
        if nuclei_net is not None:
            source = image if nuclei is None else nuclei
            out["nuclei"] = run_model(
                nuclei_net,
                source,
                major,
                p["nuclei_diameter"],
                p["nuclei_flow_threshold"],
                cellprob_threshold,
            )
        return out

    return segment
