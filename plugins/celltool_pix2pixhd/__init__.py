"""pix2pixHD (Wang et al. 2018) as a celltool trainer: ``celltool train pix2pixhd PAIRS -o RUN``.

Registration only (no numpy/torch imports): the model lives in ``celltool_pix2pixhd.model``.
"""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import TrainerInfo
from celltool.training.options import GAN_PARAMS, TILING_PARAMS

EPOCHS_MAX = 1_000_000

PARAMS = (
    Param(
        "crop_size", 256, "Training crop size in px (also the generate tile size).", min=8, max=8192
    ),
    Param(
        "load_size",
        0,
        "Resize size before cropping with --preprocess resize_and_crop (0: crop_size × 286/256).",
        min=0,
        max=16384,
    ),
    Param(
        "preprocess",
        "crop",
        "crop (random crops, no resampling: labels stay exact) | resize_and_crop | none.",
        choices=("crop", "resize_and_crop", "none"),
    ),
    Param("flip", True, "Random horizontal flips."),
    Param("cache", False, "Keep decoded images in memory (small data sets)."),
    Param(
        "label_nc",
        -1,
        "Classes of the one-hot label input (-1: the pairs folder's class table "
        "facts.classes; 0: the sketch is a plain image, as CellGen's masks).",
        min=-1,
        max=256,
    ),
    Param("no_instance", False, "No edge map input (neither instance nor class boundaries)."),
    Param(
        "netG",
        "global",
        "Generator: global, or local (global + local enhancer).",
        choices=("global", "local"),
    ),
    Param(
        "ngf", 64, "Generator filters in the first layer (local: of the enhancer).", min=1, max=512
    ),
    Param("n_downsample_global", 4, "Down-samplings of the global generator.", min=1, max=8),
    Param("n_blocks_global", 9, "Residual blocks of the global generator.", min=0, max=64),
    Param("n_local_enhancers", 1, "Local enhancers (--netG local).", min=1, max=3),
    Param("n_blocks_local", 3, "Residual blocks of each local enhancer.", min=0, max=64),
    Param(
        "niter_global",
        -1,
        "--netG local: first epochs that train the global generator alone on half-resolution "
        "crops (coarse stage; -1: a quarter of --epochs).",
        min=-1,
        max=EPOCHS_MAX,
    ),
    Param(
        "niter_fix_global",
        -1,
        "--netG local: then epochs that train only the local enhancer(s), the global generator "
        "fixed (the original's --niter_fix_global; -1: a tenth of --epochs); then all jointly.",
        min=-1,
        max=EPOCHS_MAX,
    ),
    Param("num_D", 2, "Discriminator scales (multi-scale discriminator).", min=1, max=5),
    Param("n_layers_D", 3, "Stride-2 layers of each discriminator.", min=1, max=6),
    Param("ndf", 64, "Discriminator filters in the first layer.", min=1, max=512),
    Param("norm", "instance", "Normalisation.", choices=("instance", "batch", "none")),
    Param("gan_mode", "lsgan", "GAN loss.", choices=("lsgan", "vanilla", "hinge")),
    Param(
        "lambda_feat",
        10.0,
        "Weight of the feature-matching and perceptual losses.",
        min=0,
        max=1e4,
    ),
    Param("no_gan_feat_loss", False, "No discriminator feature-matching loss."),
    Param("no_vgg_loss", False, "No VGG16 perceptual loss."),
    Param(
        "vgg_weights",
        "",
        "VGG16 weights file for the perceptual loss (default: env CELLTOOL_VGG_WEIGHTS, then "
        "the file `celltool lpips-weights` prepares in $TORCH_HOME/hub/checkpoints).",
        input=True,
    ),
    GAN_PARAMS["beta1"],
    GAN_PARAMS["n_epochs_decay"],
)

GENERATE_PARAMS = TILING_PARAMS + (
    Param(
        "instances",
        "",
        "pix2pixHD: folder of instance maps (uint16, same names as the inputs) for the edge map; "
        "a pairs folder's instance/ part and a sketch folder's cells are found without it.",
        input=True,
    ),
)


@hookimpl
def register_trainers(register):
    register(
        Component(
            name="pix2pixhd",
            description="pix2pixHD: one-hot labels + instance edges → image; global generator "
            "(+ local enhancer), multi-scale LSGAN discriminator, feature matching, VGG16 "
            "perceptual loss; Adam 2e-4 β1 0.5, constant then linear decay.",
            target="celltool_pix2pixhd.model:Pix2PixHD",
            params=PARAMS,
            info=TrainerInfo(
                inputs=("PAIRS",),
                data_kinds=("pairs",),
                data="paired",
                # --gemm-convs off: at CPU-sized crops no pix2pixHD map is small enough for the
                # GEMM path to pay off (docs/pix2pixhd.md "Speed"); the default is plain fp32
                defaults={"epochs": 200, "batch_size": 1, "lr": 2e-4, "gemm_convs": False},
                generate_params=GENERATE_PARAMS,
            ),
        )
    )
