"""The example third-party MODEL plugin (examples/celltool-example-model), installed as its own
package in an isolated environment: `celltool train denoise` on small 3D TIFF stacks (and 2D
images), then `celltool generate` on a volume larger than the training crop — through the
framework's 3D blended tiling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, cli, isolated_env, run_env

from celltool.manifest import read_manifest
from celltool.volumes import read_volume, write_volume

EXAMPLE = REPO / "examples" / "celltool-example-model"
VOXEL = (2.0, 0.5, 0.5)


@pytest.fixture(scope="module")
def model_env(tmp_path_factory) -> Path:
    return isolated_env(tmp_path_factory.mktemp("model-env"), EXAMPLE)


def blobs(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Smooth bright blobs on a dark background, uint8."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random(shape), 2.0)
    field = (field - field.min()) / (field.max() - field.min())
    return (255 * field).astype(np.uint8)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stacks")
    (root / "train").mkdir()
    (root / "big").mkdir()
    for i in range(3):
        write_volume(root / "train" / f"s{i}.tif", blobs((10, 24, 24), i), voxel_size=VOXEL)
    write_volume(root / "big" / "big.tif", blobs((20, 56, 56), 7), voxel_size=VOXEL)
    return root


def test_the_model_is_a_separate_package(model_env):
    res = run_env(model_env, "plugins", "--json")
    assert res.returncode == 0, res.stderr
    records = {r["name"]: r for r in json.loads(res.stdout)}
    assert records["denoise"]["package"] == "celltool-example-denoise"
    assert records["denoise"]["provides"]["trainers"] == ["denoise"]
    assert "denoise" not in {r["name"] for r in json.loads(cli("plugins", "--json").stdout)}


def test_trains_on_stacks_and_generates_a_larger_volume_by_3d_tiles(model_env, stacks):
    run = stacks / "run"
    res = run_env(model_env, "train", "denoise", stacks / "train", "-o", run, "--epochs", "3",
                  "--crop-size", "8,16,16", "--samples", "1", "--seed", "4")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{run}\n"
    manifest = read_manifest(run)
    assert manifest["facts"]["status"] == "done" and manifest["facts"]["data_info"]["dims"] == 3
    assert manifest["plugin"]["package"] == "celltool-example-denoise"
    res = run_env(model_env, "generate", run, "--help")
    assert "--tile" in res.stdout and "Options of denoise" in res.stdout
    out = stacks / "clean"
    res = run_env(model_env, "generate", run, stacks / "big", "-o", out, "--overlap", "4")
    assert res.returncode == 0, res.stderr
    volume = read_volume(out / "big.tif")
    assert volume.data.shape == (20, 56, 56) and volume.data.dtype == np.uint8
    assert volume.voxel_size == pytest.approx(VOXEL)
    facts = read_manifest(out)["facts"]
    assert facts["tile"] == [8, 16, 16] and facts["count"] == 1
    source = read_volume(stacks / "big" / "big.tif").data.astype(float)
    assert np.corrcoef(source.ravel(), volume.data.astype(float).ravel())[0, 1] > 0.5


def test_trains_on_2d_images_too(model_env, tmp_path):
    from celltool.imageio import write_image

    (tmp_path / "imgs").mkdir()
    for i in range(2):
        write_image(tmp_path / "imgs" / f"{i}.png", blobs((32, 32), i))
    res = run_env(model_env, "train", "denoise", tmp_path / "imgs", "-o", tmp_path / "run",
                  "--epochs", "1", "--crop-size", "16", "--samples", "0")  # fmt: skip
    assert res.returncode == 0, res.stderr
    res = run_env(model_env, "generate", tmp_path / "run", tmp_path / "imgs", "-o", tmp_path / "g")
    assert res.returncode == 0, res.stderr
    from celltool.imageio import read_image

    assert read_image(tmp_path / "g" / "0.png").shape == (32, 32)
