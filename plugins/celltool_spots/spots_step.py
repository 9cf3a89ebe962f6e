"""File glue of ``celltool spots SEG -o OUT``: spot masks inside cells, a rendered spot image
and a ground-truth table per input image (kind ``spots``).

OUT/images/NAME.png   rendered spots (uint8, or uint16 for 12/16 bits; facts.bit_depth)
OUT/spots/NAME.png    spot label maps (uint16, one id per spot, discs of --radius)
OUT/masks/NAME.png    binary spot masks (uint8 0/255: CellGen's pix2pixHD input)
OUT/spots.csv         image, spot_id, cell_id, x, y, amplitude, photons
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celltool.errors import CelltoolError, UsageError
from celltool.executor import ExecutorSpec

TABLE = "spots.csv"
COLUMNS = ("image", "spot_id", "cell_id", "x", "y", "amplitude", "photons")
CLASSES = [{"index": 0, "name": "background", "gray": 0}, {"index": 1, "name": "spot", "gray": 255}]
# Bounds of the numeric options (inclusive): every value is checked before any work starts.
BOUNDS = {
    "per_cell": (0.0, 1000.0),
    "density": (0.0, 1000.0),
    "clusters": (1, 100),
    "cluster_sigma": (0.0, 1000.0),
    "radius": (0.5, 20.0),
    "psf_sigma": (0.3, 20.0),
    "amplitude": (0.0, 1e7),
    "amplitude_cv": (0.0, 10.0),
    "background": (0.0, 1e7),
    "read_noise": (0.0, 1e5),
    "gain": (0.0, 1e4),
    "offset": (0.0, 65535.0),
    "max_spots": (1, 65535),
}


@dataclass(frozen=True)
class SpotOptions:
    compartment: str = "cytoplasm"
    layout: str = "cells"
    distribution: str = "uniform"
    per_cell: float = 5.0
    density: float = 0.0
    clusters: int = 2
    cluster_sigma: float = 3.0
    radius: float = 2.0
    psf_sigma: float = 1.2
    amplitude: float = 100.0
    amplitude_cv: float = 0.3
    background: float = 5.0
    read_noise: float = 2.0
    gain: float = 1.0
    offset: float = 0.0
    bit_depth: int = 8
    max_spots: int = 20000

    def check(self) -> None:
        for name, (low, high) in BOUNDS.items():
            value = getattr(self, name)
            if not low <= value <= high:  # NaN fails too
                raise UsageError(f"--{name.replace('_', '-')} {value} is outside [{low}, {high}]")
        choices = {
            "compartment": ("cytoplasm", "nucleus", "cell"),
            "layout": ("cells", "cellgen"),
            "distribution": ("uniform", "clustered"),
            "bit_depth": (8, 12, 16),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UsageError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: choose "
                                 f"{', '.join(map(str, allowed))}")  # fmt: skip


def make_spots(cells, nuclei, rng, opts: SpotOptions):
    """One image's spots: placement → label map, mask, rendered image, amplitudes."""
    import numpy as np

    from celltool_spots import placement, render

    region = placement.compartment(cells, nuclei, opts.compartment)
    if opts.layout == "cellgen":
        spots = placement.cellgen_layout(region, rng)
    else:
        areas = {k: int(v.size) for k, v in placement.cell_pixels(region).items()}
        counts = placement.spot_counts(areas, rng, opts.per_cell, opts.density)
        total = sum(counts.values())
        if total > opts.max_spots:
            raise ValueError(f"would place {total} spots (more than --max-spots {opts.max_spots})")
        if opts.distribution == "clustered":
            spots = placement.place_clustered(
                region, counts, rng, clusters=opts.clusters, sigma=opts.cluster_sigma
            )
        else:
            spots = placement.place_uniform(region, counts, rng)
    labels = render.spot_labels(cells.shape, spots.y, spots.x, opts.radius)
    peak = render.amplitudes(len(spots), rng, opts.amplitude, opts.amplitude_cv)
    expected = render.render_spots(cells.shape, spots.y, spots.x, peak, opts.psf_sigma)
    image = render.camera(
        expected, rng, background=opts.background, read_noise=opts.read_noise,
        gain=opts.gain, offset=opts.offset, bit_depth=opts.bit_depth,
    )  # fmt: skip
    photons = peak * 2 * np.pi * opts.psf_sigma**2
    return spots, labels, render.binary_mask(labels), image, peak, photons


def one_image(
    item: tuple[int, Path], *, nuclei_dir: Path | None, out: Path, seed: int, opts: SpotOptions
) -> dict[str, Any]:
    """Read one cell map (and nucleus map), write its three outputs; return its table rows."""
    import numpy as np

    from celltool.imageio import read_image, write_image, write_labels

    index, path = item
    cells = read_image(path)
    if cells.ndim != 2:
        raise CelltoolError(f"is not a 2D label map (shape {cells.shape})", path)
    nuclei = None
    if nuclei_dir is not None:
        nuclei = read_image(_partner(nuclei_dir, path))
    try:
        spots, labels, mask, image, peak, photons = make_spots(
            cells, nuclei, np.random.default_rng([seed, index]), opts
        )
    except ValueError as exc:
        raise CelltoolError(str(exc), path) from None
    name = f"{path.stem}.png"
    write_image(out / "images" / name, image)
    write_labels(out / "spots" / name, labels)
    write_image(out / "masks" / name, mask)
    rows = [
        {"image": name, "spot_id": k + 1, "cell_id": int(spots.cell[k]),
         "x": round(float(spots.x[k]), 4), "y": round(float(spots.y[k]), 4),
         "amplitude": round(float(peak[k]), 3), "photons": round(float(photons[k]), 3)}
        for k in range(len(spots))
    ]  # fmt: skip
    return {"rows": rows, "dropped": spots.dropped}


def _partner(folder: Path, path: Path) -> Path:
    for suffix in (path.suffix, ".png", ".tif", ".tiff"):
        candidate = folder / f"{path.stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise CelltoolError(f"has no nucleus map for '{path.name}'", folder)


def run_spots(
    seg: Path, out: Path, opts: SpotOptions, *, seed: int, overwrite: bool, spec: ExecutorSpec
) -> Path:
    """The ``spots`` step on one segmentation or simulation folder."""
    from celltool.imageio import atomic_write_bytes, list_images
    from celltool.manifest import has_part, labels_facts, make_manifest, part, require_kind
    from celltool.outputs import OutputFolder
    from celltool.steps.common import run_each

    opts.check()
    require_kind(seg, ("segmentation", "simulation"))
    cells = part(seg, "cells")
    nuclei = part(seg, "nuclei") if has_part(seg, "nuclei") else None
    if opts.compartment == "nucleus" and nuclei is None:
        raise CelltoolError("has no 'nuclei' part (needed by --compartment nucleus)", seg)
    if nuclei is not None and not nuclei.is_dir():
        nuclei = None
    files = list_images(cells)
    folder = OutputFolder(out, inputs=[seg], overwrite=overwrite)
    with folder as work:
        for sub in ("images", "spots", "masks"):
            (work / sub).mkdir()
        job = functools.partial(one_image, nuclei_dir=nuclei if opts.compartment != "cell"
                                else None, out=work, seed=seed, opts=opts)  # fmt: skip
        results = run_each(job, list(enumerate(files)), spec, "spots")
        rows = [row for result in results for row in result["rows"]]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(work / TABLE, buffer.getvalue().encode())
        params = {**opts.__dict__}
        common = {"step": "spots", "params": params, "inputs": [seg], "seed": seed}
        counts = [len(r["rows"]) for r in results]
        folder.part_manifests = {
            "images": make_manifest("images", facts={"bit_depth": opts.bit_depth}, **common),
            "spots": make_manifest("labels", facts=labels_facts("spots", counts), **common),
            "masks": make_manifest(
                "images", facts={"bit_depth": 8, "classes": CLASSES}, **common
            ),  # fmt: skip
        }
        folder.manifest = make_manifest(
            "spots",
            facts={
                "parts": {"images": "images", "spots": "spots", "masks": "masks"},
                "cells": str(cells.resolve()),
                "bit_depth": opts.bit_depth,
                "classes": CLASSES,
                "table": TABLE,
                "columns": list(COLUMNS),
                "coordinates": "x = column, y = row; pixel (r, c) covers [c-0.5, c+0.5) x "
                "[r-0.5, r+0.5); amplitude = peak photons, photons = amplitude * 2 pi psf_sigma^2",
                "counts": counts,
                "n_spots": len(rows),
                "dropped": sum(r["dropped"] for r in results),
            },
            **common,
        )
    return out
