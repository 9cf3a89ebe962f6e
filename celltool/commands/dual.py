"""The demo's ``dual`` stage: a short generated sequence from a tiny temporal model trained on
toy moving cells (the demo's simulation has independent frames, not a time-lapse)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celltool import plugins
from celltool.imageio import read_image, write_image


def write_toy_timelapse(
    out: Path, frames: int, size: int, seed: int, **kw: Any
) -> tuple[Path, Path]:
    """``out/images/tNNN.png`` and ``out/masks/tNNN.png`` of a toy moving-cell time-lapse."""
    from celltool_dual.toy import moving_cells

    images, masks = moving_cells(frames, size, seed=seed, **kw)
    for sub, arrays in (("images", images), ("masks", masks)):
        (out / sub).mkdir(parents=True, exist_ok=True)
        for t, array in enumerate(arrays):
            write_image(out / sub / f"t{t:03d}.png", array)
    return out / "images", out / "masks"


def demo_stage(out: Path, seed: int, quick: bool, results: dict[str, Path]) -> Path:
    """Toy time-lapse → temporal pairs → tiny dual model → a generated sequence."""
    from celltool.commands.generate import resolve_generate_options
    from celltool.commands.split import split_folder
    from celltool.commands.train_run import run_train
    from celltool.training.generate import generate_folder

    frames, size = (12, 32) if quick else (40, 64)
    images, masks = write_toy_timelapse(out / "dual-toy", frames, size, seed)
    n_train = int(frames * 0.75)
    pairs = split_folder(
        images, out / "dual-pairs", masks=masks, method="frames", by="time",
        pairs="temporal", ratios=(0.75, 0.0, 0.25), seed=seed,
    )  # fmt: skip
    options: dict[str, Any] = {
        "netG": f"unet_{size}",
        "ngf": 4 if quick else 16,
        "ndf": 4 if quick else 16,
        "crop_size": size,
        "preprocess": "none",
        "flip": False,
        "rollout": 2,
        "epochs": 1 if quick else 10,
        "seed": seed,
        "save_every": 0,
        "samples": 2,
        "threads": 1,  # one thread is faster for these tiny networks (and on shared cores)
    }
    component = plugins.get("trainers", "dual")
    run = run_train(component, [pairs], out / "dual-run", None, None, False, options)
    start = out / "dual-start"
    start.mkdir()
    first = sorted(images.iterdir())[n_train - 1]  # the last training frame
    write_image(start / first.name, read_image(first))
    opts = resolve_generate_options("dual", {})
    opts.update(steps=4 if quick else 10, between=None)
    return generate_folder(run, [start], out / "dual", options=opts, device="cpu", seed=seed)
