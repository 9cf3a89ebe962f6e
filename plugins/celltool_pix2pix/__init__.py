"""pix2pix (Isola et al. 2017) as a celltool trainer: ``celltool train pix2pix PAIRS -o RUN``."""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import TrainerInfo
from celltool.training.options import DATA_PARAMS, GAN_PARAMS, TEST_DROPOUT, TILING_PARAMS

PARAMS = (
    DATA_PARAMS
    + tuple(GAN_PARAMS.values())
    + (
        Param("channels_last", False, "Channels-last memory format (faster on CPU with bf16)."),
        Param(
            "compile",
            False,
            "torch.compile G and D (training) and G with frozen weights (generate; ~30 s once).",
        ),
        Param(
            "fused_adam",
            True,
            "Fused Adam (one kernel over all parameters; 1.2-1.5x faster fp32 training on CPU, "
            "same losses). --no-fused-adam: torch's default Adam. Recorded in the run.",
        ),
    )
)


@hookimpl
def register_trainers(register):
    register(
        Component(
            name="pix2pix",
            description="Paired image-to-image GAN: U-Net/ResNet generator, PatchGAN, "
            "GAN + 100·L1, Adam 2e-4 β1 0.5, constant then linear lr decay.",
            target="celltool_pix2pix.model:Pix2Pix",
            params=PARAMS,
            info=TrainerInfo(
                inputs=("PAIRS",),
                data="paired",
                # the measured fast bf16 path on CPUs with AVX-512 BF16/AMX (docs/training.md)
                cpu_bf16={"master_weights": True, "channels_last": True, "fused_adam": True},
                defaults={"epochs": 200, "batch_size": 1, "lr": 2e-4},
                generate_params=TILING_PARAMS
                + (
                    TEST_DROPOUT,
                    Param(
                        "compile",
                        False,
                        "torch.compile G with frozen weights: ~30 s once, then 2-2.7x faster "
                        "on CPU (on by default when the run was trained with compile).",
                    ),
                ),
            ),
        )
    )
