"""celltool's steps as Python functions: the CLI (``celltool.commands``) is a thin layer on top.

Each step reads folders and writes one output folder (atomically, with its manifest) and
returns its path::

    from celltool import steps

    sim = steps.simulate("sim", n=4, size=(128, 128), seed=1)
    seg = steps.segment(sim, method="watershed")
    sk = steps.sketch(seg, params={"levels": 7})
    pairs = steps.split(sk, params={"crop": "64", "crops": 2})
    run = steps.train("pix2pix", [pairs], "run", options={"epochs": 1, "netG": "unet_64"})
    gen = steps.generate(run, [pairs], "gen")
    metrics = steps.evaluate(pairs, gen)      # a pairs folder: its test split's real images

Importing this package is cheap: each step's module is imported when the step is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_STEPS = {
    "simulate": "simulation",
    "segment": "segmentation",
    "sketch": "sketching",
    "split": "splitting",
    "train": "training",
    "generate": "generation",
    "evaluate": "evaluation",
    "demo": "demo",
    "benchmark": "benchmarking",
}

__all__ = list(_STEPS)


def __getattr__(name: str) -> Any:
    if name in _STEPS:
        return getattr(importlib.import_module(f"celltool.steps.{_STEPS[name]}"), name)
    raise AttributeError(f"module 'celltool.steps' has no attribute {name!r}")
