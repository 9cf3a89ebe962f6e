"""N-D tiled inference (celltool.training.tiling): equal to a whole-input pass, no seams."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _local_net(dims: int) -> torch.nn.Module:
    """A small untrained fixed-seed network with down- and up-sampling (factor 2), zero
    padding and a receptive-field radius of 4 voxels: border effects at every tile edge."""
    from torch import nn

    conv = nn.Conv3d if dims == 3 else nn.Conv2d
    up = nn.ConvTranspose3d if dims == 3 else nn.ConvTranspose2d
    torch.manual_seed(0)
    return nn.Sequential(
        conv(1, 4, 3, padding=1), nn.ReLU(), conv(4, 4, 3, stride=2, padding=1), nn.ReLU(),
        up(4, 1, 4, stride=2, padding=1), nn.Tanh(),
    ).eval()  # fmt: skip


def _radius(net: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """The receptive-field radius, measured: how far one changed voxel changes the output."""
    x = torch.zeros(1, 1, *shape)
    y = x.clone()
    centre = tuple(s // 2 for s in shape)
    y[(0, 0, *centre)] = 1
    changed = ((net(y) - net(x)).abs()[0, 0] > 0).nonzero()
    return int(max((changed - torch.tensor(centre)).abs().max(), 1))


@pytest.mark.parametrize(
    "shape, tile, overlap, trim",
    [((1, 64, 80), (32, 32), (16, 16), (8, 8)),
     ((1, 24, 48, 40), (12, 24, 24), (8, 12, 12), (4, 6, 6))],
)  # fmt: skip
def test_trimmed_tiles_equal_a_whole_volume_pass(shape, tile, overlap, trim):
    """With zero weight on the ``trim`` voxels next to cut tile edges (trim ≥ receptive-field
    radius), every voxel is blended only from tiles that saw its whole receptive field: the
    result equals the whole-input pass up to float rounding."""
    from celltool.training.tiling import tiled_apply

    dims = len(shape) - 1
    net = _local_net(dims)
    assert _radius(net, shape[1:]) <= min(trim)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = net(x[None])[0]
        tiled = tiled_apply(net, x, tile=tile, overlap=overlap, factor=2, trim=trim, batch_size=3)
        blended = tiled_apply(net, x, tile=tile, overlap=overlap, factor=2)  # trim 0
    assert tiled.shape == full.shape
    assert float((tiled - full).abs().max()) < 1e-5
    # without the trim the tile-edge outputs count a little: close, not equal
    err = (blended - full).abs()
    assert float(err.max()) > 1e-5 and float(err.mean()) < 0.05 * float(full.std())


def test_no_seam_on_a_constant_input():
    """A constant volume: away from the volume's border (zero padding) the network's output
    is the same everywhere up to its stride-2 period. Tiled, interior tile edges must not
    show: the result equals that pattern inside the volume (trim: exactly; cosine: within 5 %
    of the border effect), while plain averaging of the tiles leaves visible seams."""
    from celltool.training.tiling import tiled_apply

    net = _local_net(3)
    x = torch.full((1, 24, 64, 64), 0.5)
    opts = dict(tile=(12, 32, 32), overlap=(8, 16, 16), factor=2, batch_size=4)
    with torch.no_grad():
        full = net(x[None])[0]
        border = float((full - full[0, 12, 32, 32]).abs().max())  # the padding's effect
        inner = (0, slice(4, -4), slice(4, -4), slice(4, -4))
        core = full[inner]
        for axis in (0, 1, 2):  # periodic with the factor away from the border
            assert float((core - torch.roll(core, 2, axis)).abs().max()) < 1e-6
        trimmed = tiled_apply(net, x, trim=(4, 8, 8), **opts)
        cosine = tiled_apply(net, x, blend="cosine", **opts)
        plain = tiled_apply(net, x, blend="none", **opts)
    seam = {k: float((v - full)[inner].abs().max()) for k, v in
            {"trim": trimmed, "cosine": cosine, "none": plain}.items()}  # fmt: skip
    assert seam["trim"] < 1e-6
    # measured: trim 0, cosine 0.0018, none 0.0195 for a border effect of 0.071
    assert seam["cosine"] < 0.05 * border and seam["cosine"] < 0.2 * seam["none"]
    assert seam["none"] > 0.2 * border  # the test can fail: averaging shows the tile edges
    # a pointwise function: the weights are normalised everywhere, exactly
    const = tiled_apply(lambda t: t * 2 + 1, x, **opts)
    assert float((const - 2.0).abs().max()) < 1e-6


def test_tile_grid_and_batching_cover_the_volume():
    """Per-axis tiles and overlaps, sizes the factor does not divide (padded), batches of
    tiles: an identity network returns the input exactly; tiles follow the factor's grid."""
    from celltool.training.tiling import tiled_apply

    seen = []

    def fn(t):
        seen.append(tuple(t.shape))
        assert all(s % 4 == 0 for s in t.shape[2:])
        return t.clone()

    x = torch.rand(2, 19, 45, 70)
    out = tiled_apply(fn, x, tile=(8, 16, 32), overlap=(4, 8, 8), factor=4, batch_size=5)
    assert out.shape == x.shape and torch.allclose(out, x, atol=1e-6)
    assert all(s[0] <= 5 and s[2:] == (8, 16, 32) for s in seen)
    # one tile for a small volume: one padded pass
    seen.clear()
    small = torch.rand(1, 5, 9, 10)
    assert torch.allclose(tiled_apply(fn, small, tile=16, overlap=4, factor=4), small)
    assert seen == [(1, 1, 8, 12, 12)]
    with pytest.raises(ValueError, match="trim"):
        tiled_apply(fn, x, tile=(8, 16, 32), overlap=(4, 8, 8), factor=4, trim=3)
    with pytest.raises(ValueError, match="overlap"):
        tiled_apply(fn, x, tile=8, overlap=8, factor=4)
