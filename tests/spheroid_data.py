"""Test data for the spheroid simulator: stardist's real 3D nuclei (img3d.tif / mask3d.tif from
the stardist wheel or sdist that `make test-data` puts in .cache/test-data) and tiny synthetic
prototypes. Nothing here touches the network."""

from __future__ import annotations

import io
import tarfile
import zipfile

import numpy as np
import pytest
from conftest import TEST_DATA

# The voxel size the benchmark and tests assume for stardist's img3d (µm, z, y, x).
STARDIST_VOXEL = (0.9, 0.489, 0.489)
NAMES = ("stardist/data/images/img3d.tif", "stardist/data/images/mask3d.tif")


def read_stardist_3d() -> tuple[np.ndarray, np.ndarray] | None:
    """``(image, labels)`` of stardist's img3d/mask3d (31×61×57), or None when absent."""
    import tifffile

    for archive in sorted(TEST_DATA.glob("stardist-*")):
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as z:
                blobs = [z.read(n) for n in NAMES]
        elif archive.name.endswith(".tar.gz"):
            with tarfile.open(archive) as t:
                members = {m.name.split("/", 1)[-1]: m for m in t.getmembers()}
                blobs = [t.extractfile(members[n]).read() for n in NAMES]
        else:
            continue
        image, labels = (tifffile.imread(io.BytesIO(b)) for b in blobs)
        return image, labels
    return None


def stardist_3d() -> tuple[np.ndarray, np.ndarray]:
    """The real volume, or skip the test with the reason."""
    sample = read_stardist_3d()
    if sample is None:
        pytest.skip(f"no stardist package in {TEST_DATA} (run `make test-data` once, online)")
    return sample


def blob_prototypes(n: int = 3, seed: int = 0):
    """``n`` small ellipsoidal nuclei with texture (Prototype objects), 5×8..12×6..10 voxels."""
    from celltool_spheroid.masks import ellipsoid_mask
    from celltool_spheroid.prototypes import Prototype

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        mask = ellipsoid_mask((2.2, 4 + i % 3, 3 + i % 2))
        image = (0.5 + 0.5 * rng.random(mask.shape)).astype(np.float32) * mask
        out.append(Prototype(image, mask))
    return out
