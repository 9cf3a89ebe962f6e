"""pix2pixHD's networks (Wang et al. 2018): global generator, local enhancer, multi-scale
discriminator with intermediate features, and the feature-matching loss.

Written from the paper and the published architecture description: reflection padding, instance
norm, convolutions with biases throughout (as the original), 7×7 stems, 3×3 stride-2 down- and
transposed up-sampling, residual blocks at the bottleneck; discriminators are 4×4 PatchGANs with
padding 2 whose every block's output is returned for feature matching.
"""

from __future__ import annotations

import torch
from torch import nn

from celltool.nn.generators import ResnetBlock
from celltool.nn.layers import norm_layer


def avg_down() -> nn.Module:
    """The 2× down-sampling of pix2pixHD's input pyramids: 3×3 average, stride 2, padding 1,
    padded pixels not counted."""
    return nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)


class GlobalGenerator(nn.Module):
    """``body``: stem, ``n_down`` stride-2 convolutions, ``n_blocks`` residual blocks and as many
    up-sampling steps back to ``ngf`` channels; ``head``: the 7×7 output convolution + tanh.

    The local enhancer uses the body alone (its features are added to the enhancer's)."""

    def __init__(
        self, in_channels: int, out_channels: int, ngf: int = 64, n_down: int = 4,
        n_blocks: int = 9, norm: str = "instance",
    ) -> None:  # fmt: skip
        super().__init__()
        nl = norm_layer(norm)
        act = nn.ReLU(True)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), nl(ngf), act,
        ]  # fmt: skip
        for i in range(n_down):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, 3, 2, 1), nl(c * 2), act]
        c = ngf * 2**n_down
        layers += [ResnetBlock(c, nl, False, True, pad="reflect") for _ in range(n_blocks)]
        for i in range(n_down):
            c = ngf * 2 ** (n_down - i)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), nl(c // 2), act]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh())
        self.factor = 2**n_down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class LocalEnhancer(nn.Module):
    """A global generator (``ngf · 2^n_local`` filters) run on the input down-sampled
    ``n_local`` times, refined by ``n_local`` enhancers, each at twice the previous resolution:
    enhancer n adds its down-sampled features of the input at its scale to the previous
    output features and up-samples them through ``n_blocks_local`` residual blocks.

    ``forward`` is the full network; ``forward_global(x_small)`` is the global generator with
    its own output head, for the coarse stage of coarse-to-fine training."""

    def __init__(
        self, in_channels: int, out_channels: int, ngf: int = 32, n_down_global: int = 4,
        n_blocks_global: int = 9, n_local: int = 1, n_blocks_local: int = 3,
        norm: str = "instance",
    ) -> None:  # fmt: skip
        super().__init__()
        nl = norm_layer(norm)
        self.n_local = n_local
        self.global_net = GlobalGenerator(
            in_channels, out_channels, ngf * 2**n_local, n_down_global, n_blocks_global, norm
        )
        self.down_blocks = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for n in range(1, n_local + 1):
            c = ngf * 2 ** (n_local - n)
            self.down_blocks.append(
                nn.Sequential(
                    nn.ReflectionPad2d(3),
                    nn.Conv2d(in_channels, c, 7),
                    nl(c),
                    nn.ReLU(True),
                    nn.Conv2d(c, c * 2, 3, 2, 1),
                    nl(c * 2),
                    nn.ReLU(True),
                )  # fmt: skip
            )
            up: list[nn.Module] = [
                ResnetBlock(c * 2, nl, False, True, pad="reflect") for _ in range(n_blocks_local)
            ]
            up += [nn.ConvTranspose2d(c * 2, c, 3, 2, 1, output_padding=1), nl(c), nn.ReLU(True)]
            if n == n_local:
                up += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
            self.up_blocks.append(nn.Sequential(*up))
        self.down = avg_down()
        self.factor = 2 ** (n_down_global + n_local)

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[x, x/2, x/4, …]`` (``n_local + 1`` levels)."""
        levels = [x]
        for _ in range(self.n_local):
            levels.append(self.down(levels[-1]))
        return levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = self.pyramid(x)
        h = self.global_net.body(levels[-1])
        for n in range(self.n_local):
            h = self.up_blocks[n](self.down_blocks[n](levels[self.n_local - 1 - n]) + h)
        return h

    def forward_global(self, x_small: torch.Tensor) -> torch.Tensor:
        return self.global_net(x_small)

    def enhancer_parameters(self) -> list[nn.Parameter]:
        return list(self.down_blocks.parameters()) + list(self.up_blocks.parameters())


class NLayerFeatureDiscriminator(nn.Module):
    """PatchGAN of ``n_layers`` stride-2 blocks (4×4, padding 2) + a stride-1 block + the 1-channel
    output; ``forward`` returns the output of every block (the last one is the prediction)."""

    def __init__(
        self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance"
    ) -> None:
        super().__init__()
        nl = norm_layer(norm)
        blocks = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, 2), nn.LeakyReLU(0.2, True))]
        nf = ndf
        for _ in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            blocks.append(
                nn.Sequential(nn.Conv2d(prev, nf, 4, 2, 2), nl(nf), nn.LeakyReLU(0.2, True))
            )
        prev, nf = nf, min(nf * 2, 512)
        blocks.append(nn.Sequential(nn.Conv2d(prev, nf, 4, 1, 2), nl(nf), nn.LeakyReLU(0.2, True)))
        blocks.append(nn.Sequential(nn.Conv2d(nf, 1, 4, 1, 2)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out


class MultiscaleDiscriminator(nn.Module):
    """``num_d`` discriminators of the same architecture on the input at full, 1/2, 1/4, …
    resolution (``avg_down`` between scales); returns one feature list per scale, finest first."""

    def __init__(
        self, in_channels: int, ndf: int = 64, n_layers: int = 3, num_d: int = 2,
        norm: str = "instance",
    ) -> None:  # fmt: skip
        super().__init__()
        self.scales = nn.ModuleList(
            NLayerFeatureDiscriminator(in_channels, ndf, n_layers, norm) for _ in range(num_d)
        )
        self.down = avg_down()
        self.n_layers = n_layers

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out = []
        for i, net in enumerate(self.scales):
            if i:
                x = self.down(x)
            out.append(net(x))
        return out


def feature_matching_loss(
    fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]], n_layers: int
) -> torch.Tensor:
    """pix2pixHD's discriminator feature matching: Σ over scales and every block but the last of
    (1/num_D)·(4/(n_layers+1))·L1(fake features, real features (detached))."""
    weight = (4.0 / (n_layers + 1)) / len(fake)
    loss = fake[0][0].new_zeros((), dtype=torch.float32)
    for fake_scale, real_scale in zip(fake, real, strict=True):
        for f, r in zip(fake_scale[:-1], real_scale[:-1], strict=True):
            loss = loss + weight * nn.functional.l1_loss(f.float(), r.detach().float())
    return loss
