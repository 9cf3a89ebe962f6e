"""Cellpose adapter (optional extra ``celltool[cellpose]``): cellpose 3.x and 4.x models, and
cellpose 3.1 training (``celltool train cellpose PAIRS -o RUN``)."""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import SegmenterInfo, TrainerInfo


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
                    "cpsam), a model file, or a run of `celltool train cellpose` (default: "
                    "cyto3 on 3.x, cpsam on 4.x).",
                ),
                Param(
                    "diameter", 0.0, "Cell diameter in px (0 = the model's own).", min=0, max=10_000
                ),
                Param(
                    "flow_threshold",
                    0.4,
                    "Flow error threshold (higher = more cells).",
                    min=0,
                    max=100,
                ),
                Param(
                    "cellprob_threshold",
                    0.0,
                    "Cell probability threshold (lower = larger).",
                    min=-100,
                    max=100,
                ),
                Param(
                    "nuclei_model",
                    "",
                    "Nuclei model name or file ('' = no nuclei; 3.x: nuclei).",
                ),
                Param(
                    "nuclei_diameter",
                    0.0,
                    "Nucleus diameter in px (0 = the model's own).",
                    min=0,
                    max=10_000,
                ),
                Param(
                    "nuclei_flow_threshold",
                    0.4,
                    "Flow error threshold for nuclei.",
                    min=0,
                    max=100,
                ),
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


@hookimpl
def register_trainers(register):
    register(
        Component(
            name="cellpose",
            description="Cellpose 3.1's CPnet trained on images and instance labels (flows + "
            "cell probability, cellpose's loss), from scratch or from --pretrained FILE. "
            "Needs celltool[cellpose] with cellpose<4.",
            target="celltool_cellpose.trainer:CellposeTrainer",
            params=(
                Param(
                    "pretrained",
                    "",
                    "A cellpose 3 model file to start from ('' = from scratch).",
                    input=True,
                ),
                Param(
                    "crop_size",
                    224,
                    "Training crop size in px (cellpose's bsize).",
                    min=32,
                    max=4096,
                ),  # fmt: skip
                Param(
                    "crops_per_image", 1, "Random crops of each image per epoch.", min=1, max=1000
                ),  # fmt: skip
                Param("weight_decay", 1e-5, "AdamW weight decay.", min=0, max=1),
                Param(
                    "intensity_aug",
                    0.0,
                    "Intensity jitter: gain 1±a and offset ±a of the normalised image.",
                    min=0,
                    max=1,
                ),
            ),
            info=TrainerInfo(
                inputs=("PAIRS",),
                data_kinds=("pairs",),
                data="paired",
                defaults={"epochs": 100, "batch_size": 8, "lr": 0.005},
            ),
        )
    )
