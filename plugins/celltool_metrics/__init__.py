"""Built-in metrics for ``celltool evaluate``: image, sequence, volume and segmentation families.

Targets (imported only when used), by ``info["kind"]``:

- image: ``f(real, gen, *, data_range, **params) -> float``
- sequence: ``f(real_frames, gen_frames, *, data_range, **params) -> dict`` (scalars + "curves")
- volume: ``f(real, gen, *, data_range, [real_mask, gen_mask,] **params) -> dict``
- segmentation: ``f(gt_labels, pred_labels) -> float | dict``
- distribution: an object with ``features(image, **params)`` per image and
  ``compare(real_features, gen_features, **params) -> dict`` over the two sets (no pairing:
  generated masks are samples)
"""

from celltool import hookimpl
from celltool.components import Component, Param, parse_device, parse_floats
from celltool.contracts import METRIC_KINDS

M = "celltool_metrics"


def _c(name, target, kind, higher, description, params=(), **info):
    return Component(
        name=name,
        description=description,
        target=target,
        params=tuple(params),
        info=METRIC_KINDS[kind](higher_is_better=higher, **info),
    )


SSIM_WINDOW = Param(
    "ssim_window",
    "gaussian",
    "SSIM window: gaussian (Wang et al., σ 1.5) or uniform7 (skimage default, as "
    "Biomedical-Image-Generation's Metrics.py).",
    choices=("gaussian", "uniform7"),
)
LPIPS_PARAMS = (
    Param("lpips_net", "alex", "LPIPS backbone.", choices=("alex", "vgg")),
    Param(
        "lpips_weights",
        "",
        "LPIPS backbone weights file (env CELLTOOL_LPIPS_WEIGHTS; see `celltool lpips-weights`).",
        input=True,
    ),
    Param("lpips_device", "cpu", "torch device for LPIPS (cpu, cuda, cuda:N).", parse=parse_device),
)

METRICS = (
    # image pairs
    _c("psnr", f"{M}.image:psnr", "image", True, "PSNR in dB: 10·log10(range²/MSE)."),
    _c("ssim", f"{M}.image:ssim", "image", True, "Mean SSIM.", (SSIM_WINDOW,)),
    _c("mse", f"{M}.image:mse", "image", False, "Mean squared error."),
    _c("mae", f"{M}.image:mae", "image", False, "Mean absolute error."),
    _c("pearson", f"{M}.image:pearson", "image", True, "Pearson r of the pixel values."),
    _c("cross_entropy", f"{M}.image:cross_entropy", "image", False, "Histogram cross-entropy."),
    _c("bhattacharyya", f"{M}.image:bhattacharyya", "image", True, "Bhattacharyya coefficient."),
    _c(
        "bhattacharyya_distance",
        f"{M}.image:bhattacharyya_distance",
        "image",
        False,
        "Bhattacharyya distance −ln(BC).",
    ),
    _c("gradient_error", f"{M}.image:gradient_error", "image", False, "Sobel gradient error."),
    _c("iou", f"{M}.image:iou", "image", True, "IoU of the images thresholded at mid-range."),
    _c(
        "lpips",
        f"{M}.lpips_metric:lpips_distance",
        "image",
        False,
        "LPIPS v0.1 (needs torch and backbone weights).",
        LPIPS_PARAMS,
        default=False,
    ),
    # sequences
    _c("motion", f"{M}.sequence:motion", "sequence", True, "Farnebäck flow cosine + magnitudes."),
    _c(
        "frame_difference",
        f"{M}.sequence:frame_difference",
        "sequence",
        False,
        "Frame-to-frame difference norms.",
    ),
    _c(
        "objects",
        f"{M}.sequence:objects",
        "sequence",
        False,
        "Object count and coverage curves (errors).",
        (Param("min_object_size", 10, "Smallest object counted, in px.", min=0, max=10**9),),
    ),
    _c("per_step", f"{M}.sequence:per_step", "sequence", True, "PSNR/SSIM/MAE per time step."),
    # volumes
    _c(
        "wasserstein_depth",
        f"{M}.volume:wasserstein_depth",
        "volume",
        True,
        "Normalised Wasserstein score per slice and region (needs masks).",
        needs_masks=True,
    ),
    _c(
        "edge_depth",
        f"{M}.volume:edge_depth",
        "volume",
        False,
        "q95 Sobel edge strength vs depth (error).",
        (
            Param("edge_tile", 100, "Tile size in px for the edge profile.", min=4, max=100_000),
            Param(
                "edge_min_length", 50, "Shortest tile profile kept, in slices.", min=1, max=100_000
            ),
            Param(
                "edge_min_peak",
                0.026,
                "Smallest peak edge strength of a kept tile.",
                min=0,
                max=1e6,
            ),
        ),
    ),
    # segmentation (instance label maps)
    _c("seg", f"{M}.segmentation:seg", "segmentation", True, "CTC SEG."),
    _c("det", f"{M}.segmentation:det", "segmentation", True, "CTC DET."),
    _c(
        "ap",
        f"{M}.segmentation:average_precision",
        "segmentation",
        True,
        "Mean AP over IoU 0.5:0.95.",
    ),
    _c(
        "ap_at",
        f"{M}.segmentation:ap_at",
        "segmentation",
        True,
        "AP = TP/(TP+FP+FN) at single IoU thresholds (default 0.5, 0.75, 0.9).",
        (
            Param(
                "ap_thresholds",
                (0.5, 0.75, 0.9),
                "IoU thresholds of ap_at, comma-separated.",
                parse=parse_floats,
                min=0.01,
                max=1.0,
            ),
        ),
        default=False,
    ),
    _c(
        "f1",
        f"{M}.segmentation:detection_at_50",
        "segmentation",
        True,
        "Precision/recall/F1 at IoU 0.5.",
    ),
    _c("pq", f"{M}.segmentation:panoptic_quality", "segmentation", True, "Panoptic quality."),
    # mask sets (distribution metrics: generated masks against real ones, unpaired)
    _c(
        "mask_shapes",
        f"{M}.masks:mask_shapes",
        "distribution",
        False,
        "Mask sets: count, coverage, area, eccentricity, solidity, perimeter²/area, "
        "nearest-neighbour distance; W1/std(real) per distribution, means, count/coverage "
        "errors.",
        (Param("mask_min_size", 1, "Smallest object counted, in px.", min=1, max=10**9),),
        default=False,
    ),
    _c(
        "mask_merge_split",
        f"{M}.masks:mask_merge_split",
        "distribution",
        False,
        "Mask sets: fractions of objects > 2× / < ½ the real median area (merged / split).",
        default=False,
    ),
    _c(
        "kid_fid",
        f"{M}.inception:kid_fid_metric",
        "distribution",
        False,
        "Mask sets: KID and FID with Inception-v3 (weights file needed; off-domain for masks).",
        (
            Param(
                "inception_weights",
                "",
                "Inception-v3 state_dict file (torchvision layout; see docs/stylegan.md).",
                input=True,
            ),
            Param("inception_device", "cpu", "torch device for Inception.", parse=parse_device),
            Param(
                "inception_size", 299, "Input size of the masks for Inception.", min=75, max=1024
            ),  # fmt: skip
            Param("kid_subsets", 100, "KID subsets.", min=1, max=10_000),
        ),
        default=False,
    ),
    _c(
        "aji",
        f"{M}.segmentation:aggregated_jaccard",
        "segmentation",
        True,
        "Aggregated Jaccard index.",
    ),
)


@hookimpl
def register_metrics(register):
    for component in METRICS:
        register(component)


@hookimpl
def register_commands(app):
    from celltool_metrics.commands import add

    add(app)
