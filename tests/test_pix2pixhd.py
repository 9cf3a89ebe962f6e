"""pix2pixHD's pieces: edge maps, one-hot decoding, networks, feature matching, the VGG16
perceptual loss (celltool.nn.perceptual)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from celltool.errors import CelltoolError

pytest.importorskip("torch")


def _edges_by_loop(ids: np.ndarray) -> np.ndarray:
    """An independent 4-neighbour edge map: a pixel is an edge when a neighbour differs."""
    h, w = ids.shape
    out = np.zeros((h, w), np.float32)
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < h and 0 <= xx < w and ids[yy, xx] != ids[y, x]:
                    out[y, x] = 1
    return out


def test_edges_separate_touching_instances_of_one_class():
    from celltool_pix2pixhd.labels import get_edges

    ids = np.zeros((12, 14), np.int64)
    ids[2:10, 2:7] = 1
    ids[2:10, 7:12] = 2  # touches cell 1 along column 6|7
    classes = (ids > 0).astype(np.int64)  # one class: the contact line is invisible
    inst, cls = get_edges(ids), get_edges(classes)
    assert np.array_equal(inst, _edges_by_loop(ids))
    assert np.array_equal(cls, _edges_by_loop(classes))
    assert inst[5, 6] == 1 and inst[5, 7] == 1  # both sides of the contact
    assert cls[5, 6] == 0 and cls[5, 7] == 0
    rng = np.random.default_rng(0)
    random_ids = rng.integers(0, 4, (9, 11))
    assert np.array_equal(get_edges(random_ids), _edges_by_loop(random_ids))


def test_decode_indices_gray_index_scaled_and_out_of_range():
    from celltool_pix2pixhd.labels import decode_indices, one_hot

    classes = [{"index": 0, "name": "bg", "gray": 0}, {"index": 1, "name": "a", "gray": 127},
               {"index": 2, "name": "b", "gray": 255}]  # fmt: skip
    index = np.array([[0, 1], [2, 1]])
    common = {"label_nc": 3, "classes": classes, "path": "x.png"}
    gray = np.array([[0, 127], [255, 127]], np.uint8)
    assert np.array_equal(decode_indices(gray, mode="gray", scale=1, **common), index)
    wide = gray.astype(np.uint16) * 257
    assert np.array_equal(decode_indices(wide, mode="gray", scale=257, **common), index)
    stored = (index * 257).astype(np.uint16)
    assert np.array_equal(decode_indices(stored, mode="index", scale=257, **common), index)
    with pytest.raises(CelltoolError, match="not in the class table"):
        decode_indices(gray + 1, mode="gray", scale=1, **common)
    with pytest.raises(CelltoolError, match="outside the 3 classes"):
        decode_indices(np.array([[3]]), mode="index", scale=1, **common)
    hot = one_hot(index, 3)
    assert hot.shape == (3, 2, 2) and np.array_equal(hot.argmax(0), index)
    assert np.array_equal(hot.sum(0), np.ones((2, 2)))


def test_generators_shapes_and_factors():
    import torch
    from celltool_pix2pixhd.networks import GlobalGenerator, LocalEnhancer

    g = GlobalGenerator(5, 1, ngf=4, n_down=3, n_blocks=2)
    assert g.factor == 8
    y = g(torch.randn(2, 5, 32, 48))
    assert y.shape == (2, 1, 32, 48) and y.abs().max() <= 1
    local = LocalEnhancer(5, 3, ngf=4, n_down_global=2, n_blocks_global=1, n_blocks_local=1)
    assert local.factor == 8
    assert local.global_net.body[1].out_channels == 8  # the global part has ngf × 2 filters
    x = torch.randn(1, 5, 32, 32)
    assert local(x).shape == (1, 3, 32, 32)
    assert local.forward_global(local.down(x)).shape == (1, 3, 16, 16)
    enhancer = {id(p) for p in local.enhancer_parameters()}
    assert not enhancer & {id(p) for p in local.global_net.parameters()}
    assert len(enhancer) + len(list(local.global_net.parameters())) == len(list(local.parameters()))


def test_multiscale_discriminator_features_and_scales():
    import torch
    from celltool_pix2pixhd.networks import MultiscaleDiscriminator

    d = MultiscaleDiscriminator(3, ndf=4, n_layers=3, num_d=3)
    out = d(torch.randn(1, 3, 64, 64))
    assert len(out) == 3 and all(len(scale) == 3 + 2 for scale in out)
    # 4×4 convolutions with padding 2: stride 2 gives n/2 + 1; the input halves per scale
    assert [scale[0].shape[-1] for scale in out] == [33, 17, 9]
    assert [f.shape[1] for f in out[0]] == [4, 8, 16, 32, 1]


def test_feature_matching_weights():
    import torch
    from celltool_pix2pixhd.networks import feature_matching_loss

    fake = [[torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 1, 1)]] * 2
    real = [[torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 3.0), torch.ones(1, 1, 1, 1)]] * 2
    # n_layers 1 → 3 blocks; per scale |1-0| + |1-3| = 3 over the non-final blocks
    expected = 2 * (4 / (1 + 1)) / 2 * 3.0
    assert feature_matching_loss(fake, real, 1).item() == pytest.approx(expected)


def _random_vgg_file(tmp_path: Path, layers: int) -> Path:
    """torchvision's VGG16 ``features`` with random weights, saved as a state dict."""
    import torch
    from torchvision.models import vgg

    torch.manual_seed(0)
    features = vgg.make_layers(vgg.cfgs["D"])  # VGG16's features, no classifier
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    keep = {k: v for k, v in state.items() if int(k.split(".")[1]) < (4, 9, 16, 23, 30)[layers - 1]}
    path = tmp_path / "vgg.pth"
    torch.save({**keep, "lin0.model.1.weight": torch.zeros(1)}, path)  # extra keys ignored
    return path


def test_perceptual_layers_are_torchvision_relus(tmp_path):
    """Our slices end at torchvision's relu1_2, relu2_2, relu3_3 (indices 3, 8, 15)."""
    import torch
    from torchvision.models import vgg

    from celltool.nn.perceptual import VGGPerceptualLoss

    path = _random_vgg_file(tmp_path, 3)
    loss = VGGPerceptualLoss(path, layer_weights=(1, 1, 1))
    reference = vgg.make_layers(vgg.cfgs["D"])[:16]
    state = torch.load(path, weights_only=True)
    reference.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith("features.")})
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    rgb = ((x.expand(-1, 3, -1, -1) + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(
        1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)  # fmt: skip
    ours = loss.features(x)
    h = rgb
    for i, layer in enumerate(reference):
        h = layer(h)
        if i in (3, 8, 15):
            assert torch.allclose(ours[(3, 8, 15).index(i)], h, atol=1e-5), i


def test_perceptual_loss_is_zero_on_equal_images_and_frozen(tmp_path):
    import torch

    from celltool.nn.perceptual import VGGPerceptualLoss

    loss = VGGPerceptualLoss(_random_vgg_file(tmp_path, 2), layer_weights=(1 / 32, 1 / 16))
    assert not any(p.requires_grad for p in loss.parameters())
    loss.train()
    assert not loss.training
    y = torch.rand(1, 1, 32, 32) * 2 - 1
    assert loss(y, y).item() == 0
    small = loss(y + 0.05 * torch.randn_like(y), y).item()
    large = loss(y + 0.5 * torch.randn_like(y), y).item()
    assert 0 < small < large
    x = (y + 0.3).requires_grad_(True)
    loss(x, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert loss(y.expand(-1, 3, -1, -1), y).item() == 0  # 1 channel = RGB repeat


def test_perceptual_weights_lookup_and_errors(tmp_path, monkeypatch):
    from celltool.nn.perceptual import ENV_WEIGHTS, VGGPerceptualLoss, find_vgg16_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    with pytest.raises(CelltoolError) as err:
        find_vgg16_weights()
    assert "celltool lpips-weights" in str(err.value) and "\n" not in str(err.value)
    assert "celltool-lpips-vgg.pth" in str(err.value)
    checkpoints = tmp_path / "empty" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    good = _random_vgg_file(tmp_path, 1)
    (checkpoints / "vgg16-397923af.pth").write_bytes(good.read_bytes())
    assert find_vgg16_weights() == checkpoints / "vgg16-397923af.pth"
    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path / "missing.pth"))
    with pytest.raises(CelltoolError, match="does not exist"):
        find_vgg16_weights()
    with pytest.raises(CelltoolError, match="not VGG16 weights"):
        VGGPerceptualLoss(good, layer_weights=(1, 1))  # the file holds only relu1_2's layers
