"""Units of the trainer framework and pix2pix: tiling, networks, losses, schedule, data."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _net():
    from celltool.nn.generators import make_generator
    from celltool.nn.layers import init_weights

    torch.manual_seed(0)
    net = make_generator("resnet_1blocks", 1, 1, 4, "batch", False)
    init_weights(net, 0.1)
    return net.eval()


def test_tiled_inference_matches_full_pass_without_seams():
    from celltool.training.tiling import tiled_apply

    net = _net()
    g = torch.Generator().manual_seed(1)
    image = torch.rand(1, 150, 170, generator=g) * 2 - 1
    with torch.no_grad():
        full = tiled_apply(net, image, tile=256, overlap=0, factor=4)  # one padded pass
        tiled = tiled_apply(net, image, tile=64, overlap=32, factor=4, batch_size=3)
        hard = tiled_apply(net, image, tile=64, overlap=32, factor=4, blend="none")
    assert full.shape == tiled.shape == (1, 150, 170)
    err = (tiled - full).abs()
    scale = float(full.std())
    assert float(err.mean()) < 0.05 * scale and float(err.max()) < 0.5 * scale
    assert float(err.mean()) < 0.5 * float((hard - full).abs().mean())  # blending beats averaging
    # no seams: the error does not concentrate on the tile borders
    col_err = err[0].mean(0)
    assert float(col_err.max()) < 0.1 * scale


def test_tiling_pads_sizes_the_network_cannot_take():
    from celltool.training.tiling import starts, tiled_apply

    assert starts(100, 64, 48) == [0, 36]
    assert starts(64, 64, 48) == [0]
    calls = []

    def fn(x):
        calls.append(tuple(x.shape))
        assert x.shape[-1] % 32 == 0 and x.shape[-2] % 32 == 0
        return x * 2

    image = torch.rand(1, 37, 45)
    out = tiled_apply(fn, image, tile=64, overlap=16, factor=32)
    assert torch.allclose(out, image * 2) and calls == [(1, 1, 64, 64)]


def test_network_shapes_and_receptive_field():
    from celltool.nn.discriminators import make_discriminator
    from celltool.nn.generators import make_generator

    g = make_generator("unet_256", 1, 1, 64, "batch", True)
    n = sum(p.numel() for p in g.parameters())
    assert 54.0e6 < n < 54.6e6  # the standard unet_256 with 1 channel in/out
    small = make_generator("unet_128", 1, 1, 4, "instance", True)
    assert small(torch.zeros(1, 1, 128, 128)).shape == (1, 1, 128, 128)
    d = make_discriminator("basic", 2, 8, 3, "batch")
    assert d(torch.zeros(1, 2, 256, 256)).shape == (1, 1, 30, 30)  # 70×70 PatchGAN
    # a change at one pixel reaches at most a 70×70 window of patches: 70 px = 8 or 9 outputs
    d.eval()
    x = torch.zeros(1, 2, 256, 256)
    y = torch.zeros(1, 2, 256, 256)
    y[:, :, 128, 128] = 1
    changed = (d(x) - d(y)).abs()[0, 0] > 0
    rows = changed.any(1).nonzero()
    assert 4 <= len(rows) <= 9
    r = make_generator("resnet_9blocks", 3, 3, 8, "instance", False)
    assert r(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_gan_losses():
    from celltool.nn.losses import GANLoss

    pred = torch.tensor([[2.0, -1.0]])
    v = GANLoss("vanilla")(pred, True)
    assert torch.isclose(v, torch.nn.functional.softplus(-pred).mean())
    assert torch.isclose(GANLoss("lsgan")(pred, False), (pred**2).mean())
    hinge = GANLoss("hinge")
    assert torch.isclose(hinge(pred, True), torch.tensor((0 + 2) / 2))
    assert torch.isclose(hinge(pred, False), torch.tensor((3 + 0) / 2))
    assert torch.isclose(hinge(pred, True, for_discriminator=False), torch.tensor(-0.5))


def test_linear_decay_schedule():
    from celltool.training.schedules import linear_decay

    f = linear_decay(200, 100)
    rates = [f(e) for e in range(200)]
    assert rates[:100] == [1.0] * 100  # epochs 1..100 at the full rate (epoch e uses f(e-1))
    assert rates[100] == pytest.approx(1 - 1 / 101) and rates[199] == pytest.approx(1 / 101)


def test_epoch_order_shards_evenly_and_is_seeded():
    from celltool.training.loop import epoch_order

    a = [epoch_order(0, 3, 11, r, 2) for r in range(2)]
    assert len(a[0]) == len(a[1]) == 5 and not set(a[0]) & set(a[1])
    assert epoch_order(0, 3, 11) == epoch_order(0, 3, 11) != epoch_order(0, 4, 11)


def test_augment_shares_crop_and_keeps_masks_binary():
    from celltool.training.data import augment, from_unit, to_unit

    rng = np.random.default_rng(0)
    image = rng.random((1, 64, 64)).astype(np.float32)
    mask = np.where(rng.random((1, 64, 64)) > 0.5, 1.0, -1.0).astype(np.float32)
    twin = image.copy()
    out = augment([image, mask, twin], np.random.default_rng(5), crop=32, load=72,
                  mode="resize_and_crop", flip=True, nearest=[False, True, False])  # fmt: skip
    assert out[0].shape == out[1].shape == (1, 32, 32)
    assert np.array_equal(out[0], out[2])  # one set of parameters for all arrays
    assert set(np.unique(out[1])) <= {-1.0, 1.0}
    values = np.array([0, 1, 2047, 4095], np.uint16)
    assert np.array_equal(from_unit(to_unit(values, 12), 12), values)


def test_tiles_overlap_even_when_the_factor_equals_the_tile():
    """unet_256 (factor 256) with 256 px tiles on 512² frames: tiles must still overlap."""
    from celltool.training.tiling import tiled_apply

    origins = []

    def fn(x):
        origins.append(x.shape[0])
        return x

    image = torch.rand(1, 512, 512)
    out = tiled_apply(fn, image, tile=256, overlap=64, factor=256, batch_size=1)
    assert len(origins) == 9  # origins 0, 128, 256 in each direction: 128 px overlaps
    assert torch.allclose(out, image, atol=1e-6)


def test_3d_networks_shapes_and_strides():
    """3D generators keep the volume's shape; the 3D PatchGAN of cell_data_synthesis strides z
    only in its first layer."""
    import torch

    from celltool.nn.discriminators import make_discriminator
    from celltool.nn.generators import make_generator

    x = torch.randn(1, 1, 32, 32, 32)
    for name in ("unet_32", "resnet_2blocks"):
        net = make_generator(name, 1, 1, 4, "instance", False, dims=3, pad="replicate")
        assert net(x).shape == x.shape
    d_all = make_discriminator("basic", 1, 4, 3, "instance", dims=3)
    d_once = make_discriminator("basic", 1, 4, 3, "instance", dims=3, z_stride_once=True)
    big = torch.randn(1, 1, 32, 64, 64)
    assert d_once(big).shape[2] > d_all(big).shape[2]  # z kept longer
    assert d_once(big).shape[3:] == d_all(big).shape[3:]


def test_image_pool_is_seeded_and_resumable():
    import torch

    from celltool.nn.losses import ImagePool

    def run(pool, n):
        return [pool.query(torch.full((1, 1, 2, 2), float(i)))[0, 0, 0, 0].item() for i in range(n)]

    a = ImagePool(3, torch.Generator().manual_seed(5))
    first = run(a, 6)
    state = a.state_dict()
    rest = run(a, 6)
    b = ImagePool(3, torch.Generator().manual_seed(99))
    b.load_state_dict(state)
    assert run(b, 6) == rest  # same stream after restoring
    assert first[:3] == [0.0, 1.0, 2.0]  # fills first
    assert any(v != i for i, v in enumerate(rest, start=6))  # then returns stored images
