"""The reference sketcher as celltool's sketcher contract (celltool.contracts.Sketcher).

Pass 1 collects per-cell mean intensities of every image (levels 7 and 9 without full
``--limits``); ``fit`` turns them into layer bounds over the whole input set; ``render`` paints
one image's class-index map with those bounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from celltool.errors import UsageError
from celltool_sketch.reference import (
    cell_means,
    check_limits,
    class_table,
    layer_bounds,
    render,
    scaled_radii,
    to_gray8,
)

RADII_RULE = "pad,open,grow,shrink = 60,60,140,50 * sqrt(H*W/(1536*2048))"


class ReferenceSketcher:
    """Biomedical-Image-Generation's Reference1/2/3 classes (levels 4/7/9) and the binary cell
    sketch (levels 1)."""

    def __init__(
        self,
        *,
        levels: int = 4,
        limits: Sequence[float] = (),
        radii: Sequence[int] = (),
        wound: bool = True,
        thickness: int = 1,
        dilate: bool = False,
    ) -> None:
        problem = check_limits(levels, limits)
        if problem:
            raise UsageError(problem)
        if radii and len(radii) != 4:
            raise UsageError("--radii takes 4 values: pad,open,grow,shrink")
        self.levels, self.limits, self.radii = levels, list(limits), tuple(radii)
        self.wound, self.thickness, self.dilate = wound, thickness, dilate
        self.needs_stats = levels == 7 and not self.limits or levels == 9 and len(limits) != 4

    def check_input(self, binary: bool) -> None:
        if binary and self.levels != 1:
            raise UsageError(
                f"--masks gives binary cell masks, which only make --levels 1 sketches; "
                f"--levels {self.levels} needs cell and nucleus label maps (a segmentation or "
                "simulation folder)"
            )

    def stats(self, item: Any) -> np.ndarray:
        means = cell_means(to_gray8(item.image), item.cells, item.nuclei)
        return means[np.isfinite(means)]

    def fit(self, stats: Sequence[np.ndarray]) -> dict[str, Any]:
        if self.needs_stats:
            means = np.concatenate(list(stats) + [np.zeros(0)])
            bounds = layer_bounds(means, self.levels, self.limits)
            source = f"quantiles over all {len(means)} cells of all {len(stats)} images"
        elif self.levels in (7, 9):
            bounds, source = layer_bounds(np.zeros(0), self.levels, self.limits), "--limits"
        else:
            bounds, source = [], None
        return {"bounds": [float(b) for b in bounds], "bounds_from": source}

    def render(self, item: Any, state: Mapping[str, Any]) -> tuple[np.ndarray, dict]:
        radii = self.radii or scaled_radii(item.cells.shape)
        index = render(
            item.cells,
            item.nuclei,
            item.image,
            levels=self.levels,
            bounds=state["bounds"],
            radii=radii,
            thickness=self.thickness,
            dilate=self.dilate,
            wound=self.wound,
        )
        return index, {"radii": list(radii)}

    def classes(self, state: Mapping[str, Any]) -> list[dict[str, Any]]:
        return class_table(self.levels)

    def facts(self, state: Mapping[str, Any], items: Sequence[dict]) -> dict[str, Any]:
        return {
            "levels": self.levels,
            "layer_bounds": state["bounds"],
            "layer_bounds_from": state["bounds_from"],
            "intensity": "per-image autocontrast to 0..255 (Biomedical-Image-Generation's), "
            "luma for colour",
            "wound": self.wound and self.levels != 1,
            "radii_rule": RADII_RULE,
            "radii": sorted({tuple(r["radii"]) for r in items}),
        }


def make(**params: Any) -> ReferenceSketcher:
    """The sketcher target: ``make(**params)`` (celltool.contracts.Sketcher)."""
    return ReferenceSketcher(**params)
