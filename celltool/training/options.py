"""Options of ``celltool train`` and ``celltool generate`` common to every model (no torch
import here, so that ``--help`` stays fast). Models add their own through their Component."""

from __future__ import annotations

from celltool.components import Param

FRAMEWORK_PARAMS: tuple[Param, ...] = (
    Param("epochs", 0, "Training epochs (0: the model's default)."),
    Param("batch_size", 0, "Images per step and process (0: the model's default)."),
    Param("lr", 0.0, "Learning rate (0: the model's default)."),
    Param("device", "auto", "auto | cpu | cuda | cuda:N."),
    Param("precision", "fp32", "Autocast precision.", choices=("fp32", "bf16", "fp16")),
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
    Param("seed", 0, "Random seed: weights, data order, augmentation, dropout."),
    Param("workers", 0, "Data-loader worker processes (0: load in the main process)."),
    Param("save_every", 10, "Keep a checkpoint every N epochs (latest is always kept; 0: none)."),
    Param("checkpoint_steps", 0, "Also write the latest checkpoint every N steps (0: per epoch)."),
    Param("log_every", 1, "Write losses to logs/losses.jsonl every N steps."),
    Param("samples", 4, "Images in the per-epoch sample grid."),
    Param("deterministic", True, "Deterministic algorithms (exact resume; slower on GPU)."),
    Param("threads", 0, "CPU threads for torch (0: torch's default)."),
    Param(
        "tensorboard", False, "Also log to TensorBoard (if the tensorboard package is installed)."
    ),
)

# `celltool generate` options every model receives in GenerateJob.options (models may add
# their own through Component.info["generate_params"]). --steps/--between are command options.
GENERATE_PARAMS: tuple[Param, ...] = (
    Param("tile", 0, "Tile size in px (0: the training crop size)."),
    Param("overlap", 0, "Tile overlap in px (0: a quarter of the tile)."),
    Param("blend", "cosine", "Tile blending window.", choices=("cosine", "gaussian", "none")),
    Param("batch_size", 4, "Tiles or images per forward pass."),
    Param("dropout", False, "Keep dropout on at test time (the pix2pix paper's noise)."),
)
