"""Point spread functions on the simulation grid: Gaussian, Gibson–Lanni (microscPSF-py) or
read from files, resampled about their centre, cropped to where their energy is and
normalised to sum 1 (the original neither normalised nor resampled its PSF files)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool_spheroid.errors import BadInput, BadParameter

MAX_PSF_VOXELS = 8_000_000


def _profile(n_half: int, sigma: float) -> np.ndarray:
    """A Gaussian integrated over unit voxels centred at −n_half..n_half."""
    from scipy.special import erf

    edges = np.arange(-n_half - 0.5, n_half + 1.0)
    cdf = 0.5 * (1 + erf(edges / (np.sqrt(2) * max(sigma, 1e-6))))
    return np.diff(cdf)


def gaussian_psf(
    voxel: Sequence[float], sigma: Sequence[float], half: Sequence[int] | None = None
) -> np.ndarray:
    """A separable Gaussian PSF, σ (z, y, x) in µm, integrated over voxels of size ``voxel``
    µm, ``half`` voxels either side of the centre (default ±4σ), normalised to sum 1."""
    if half is None:
        half = [max(1, int(np.ceil(4 * s / v))) for s, v in zip(sigma, voxel, strict=True)]
    axes = [_profile(int(h), s / v) for h, s, v in zip(half, sigma, voxel, strict=True)]
    psf = axes[0][:, None, None] * axes[1][None, :, None] * axes[2][None, None, :]
    return (psf / psf.sum()).astype(np.float32)


def gaussian_sigmas(
    na: float, wavelength: float, n: float, modality: str = "widefield", excitation: float = 0.0
) -> tuple[float, float]:
    """(axial, lateral) σ in µm of Gaussian approximations of a diffraction-limited PSF
    (Zhang, Zerubia & Olivo-Marin, Appl. Opt. 2007): widefield σ_xy = 0.21 λ/NA,
    σ_z = 0.66 λ n/NA²; confocal with a closed pinhole is the product of the excitation and
    emission PSFs, 1/σ² = 1/σ_ex² + 1/σ_em²."""
    lateral, axial = 0.21 * wavelength / na, 0.66 * wavelength * n / na**2
    if modality == "confocal":
        lat_ex, ax_ex = 0.21 * excitation / na, 0.66 * excitation * n / na**2
        lateral = 1 / np.sqrt(1 / lateral**2 + 1 / lat_ex**2)
        axial = 1 / np.sqrt(1 / axial**2 + 1 / ax_ex**2)
    return float(axial), float(lateral)


def _one_blas_thread():
    """Limit BLAS to one thread when threadpoolctl is installed (else no limit)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(1, user_api="blas")


def _gibson_lanni(voxel, half, na, wavelength, ni, ns, depth) -> np.ndarray:
    """Widefield Gibson–Lanni PSF (microscPSF-py) of a point ``depth`` µm below the coverslip:
    a focal scan through it (focal planes in the sample, paraxially), centred on its peak."""
    try:
        from microscPSF import microscPSF as gl
    except ImportError as exc:  # depends on the environment
        raise BadParameter(
            "the gibson-lanni PSF model needs microscPSF-py: pip install 'celltool[spheroid]' "
            "(or use the gaussian PSF model)"
        ) from exc
    params = dict(gl.m_params, NA=na, ni=ni, ni0=ni, ns=ns)
    margin = half[0] + 4
    offsets = np.arange(-(half[0] + margin), half[0] + margin + 1) * voxel[0]
    coverslip = -(depth + offsets) * ni / ns  # offsets that focus at depth + offset
    with _one_blas_thread():  # its small least-squares fits thrash with threads (×20 slower)
        stack = gl.gLXYZFocalScan(
            params, voxel[1], 2 * half[1] + 1, coverslip, pz=depth, wvl=wavelength
        )
    peak = int(np.argmax(stack[:, half[1], half[1]]))
    peak = min(max(peak, half[0]), len(offsets) - half[0] - 1)
    return np.asarray(stack[peak - half[0] : peak + half[0] + 1], dtype=np.float64)


def psf_from_optics(
    voxel: Sequence[float],
    *,
    na: float = 0.8,
    wavelength: float = 0.52,
    immersion_index: float = 1.33,
    sample_index: float = 1.37,
    depth: float = 0.0,
    model: str = "gibson-lanni",
    modality: str = "widefield",
    excitation_wavelength: float = 0.488,
    half_size: Sequence[float] = (6.0, 2.5),
) -> np.ndarray:
    """A PSF on a grid of ``voxel`` µm (z, y, x with y = x), normalised to sum 1 (float32).

    ``model``: ``gibson-lanni`` (the scalar Gibson–Lanni model of microscPSF-py, including
    the spherical aberration of focusing ``depth`` µm into a sample of ``sample_index``
    through ``immersion_index``) or ``gaussian`` (Zhang et al. 2007; depth-invariant).
    ``modality``: ``widefield``, or ``confocal`` (excitation × emission PSF, pinhole ≈ 0).
    ``half_size``: (axial, lateral) half extent in µm. Wavelengths in µm.
    """
    indices_ok = 1.0 <= immersion_index <= 2.0 and 1.0 <= sample_index <= 2.0
    if not (indices_ok and 0 < na < immersion_index and 0.2 <= wavelength <= 2.0):
        raise BadParameter(
            f"implausible optics: NA {na}, wavelength {wavelength} µm, immersion index "
            f"{immersion_index}, sample index {sample_index} (need 1 ≤ indices ≤ 2, "
            "NA < immersion index, λ in 0.2..2 µm)"
        )
    if not (0 <= depth <= 10_000 and 0.2 <= excitation_wavelength <= 2.0):
        raise BadParameter(
            f"implausible depth {depth} µm (0..10000) or excitation wavelength "
            f"{excitation_wavelength} µm (0.2..2)"
        )
    if modality not in ("widefield", "confocal"):
        raise BadParameter(f"unknown modality {modality!r} (widefield, confocal)")
    half = [
        max(1, int(np.ceil(h / v))) for h, v in zip(half_size, (voxel[0], voxel[1]), strict=True)
    ]
    if (2 * half[0] + 1) * (2 * half[1] + 1) ** 2 > MAX_PSF_VOXELS:
        raise BadParameter(f"a PSF of half size {list(half_size)} µm is too large on this grid")
    if model == "gaussian":
        sigmas = gaussian_sigmas(na, wavelength, immersion_index, modality, excitation_wavelength)
        return gaussian_psf(voxel, (sigmas[0], sigmas[1], sigmas[1]), (half[0], half[1], half[1]))
    if model != "gibson-lanni":
        raise BadParameter(f"unknown PSF model {model!r} (gibson-lanni, gaussian)")
    optics = (na, wavelength, immersion_index, sample_index, depth)
    psf = _gibson_lanni(voxel, half, *optics)
    if modality == "confocal":
        excitation = (na, excitation_wavelength, immersion_index, sample_index, depth)
        psf = psf * _gibson_lanni(voxel, half, *excitation)
    return (psf / psf.sum()).astype(np.float32)


def slab_depths(n_z: int, count: int, voxel_z: float) -> list[float]:
    """Depths (µm below z = 0) of the middle of the slabs where each of ``count`` PSFs acts
    alone (the ``optics.psf_weights`` layout of an ``n_z``-slice grid): where to compute
    depth-variant PSFs."""
    if count == 1:
        return [n_z * voxel_z / 2]
    length = n_z // (2 * count - 1)
    return [(2 * j + 0.5) * length * voxel_z for j in range(count)]


def psfs_from_optics(n_z: int, count: int, voxel: Sequence[float], **optics) -> list[np.ndarray]:
    """``count`` depth-variant PSFs for an ``n_z``-slice simulation grid of ``voxel`` µm, front
    to back, each computed at its ``slab_depths`` depth (``psf_from_optics`` options)."""
    if not 1 <= count <= 16:
        raise BadParameter(f"between 1 and 16 PSFs, got {count}")
    return [psf_from_optics(voxel, depth=d, **optics) for d in slab_depths(n_z, count, voxel[0])]


def resample_psf(
    psf: np.ndarray, voxel_in: Sequence[float], voxel_out: Sequence[float]
) -> np.ndarray:
    """Resample a PSF about its centre voxel (index n // 2) to another voxel size: a Gaussian
    pre-filter against aliasing when shrinking (σ = (r − 1)/2 input voxels), then linear
    interpolation; the centre stays the centre voxel. Normalised to sum 1."""
    from scipy import ndimage

    psf = np.asarray(psf, dtype=np.float64)
    ratios = [b / a for a, b in zip(voxel_in, voxel_out, strict=True)]
    if np.allclose(ratios, 1.0):
        return (psf / psf.sum()).astype(np.float32)
    sigma = [max(0.0, (r - 1) / 2) for r in ratios]
    if max(sigma) > 0:
        psf = ndimage.gaussian_filter(psf, sigma, mode="constant")
    centre_in = [n // 2 for n in psf.shape]
    half_out = [int(np.floor(c / r)) for c, r in zip(centre_in, ratios, strict=True)]
    grids = np.meshgrid(
        *(
            np.arange(-h, h + 1) * r + c
            for h, r, c in zip(half_out, ratios, centre_in, strict=True)
        ),
        indexing="ij",
    )
    out = ndimage.map_coordinates(psf, grids, order=1, mode="constant")
    out = np.clip(out, 0, None)
    total = out.sum()
    if total <= 0:
        raise BadInput("the PSF vanished when resampled to the simulation grid")
    return (out / total).astype(np.float32)


def crop_psf(psf: np.ndarray, energy: float = 0.999) -> np.ndarray:
    """The smallest box centred on the centre voxel that holds ``energy`` of the PSF (odd
    sizes), renormalised to sum 1: it bounds the convolution's cost."""
    psf = np.asarray(psf, dtype=np.float64)
    total = psf.sum()
    centre = [n // 2 for n in psf.shape]
    limits = [min(c, n - 1 - c) for c, n in zip(centre, psf.shape, strict=True)]
    half = [0, 0, 0]
    while True:
        box = tuple(slice(c - h, c + h + 1) for c, h in zip(centre, half, strict=True))
        if psf[box].sum() >= energy * total or half == limits:
            break
        # grow the axis whose next shell adds the most energy per voxel
        gains = []
        for axis in range(3):
            if half[axis] == limits[axis]:
                gains.append(-1.0)
                continue
            trial = list(half)
            trial[axis] += 1
            grown = tuple(slice(c - h, c + h + 1) for c, h in zip(centre, trial, strict=True))
            gains.append((psf[grown].sum() - psf[box].sum()) / psf[grown].size)
        half[int(np.argmax(gains))] += 1
    out = psf[box]
    return (out / out.sum()).astype(np.float32)


def centre_psf(psf: np.ndarray) -> np.ndarray:
    """Pad a PSF so that its intensity centroid (rounded) is the centre voxel (index n // 2 of
    an odd size): convolving with it then moves no nucleus away from its label."""
    from scipy import ndimage

    centroid = np.round(ndimage.center_of_mass(psf)).astype(int)
    pads = []
    for c, n in zip(centroid, psf.shape, strict=True):
        before, after = c, n - 1 - c
        pads.append((max(after - before, 0), max(before - after, 0)))
    return np.pad(psf, pads)


def prepare_psf(
    psf: np.ndarray,
    psf_voxel: Sequence[float],
    sim_voxel: Sequence[float],
    *,
    energy: float = 0.999,
) -> np.ndarray:
    """A PSF (e.g. read from a file) ready for ``blur``: negative values (background
    subtraction) set to 0, centred on its centroid, resampled from ``psf_voxel`` to the
    simulation grid ``sim_voxel`` (µm), cropped to ``energy`` of its sum, normalised to 1."""
    if not 0 < energy <= 1:
        raise BadParameter(f"the PSF energy to keep must lie in (0, 1], got {energy}")
    psf = np.asarray(psf, dtype=np.float64)
    if psf.ndim != 3 or psf.size > MAX_PSF_VOXELS or min(psf.shape) < 1:
        raise BadInput(f"a PSF must be a 3D array of at most 8e6 voxels, got {psf.shape}")
    psf = np.clip(np.nan_to_num(psf), 0, None)
    if psf.sum() <= 0:
        raise BadInput("the PSF has no positive values")
    return crop_psf(resample_psf(centre_psf(psf), psf_voxel, sim_voxel), energy)
