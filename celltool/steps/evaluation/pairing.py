"""Which generated file is compared with which real file, and where the real files are."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from celltool.errors import CelltoolError
from celltool.imageio import list_images, natural_key, read_image
from celltool.manifest import part, read_manifest

SEPARATORS = "_-. "


def pair_files(real: list[Path], gen: list[Path]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Pair generated files with real files by name; return (pairs, unpaired generated files).

    Rule: a generated file pairs with the real file of the same stem; otherwise with the real
    file whose stem is the longest prefix of the generated stem followed by one of ``_ - . ␣``
    (``img_007_fake_B.png`` → ``img_007.tif``; ``a_10_x`` → ``a_10``, not ``a_1``). Several
    generated files may pair with one real file. Pairs come in the natural order of the real
    files, then of the generated files.
    """
    by_stem = {p.stem: p for p in real}
    pairs, unpaired = [], []
    for g in gen:
        match = by_stem.get(g.stem)
        if match is None:
            best = ""
            for stem in by_stem:
                if len(stem) > len(best) and g.stem[len(stem) : len(stem) + 1] in SEPARATORS:
                    if g.stem.startswith(stem) and len(g.stem) > len(stem):
                        best = stem
            match = by_stem.get(best) if best else None
        if match is None:
            unpaired.append(g)
        else:
            pairs.append((match, g))
    pairs.sort(key=lambda rg: (natural_key(rg[0]), natural_key(rg[1])))
    return pairs, unpaired


def read_pairs_csv(path: Path, real_dir: Path, gen_dir: Path) -> list[tuple[Path, Path]]:
    """Pairs from a CSV with columns ``real,generated`` (paths relative to the folders)."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CelltoolError(f"cannot read pairs CSV ({exc})", path) from None
    if not rows or not {"real", "generated"} <= set(rows[0]):
        raise CelltoolError("pairs CSV needs a header with columns 'real' and 'generated'", path)
    pairs = []
    for i, row in enumerate(rows, start=2):
        r = real_dir / (row["real"] or "").strip()
        g = gen_dir / (row["generated"] or "").strip()
        for f in (r, g):
            if not f.is_file():
                raise CelltoolError(f"line {i}: {f} does not exist", path)
        pairs.append((r, g))
    return pairs


@dataclass(frozen=True)
class RealImages:
    """Where REAL's images are: a folder, or a pairs folder's split (``left_half``: the real
    image is the left half of each side-by-side ``[image | sketch]`` file)."""

    folder: Path
    left_half: bool = False
    bit_depth: int | None = None


def real_images(folder: Path, split: str = "test") -> RealImages:
    """REAL's images: an images folder, a container's ``images`` part, or the real images of
    a pairs folder's ``split`` (what a model generated from is compared with its originals)."""
    manifest = read_manifest(folder)
    if manifest is None or manifest["kind"] != "pairs":
        return RealImages(part(folder, "images"))
    facts = manifest.get("facts", {})
    depth = facts.get("bit_depth")
    layout = facts.get("layout", "side-by-side")
    base = folder / split
    if not base.is_dir():
        raise CelltoolError(f"pairs folder has no '{split}' split", folder)
    if layout == "side-by-side":
        return RealImages(base, left_half=True, bit_depth=depth)
    if layout == "folders":
        sub = "image_t1" if (base / "image_t1").is_dir() else "image"
        return RealImages(base / sub, bit_depth=depth)
    raise CelltoolError(f"cannot take real images from a '{layout}' pairs folder", folder)


def read_real(path: Path, left_half: bool) -> np.ndarray:
    image = read_image(path)
    if not left_half:
        return image
    if image.shape[1] % 2:
        raise CelltoolError(f"side-by-side pair has an odd width {image.shape[1]}", path)
    return image[:, : image.shape[1] // 2]


def list_real(real: RealImages) -> list[Path]:
    return list_images(real.folder)
