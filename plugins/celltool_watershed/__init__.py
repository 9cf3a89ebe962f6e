"""Built-in classical segmenter: background flattening, threshold, marker watershed."""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import SegmenterInfo


@hookimpl
def register_segmenters(register):
    register(
        Component(
            name="watershed",
            description="Classical: flatten background, smooth, automatic threshold, seeds from "
            "the distance transform and/or intensity maxima, marker watershed; nuclei = bright "
            "cell cores or a nuclear channel. No learned weights.",
            target="celltool_watershed.algo:make_segmenter",
            params=(
                Param(
                    "background_radius",
                    50.0,
                    "Background flattening scale in px (larger than a cell; 0 = off).",
                ),
                Param("smooth_sigma", 0.5, "Gaussian smoothing sigma in px before thresholding."),
                Param(
                    "threshold",
                    "li",
                    "Automatic threshold method.",
                    choices=("otsu", "li", "triangle", "yen"),
                ),
                Param("threshold_scale", 1.3, "Multiply the automatic threshold by this."),
                Param(
                    "hysteresis",
                    0.5,
                    "Also keep pixels above this fraction of the threshold that connect to "
                    "objects (1 = plain threshold).",
                ),
                Param(
                    "seeds",
                    "distance",
                    "Watershed seeds: distance-transform maxima, intensity maxima, or both.",
                    choices=("distance", "intensity", "both"),
                ),
                Param("min_distance", 10, "Smallest distance between two cell seeds in px."),
                Param(
                    "prominence",
                    0.0,
                    "Keep only seeds that rise this much above their surroundings (h-maxima; "
                    "0 = all local maxima).",
                ),
                Param(
                    "nucleus_quantile",
                    0.75,
                    "Without a nuclear channel: a nucleus is the cell's pixels above this "
                    "quantile of its intensities (largest piece).",
                ),
                Param(
                    "nucleus_sigma", 2.0, "Smoothing (px) of the cell image to find bright cores."
                ),
                Param(
                    "nucleus_min_distance",
                    4,
                    "With a nuclear channel: smallest distance between two nucleus seeds in px.",
                ),
            ),
            info=SegmenterInfo(targets=("cells", "nuclei")),
        )
    )
