"""Registers the ``otsu`` segmenter. Keep this module light: no numpy/skimage imports here."""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import SegmenterInfo


@hookimpl
def register_segmenters(register):
    register(
        Component(
            name="otsu",
            description="Global Otsu threshold + connected components (example plugin).",
            target="celltool_example_otsu.algo:make_segmenter",  # imported only when used
            params=(
                Param("sigma", 1.0, "Gaussian smoothing before thresholding (px)."),
                Param("otsu_scale", 1.0, "Multiply the Otsu threshold by this."),
            ),
            info=SegmenterInfo(targets=("cells",)),
        )
    )
