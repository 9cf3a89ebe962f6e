"""The temporal "dual" model: ``celltool train dual PAIRS -o RUN`` on temporal pairs
(``celltool split --pairs temporal``), ``celltool generate RUN START --steps N`` for sequences.

Render (sketch_{t+1}, image_t) → image_{t+1}, sketch image → sketch, motion (sketch_t,
image_t) → sketch_{t+1}; a temporal PatchGAN on (image_t, image_{t+1}, sketch_{t+1}); multi-step
roll-outs with scheduled sampling. ``--variant sequence-generation`` is Sequence-Generation's
model (sketch_t → image_t, image → sketch, iterated). See docs/dual.md.
"""

from dataclasses import replace
from pathlib import Path

from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import TrainerInfo
from celltool.training.options import DATA_PARAMS, GAN_PARAMS, TEST_DROPOUT, TILING_PARAMS

_pix2pix = GAN_PARAMS  # the shared network/loss options

PARAMS = tuple(p for p in DATA_PARAMS if p.name != "direction") + (
    Param(
        "variant",
        "dual",
        "dual (learns motion) or sequence-generation (Sequence-Generation's sketch_t → "
        "image_t, image → sketch, iterated; 'seed' is its old name).",
        choices=("dual", "sequence-generation", "seed"),
    ),
    _pix2pix["netG"],
    _pix2pix["ngf"],
    _pix2pix["ndf"],
    _pix2pix["norm"],
    replace(_pix2pix["dropout"], default=False),  # recursion should be deterministic
    _pix2pix["gan_mode"],
    _pix2pix["lambda_l1"],
    Param("lambda_gan", 1.0, "Weight of the (temporal) GAN loss."),
    Param("lambda_motion", 100.0, "Weight of the motion model's L1 loss on sketch_{t+1}."),
    Param("lambda_sketch", 100.0, "Weight of the sketch model's L1 loss on real frames."),
    Param("lambda_cycle", 10.0, "Weight of the sketch cycle loss sketch(render(s, x)) ≈ s."),
    Param("rollout", 3, "Roll-out steps per training item (needs chains of rollout+1 frames)."),
    Param("teacher_start", 1.0, "Scheduled sampling: chance of feeding real frames, first epoch."),
    Param("teacher_end", 0.0, "Chance of feeding real frames in the last epoch (linear)."),
    _pix2pix["beta1"],
    _pix2pix["n_epochs_decay"],
)

GENERATE_PARAMS = TILING_PARAMS + (
    TEST_DROPOUT,
    Param("steps", 0, "Frames to generate after each start frame.", min=1, max=100_000),
    Param(
        "between",
        (),
        "Generate --steps frames between two real frames A B (they may be the only inputs).",
        type=Path,
        nargs=2,
        input=True,
    ),
    Param(
        "motion",
        "auto",
        "How sketches move: fitted (the stochastic motion model fitted to the training frames), "
        "net (the motion network), auto (fitted when the run has one, else net).",
        choices=("auto", "fitted", "net"),
    ),
    Param(
        "start_sketches",
        "",
        "Folder of sketches of the start frames (same stems); default: the sketch model's.",
        input=True,
    ),
)


@hookimpl
def register_trainers(register):
    register(
        Component(
            name="dual",
            description="Temporal dual model: render (sketch_{t+1}, image_t) → image_{t+1}, "
            "sketch model, motion model, temporal PatchGAN, scheduled-sampling roll-outs; "
            "--variant sequence-generation for Sequence-Generation's iterated sketch → image → "
            "sketch.",
            target="celltool_dual.model:Dual",
            params=PARAMS,
            info=TrainerInfo(
                inputs=("PAIRS",),
                data="temporal",
                defaults={"epochs": 200, "batch_size": 1, "lr": 2e-4},
                generate_params=GENERATE_PARAMS,
            ),
        )
    )
