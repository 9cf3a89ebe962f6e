"""File glue of ``celltool combine A B -o OUT``: images of two folders paired by name, summed
with saturation (PNG; TIFF for floats) or stacked as channels (``--as-channels``: TIFF, YXC)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from celltool.errors import CelltoolError
from celltool.executor import ExecutorSpec


def folder_images(folder: Path) -> tuple[Path, int | None]:
    """The images part of any folder that has one, and its recorded bit depth."""
    from celltool.manifest import part, read_manifest, require_kind

    manifest = require_kind(
        folder, ("images", "generated", "simulation", "spots", "segmentation", "sketch")
    )
    images = part(folder, "images")
    depth = None
    for record in (read_manifest(images) if images != folder else None, manifest):
        if record and record.get("facts", {}).get("bit_depth"):
            depth = int(record["facts"]["bit_depth"])
            break
    return images, depth


def pair_by_name(a: Path, b: Path) -> list[tuple[Path, Path]]:
    """Files of ``a`` and ``b`` with the same stem; a file without a partner is an error."""
    from celltool.imageio import list_images

    left = {p.stem: p for p in list_images(a)}
    right = {p.stem: p for p in list_images(b)}
    for names, others, here, there in ((left, right, a, b), (right, left, b, a)):
        missing = sorted(set(names) - set(others))
        if missing:
            raise CelltoolError(f"has no image named '{missing[0]}' (it is in {here})", there)
    return [(left[s], right[s]) for s in left]


def combine_one(
    pair: tuple[Path, Path], *, out: Path, depths: tuple, channels: bool
) -> dict[str, Any]:
    from celltool.imageio import read_image, write_image
    from celltool_spots.combine import CombineError, as_channels, saturating_sum

    a, b = (read_image(p) for p in pair)
    try:
        if channels:
            result, depth = as_channels(a, b, *depths)
        else:
            result, depth = saturating_sum(a, b, *depths)
    except CombineError as exc:
        raise CelltoolError(f"{exc} (paired with {pair[1]})", pair[0]) from None
    tiff = channels or result.dtype.kind == "f"
    name = pair[0].stem + (".tif" if tiff else ".png")
    write_image(out / name, result, axes="YXC" if channels else None)
    return {"dtype": str(result.dtype), "depth": depth, "shape": list(result.shape),
            "promoted": str(a.dtype) != str(b.dtype)}  # fmt: skip


def run_combine(
    a: Path, b: Path, out: Path, *, channels: bool, overwrite: bool, spec: ExecutorSpec
) -> Path:
    from celltool.console import info
    from celltool.manifest import make_manifest
    from celltool.outputs import OutputFolder
    from celltool.steps.common import run_each

    (left, depth_a), (right, depth_b) = folder_images(a), folder_images(b)
    pairs = pair_by_name(left, right)
    folder = OutputFolder(out, inputs=[a, b], overwrite=overwrite)
    with folder as work:
        job = functools.partial(combine_one, out=work, depths=(depth_a, depth_b),
                                channels=channels)  # fmt: skip
        results = run_each(job, pairs, spec, "combine")
        promoted = sum(r["promoted"] for r in results)
        if promoted:
            info(
                f"combine: {promoted} pair(s) of uint8 and uint16 images: the uint8 image was "
                "rescaled to the other's bit depth (x257 for 16 bits) before combining"
            )
        depth = results[0]["depth"] if results else None
        facts: dict[str, Any] = {
            "mode": "channels (YXC TIFF: A's channels, then B's)" if channels
            else "saturating sum (clipped at the bit depth, never wraps)",
            "count": len(results),
            "dtype": results[0]["dtype"] if results else None,
            "promoted_pairs": promoted,
        }  # fmt: skip
        if depth is not None:
            facts["bit_depth"] = depth
        if channels:
            facts["axes"] = "YXC"
        folder.manifest = make_manifest(
            "images", step="combine", params={"as_channels": channels}, inputs=[a, b],
            facts=facts,
        )  # fmt: skip
    return out
