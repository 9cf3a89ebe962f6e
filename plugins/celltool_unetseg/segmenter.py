"""unet-seg as a segmenter: ``celltool segment --method unet-seg --model RUN``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from celltool.errors import CelltoolError, UsageError


def make_segmenter(
    *,
    model: str = "",
    device: str = "cpu",
    fg_threshold: float = 0.5,
    seed_threshold: float = 0.5,
    tile: int = 512,
    threads: int = 0,
) -> Callable[..., dict[str, np.ndarray]]:
    """Load the trained run once (per worker process); return ``segment(image) -> {"cells"}``."""
    if not model:
        raise UsageError("unet-seg needs --model RUN (a run of `celltool train unet-seg`)")
    run = Path(model)
    if not run.is_dir():
        raise CelltoolError("unet-seg model does not exist (expected a run folder)", run)
    import torch

    from celltool.training.generate import load_trainer

    if threads:
        torch.set_num_threads(threads)
    trainer, record = load_trainer(run, device=device)
    if record["model"] != "unet-seg":
        raise CelltoolError(f"is a '{record['model']}' run, not a unet-seg run", run)
    options = {"fg_threshold": fg_threshold, "seed_threshold": seed_threshold, "tile": tile}

    def segment(image: np.ndarray, nuclei: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return {"cells": trainer.segment(image, options)}

    return segment
