"""A tiny N-D denoiser as a celltool model plugin (the registration: no numpy, no torch)."""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import TrainerInfo
from celltool.training.nd import ND_DATA_PARAMS

PARAMS = ND_DATA_PARAMS + (
    Param("width", 8, "Channels of the hidden layers.", min=1, max=256),
    Param("depth", 3, "Convolution layers.", min=2, max=16),
    Param(
        "noise", 0.1, "Gaussian noise added during training (in [-1, 1] units).", min=0, max=2
    ),  # fmt: skip
)
GENERATE = (
    Param(
        "tile",
        (),
        "Tile size Z,Y,X or Y,X (default: the training crop).",
        min=1,
        max=4096,
        parse=lambda text: tuple(int(v) for v in text.split(",") if v.strip()),
    ),  # fmt: skip
    Param("overlap", 0, "Tile overlap in px (0: a quarter of the tile).", min=0, max=4096),
    Param("blend", "cosine", "Tile blending window.", choices=("cosine", "gaussian", "none")),
    Param("batch_size", 2, "Tiles per forward pass.", min=1, max=256),
)


@hookimpl
def register_trainers(register):
    register(
        Component(
            name="denoise",
            description="A tiny denoiser for 2D images or 3D stacks (an example model plugin).",
            target="celltool_example_denoise.model:Denoise",
            params=PARAMS,
            info=TrainerInfo(
                inputs=("IMAGES",),
                data_kinds=("images", "simulation", "generated"),
                data="unconditional",
                dims=(2, 3),
                defaults={"epochs": 10, "batch_size": 2, "lr": 1e-3},
                generate_params=GENERATE,
            ),
        )
    )
