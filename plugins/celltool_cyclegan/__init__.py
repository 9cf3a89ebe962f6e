"""CycleGAN (Zhu et al. 2017) in 2D and 3D as a celltool trainer, after the 3D CycleGAN of
cell_data_synthesis (Bruch et al. 2023): ``celltool train cyclegan REAL SIM -o RUN``, then
``celltool generate RUN SIM/`` translates simulations into real-looking data that keeps the
simulation's labels."""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import TrainerInfo
from celltool.training.nd import ND_DATA_PARAMS, parse_sizes  # no numpy, no torch
from celltool.training.options import TEST_DROPOUT


def parse_tile(text: str) -> tuple[int, ...]:
    """``"32,256,256"`` or one number; ``"0"`` = the default (the training crop)."""
    if text.strip() in ("0", ""):
        return (0,)
    return parse_sizes(text)


def parse_overlap(text: str) -> tuple[int, ...]:
    """Per-axis voxels (or one number for every axis), each 0..65535; ``"0"`` = a quarter of
    the tile (``--trim``: 0 = none)."""
    try:
        values = tuple(int(p) for p in text.strip().strip("[]()").split(",") if p.strip())
    except ValueError:
        raise ValueError(f"{text!r}: expected voxels like 8,64,64 or one number") from None
    if not 1 <= len(values) <= 3 or not all(0 <= v <= 65535 for v in values):
        raise ValueError(f"{text!r}: expected 1 to 3 values, each 0..65535")
    return values


PARAMS = ND_DATA_PARAMS + (
    Param(
        "direction",
        "sim2real",
        "sim2real: an epoch runs over SIM and generate translates SIM → REAL (the original's "
        "BtoA with real = A); real2sim the other way.",
        choices=("sim2real", "real2sim"),
    ),
    Param("netG", "resnet_9blocks", "Generators: resnet_<n>blocks (resnet_9blocks) or unet_<2^k>."),
    Param(
        "netD",
        "basic",
        "Discriminators: basic (PatchGAN; 3D: z strided in the first layer only), n_layers, pixel.",
        choices=("basic", "n_layers", "pixel"),
    ),
    Param("n_layers_D", 3, "Layers of the n_layers discriminator.", min=1, max=6),
    Param("ngf", 64, "Generator filters in the first layer.", min=1, max=512),
    Param("ndf", 64, "Discriminator filters in the first layer.", min=1, max=512),
    Param("norm", "instance", "Normalisation.", choices=("instance", "batch", "none")),
    Param(
        "pad",
        "auto",
        "Padding of the ResNet generators: auto = replicate in 3D (cell_data_synthesis), "
        "reflect in 2D (CycleGAN).",
        choices=("auto", "reflect", "replicate", "zero"),
    ),
    Param(
        "init",
        "auto",
        "Weight init: auto = PyTorch's default in 3D (cell_data_synthesis), N(0, 0.02) in 2D "
        "(CycleGAN); normal; default.",
        choices=("auto", "normal", "default"),
    ),
    Param("dropout", False, "Dropout 0.5 in the generators' residual blocks."),
    Param("gan_mode", "lsgan", "GAN loss.", choices=("lsgan", "vanilla", "hinge")),
    Param("lambda_A", 10.0, "Cycle weight REAL → SIM → REAL.", min=0, max=1000),
    Param("lambda_B", 10.0, "Cycle weight SIM → REAL → SIM.", min=0, max=1000),
    Param("lambda_identity", 0.5, "Identity weight, relative to the cycle weights.", min=0, max=10),
    Param("pool_size", 50, "Image pool of earlier fakes for the discriminators.", min=0, max=1000),
    Param(
        "d_every",
        1,
        "Update the discriminators every k-th step (cell_data_synthesis: every 2nd epoch).",
        min=1,
        max=1000,
    ),
    Param("beta1", 0.5, "Adam β1.", min=0, max=1),
    Param(
        "n_epochs_decay",
        -1,
        "Epochs of linear lr decay at the end (-1: half of --epochs).",
        min=-1,
        max=1_000_000,
    ),
)

GENERATE_PARAMS = (
    Param(
        "tile",
        0,
        "Tile Z,Y,X (Y,X for images; one number = every axis; 0 = the training crop).",
        parse=parse_tile,
        min=0,
        max=8192,
    ),
    Param(
        "overlap",
        0,
        "Tile overlap in voxels, per axis or one number (0 = a quarter of the tile).",
        parse=parse_overlap,
        min=0,
        max=8192,
    ),
    Param("blend", "cosine", "Tile blending window.", choices=("cosine", "gaussian", "none")),
    Param(
        "trim",
        0,
        "Voxels at cut tile edges given zero weight (per axis or one number, ≤ overlap/2; "
        "0 = none; overlap/2 with --blend none = the original's half-cut stitching).",
        parse=parse_overlap,
        min=0,
        max=4096,
    ),
    Param("batch_size", 1, "Tiles per forward pass.", min=1, max=256),
    TEST_DROPOUT,
)


@hookimpl
def register_trainers(register):
    register(
        Component(
            name="cyclegan",
            description="Unpaired translation of 2D images or 3D volumes (CycleGAN; the 3D "
            "recipe of cell_data_synthesis): two ResNet-9 generators, PatchGAN discriminators, "
            "LSGAN + 10·cycle + 0.5·identity, image pools of 50, Adam 2e-4 β1 0.5, constant "
            "then linear lr decay. Generate keeps the simulation's labels.",
            target="celltool_cyclegan.model:CycleGAN",
            params=PARAMS,
            info=TrainerInfo(
                inputs=("REAL", "SIM"),
                data_kinds=("images", "simulation", "generated"),
                data="unpaired",
                dims=(2, 3),
                defaults={"epochs": 200, "batch_size": 1, "lr": 2e-4},
                generate_params=GENERATE_PARAMS,
                cpu_bf16={},  # bf16 autocast: 3.5x fp32 per 3D step with AMX (docs/cyclegan.md)
            ),
        )
    )
