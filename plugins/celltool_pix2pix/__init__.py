"""pix2pix (Isola et al. 2017) as a celltool trainer: ``celltool train pix2pix PAIRS -o RUN``."""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.training.data import DATA_PARAMS  # numpy only, no torch

PARAMS = DATA_PARAMS + (
    Param("netG", "unet_256", "Generator: unet_256, unet_128 (any unet_<2^k>), resnet_9blocks."),
    Param(
        "netD",
        "basic",
        "Discriminator: basic (PatchGAN 70×70), n_layers, pixel.",
        choices=("basic", "n_layers", "pixel"),
    ),  # fmt: skip
    Param("n_layers_D", 3, "Layers of the n_layers discriminator."),
    Param("ngf", 64, "Generator filters in the first layer."),
    Param("ndf", 64, "Discriminator filters in the first layer."),
    Param("norm", "batch", "Normalisation.", choices=("batch", "instance", "none")),
    Param("dropout", True, "Dropout 0.5 in the U-Net's inner decoder (or the ResNet blocks)."),
    Param("gan_mode", "vanilla", "GAN loss.", choices=("vanilla", "lsgan", "hinge")),
    Param("lambda_l1", 100.0, "Weight of the L1 loss."),
    Param("beta1", 0.5, "Adam β1."),
    Param("n_epochs_decay", -1, "Epochs of linear lr decay at the end (-1: half of --epochs)."),
    Param("channels_last", False, "Channels-last memory format (faster on CPU with bf16)."),
    Param(
        "compile",
        False,
        "torch.compile G and D (training) and G with frozen weights (generate; ~30 s once).",
    ),
    Param("fused_adam", False, "Fused Adam kernels."),
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
            info={
                "defaults": {"epochs": 200, "batch_size": 1, "lr": 2e-4},
                "generate_params": (
                    Param(
                        "compile",
                        False,
                        "torch.compile G with frozen weights: ~30 s once, then 2-2.7x faster "
                        "on CPU (on by default when the run was trained with compile).",
                    ),
                ),
            },
        )
    )
