"""The intensity range metrics are computed in: never guessed from a uint16/float dtype."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from celltool.errors import CelltoolError, UsageError
from celltool.manifest import read_manifest


def recorded_bit_depth(folder: Path) -> int | None:
    """``facts.bit_depth`` of the folder's manifest, or of the container it is a part of."""
    manifest = read_manifest(folder)
    if manifest and manifest.get("facts", {}).get("bit_depth"):
        return int(manifest["facts"]["bit_depth"])
    parent = read_manifest(folder.parent) if folder.parent != folder else None
    facts = (parent or {}).get("facts", {})
    if facts.get("bit_depth") and folder.name in set(facts.get("parts", {}).values()):
        return int(facts["bit_depth"])
    return None


def resolve_data_range(
    given: float | None,
    depths: tuple[int | None, int | None],
    sample: np.ndarray,
    where: Path,
) -> tuple[float, str]:
    """``--data-range``, else 2**bit_depth − 1 from the manifests, else 255 for uint8 data.

    Never the dtype maximum of uint16/float data: 12-bit data in uint16 would score ~24 dB
    too high in PSNR. Different recorded bit depths are an error (PSNR of uint16 against
    uint8 images means nothing).
    """
    if given is not None:
        if not given > 0 or not np.isfinite(given):
            raise UsageError("--data-range must be positive (a finite number)")
        return float(given), "--data-range"
    known = {d for d in depths if d}
    if len(known) > 1:
        raise CelltoolError(
            f"recorded bit depths differ ({sorted(known)}); pass --data-range", where
        )
    if known:
        depth = known.pop()
        return float(2**depth - 1), f"bit depth {depth} (manifest)"
    if sample.dtype == np.uint8:
        return 255.0, "uint8 data"
    raise CelltoolError(
        f"no bit depth recorded for {sample.dtype} images; pass --data-range (e.g. 4095 for "
        "12-bit data)",
        where,
    )
