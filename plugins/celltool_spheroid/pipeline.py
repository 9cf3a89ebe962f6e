"""The whole spheroid simulation of one volume (§3.1–3.4 of cell_data_synthesis): phantom on
the simulation grid → depth attenuation → depth-variant PSF blur → resampling to the output
grid → camera; labels at the output resolution."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from celltool_spheroid.camera import Camera, acquire
from celltool_spheroid.errors import BadInput, BadParameter
from celltool_spheroid.prototypes import Prototype

SIM_VOXEL = (0.9002694, 0.1221902, 0.1221902)  # µm (z, y, x): cell_data_synthesis' grid
OUTPUT_VOXEL = (1.5001311, 0.488759, 0.488759)  # µm: its px_size_desired
MAX_SIM_VOXELS = 2_000_000_000  # ~8 bytes each: emitter, labels, occupancy, mask


def default_z_append(prototype_voxel: Sequence[float], sim_voxel: Sequence[float]) -> int:
    """cell_data_synthesis' z_append: round(30 · prototype z / simulation z) slices."""
    return int(round(30 * prototype_voxel[0] / sim_voxel[0]))


def simulation_grid(
    mask_shape: Sequence[int],
    output_voxel: Sequence[float],
    sim_voxel: Sequence[float],
    z_append: int,
) -> tuple[int, int, int]:
    """The simulation grid's shape: the mask (at output resolution) on the simulation voxel
    size, plus ``z_append`` slices at the deep end."""
    from celltool_spheroid.resample import output_size

    core = [
        output_size(n, a, b) for n, a, b in zip(mask_shape, output_voxel, sim_voxel, strict=True)
    ]
    return core[0] + z_append, core[1], core[2]


def _mask_on_grid(mask, output_voxel, sim_voxel, shape, z_append) -> np.ndarray:
    """Nearest-neighbour up-sampling of the output-resolution mask, edge-padded in z."""
    from celltool_spheroid.resample import resample

    core = (shape[0] - z_append, shape[1], shape[2])
    sim = resample(mask, output_voxel, sim_voxel, ("nearest",) * 3, core)
    return np.pad(sim, ((0, z_append), (0, 0), (0, 0)), mode="edge")


class Stopwatch:
    """Wall and CPU seconds per stage (``with watch("placement"): ...``; stages add up)."""

    STAGES = (
        "prototypes",
        "placement",
        "attenuation",
        "convolution",
        "resampling",
        "labels",
        "camera",
    )

    def __init__(self) -> None:
        self.wall = dict.fromkeys(self.STAGES, 0.0)
        self.cpu = dict.fromkeys(self.STAGES, 0.0)

    @contextmanager
    def __call__(self, stage: str):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[stage] += time.perf_counter() - wall
            self.cpu[stage] += time.process_time() - cpu


def _render(emitter, psfs, keep, out_shape, sim_voxel, output_voxel, workers, watch):
    """Blur rows 0:keep and resample them to ``out_shape`` (xy: pixel area, z: focal planes),
    a chunk of output slices at a time so memory stays bounded."""
    from celltool_spheroid.optics import Blur
    from celltool_spheroid.resample import axis_weights, resample_axis

    with watch("convolution"):
        blur = Blur(emitter, psfs, workers=workers)
    ratios = [b / a for a, b in zip(sim_voxel, output_voxel, strict=True)]
    idx, w = axis_weights(keep, out_shape[0], ratios[0], "linear")
    image = np.empty(out_shape, np.float32)
    step = max(1, int(16 / max(ratios[0], 1e-9)))
    for o0 in range(0, out_shape[0], step):
        o1 = min(o0 + step, out_shape[0])
        r0, r1 = int(idx[:, o0:o1].min()), int(idx[:, o0:o1].max()) + 1
        with watch("convolution"):
            rows = blur.rows(r0, r1)
        with watch("resampling"):
            rows = resample_axis(rows, 1, out_shape[1], ratios[1], "area")
            rows = resample_axis(rows, 2, out_shape[2], ratios[2], "area")
            for o in range(o0, o1):
                image[o] = w[0, o] * rows[idx[0, o] - r0] + w[1, o] * rows[idx[1, o] - r0]
    return np.maximum(image, 0, out=image)  # FFT round-off leaves ~1e-8 negatives


def _phantom(rng, sources, sub_sources, sim_mask, z_append, sim_voxel, options):
    """The canvas with every nucleus placed (subcultures first, as the original)."""
    from celltool_spheroid.placement import Canvas, place_nuclei, place_subcultures

    options = dict(options)
    min_dist, sub_min_dist = options.pop("min_dist"), options.pop("subculture_min_dist")
    count, radii_um = options.pop("subcultures"), options.pop("subculture_radii")
    canvas = Canvas.empty(sim_mask.shape)
    radii = [radii_um[0] / sim_voxel[0]] + [radii_um[1] / v for v in sim_voxel[1:]]
    place_subcultures(
        canvas,
        sim_mask,
        sub_sources,
        rng,
        count=count if sub_sources else 0,
        radii=radii,
        z_limit=sim_mask.shape[0] - z_append,
        min_dist=sub_min_dist,
        **options,
    )
    place_nuclei(canvas, sim_mask, sources, rng, min_dist=min_dist, **options)
    return canvas


def simulate_volume(
    rng: np.random.Generator,
    prototypes: Sequence[Prototype],
    mask: np.ndarray,
    psfs: Sequence[np.ndarray],
    *,
    prototype_voxel: Sequence[float],
    sim_voxel: Sequence[float] = SIM_VOXEL,
    output_voxel: Sequence[float] = OUTPUT_VOXEL,
    z_append: int | None = None,
    max_overlap: float = 0.0,
    min_dist: int = 0,
    break_criterion: int = 1000,
    rotate_probability: float = 0.5,
    max_rotation: int = 45,
    mirror: bool = True,
    subcultures: int = 0,
    subculture_prototypes: Sequence[Prototype] = (),
    subculture_voxel: Sequence[float] | None = None,
    subculture_radii: Sequence[float] = (4.5, 10.4),
    subculture_min_dist: int = 0,
    attenuation: str = "f2p",
    attenuation_b: float = 150.0,
    photons: float = 1000.0,
    background: float = 10.0,
    camera: Camera | None = None,
    label_threshold: float | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Simulate one spheroid volume. Returns ``image`` (camera output, uint8/uint16, the
    mask's shape), ``labels`` (uint16 instance ids 1..N at the output resolution),
    ``expected`` (float32 expected photons per voxel, noise-free), ``placements`` (one dict
    per placed nucleus: id on the simulation grid, prototype, angle, mirror, centre, voxels,
    overlap) and ``facts`` (counts, grids, wall and CPU seconds per stage).

    ``mask``: where nuclei may lie, at the *output* voxel size (as in the original; the
    output has its shape). ``psfs``: one or more PSFs on the simulation grid, front to back
    (``psf.prepare_psf`` / ``psf.psf_from_optics``), normalised. ``photons``: expected
    photons per voxel of a unit-intensity region at the surface; ``background``: photons per
    voxel everywhere. Voxel sizes are µm (z, y, x); docs/spheroid.md explains every parameter.
    """
    from dataclasses import asdict

    from celltool.labels import relabel_sequential
    from celltool_spheroid.optics import apply_attenuation, grow_labels, psf_weights
    from celltool_spheroid.psf import resample_psf
    from celltool_spheroid.resample import resample, resample_axis
    from celltool_spheroid.variants import prepare_sources

    camera = camera or Camera()
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3 or not mask.any():
        raise BadInput(f"the spheroid mask must be a non-empty 3D volume, got {mask.shape}")
    if not (0 <= photons <= 1e7 and 0 <= background <= 1e7):
        raise BadParameter(
            f"photons and background must lie in 0..1e7, got {photons}, {background}"
        )
    if not prototypes:
        raise BadInput("no nucleus prototypes")
    z_append = default_z_append(prototype_voxel, sim_voxel) if z_append is None else int(z_append)
    if not 0 <= z_append <= 10_000:
        raise BadParameter(f"z_append must lie in 0..10000 slices, got {z_append}")
    shape = simulation_grid(mask.shape, output_voxel, sim_voxel, z_append)
    if np.prod(shape, dtype=float) > MAX_SIM_VOXELS:
        raise BadParameter(
            f"the simulation grid {shape} has over {MAX_SIM_VOXELS:.0e} voxels (~8 bytes "
            "each): use a smaller mask or a coarser simulation voxel size"
        )
    watch = Stopwatch()
    with watch("prototypes"):
        sources = prepare_sources(prototypes, prototype_voxel, sim_voxel)
        sub_voxel = subculture_voxel or prototype_voxel
        sub_sources = prepare_sources(subculture_prototypes, sub_voxel, sim_voxel)
        sim_mask = _mask_on_grid(mask, output_voxel, sim_voxel, shape, z_append)
    with watch("placement"):
        options = dict(
            max_overlap=max_overlap,
            min_dist=min_dist,
            break_criterion=break_criterion,
            rotate_probability=rotate_probability,
            max_rotation=max_rotation,
            mirror=mirror,
            subcultures=subcultures,
            subculture_radii=subculture_radii,
            subculture_min_dist=subculture_min_dist,
        )
        canvas = _phantom(rng, sources, sub_sources, sim_mask, z_append, sim_voxel, options)
        del canvas.occupied, canvas.cache
    with watch("attenuation"):
        per_output_slice = output_voxel[0] / sim_voxel[0]
        apply_attenuation(
            canvas.emitter,
            sim_mask,
            law=attenuation,
            b=attenuation_b,
            slices_per_unit=per_output_slice,
        )
        del sim_mask
    keep = shape[0] - z_append
    image = _render(canvas.emitter, psfs, keep, mask.shape, sim_voxel, output_voxel, workers, watch)
    del canvas.emitter
    with watch("labels"):
        labels = resample(
            canvas.labels[:keep], sim_voxel, output_voxel, ("nearest",) * 3, mask.shape
        )
        if label_threshold is not None:
            out_psfs = [resample_psf(p, sim_voxel, output_voxel) for p in psfs]
            # the blur's weights (over the whole simulation grid) at the output slices
            rows = resample_axis(np.arange(shape[0]), 0, mask.shape[0], per_output_slice, "nearest")
            weights = psf_weights(shape[0], len(psfs))[:, rows]
            labels = grow_labels(labels, out_psfs, label_threshold, weights)
        labels = relabel_sequential(labels)
    with watch("camera"):
        expected = image * np.float32(photons) + np.float32(background)
        counts = acquire(expected, camera, rng)
    placements = [asdict(r) for r in canvas.records]
    facts = {
        "nuclei": int(labels.max()),
        "placed": len(placements),
        "placed_in_subcultures": sum(r["prototypes"] == "subculture" for r in placements),
        "attempts": int(canvas.attempts),
        "sim_shape": list(shape),
        "z_append": z_append,
        "output_shape": list(mask.shape),
        "seconds": {k: round(v, 4) for k, v in watch.wall.items()},
        "cpu_seconds": {k: round(v, 4) for k, v in watch.cpu.items()},
    }
    return {
        "image": counts,
        "labels": labels,
        "expected": expected,
        "placements": placements,
        "facts": facts,
    }
