"""unet-seg: a segmenter that learns. ``celltool train unet-seg PAIRS -o RUN`` trains a small
U-Net on images and instance labels (foreground + boundary classes, or foreground + distance);
``celltool segment --method unet-seg --model RUN`` splits its predictions into instances by
marker watershed. See docs/segment.md."""

from celltool import hookimpl
from celltool.components import Component, Param, parse_device
from celltool.contracts import SegmenterInfo, TrainerInfo
from celltool.training.options import GAN_PARAMS

INFERENCE = (
    Param("fg_threshold", 0.5, "Foreground probability threshold.", min=0.01, max=0.99),
    Param(
        "seed_threshold",
        0.5,
        "Seed threshold: interior probability (boundary targets) or normalised distance.",
        min=0.01,
        max=0.99,
    ),
    Param(
        "tile",
        512,
        "Inference tile size in px (images larger than it are tiled).",
        min=32,
        max=8192,
    ),  # fmt: skip
)

TRAIN = (
    Param(
        "targets",
        "boundary",
        "What the network learns: boundary (background / interior / boundary classes) or "
        "distance (foreground + normalised distance transform).",
        choices=("boundary", "distance"),
    ),
    Param(
        "crop_size", 128, "Training crop size in px (a multiple of 2**depth).", min=16, max=4096
    ),  # fmt: skip
    Param("crops_per_image", 1, "Random crops of each image per epoch.", min=1, max=1000),
    Param("base_filters", 16, "Filters at full resolution (doubled per level).", min=1, max=256),
    Param("depth", 3, "Down-sampling levels of the U-Net.", min=1, max=6),
    Param("norm", "batch", "Normalisation.", choices=("batch", "instance", "none")),
    Param("boundary_weight", 2.0, "Cross-entropy weight of the boundary class.", min=0, max=100),
    Param(
        "intensity_aug",
        0.2,
        "Intensity jitter: gain 1±a and offset ±a of the normalised image (0 = off).",
        min=0,
        max=1,
    ),
    GAN_PARAMS["n_epochs_decay"],
)


@hookimpl
def register_trainers(register):
    register(
        Component(
            name="unet-seg",
            description="Segmentation U-Net (foreground + boundary or distance), Adam, "
            "linear lr decay; instances by marker watershed.",
            target="celltool_unetseg.model:UnetSeg",
            params=TRAIN,
            info=TrainerInfo(
                inputs=("PAIRS",),
                data_kinds=("pairs",),
                data="paired",
                defaults={"epochs": 40, "batch_size": 8, "lr": 1e-3},
                generate_params=INFERENCE,
            ),
        )
    )


@hookimpl
def register_segmenters(register):
    register(
        Component(
            name="unet-seg",
            description="A U-Net you trained with `celltool train unet-seg` (--model RUN); "
            "instances by marker watershed.",
            target="celltool_unetseg.segmenter:make_segmenter",
            params=(
                Param("model", "", "The run folder of `celltool train unet-seg`.", input=True),
                Param("device", "cpu", "torch device (cpu, cuda, cuda:N).", parse=parse_device),
                *INFERENCE,
                Param("threads", 0, "torch CPU threads (0: torch's default).", min=0, max=1024),
            ),
            info=SegmenterInfo(targets=("cells",)),
        )
    )
