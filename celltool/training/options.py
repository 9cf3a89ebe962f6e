"""Options of ``celltool train`` and ``celltool generate`` common to every model (no torch
import here, so that ``--help`` stays fast). Models add their own through their Component."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from celltool.components import Param
from celltool.errors import UsageError

SEED_MAX = 2**32 - 1
# more worker processes than 4 per core only thrash (and each holds a copy of the data set)
MAX_WORKERS = 4 * (os.cpu_count() or 1)

FRAMEWORK_PARAMS: tuple[Param, ...] = (
    Param("epochs", 0, "Training epochs (0: the model's default).", min=0, max=1_000_000),
    Param(
        "batch_size", 0, "Images per step and process (0: the model's default).", min=0, max=4096
    ),
    Param("lr", 0.0, "Learning rate (0: the model's default).", min=0, max=10),
    Param("device", "auto", "auto | cpu | cuda | cuda:N."),
    Param(
        "precision",
        "auto",
        "auto: bf16 on GPUs that have it (else fp16); on CPUs bf16 (with the model's fast "
        "path) only where the CPU has AVX-512 BF16/AMX, else fp32. Recorded in the run.",
        choices=("auto", "fp32", "bf16", "fp16"),
    ),
    Param(
        "master_weights",
        False,
        "With --precision bf16: bf16 weights, fp32 master copies in the optimizers (autocast's "
        "numbers without its per-forward weight casts; faster on CPU).",
    ),
    Param(
        "gemm_convs",
        True,
        "On CPU, run convolutions over at most 64 positions (a U-Net's inner levels) as one "
        "matrix product, 2-7x faster there than the convolution kernels.",
    ),
    Param(
        "seed", 0, "Random seed: weights, data order, augmentation, dropout.", min=0, max=SEED_MAX
    ),
    Param(
        "workers",
        0,
        "Data-loader worker processes (0: load in the main process).",
        min=0,
        max=MAX_WORKERS,
    ),
    Param(
        "save_every",
        10,
        "Keep a checkpoint every N epochs (latest is always kept; 0: none).",
        min=0,
        max=1_000_000,
    ),
    Param(
        "checkpoint_steps",
        0,
        "Also write the latest checkpoint every N steps (0: per epoch).",
        min=0,
        max=10**9,
    ),
    Param("log_every", 1, "Write losses to logs/losses.jsonl every N steps.", min=1, max=10**9),
    Param("samples", 4, "Images in the per-epoch sample grid.", min=0, max=64),
    Param("deterministic", True, "Deterministic algorithms (exact resume; slower on GPU)."),
    Param("threads", 0, "CPU threads for torch (0: torch's default).", min=0, max=MAX_WORKERS),
    Param(
        "tensorboard", False, "Also log to TensorBoard (if the tensorboard package is installed)."
    ),
)

# `celltool generate` options of models that translate images of any size with blended tiles
# (pix2pix, dual, ...): a model includes them in its TrainerInfo.generate_params.
TILING_PARAMS: tuple[Param, ...] = (
    Param("tile", 0, "Tile size in px (0: the training crop size).", min=0, max=8192),
    Param("overlap", 0, "Tile overlap in px (0: a quarter of the tile).", min=0, max=8192),
    Param("blend", "cosine", "Tile blending window.", choices=("cosine", "gaussian", "none")),
    Param("batch_size", 4, "Tiles or images per forward pass.", min=1, max=1024),
)
TEST_DROPOUT = Param("dropout", False, "Keep dropout on at test time (the pix2pix paper's noise).")

# Data options shared by paired models (pix2pix, dual, ...): include them in Component.params.
DATA_PARAMS: tuple[Param, ...] = (
    Param(
        "direction",
        "sketch2image",
        "sketch2image (sketch → image) or image2sketch.",
        choices=("sketch2image", "image2sketch"),
    ),
    Param(
        "crop_size", 256, "Training crop size in px (also the generate tile size).", min=1, max=8192
    ),
    Param(
        "load_size", 0, "Resize size before cropping (0: crop_size × 286/256).", min=0, max=16384
    ),
    Param(
        "preprocess",
        "resize_and_crop",
        "resize_and_crop (pix2pix) | crop | none.",
        choices=("resize_and_crop", "crop", "none"),
    ),
    Param("flip", True, "Random horizontal flips."),
    Param("cache", False, "Keep decoded images in memory (small data sets)."),
)


def parse_generator(text: str) -> str:
    """A generator name: ``unet_<2^k>`` (2..1024) or ``resnet_<n>blocks`` (1..64)."""
    unet = re.fullmatch(r"unet_(\d{1,4})", text)
    if unet and int(unet[1]) in {2**k for k in range(1, 11)}:
        return text
    resnet = re.fullmatch(r"resnet_(\d{1,2})blocks", text)
    if resnet and 1 <= int(resnet[1]) <= 64:
        return text
    raise ValueError("expected unet_<2^k> (unet_2 .. unet_1024) or resnet_<n>blocks (n 1..64)")


# Options of the pix2pix-style GANs (generator, discriminator, loss, optimiser): models pick
# the ones they use by name, e.g. ``GAN_PARAMS["ngf"]``.
GAN_PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param(
            "netG",
            "unet_256",
            "Generator: unet_256, unet_128 (any unet_<2^k>, 2..1024), resnet_9blocks (any "
            "resnet_<n>blocks, 1..64).",
            parse=parse_generator,
        ),
        Param(
            "netD",
            "basic",
            "Discriminator: basic (PatchGAN 70×70), n_layers, pixel.",
            choices=("basic", "n_layers", "pixel"),
        ),
        Param("n_layers_D", 3, "Layers of the n_layers discriminator.", min=1, max=8),
        Param("ngf", 64, "Generator filters in the first layer.", min=1, max=1024),
        Param("ndf", 64, "Discriminator filters in the first layer.", min=1, max=1024),
        Param("norm", "batch", "Normalisation.", choices=("batch", "instance", "none")),
        Param("dropout", True, "Dropout 0.5 in the U-Net's inner decoder (or the ResNet blocks)."),
        Param("gan_mode", "vanilla", "GAN loss.", choices=("vanilla", "lsgan", "hinge")),
        Param("lambda_l1", 100.0, "Weight of the L1 loss.", min=0, max=1e6),
        Param("beta1", 0.5, "Adam β1.", min=0, max=0.999999),
        Param(
            "n_epochs_decay",
            -1,
            "Epochs of linear lr decay at the end (-1: half of --epochs).",
            min=-1,
            max=1_000_000,
        ),
    )
}


def generator_factor(name: str) -> int:
    """What input sizes of the generator must be a multiple of (2^downsamplings)."""
    return int(name.split("_")[1]) if name.startswith("unet_") else 4


def check_sizes(config: Mapping[str, Any]) -> None:
    """The training crop fits the networks: a multiple of the generator's factor, and big
    enough for a PatchGAN of ``n_layers`` (3·2^n px: its last layers need 1 px after the
    strides). UsageError naming --crop-size otherwise."""
    crop, net = config.get("crop_size"), config.get("netG")
    if not isinstance(crop, int) or isinstance(crop, bool) or not crop or not net:
        return  # N-D crops (Z,Y,X) are the model's to check
    factor = generator_factor(str(net))
    if int(crop) % factor:
        raise UsageError(
            f"--crop-size {crop}: --netG {net} needs a multiple of {factor} px "
            f"(e.g. {max(factor, int(crop) // factor * factor)})"
        )
    layers = {"basic": 3, "n_layers": int(config.get("n_layers_D", 3))}.get(
        str(config.get("netD", "basic")), 0
    )
    if int(crop) < 3 * 2**layers:
        raise UsageError(
            f"--crop-size {crop}: the PatchGAN discriminator ({layers} layers) needs at least "
            f"{3 * 2**layers} px"
        )


def tile_options(options: Mapping[str, Any], crop_size: int) -> tuple[int, int]:
    """``(tile, overlap)`` of a generate call: --tile (0: the training crop) and --overlap (0:
    a quarter of the tile), which must be smaller than the tile."""
    tile = int(options.get("tile") or crop_size)
    overlap = int(options.get("overlap") or tile // 4)
    if overlap >= tile:
        raise UsageError(f"--overlap {overlap} must be smaller than the tile ({tile} px, --tile)")
    return tile, overlap
