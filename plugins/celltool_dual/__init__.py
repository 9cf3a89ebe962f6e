"""The temporal "dual" model: ``celltool train dual PAIRS -o RUN`` on temporal pairs
(``celltool split --pairs temporal``), ``celltool generate RUN START --steps N`` for sequences.

Render (sketch_{t+1}, image_t) → image_{t+1}, sketch image → sketch, motion (sketch_t,
image_t) → sketch_{t+1}; a temporal PatchGAN on (image_t, image_{t+1}, sketch_{t+1}); multi-step
roll-outs with scheduled sampling. ``--variant seed`` is the Sequence-Generation seed's model
(sketch_t → image_t, image → sketch, iterated). See docs/dual.md.
"""

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.training.data import DATA_PARAMS  # numpy only, no torch

PARAMS = tuple(p for p in DATA_PARAMS if p.name != "direction") + (
    Param(
        "variant",
        "dual",
        "dual (learns motion) or seed (the seed's sketch_t → image_t, image → sketch, iterated).",
        choices=("dual", "seed"),
    ),
    Param("netG", "unet_256", "Generators: unet_<2^k> or resnet_<n>blocks (all three)."),
    Param("ngf", 64, "Generator filters in the first layer."),
    Param("ndf", 64, "Discriminator filters in the first layer."),
    Param("norm", "batch", "Normalisation.", choices=("batch", "instance", "none")),
    Param("dropout", False, "Dropout 0.5 in the generators' inner layers."),
    Param(
        "gan_mode",
        "vanilla",
        "GAN loss (one type for D and G).",
        choices=("vanilla", "lsgan", "hinge"),
    ),  # fmt: skip
    Param("lambda_l1", 100.0, "Weight of the image L1 loss."),
    Param("lambda_gan", 1.0, "Weight of the (temporal) GAN loss."),
    Param("lambda_motion", 100.0, "Weight of the motion model's L1 loss on sketch_{t+1}."),
    Param("lambda_sketch", 100.0, "Weight of the sketch model's L1 loss on real frames."),
    Param("lambda_cycle", 10.0, "Weight of the sketch cycle loss sketch(render(s, x)) ≈ s."),
    Param("rollout", 3, "Roll-out steps per training item (needs chains of rollout+1 frames)."),
    Param("teacher_start", 1.0, "Scheduled sampling: chance of feeding real frames, first epoch."),
    Param("teacher_end", 0.0, "Chance of feeding real frames in the last epoch (linear)."),
    Param("beta1", 0.5, "Adam β1."),
    Param("n_epochs_decay", -1, "Epochs of linear lr decay at the end (-1: half of --epochs)."),
)

GENERATE_PARAMS = (
    Param(
        "start_sketches",
        "",
        "Folder of sketches of the start frames (same stems); default: the sketch model's.",
    ),
)


@hookimpl
def register_trainers(register):
    register(
        Component(
            name="dual",
            description="Temporal dual model: render (sketch_{t+1}, image_t) → image_{t+1}, "
            "sketch model, motion model, temporal PatchGAN, scheduled-sampling roll-outs; "
            "--variant seed for the seed's iterated sketch → image → sketch.",
            target="celltool_dual.model:Dual",
            params=PARAMS,
            info={
                "defaults": {"epochs": 200, "batch_size": 1, "lr": 2e-4},
                "generate_params": GENERATE_PARAMS,
            },
        )
    )
