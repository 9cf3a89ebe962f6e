"""The spheroid simulator through the CLI: prototypes → (spheroid mask) → simulate, with
voxel sizes kept, per-volume random streams (workers and shards give identical volumes) and
every path it reads protected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import cli
from spheroid_data import STARDIST_VOXEL, blob_prototypes

from celltool.manifest import read_manifest
from celltool.volumes import read_volume, write_volume


@pytest.fixture(scope="module")
def blobs(tmp_path_factory) -> Path:
    """A labelled volume of synthetic nuclei (away from the border) with its voxel size."""
    root = tmp_path_factory.mktemp("blobs")
    image = np.zeros((20, 48, 48), np.uint16)
    labels = np.zeros(image.shape, np.uint16)
    for i, proto in enumerate(blob_prototypes(4, seed=1)):
        z, y, x = 4 + 2 * i, 6 + 9 * i, 8 + 8 * i
        sz, sy, sx = proto.mask.shape
        region = (slice(z, z + sz), slice(y, y + sy), slice(x, x + sx))
        image[region][proto.mask] = (1000 * proto.image[proto.mask]).astype(np.uint16)
        labels[region][proto.mask] = i + 1
    write_volume(root / "vol.tif", image, voxel_size=STARDIST_VOXEL)
    write_volume(root / "lab.tif", labels, voxel_size=STARDIST_VOXEL)
    res = cli("prototypes", str(root / "vol.tif"), str(root / "lab.tif"), "-o",
              str(root / "protos"), "--augment", "1", "--seed", "3")  # fmt: skip
    assert res.returncode == 0, res.stderr
    return root


def test_prototypes_keep_their_nucleus_and_voxel_size(blobs):
    protos = blobs / "protos"
    manifest = read_manifest(protos)
    assert manifest["kind"] == "prototypes" and manifest["facts"]["n"] == 8  # 4 + 4 variants
    assert manifest["facts"]["voxel_size"] == list(STARDIST_VOXEL)
    first = read_volume(protos / "labels" / "p0000.tif")
    assert first.voxel_size == pytest.approx(STARDIST_VOXEL)
    image = read_volume(protos / "images" / "p0000.tif").data
    assert image.dtype == np.float32 and 0 <= image.min() and image.max() == pytest.approx(1)


def _simulate(out: Path, *args: str) -> Path:
    res = cli("simulate", "-m", "spheroid", "--prototypes", str(out.parent / "protos"),
              "--break-criterion", "200", "-o", str(out), *args)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return out


def test_simulated_volumes_have_labels_inside_the_mask_and_voxel_sizes(blobs, tmp_path):
    out = _simulate(blobs / "sim", "--radii", "6,16,16", "--size", "14,36,36", "-n", "2",
                    "--seed", "5", "--bit-depth", "16")  # fmt: skip
    facts = read_manifest(out)["facts"]
    assert facts["dims"] == 3 and facts["n_images"] == 2
    image = read_volume(out / "images" / "sim_0000.tif")
    labels = read_volume(out / "nuclei" / "sim_0000.tif")
    assert image.data.shape == labels.data.shape == (14, 36, 36)
    assert image.data.dtype == np.uint16 and labels.data.max() >= 3
    assert image.voxel_size == pytest.approx(facts["voxel_size"])
    from celltool_spheroid.masks import ellipsoid_mask

    inside = ellipsoid_mask((6, 16, 16), shape=(14, 36, 36))
    assert not (labels.data[~inside] > 0).any()  # every nucleus lies inside the spheroid
    assert image.data[labels.data > 0].mean() > image.data[~inside].mean()
    other = read_volume(out / "images" / "sim_0001.tif").data
    assert not np.array_equal(image.data, other)  # each volume its own stream


def test_workers_and_shards_give_identical_volumes(blobs, tmp_path):
    args = ("--radii", "5,14,14", "--size", "12,32,32", "-n", "2", "--seed", "9")
    serial = _simulate(blobs / "serial", *args, "--workers", "1")
    _simulate(blobs / "sharded", *args, "--shard", "1/2")
    sharded = _simulate(blobs / "sharded", *args, "--shard", "2/2")
    for name in ("sim_0000.tif", "sim_0001.tif"):
        a = read_volume(serial / "images" / name).data
        b = read_volume(sharded / "images" / name).data
        np.testing.assert_array_equal(a, b)


def test_a_mask_file_sets_the_shape_and_the_prototypes_are_protected(blobs, tmp_path):
    res = cli("spheroid-mask", str(blobs / "vol.tif"), "-o", str(blobs / "smask"),
              "--sigma", "2")  # fmt: skip
    assert res.returncode == 0, res.stderr
    mask = read_volume(blobs / "smask" / "vol.tif")
    assert mask.data.shape == (20, 48, 48) and mask.data.any()
    assert mask.voxel_size == pytest.approx(STARDIST_VOXEL)
    out = _simulate(blobs / "masked", "--mask", str(blobs / "smask" / "vol.tif"), "-n", "1")
    assert read_volume(out / "images" / "sim_0000.tif").data.shape == (20, 48, 48)
    res = cli("simulate", "-m", "spheroid", "--prototypes", str(blobs / "protos"), "--radii",
              "5,10,10", "-o", str(blobs / "protos"), "--overwrite")  # fmt: skip
    assert res.returncode == 2 and "overlaps" in res.stderr
    assert (blobs / "protos" / "celltool.json").is_file()


def test_missing_inputs_are_one_line_errors(blobs):
    res = cli("simulate", "-m", "spheroid", "--radii", "5,10,10", "-o", str(blobs / "x"))
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "prototypes" in res.stderr
    res = cli("simulate", "-m", "spheroid", "--prototypes", str(blobs / "protos"), "-o",
              str(blobs / "y"))  # fmt: skip
    assert res.returncode == 2 and "--mask" in res.stderr and "--radii" in res.stderr
    assert not (blobs / "x").exists() and not (blobs / "y").exists()
