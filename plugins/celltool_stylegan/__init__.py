"""StyleGAN2/StyleGAN3 for cell masks as a celltool trainer: ``celltool train stylegan MASKS``.

Pure PyTorch (no compiled extension): trains on a CPU with a small configuration and runs the
paper's configurations on a GPU. Generates instance label maps (foreground + instance distance
channel, split by watershed). See docs/stylegan.md.
"""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import TrainerInfo

PARAMS = (
    Param(
        "cfg",
        "stylegan2",
        "Architecture (NVlabs' --cfg).",
        choices=("stylegan2", "stylegan3-t", "stylegan3-r"),
    ),  # fmt: skip
    Param("resolution", 128, "Image size R (a power of two).", min=8, max=1024),
    Param(
        "preprocess",
        "crop",
        "crop: random R×R crops of the (scaled) masks; resize: whole masks resized to R.",
        choices=("crop", "resize"),
    ),  # fmt: skip
    Param("scale", 1.0, "Resize factor of the masks before cropping.", min=0.01, max=4),
    Param("mirror", True, "Random x-flips of the training masks."),
    Param(
        "cbase",
        32768,
        "Channel base: channels = min(cbase/res, cmax) (CPU: 2048).",
        min=16,
        max=131072,
    ),  # fmt: skip
    Param("cmax", 512, "Most channels of any layer (CPU: 64).", min=1, max=2048),
    Param("w_dim", 512, "Dimension of z and w (CPU: 128).", min=8, max=1024),
    Param(
        "map_layers", 0, "Mapping layers (0: 8 for stylegan2, 2 for stylegan3).", min=0, max=16
    ),  # fmt: skip
    Param("sg3_layers", 14, "StyleGAN3 synthesis layers.", min=3, max=32),
    Param(
        "gamma",
        0.0,
        "R1 weight γ (0: auto = 0.0002·R²/batch, StyleGAN2-ADA's heuristic).",
        min=0,
        max=1000,
    ),  # fmt: skip
    Param("d_reg_interval", 16, "R1 every N steps, lazily (0: no R1).", min=0, max=1000),
    Param(
        "glr",
        0.0,
        "G learning rate (0: 0.002 stylegan2, 0.0025 stylegan3; --lr is D's).",
        min=0,
        max=1,
    ),  # fmt: skip
    Param(
        "style_mixing",
        -1.0,
        "Style mixing probability (-1: the config's, 0.9 for stylegan2, 0 for stylegan3).",
        min=-1,
        max=1,
    ),  # fmt: skip
    Param(
        "pl_weight",
        -1.0,
        "Path length weight (-1: the config's, 2 for stylegan2, 0 for stylegan3).",
        min=-1,
        max=100,
    ),  # fmt: skip
    Param(
        "aug",
        "ada",
        "D augmentation: ada (adaptive p), diffaug (translation + cutout), "
        "fixed (p = --aug-p), none.",
        choices=("ada", "diffaug", "fixed", "none"),
    ),  # fmt: skip
    Param("aug_p", 0.2, "p for --aug fixed.", min=0, max=1),
    Param("ada_target", 0.6, "ADA target of E(sign D(real)).", min=-1, max=1),
    Param(
        "ada_kimg",
        500.0,
        "ADA speed: kimg for p to move by 1 (short CPU runs: 20).",
        min=1,
        max=1e5,
    ),  # fmt: skip
    Param("ema_kimg", 0.0, "G_ema half-life in kimg (0: batch·10/32).", min=0, max=1000),
    Param(
        "ema_rampup", 0.05, "EMA ramp-up: half-life ≤ this × images seen (0: none).", min=0, max=1
    ),  # fmt: skip
    Param("mbstd_group", 4, "Minibatch-std group size.", min=1, max=64),
    Param(
        "output",
        "tanh",
        "Output function of G: tanh (masks: flat background and cells are "
        "reachable) or linear (StyleGAN's).",
        choices=("tanh", "linear"),
    ),  # fmt: skip
    Param(
        "instance_channel",
        "distance",
        "Second generated channel that separates touching "
        "cells (distance), or none (foreground only).",
        choices=("distance", "none"),
    ),  # fmt: skip
    Param("distance_max", 4.0, "Instance distance clipped at this many px.", min=0.5, max=64),
    Param(
        "epoch_images", 1000, "Images per epoch (1000: --epochs counts kimg).", min=1, max=10**7
    ),  # fmt: skip
    Param(
        "kimg",
        0.0,
        "Train for this many thousand images (sets --epochs; 0: use --epochs).",
        min=0,
        max=1e6,
    ),  # fmt: skip
)

GENERATE_PARAMS = (
    Param("count", 16, "Samples to generate: seeds SEED … SEED+COUNT−1.", min=0, max=10**6),
    Param("truncation", 1.0, "Truncation ψ towards the mean w (1: none).", min=-1, max=2),
    Param(
        "interpolate",
        (),
        "A latent walk of --steps frames from seed A to seed B.",
        type=int,
        nargs=2,
        min=0,
        max=2**32 - 1,
    ),  # fmt: skip
    Param("steps", 16, "Frames of the --interpolate walk.", min=2, max=10_000),
    Param(
        "split",
        "watershed",
        "Instances by watershed on the distance channel, connected "
        "components, or CellGen's Threshold.py (gray ≥ 240).",
        choices=("watershed", "components", "threshold240"),
    ),  # fmt: skip
    Param("threshold", 0.0, "Foreground where the output > this.", min=-1, max=1),
    Param("marker_depth", 2.0, "Watershed markers ≥ this many px inside a cell.", min=0, max=64),
    Param(
        "marker_smooth",
        1.0,
        "σ (px) of the Gaussian smoothing of the distance channel before the markers (0: none).",
        min=0,
        max=16,
    ),  # fmt: skip
    Param("min_object_size", 4, "Drop objects smaller than this (px).", min=0, max=10**6),
    Param(
        "split_reference",
        "",
        "A folder of real masks (e.g. the training masks): choose --marker-depth and "
        "--marker-smooth whose label maps of 200 samples are closest to crops of it.",
        input=True,
    ),  # fmt: skip
    Param("noise", "const", "StyleGAN2's noise inputs.", choices=("const", "random", "none")),
    Param("raw", False, "Also write the generator's channels as 8-bit images."),
    Param("batch_size", 8, "Images per forward pass.", min=1, max=1024),
    Param(
        "target_count",
        0.0,
        "Steer to this mean number of objects per image: keep --count of --pool × --count "
        "candidates (0: off; see docs/stylegan.md).",
        min=0,
        max=100_000,
    ),  # fmt: skip
    Param(
        "target_coverage",
        0.0,
        "Steer to this mean foreground fraction per image (0: off).",
        min=0,
        max=1,
    ),  # fmt: skip
    Param(
        "target_nn_distance",
        0.0,
        "Steer to this mean distance (px) from each object's centroid to its nearest "
        "neighbour's: how crowded the cells are (0: off).",
        min=0,
        max=100_000,
    ),  # fmt: skip
    Param("pool", 4, "Candidates per kept sample when steering.", min=2, max=32),
)


@hookimpl
def register_trainers(register):
    register(
        Component(
            name="stylegan",
            description="StyleGAN2/StyleGAN3 (T, R) for cell masks from noise: R1, EMA, style "
            "mixing, truncation, ADA/DiffAugment; instance label maps via a distance channel.",
            target="celltool_stylegan.model:StyleGAN",
            params=PARAMS,
            info=TrainerInfo(
                inputs=("MASKS",),
                data="unconditional",
                data_kinds=(
                    "images",
                    "labels",
                    "segmentation",
                    "simulation",
                    "sketch",
                    "generated",
                ),  # fmt: skip
                defaults={"epochs": 100, "batch_size": 8, "lr": 0.002},
                generate_params=GENERATE_PARAMS,
                generate_inputs=False,
            ),
        )
    )
