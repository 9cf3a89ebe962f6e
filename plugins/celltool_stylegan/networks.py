"""The generator (mapping + synthesis) and discriminator of each configuration.

| config | synthesis | mapping layers | G lr | style mixing | path length reg. |
|---|---|---|---|---|---|
| stylegan2 | 'skip' + noise | 8 | 0.002 | 0.9 | 2 (every 4th step) |
| stylegan3-t | alias-free, 3×3, separable filters | 2 | 0.0025 | 0 | 0 |
| stylegan3-r | alias-free, 1×1, radial filters, 2× channels | 2 | 0.0025 | 0 | 0 |

(NVlabs' train.py defaults; D is StyleGAN2's residual discriminator for every config.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from celltool_stylegan.layers import Mapping as MappingNet
from celltool_stylegan.stylegan2 import Discriminator, Synthesis2
from celltool_stylegan.stylegan3 import Synthesis3

CONFIGS = ("stylegan3-t", "stylegan3-r", "stylegan2")
CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "stylegan2": {"map_layers": 8, "glr": 0.002, "style_mixing": 0.9, "pl_weight": 2.0},
    "stylegan3-t": {"map_layers": 2, "glr": 0.0025, "style_mixing": 0.0, "pl_weight": 0.0},
    "stylegan3-r": {"map_layers": 2, "glr": 0.0025, "style_mixing": 0.0, "pl_weight": 0.0},
}


OUTPUTS = ("tanh", "linear")


class Generator(nn.Module):
    """z → w (mapping) → image (synthesis, then the output function); ``num_ws`` per-layer w
    vectors. ``output`` 'linear' is StyleGAN's; 'tanh' lets a mask's flat background and
    foreground be reached (a linear output must hit exactly ±1 everywhere, and D tells fakes
    from masks by the residual noise of the flat areas)."""

    def __init__(self, synthesis: nn.Module, z_dim: int, w_dim: int, map_layers: int,
                 w_avg_beta: float = 0.998, output: str = "linear"):  # fmt: skip
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, not {output!r}")
        self.synthesis = synthesis
        self.num_ws = synthesis.num_ws
        self.z_dim, self.w_dim = z_dim, w_dim
        self.output = output
        self.mapping = MappingNet(z_dim, w_dim, self.num_ws, map_layers, w_avg_beta=w_avg_beta)

    def synthesize(self, ws: torch.Tensor, **kwargs) -> torch.Tensor:
        """Synthesis network + output function."""
        img = self.synthesis(ws, **kwargs)
        return torch.tanh(img) if self.output == "tanh" else img

    def forward(
        self,
        z: torch.Tensor,
        truncation_psi: float = 1.0,
        noise_mode: str = "random",
        update_emas: bool = False,
    ) -> torch.Tensor:
        ws = self.mapping(z, truncation_psi, update_emas=update_emas)
        return self.synthesize(ws, noise_mode=noise_mode, update_emas=update_emas)


def option(config: Mapping[str, Any], name: str) -> Any:
    """A config value where 0 (glr, map_layers) or a negative value (style_mixing, pl_weight)
    means "the configuration's default"."""
    value = config.get(name)
    if value is None or (name in ("style_mixing", "pl_weight") and value < 0):
        return CONFIG_DEFAULTS[config["cfg"]][name]
    if name in ("glr", "map_layers") and not value:
        return CONFIG_DEFAULTS[config["cfg"]][name]
    return value


def make_generator(config: Mapping[str, Any], channels: int) -> Generator:
    """The generator the config describes (``cfg``, ``resolution``, ``cbase``, ``cmax``,
    ``w_dim``, ``map_layers``, ``sg3_layers``, ``batch_size``)."""
    name, res = config["cfg"], int(config["resolution"])
    cbase, cmax, w_dim = int(config["cbase"]), int(config["cmax"]), int(config["w_dim"])
    if name == "stylegan2":
        synthesis: nn.Module = Synthesis2(w_dim, res, channels, cbase, cmax)
    elif name in ("stylegan3-t", "stylegan3-r"):
        r = name == "stylegan3-r"
        beta = 0.5 ** (int(config.get("batch_size") or 4) / 20_000)  # NVlabs' magnitude EMA
        synthesis = Synthesis3(
            w_dim, res, channels, cbase * (2 if r else 1), cmax * (2 if r else 1),
            layers=int(config.get("sg3_layers") or 14), radial=r, kernel=1 if r else 3,
            magnitude_ema_beta=beta,
        )  # fmt: skip
    else:
        raise ValueError(f"unknown config {name!r} (expected one of {CONFIGS})")
    output = str(config.get("output") or "linear")
    return Generator(synthesis, w_dim, w_dim, int(option(config, "map_layers")), output=output)


def make_discriminator(config: Mapping[str, Any], channels: int) -> Discriminator:
    return Discriminator(
        int(config["resolution"]), channels, int(config["cbase"]), int(config["cmax"]),
        mbstd=int(config.get("mbstd_group") or 4),
    )  # fmt: skip


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
