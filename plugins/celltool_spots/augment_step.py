"""File glue of ``celltool augment PAIRS -n K``: K augmented variants of every pair of the chosen
splits (``NAME_0`` … ``NAME_{K-1}``, beside the unchanged originals), the other splits copied,
in the input's layout, with a manifest (kind ``pairs``) and a table ``augment.csv`` of every
variant's parameters.

Layouts: ``side-by-side`` (left half = image, right half = sketch) and ``folders`` (every part
whose name starts with ``image`` is an image, every other part — ``sketch``, ``instance``,
``sketch_t`` … — a label map).
"""

from __future__ import annotations

import csv
import functools
import io
import shutil
from pathlib import Path
from typing import Any

from celltool.errors import CelltoolError, UsageError
from celltool.executor import ExecutorSpec

TABLE = "augment.csv"
COLUMNS = ("file", "source", "variant", "flip_h", "flip_v", "quarter_turns", "angle", "gain",
           "offset")  # fmt: skip


def items_of(folder: Path, split: str, layout: str) -> list[dict[str, Path]]:
    """Per item ``{part: file}`` (side-by-side: ``{"pair": file}``)."""
    from celltool.imageio import list_images

    base = folder / split
    if layout == "side-by-side":
        return [{"pair": p} for p in list_images(base)]
    parts = sorted(p.name for p in base.iterdir() if p.is_dir())
    files = {name: {p.stem: p for p in list_images(base / name)} for name in parts}
    stems = list(files[parts[0]]) if parts else []
    for name in parts:
        if set(files[name]) != set(stems):
            raise CelltoolError(f"files of '{name}' do not match those of '{parts[0]}'", base)
    return [{name: files[name][s] for name in parts} for s in stems]


def augment_one(
    job: tuple[int, str, dict[str, Path]], *, folder: Path, out: Path, n: int, seed: int,
    settings: dict[str, Any], bit_depth: int | None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Write the K variants of one item; return their table rows."""
    import numpy as np

    from celltool.imageio import read_image, write_image
    from celltool_spots.augment import augment_item, draw_variant

    index, split, files = job
    rng = np.random.default_rng([seed, index])
    arrays = {name: read_image(path) for name, path in files.items()}
    if "pair" in arrays:
        pair = arrays.pop("pair")
        if pair.shape[1] % 2:
            raise CelltoolError(
                f"side-by-side pair has an odd width {pair.shape[1]}", files["pair"]
            )
        half = pair.shape[1] // 2
        arrays = {"image": pair[:, :half], "sketch": pair[:, half:]}
    images = [k for k in arrays if k.startswith("image")]
    labels = [k for k in arrays if not k.startswith("image")]
    rows = []
    for i in range(n):
        variant = draw_variant(rng, **settings)
        new_images, new_labels = augment_item(
            [arrays[k] for k in images], [arrays[k] for k in labels], variant, bit_depth
        )
        result = dict(zip(images + labels, new_images + new_labels, strict=True))
        first = next(iter(files.values()))
        name = f"{first.stem}_{i}{first.suffix}"
        if "pair" in files:
            write_image(out / split / name, np.concatenate([result["image"], result["sketch"]], 1))
        else:
            for part, array in result.items():
                write_image(out / split / part / name, array)
        rows.append({"file": f"{split}/{name}", "source": str(first.relative_to(folder)),
                     "variant": i, **variant.as_dict()})  # fmt: skip
    return rows


def run_augment(
    pairs: Path, out: Path, *, n: int, splits: list[str], originals: bool, settings: dict,
    seed: int, overwrite: bool, spec: ExecutorSpec,
) -> Path:  # fmt: skip
    from celltool.imageio import atomic_write_bytes
    from celltool.manifest import make_manifest, require_kind
    from celltool.outputs import OutputFolder
    from celltool.steps.common import run_each

    if not 1 <= n <= 1000:
        raise UsageError(f"-n {n} must lie in [1, 1000]")
    if not 0 <= settings["max_angle"] <= 180 or not 0 <= settings["gain"] <= 1:
        raise UsageError("--max-angle must lie in [0, 180] and --gain in [0, 1]")
    if not 0 <= settings["offset"] <= 255:
        raise UsageError("--offset must lie in [0, 255] (8-bit units)")
    manifest = require_kind(pairs, ("pairs",)) or {}
    facts = dict(manifest.get("facts", {}))
    layout = facts.get("layout", "side-by-side")
    if layout not in ("side-by-side", "folders"):
        raise CelltoolError(f"layout {layout!r} cannot be augmented", pairs)
    present = [s for s in ("train", "val", "test") if (pairs / s).is_dir()]
    unknown = sorted(set(splits) - set(present))
    if unknown:
        raise CelltoolError(f"has no '{unknown[0]}' split", pairs)
    bit_depth = facts.get("bit_depth")
    folder = OutputFolder(out, inputs=[pairs], overwrite=overwrite)
    with folder as work:
        jobs = []
        for split in present:
            if originals or split not in splits:
                shutil.copytree(pairs / split, work / split)
            else:
                _empty_like(pairs / split, work / split)
            if split in splits:
                items = items_of(pairs, split, layout)
                jobs += [(len(jobs) + i, split, item) for i, item in enumerate(items)]
        job = functools.partial(augment_one, folder=pairs, out=work, n=n, seed=seed,
                                settings=settings, bit_depth=bit_depth)  # fmt: skip
        rows = [row for result in run_each(job, jobs, spec, "augment") for row in result]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(work / TABLE, buffer.getvalue().encode())
        facts.pop("table", None)
        facts.update(augmented={"splits": splits, "variants_per_item": n, "originals": originals,
                                "items": len(jobs), "table": TABLE})  # fmt: skip
        folder.manifest = make_manifest(
            "pairs", step="augment", inputs=[pairs], seed=seed, facts=facts,
            params={"n": n, "splits": splits, "originals": originals, **settings,
                    "sketch": manifest.get("params", {}).get("sketch")},
        )  # fmt: skip
    return out


def _empty_like(source: Path, target: Path) -> None:
    """The split's sub-folders without their files (folders layout, originals dropped)."""
    target.mkdir()
    for sub in source.iterdir():
        if sub.is_dir():
            (target / sub.name).mkdir()
