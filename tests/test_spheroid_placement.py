"""Random sequential adsorption of nuclei (spheroid simulator): inside the mask, overlaps,
min_dist, mirroring, largest pieces, the failure budget, subcultures."""

from __future__ import annotations

import numpy as np
import pytest
from celltool_spheroid.masks import ellipsoid_mask
from celltool_spheroid.placement import Canvas, place_nuclei, place_subcultures
from celltool_spheroid.prototypes import Prototype
from celltool_spheroid.variants import make_variant, prepare_sources
from scipy import ndimage
from spheroid_data import blob_prototypes

VOXEL = (1.0, 1.0, 1.0)


def _sources(prototypes=None, scale=1.0):
    return prepare_sources(prototypes or blob_prototypes(3), VOXEL, (1.0, 1 / scale, 1 / scale))


def _replay(canvas: Canvas, sources, min_dist: int):
    """Rebuild each placed nucleus from its record (independently of the placement's tests)."""
    shape = canvas.labels.shape
    for record in canvas.records:
        variant = make_variant(sources[record.prototype], record.angle, min_dist)
        pose = variant.pose(*record.mirror)
        body = np.zeros(shape, bool)
        grown = np.zeros(shape, bool)
        for target, array, anchor in (
            (body, pose.body, pose.anchor),
            (grown, pose.grown, pose.grown_anchor),
        ):
            corner = [c - a for c, a in zip(record.centre, anchor, strict=True)]
            box = tuple(slice(c, c + n) for c, n in zip(corner, array.shape, strict=True))
            target[box] = array
        yield record, body, grown


@pytest.mark.parametrize("max_overlap", [0.0, 0.2])
def test_nuclei_lie_inside_the_mask_and_overlap_at_most_max_overlap(max_overlap):
    mask = ellipsoid_mask((9, 28, 28))
    sources = _sources(scale=1.5)
    canvas = Canvas.empty(mask.shape)
    placed = place_nuclei(
        canvas,
        mask,
        sources,
        np.random.default_rng(0),
        max_overlap=max_overlap,
        break_criterion=300,
    )
    assert placed >= 10 and placed == len(canvas.records) == canvas.labels.max()
    assert not np.any(canvas.labels[~mask])  # every labelled voxel is inside the mask
    taken = np.zeros(mask.shape, bool)
    for record, body, grown in _replay(canvas, sources, 0):
        assert np.all(mask[body])  # the whole nucleus, including voxels overwritten later
        assert body.sum() == record.voxels
        assert (grown & taken).sum() <= max_overlap * record.voxels
        taken |= body
    assert np.array_equal(taken, canvas.occupied)
    if max_overlap == 0:
        assert np.array_equal(taken, canvas.labels > 0)
        assert all((canvas.labels == r.id).sum() == r.voxels for r in canvas.records)


def test_min_dist_keeps_nuclei_apart():
    mask = ellipsoid_mask((8, 24, 24))
    canvas = Canvas.empty(mask.shape)
    place_nuclei(
        canvas, mask, _sources(), np.random.default_rng(1), min_dist=2, break_criterion=200
    )
    assert canvas.labels.max() >= 4
    cross = ndimage.generate_binary_structure(3, 1)
    for i in range(1, canvas.labels.max() + 1):
        near = ndimage.binary_dilation(canvas.labels == i, cross, iterations=2)
        others = canvas.labels[near]
        assert set(np.unique(others)) <= {0, i}  # city-block distance > 2 to any other


def test_failure_budget_stops_the_loop():
    mask = ellipsoid_mask((6, 16, 16))
    canvas = Canvas.empty(mask.shape)
    assert place_nuclei(canvas, mask, _sources(), np.random.default_rng(0), break_criterion=0) == 0
    assert canvas.attempts == 0
    placed = place_nuclei(canvas, mask, _sources(), np.random.default_rng(0), break_criterion=25)
    assert canvas.attempts >= placed + 25  # it ends with 25 failures in a row
    with pytest.raises(ValueError, match="break_criterion"):
        place_nuclei(canvas, mask, _sources(), np.random.default_rng(0), break_criterion=-1)


def test_mirroring_is_not_cancelled():
    # an L-shaped nucleus: its 8 mirror images differ; the original's flips cancelled when
    # min_dist was 0 and no y↔x swap happened
    mask = np.zeros((3, 6, 5), bool)
    mask[:, 0:6, 0:2] = True
    mask[:, 4:6, 0:5] = True
    proto = Prototype(mask.astype(np.float32), mask)
    sources = _sources([proto], scale=1.0)
    volume = np.ones((5, 80, 80), bool)
    canvas = Canvas.empty(volume.shape)
    place_nuclei(
        canvas, volume, sources, np.random.default_rng(3), rotate_probability=0, break_criterion=200
    )
    shapes = set()
    for i in range(1, canvas.labels.max() + 1):
        box = ndimage.find_objects((canvas.labels == i).astype(np.uint8))[0]
        shapes.add(
            (canvas.labels[box] == i).tobytes() + bytes(str(canvas.labels[box].shape), "ascii")
        )
    assert len(shapes) == 8
    assert {r.mirror for r in canvas.records} == {
        (s, y, x) for s in (False, True) for y in (False, True) for x in (False, True)
    }


def test_a_rotated_variant_keeps_its_largest_piece():
    mask = np.zeros((3, 12, 12), bool)
    mask[:, 1:8, 1:8] = True  # the nucleus
    mask[1, 10, 10] = True  # a separate fragment
    source = _sources([Prototype(mask.astype(np.float32), mask)], scale=2.0)[0]
    for angle in (0, 17, -45):
        variant = make_variant(source, angle, 0)
        assert ndimage.label(variant.mask, np.ones((3, 3, 3)))[1] == 1
        # the fragment sat in the middle slice only: all slices are alike without it
        assert variant.mask[1].sum() == variant.mask[0].sum() > 150  # ~7² voxels × 2²


def test_min_dist_grows_the_tested_shape_not_the_nucleus():
    source = _sources()[0]
    plain, grown = make_variant(source, 10, 0), make_variant(source, 10, 2)
    assert np.array_equal(plain.mask, grown.mask) and plain.area == grown.area
    assert grown.dilated.sum() > grown.mask.sum() and plain.dilated is plain.mask


def test_prototypes_are_not_modified():
    protos = blob_prototypes(2)
    before = [(p.image.copy(), p.mask.copy()) for p in protos]
    mask = ellipsoid_mask((6, 16, 16))
    place_nuclei(Canvas.empty(mask.shape), mask, _sources(protos), np.random.default_rng(0))
    for p, (image, m) in zip(protos, before, strict=True):
        assert np.array_equal(p.image, image) and np.array_equal(p.mask, m)


def test_subcultures_fill_an_ellipsoid_inside_the_spheroid():
    mask = ellipsoid_mask((10, 40, 40))
    canvas = Canvas.empty(mask.shape)
    placed = place_subcultures(
        canvas,
        mask,
        _sources(),
        np.random.default_rng(2),
        count=1,
        radii=(5, 12, 12),
        z_limit=mask.shape[0],
        break_criterion=200,
    )
    assert placed >= 3 and all(r.prototypes == "subculture" for r in canvas.records)
    assert not np.any(canvas.labels[~mask])
    centres = np.array([r.centre for r in canvas.records], float)
    spread = centres.max(axis=0) - centres.min(axis=0)
    assert spread[1] <= 2 * 12 and spread[2] <= 2 * 12  # all within one small ellipsoid


def test_the_quick_one_piece_test_never_says_yes_wrongly():
    from celltool_spheroid.variants import _one_piece

    rng = np.random.default_rng(0)
    said_yes = 0
    for _ in range(300):
        noise = ndimage.gaussian_filter(rng.random((4, 12, 12)), (0.8, 2.0, 2.0))
        mask = noise > np.quantile(noise, rng.uniform(0.2, 0.7))
        if _one_piece(mask):
            said_yes += 1
            assert ndimage.label(mask, np.ones((3, 3, 3)))[1] == 1
    assert said_yes > 20  # the test is not vacuous
