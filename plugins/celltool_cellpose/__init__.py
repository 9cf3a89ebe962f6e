"""Cellpose adapter (optional extra ``celltool[cellpose]``): cellpose 3.x and 4.x models."""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import SegmenterInfo


@hookimpl
def register_segmenters(register):
    register(
        Component(
            name="cellpose",
            description="Cellpose (3.x: cyto3, nuclei, ... or a model file; 4.x: cpsam or a "
            "model file). Never downloads unless --download. Needs celltool[cellpose].",
            target="celltool_cellpose.adapter:make_segmenter",
            params=(
                Param(
                    "model",
                    "",
                    "Cells model: a cellpose model name (3.x: cyto3, cyto2, cyto, ...; 4.x: "
                    "cpsam) or a model file (default: cyto3 on 3.x, cpsam on 4.x).",
                ),
                Param("diameter", 0.0, "Cell diameter in px (0 = the model's own)."),
                Param("flow_threshold", 0.4, "Flow error threshold (higher = more cells)."),
                Param("cellprob_threshold", 0.0, "Cell probability threshold (lower = larger)."),
                Param(
                    "nuclei_model",
                    "",
                    "Nuclei model name or file ('' = no nuclei; 3.x: nuclei).",
                ),
                Param("nuclei_diameter", 0.0, "Nucleus diameter in px (0 = the model's own)."),
                Param("nuclei_flow_threshold", 0.4, "Flow error threshold for nuclei."),
                Param(
                    "preset",
                    "none",
                    "Preset for options left at their defaults: 'biomedical-image-generation' = "
                    "Biomedical-Image-Generation's segmentation.py "
                    "(cells: cyto, diameter 31.1, flow 0.9; nuclei: nuclei, diameter 15.2, "
                    "flow 0.4).",
                    choices=("none", "biomedical-image-generation", "seed"),
                ),
                Param(
                    "download",
                    False,
                    "Allow cellpose to download a named model that is not in its model folder.",
                ),
                Param("gpu", False, "Run on a GPU when one is available."),
            ),
            info=SegmenterInfo(targets=("cells", "nuclei")),
        )
    )
