"""Prototypes on the simulation grid, in every orientation placement asks for.

A prototype's z axis is resampled once (``prepare_sources``); each rotation about z is then
rendered from its prototype-resolution crop by one OpenCV affine warp of all slices (rotation
and xy up-sampling in a single interpolation, ``make_variant``), and each of its 8 mirror
images (y↔x swap, y flip, x flip) is a view of that (``Variant.pose``). Intensities are
rendered only for the nuclei that are kept (``render_image``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from celltool_spheroid.prototypes import Prototype

N_PROBES = 48


@dataclass(frozen=True)
class Source:
    """A prototype with z on the simulation grid and xy still at prototype resolution, stored
    (Y, X, Z) so that OpenCV warps every slice at once."""

    image: np.ndarray  # float32 (Y, X, Z)
    mask: np.ndarray  # float32 (Y, X, Z), 0..1
    centre: tuple[float, float, float]  # (z, y, x) centroid, z in simulation slices
    scale: tuple[float, float]  # (y, x) simulation voxels per prototype voxel


def prepare_sources(
    prototypes: Sequence[Prototype],
    prototype_voxel: Sequence[float],
    sim_voxel: Sequence[float],
) -> list[Source]:
    """Resample the prototypes' z axis to the simulation grid (area mean when shrinking,
    linear when growing); xy is rendered per orientation later. Prototypes finer than the
    grid in xy are blurred (σ = (1/s − 1)/2 voxels) against aliasing."""
    from scipy import ndimage

    from celltool_spheroid.resample import output_size, resample_axis

    ratio_z = sim_voxel[0] / prototype_voxel[0]
    scale = (prototype_voxel[1] / sim_voxel[1], prototype_voxel[2] / sim_voxel[2])
    sigma = [0.0] + [max(0.0, (1.0 / s - 1.0) / 2.0) for s in scale]
    mode = "area" if ratio_z > 1 else "linear"
    sources = []
    for p in prototypes:
        nz = output_size(p.image.shape[0], prototype_voxel[0], sim_voxel[0])
        image = resample_axis(p.image.astype(np.float32), 0, nz, ratio_z, mode)
        mask = resample_axis(p.mask.astype(np.float32), 0, nz, ratio_z, mode)
        if max(sigma) > 0:
            image = ndimage.gaussian_filter(image, sigma, mode="constant")
            mask = ndimage.gaussian_filter(mask, sigma, mode="constant")
        solid = mask >= 0.5
        centre = ndimage.center_of_mass(solid) if solid.any() else (0.0, 0.0, 0.0)
        sources.append(
            Source(
                np.ascontiguousarray(image.transpose(1, 2, 0)),
                np.ascontiguousarray(mask.transpose(1, 2, 0)),
                tuple(float(c) for c in centre),
                scale,
            )
        )
    return sources


def _probes(shape_mask: np.ndarray, anchor: Sequence[int]) -> np.ndarray:
    """Up to ``N_PROBES`` surface voxels (with a 6-neighbour outside), spread over the surface,
    as offsets from ``anchor`` (int64, (P, 3)): where a candidate most likely leaves the mask
    or touches a neighbour."""
    interior = shape_mask.copy()
    for axis in range(3):
        lead = [slice(None)] * 3
        rear = [slice(None)] * 3
        lead[axis], rear[axis] = slice(1, None), slice(None, -1)
        interior[tuple(lead)] &= shape_mask[tuple(rear)]
        interior[tuple(rear)] &= shape_mask[tuple(lead)]
        lead[axis], rear[axis] = 0, -1
        interior[tuple(lead)] = interior[tuple(rear)] = False  # the box edge is outside
    surface = np.flatnonzero(shape_mask & ~interior)
    if surface.size > N_PROBES:
        surface = surface[np.linspace(0, surface.size - 1, N_PROBES).astype(int)]
    points = np.stack(np.unravel_index(surface, shape_mask.shape), axis=1)
    return points - np.asarray(anchor)


@dataclass
class Pose:
    """One mirror image of a variant: ``body`` and ``grown`` (views), the centroid's index in
    each, and the surface probes as offsets from the centroid."""

    body: np.ndarray
    anchor: tuple[int, int, int]
    grown: np.ndarray
    grown_anchor: tuple[int, int, int]
    body_probes: np.ndarray
    grown_probes: np.ndarray
    key: tuple[bool, bool, bool]  # (swap, flip_y, flip_x)
    flat: dict = field(default_factory=dict)

    def flat_probes(self, shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The probes as offsets into a C-ordered volume of ``shape`` (cached per shape)."""
        key = (int(shape[1]), int(shape[2]))
        if key not in self.flat:
            strides = np.array([key[0] * key[1], key[1], 1])
            self.flat[key] = (self.body_probes @ strides, self.grown_probes @ strides)
        return self.flat[key]


@dataclass
class Variant:
    """One rotation of a source on the simulation grid: ``mask`` (Z, Y, X) bool cropped to the
    nucleus, ``anchor`` the centroid's index in it, ``dilated``/``dilated_anchor`` the mask
    grown by ``min_dist`` (the same arrays when 0); ``warp``/``size``/``box`` re-render it."""

    mask: np.ndarray
    anchor: np.ndarray
    dilated: np.ndarray
    dilated_anchor: np.ndarray
    area: int
    warp: np.ndarray
    size: tuple[int, int]
    box: tuple[slice, slice, slice]
    core: bool  # the anchor voxel belongs to the nucleus (a one-voxel pre-test is exact)
    poses: dict = field(default_factory=dict)
    probes: tuple[np.ndarray, np.ndarray] | None = None  # surface offsets, unmirrored

    @property
    def nbytes(self) -> int:
        return self.mask.nbytes + (self.dilated.nbytes if self.dilated is not self.mask else 0)

    def pose(self, swap: bool, flip_y: bool, flip_x: bool) -> Pose:
        """The mirror image (cached): y↔x swap first, then the y and x flips."""
        key = (swap, flip_y, flip_x)
        if key not in self.poses:
            if self.probes is None:
                body_probes = _probes(self.mask, self.anchor)
                same = self.dilated is self.mask
                grown_probes = body_probes if same else _probes(self.dilated, self.dilated_anchor)
                self.probes = (body_probes, grown_probes)
            body, anchor = orient(self.mask, self.anchor, *key)
            grown, grown_anchor = orient(self.dilated, self.dilated_anchor, *key)
            self.poses[key] = Pose(
                body,
                tuple(int(a) for a in anchor),
                grown,
                tuple(int(a) for a in grown_anchor),
                *(_mirror_offsets(p, *key) for p in self.probes),
                key,
            )
        return self.poses[key]


def _mirror_offsets(offsets: np.ndarray, swap: bool, flip_y: bool, flip_x: bool) -> np.ndarray:
    """Offsets from the anchor, mirrored as ``orient`` mirrors the arrays."""
    out = offsets[:, [0, 2, 1]] if swap else offsets.copy()
    if flip_y:
        out[:, 1] *= -1
    if flip_x:
        out[:, 2] *= -1
    return out


def _warp(volume: np.ndarray, warp: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Warp a (Y, X, Z) stack with the 2×3 affine ``warp`` into (Z, Y', X')."""
    import cv2

    out = cv2.warpAffine(
        volume, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return out.reshape(size[1], size[0], -1).transpose(2, 0, 1)


def _one_piece(mask: np.ndarray) -> bool:
    """A quick sufficient test that a (Z, Y, X) mask is one 26-connected piece: every slice one
    8-connected piece (one OpenCV call on the slices side by side) and every two consecutive
    slices overlapping. False means "label it to know"."""
    import cv2

    n_z, h, w = mask.shape
    strip = np.zeros((h, n_z, w + 1), np.uint8)  # a zero column between the slices
    strip[:, :, :w] = mask.transpose(1, 0, 2)
    pieces = cv2.connectedComponents(strip.reshape(h, -1), connectivity=8)[0] - 1
    if pieces != n_z or not mask.any(axis=(1, 2)).all():
        return False
    return bool((mask[:-1] & mask[1:]).any(axis=(1, 2)).all())


def _native_box(solid: np.ndarray) -> tuple[slice, slice, slice] | None:
    """(z, y, x) slices of the bounding box of a (Y, X, Z) boolean array (two passes)."""
    rows = np.flatnonzero(solid.reshape(solid.shape[0], -1).any(axis=1))
    if rows.size == 0:
        return None
    plane = solid.any(axis=0)  # (X, Z)
    cols, zs = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    return tuple(slice(int(a[0]), int(a[-1]) + 1) for a in (zs, rows, cols))


def crop_box(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    """Slices of the bounding box of a 3D boolean array, None when it is empty."""
    spans = []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        if hit.size == 0:
            return None
        spans.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(spans)


def make_variant(source: Source, angle: float, min_dist: int) -> Variant | None:
    """Render ``source`` rotated by ``angle`` degrees about z (about its centroid) on the
    simulation grid; its largest piece when the rotation split it. None if nothing is left."""
    from scipy import ndimage

    theta = np.deg2rad(angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    linear = rot @ np.diag([source.scale[1], source.scale[0]])  # (x, y) order for OpenCV
    cz, cy, cx = source.centre
    h, w = source.mask.shape[:2]
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [-0.5, h - 0.5], [w - 0.5, h - 0.5]])
    moved = (corners - [cx, cy]) @ linear.T
    anchor_xy = np.ceil(-moved.min(axis=0)).astype(int) + 1
    size = tuple(int(v) for v in anchor_xy + np.ceil(moved.max(axis=0)).astype(int) + 2)
    warp = np.hstack([linear, (anchor_xy - linear @ [cx, cy])[:, None]]).astype(np.float32)
    solid = _warp(source.mask, warp, size).transpose(1, 2, 0) >= 0.5  # (Y, X, Z), contiguous
    box = _native_box(solid)
    if box is None:
        return None
    mask = np.ascontiguousarray(solid[box[1], box[2], box[0]].transpose(2, 0, 1))
    count = 1 if _one_piece(mask) else 2
    if count > 1:
        pieces, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if count > 1:
        sizes = np.bincount(pieces.ravel())
        sizes[0] = 0
        mask = pieces == int(np.argmax(sizes))
        inner = crop_box(mask)
        mask = np.ascontiguousarray(mask[inner])
        box = tuple(
            slice(b.start + i.start, b.start + i.stop) for b, i in zip(box, inner, strict=True)
        )
    anchor = np.array([round(cz), anchor_xy[1], anchor_xy[0]]) - [s.start for s in box]
    if min_dist > 0:
        padded = np.pad(mask, min_dist)
        dilated = ndimage.binary_dilation(
            padded, ndimage.generate_binary_structure(3, 1), iterations=min_dist
        )
        dilated_anchor = anchor + min_dist
    else:
        dilated, dilated_anchor = mask, anchor
    core = bool(np.all(anchor >= 0) and np.all(anchor < mask.shape) and mask[tuple(anchor)])
    area = int(mask.sum())
    return Variant(mask, anchor, dilated, dilated_anchor, area, warp, size, box, core)


def render_image(source: Source, variant: Variant) -> np.ndarray:
    """The variant's intensities (float32, the variant mask's box, unmirrored)."""
    return _warp(source.image, variant.warp, variant.size)[variant.box]


def orient(array: np.ndarray, anchor: Sequence[int], swap: bool, flip_y: bool, flip_x: bool):
    """Mirror a (Z, Y, X) box (a view) and move its anchor with it."""
    anchor = np.array(anchor)
    if swap:
        array = array.transpose(0, 2, 1)
        anchor[[1, 2]] = anchor[[2, 1]]
    if flip_y:
        array = array[:, ::-1, :]
        anchor[1] = array.shape[1] - 1 - anchor[1]
    if flip_x:
        array = array[:, :, ::-1]
        anchor[2] = array.shape[2] - 1 - anchor[2]
    return array, anchor
