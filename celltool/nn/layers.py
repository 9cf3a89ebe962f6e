"""Layers by dimensionality (2 = images, 3 = volumes) and the pix2pix weight initialisation."""

from __future__ import annotations

import functools
from collections.abc import Callable

from torch import nn

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_CONV_T = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_BATCH = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_INSTANCE = {2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
_PAD = {
    ("reflect", 2): nn.ReflectionPad2d,
    ("reflect", 3): nn.ReflectionPad3d,
    ("replicate", 2): nn.ReplicationPad2d,
    ("replicate", 3): nn.ReplicationPad3d,
    ("zero", 2): nn.ZeroPad2d,
    ("zero", 3): nn.ZeroPad3d,
}
NORMS = ("batch", "instance", "none")
PADDINGS = ("reflect", "replicate", "zero")


def check_dims(dims: int) -> int:
    if dims not in (2, 3):
        raise ValueError(f"networks are 2D or 3D, not {dims}D")
    return dims


def conv(dims: int) -> type[nn.Module]:
    """``nn.Conv2d`` or ``nn.Conv3d``."""
    return _CONV[check_dims(dims)]


def conv_transpose(dims: int) -> type[nn.Module]:
    return _CONV_T[check_dims(dims)]


def padding(kind: str, dims: int) -> type[nn.Module]:
    """Reflection, replication or zero padding layer (``kind``: reflect, replicate, zero)."""
    try:
        return _PAD[(kind, check_dims(dims))]
    except KeyError:
        raise ValueError(f"unknown padding {kind!r} (one of {', '.join(PADDINGS)})") from None


def norm_layer(kind: str, dims: int = 2) -> Callable[[int], nn.Module]:
    """A factory ``channels -> layer``: batch norm (affine, running statistics), instance norm
    (no affine, no running statistics, as pix2pix and cell_data_synthesis), or none."""
    if kind == "batch":
        return functools.partial(_BATCH[check_dims(dims)], affine=True, track_running_stats=True)
    if kind == "instance":
        return functools.partial(
            _INSTANCE[check_dims(dims)], affine=False, track_running_stats=False
        )
    if kind == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"unknown norm {kind!r} (one of {', '.join(NORMS)})")


def uses_bias(norm: Callable[[int], nn.Module]) -> bool:
    """Convolutions before a batch norm need no bias (its shift replaces it)."""
    func = getattr(norm, "func", None)
    return func not in (nn.BatchNorm2d, nn.BatchNorm3d)


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """N(0, gain) for convolutions and linear layers, N(1, gain) for batch-norm scales, zero
    biases (pix2pix, CycleGAN)."""
    convs = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
    for m in net.modules():
        if isinstance(m, convs):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
