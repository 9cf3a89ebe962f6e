"""Nucleus prototypes and spheroid masks (extract_phantoms.py, augment_nuclei.py,
extract_spheroid_mask.py, create_ellipsoid_mask.py of cell_data_synthesis, fixed)."""

from __future__ import annotations

import numpy as np
import pytest
from celltool_spheroid.masks import closing, ellipsoid_mask, spheroid_mask
from celltool_spheroid.prototypes import augment_prototypes, extract_prototypes
from scipy import ndimage
from spheroid_data import stardist_3d


def _touching_nuclei():
    labels = np.zeros((10, 30, 30), np.uint16)
    labels[2:7, 5:14, 5:14] = 1
    labels[2:7, 14:22, 8:16] = 2  # touches nucleus 1: its bounding box overlaps 1
    labels[3:6, 24:27, 24:27] = 3
    labels[8, 25, 25] = 3  # a stray second piece of id 3
    labels[0:4, 0:5, 20:25] = 4  # touches the border: dropped
    image = np.random.default_rng(0).random(labels.shape).astype(np.float32) * 50 + labels * 100
    return image, labels


def test_each_crop_keeps_only_its_own_nucleus():
    image, labels = _touching_nuclei()
    protos = extract_prototypes(image, labels)
    assert len(protos) == 3  # id 4 touches the border
    first, second, third = protos
    assert first.mask.shape == (5, 9, 9) and first.mask.all()
    assert second.mask.shape == (5, 8, 8) and second.mask.all()  # no piece of nucleus 1
    assert third.mask.shape == (3, 3, 3)  # the largest piece, not the stray voxel
    for p in protos:
        assert p.image.dtype == np.float32 and p.image.min() == 0 and p.image.max() == 1
        assert ndimage.label(p.mask, np.ones((3, 3, 3)))[1] == 1


def test_binary_labels_are_split_into_pieces():
    image, labels = _touching_nuclei()
    protos = extract_prototypes(image, labels == 3, min_voxels=1)
    assert len(protos) == 2 and {p.mask.sum() for p in protos} == {27, 1}
    assert len(extract_prototypes(image, labels == 3)) == 1  # below min_voxels (8)


def test_prototypes_from_stardist_nuclei():
    image, labels = stardist_3d()
    protos = extract_prototypes(image, labels)
    interior = [
        i
        for i, box in enumerate(ndimage.find_objects(labels))
        if box and all(s.start > 0 and s.stop < n for s, n in zip(box, labels.shape, strict=True))
    ]
    assert len(protos) == len(interior) == 7
    for p, i in zip(protos, interior, strict=True):
        assert p.mask.sum() == (labels == i + 1).sum()  # one nucleus, whole
        assert 0 <= p.image.min() and p.image.max() == 1


def test_augmentation_makes_single_piece_variants_deterministically():
    image, labels = _touching_nuclei()
    protos = extract_prototypes(image, labels)
    before = [p.image.copy() for p in protos]
    a = augment_prototypes(protos, np.random.default_rng(5), variants=4)
    b = augment_prototypes(protos, np.random.default_rng(5), variants=4)
    assert len(a) == 3 + 3 * 4 and a[:3] == protos
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    assert any(x.mask.shape != protos[0].mask.shape for x in a[3:7])  # rotated / zoomed
    for p in a:
        assert ndimage.label(p.mask, np.ones((3, 3, 3)))[1] == 1
        assert 0 <= p.image.min() and p.image.max() <= 1
        assert p.mask.any(axis=(1, 2))[[0, -1]].all()  # cropped to the nucleus
    assert all(np.array_equal(p.image, x) for p, x in zip(protos, before, strict=True))
    with pytest.raises(ValueError, match="variants"):
        augment_prototypes(protos, np.random.default_rng(0), variants=-1)


def test_ellipsoid_and_shell():
    full = ellipsoid_mask((6, 10, 14))
    assert full.shape == (13, 21, 29)
    assert np.isclose(full.sum(), 4 / 3 * np.pi * 6 * 10 * 14, rtol=0.05)
    shell = ellipsoid_mask((6, 10, 14), inner=2 / 3)
    inner = ellipsoid_mask((4, 20 / 3, 28 / 3), shape=full.shape)
    assert np.array_equal(shell, full & ~inner)
    assert not shell[6, 10, 14] and shell[6, 10, 1]
    assert ellipsoid_mask((3, 3, 3), shape=(9, 20, 20))[4, 10, 10]
    with pytest.raises(ValueError):
        ellipsoid_mask((3, 0, 3))
    with pytest.raises(ValueError):
        ellipsoid_mask((3, 3, 3), inner=1.5)


def test_spheroid_mask_over_segments_a_noisy_spheroid():
    rng = np.random.default_rng(0)
    ball = ellipsoid_mask((14, 30, 30), shape=(40, 80, 80))
    volume = 100 + 60 * ball + rng.normal(0, 10, ball.shape)
    volume[2:6, 2:8, 2:8] += 200  # a small bright speck outside
    mask = spheroid_mask(volume)
    assert (mask & ball).sum() >= 0.99 * ball.sum()  # the whole spheroid
    grown = ellipsoid_mask((20, 36, 36), shape=ball.shape)
    assert not np.any(mask & ~grown)  # and no more than the σ = 5 blur adds
    assert not mask[4, 5, 5]  # only the largest component
    with pytest.raises(ValueError):
        spheroid_mask(np.zeros((5, 5)))


def test_closing_is_really_iterated():
    ball = ellipsoid_mask((20, 40, 40))
    carved = ball.copy()
    carved[:, 36:45, :] = False  # a 9-voxel slot through the middle
    closed = closing(carved, (20.0, 15.0, 25.0))  # 10 × the original's 5×4×6 element
    assert not np.any(closed & ~ball)  # a convex body stays itself
    assert (ball & ~closed).sum() < 0.02 * ball.sum()  # the slot is filled but at the rim
    assert closed[20, 40, 40] and closed[20, 40, 20]  # the slot is closed
    once = closing(carved, (2.0, 1.5, 2.5))  # what the original's loop really did
    assert not once[20, 40, 40]
    assert np.all(closed >= carved)  # a closing only adds
