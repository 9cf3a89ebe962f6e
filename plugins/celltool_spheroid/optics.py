"""The optical system of §3.3 of cell_data_synthesis, made physical: depth attenuation (a
cumulative sum of the mask along z), a depth-variant FFT convolution that keeps the total
signal, and labels grown to the blurred nuclei. The PSFs themselves are in ``psf``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from celltool_spheroid.errors import BadInput, BadParameter

LAWS = ("f2p", "f2", "f3", "f3p", "f1", "fOld", "none")


def attenuation(
    depth: np.ndarray, law: str = "f2p", b: float = 150.0, z_size: int = 1
) -> np.ndarray:
    """Brightness factor at ``depth`` (mask voxels above, in output slices) for one of the
    laws of cell_data_synthesis, clipped to [0, 1]:

    f2p (1 + d/B)^−6 · f2 (1 + d/150)^−6 · f3 (1 + (d−10)/200)^−6 · f3p (1 + (d−10)/B)^−6 ·
    f1 (1 + (d+5)/Z)^−6 · fOld (1 + d/Z)^−6 + 0.2 · none 1, where Z = ``z_size`` (the
    simulation grid's slices, as the original). f2p with B = 150 gives 0.68, 0.40, 0.18 and
    0.047 at d = 10, 25, 50 and 100.
    """
    d = np.asarray(depth, dtype=np.float32)
    if law == "none":
        return np.ones_like(d)
    if law in ("f2p", "f3p") and not b > 0:
        raise BadParameter(f"the attenuation constant B must be positive, got {b}")
    base = {
        "f2p": lambda: 1 + d / np.float32(b),
        "f2": lambda: 1 + d / np.float32(150),
        "f3": lambda: 1 + (d - 10) / np.float32(200),
        "f3p": lambda: 1 + (d - 10) / np.float32(b),
        "f1": lambda: 1 + (d + 5) / np.float32(z_size),
        "fOld": lambda: 1 + d / np.float32(z_size),
    }
    if law not in base:
        raise BadParameter(f"unknown attenuation law {law!r} (one of {', '.join(LAWS)})")
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        value = np.maximum(base[law](), 0) ** np.float32(-6)
    if law == "fOld":
        value += np.float32(0.2)
    return np.clip(np.nan_to_num(value, nan=1.0, posinf=1.0), 0, 1).astype(np.float32)


def apply_attenuation(
    emitter: np.ndarray,
    mask: np.ndarray,
    *,
    law: str = "f2p",
    b: float = 150.0,
    slices_per_unit: float = 1.0,
    chunk: int = 16,
) -> None:
    """Multiply ``emitter`` (in place) by the law at each voxel's depth inside ``mask``.

    The depth of a mask voxel is the number of mask voxels above it in its (y, x) column
    (a running cumulative sum along z, done ``chunk`` slices at a time), divided by
    ``slices_per_unit`` (simulation slices per output slice: the laws count output slices).
    Voxels outside the mask are left alone (the original attenuated only mask voxels; nuclei
    lie inside it).
    """
    if law == "none":
        return
    z_size = mask.shape[0]
    # the factor of every possible depth (0..Z−1 mask voxels above); index −1 (above a
    # column's first mask voxel, never multiplied: where=block) reads the appended 1
    lut = np.append(attenuation(np.arange(z_size) / np.float32(slices_per_unit), law, b, z_size), 1)
    above = np.zeros(mask.shape[1:], np.int32)
    for start in range(0, z_size, chunk):
        block = mask[start : start + chunk]
        depth = np.cumsum(block, axis=0, dtype=np.int32)
        depth += above - 1
        above = depth[-1] + 1
        part = emitter[start : start + chunk]
        np.multiply(part, lut[depth], out=part, where=block)


# --- depth-variant convolution ------------------------------------------------------------


def psf_weights(n_z: int, n_psf: int) -> np.ndarray:
    """(n_psf, n_z) weights of the PSFs along z, front (z = 0) to back, summing to 1.

    cell_data_synthesis' layout: z is cut into 2n−1 slabs of L = ⌊Z/(2n−1)⌋ slices (the last
    takes the remainder); PSF j alone in slab 2j, a linear cross-fade (1 − i/L, i/L) from PSF
    j to j+1 in slab 2j+1.
    """
    if n_psf < 1:
        raise BadParameter("at least one PSF is needed")
    weights = np.zeros((n_psf, n_z), np.float32)
    if n_psf == 1:
        weights[0] = 1
        return weights
    length = n_z // (2 * n_psf - 1)
    if length < 1:
        raise BadParameter(
            f"{n_psf} PSFs need at least {2 * n_psf - 1} slices, the volume has {n_z}"
        )
    ramp = np.arange(length, dtype=np.float32) / length
    for slab in range(2 * n_psf - 1):
        start = slab * length
        stop = n_z if slab == 2 * n_psf - 2 else start + length
        j = slab // 2
        if slab % 2 == 0:
            weights[j, start:stop] = 1
        else:
            weights[j, start:stop] = 1 - ramp
            weights[j + 1, start:stop] = ramp
    return weights


def common_shape(psfs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The PSFs zero-padded about their centre voxels to one shape (each must be odd-sized,
    as ``psf.prepare_psf`` makes them)."""
    if not psfs or any(n % 2 == 0 for p in psfs for n in p.shape):
        raise BadInput(f"PSFs must be odd-sized, got {[p.shape for p in psfs]}")
    shape = np.max([p.shape for p in psfs], axis=0)
    return [
        np.pad(p, [((m - n) // 2, (m - n) // 2) for m, n in zip(shape, p.shape, strict=True)])
        for p in psfs
    ]


class Blur:
    """y = Σ_j h_j ∗ (w_j · x): each voxel is blurred by the PSFs of its own depth, weighted
    by ``psf_weights`` (each PSF is normalised to 1, so the total signal is kept). A true
    convolution (the kernel is not mirrored, unlike a correlation), zero outside the volume.

    Each slice is Fourier-transformed in (y, x) once; an output row is the sum over the
    kernel's z taps of (kernel slice spectrum × input slice spectrum), transformed back. Memory
    is the kernels' spectra plus one kernel depth of slice spectra, whatever the volume's size;
    empty slices cost nothing. ``workers``: FFT threads (default: all).
    """

    def __init__(
        self, volume: np.ndarray, psfs: Sequence[np.ndarray], *, workers: int | None = None
    ):
        from scipy import fft

        psfs = common_shape(psfs)
        self.volume = volume
        self.half = [n // 2 for n in psfs[0].shape]
        self.weights = psf_weights(volume.shape[0], len(psfs))
        self.workers = workers or -1
        _, ny, nx = volume.shape
        self.size = (fft.next_fast_len(ny + self.half[1]), fft.next_fast_len(nx + self.half[2]))
        self.spectra = [
            fft.rfft2(np.asarray(p, np.float32), s=self.size, workers=self.workers) for p in psfs
        ]
        self._slices: dict[int, np.ndarray | None] = {}

    def _slice(self, z: int) -> np.ndarray | None:
        """The (y, x) spectrum of input slice z (None when the slice is empty)."""
        from scipy import fft

        if z not in self._slices:
            plane = self.volume[z]
            self._slices[z] = (
                fft.rfft2(plane, s=self.size, workers=self.workers) if plane.any() else None
            )
        return self._slices[z]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Blurred rows ``start:stop`` of the volume (float32, (stop − start, Y, X))."""
        from scipy import fft

        n_z, ny, nx = self.volume.shape
        hz, hy, hx = self.half
        out = np.zeros((stop - start, ny, nx), np.float32)
        term = np.empty(self.spectra[0].shape[1:], np.complex64)
        for row in range(start, stop):
            for z in [z for z in self._slices if z < row - hz]:
                del self._slices[z]  # no later row sees it
            total = None
            for k in range(2 * hz + 1):
                z = row + hz - k
                if not 0 <= z < n_z:
                    continue
                spectrum = self._slice(z)
                if spectrum is None:
                    continue
                used = np.flatnonzero(self.weights[:, z])
                kernel = self.spectra[used[0]][k]
                if len(used) > 1 or self.weights[used[0], z] != 1:
                    kernel = sum(self.weights[j, z] * self.spectra[j][k] for j in used)
                np.multiply(kernel, spectrum, out=term)
                if total is None:
                    total = term.copy()
                else:
                    total += term
            if total is not None:
                plane = fft.irfft2(total, s=self.size, workers=self.workers)
                out[row - start] = plane[hy : hy + ny, hx : hx + nx]
        return out


def blur(volume: np.ndarray, psfs: Sequence[np.ndarray], **options) -> np.ndarray:
    """The whole volume blurred by ``Blur`` (see there)."""
    return Blur(volume, psfs, **options).rows(0, volume.shape[0])


def _convolve_same(volume: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Linear convolution of a small volume, the output aligned with it (kernel centre n // 2)."""
    from scipy import fft

    size = [fft.next_fast_len(a + b - 1) for a, b in zip(volume.shape, kernel.shape, strict=True)]
    full = fft.irfftn(fft.rfftn(volume, size) * fft.rfftn(kernel, size), size)
    box = tuple(slice(k // 2, k // 2 + n) for k, n in zip(kernel.shape, volume.shape, strict=True))
    return full[box]


# --- labels grown or shrunk to the blurred nuclei (convolve_labels.py) ---------------------


def grow_labels(
    labels: np.ndarray,
    psfs: Sequence[np.ndarray],
    threshold: float = 0.25,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Each instance convolved on its own with the normalised PSF of its depth (the blend of
    ``weights`` (n_psf, Z) at its centroid's slice; default ``psf_weights`` of the labels'
    depth), kept where the response exceeds ``threshold``; a voxel claimed by several goes to
    the highest response. Labels then match the size of the blurred nuclei (they grow when the
    threshold is low, shrink when it is high)."""
    from scipy import ndimage

    if not 0 < threshold < 1:
        raise BadParameter(f"the label threshold must lie in (0, 1), got {threshold}")
    psfs = common_shape(psfs)
    if weights is None:
        weights = psf_weights(labels.shape[0], len(psfs))
    half = [n // 2 for n in psfs[0].shape]
    best = np.zeros(labels.shape, np.float32)
    out = np.zeros_like(labels)
    for index, box in enumerate(ndimage.find_objects(labels)):
        if box is None:
            continue
        grown = tuple(
            slice(max(s.start - h, 0), min(s.stop + h, n))
            for s, h, n in zip(box, half, labels.shape, strict=True)
        )
        own = (labels[grown] == index + 1).astype(np.float32)
        z_mid = int(round(ndimage.center_of_mass(own)[0])) + grown[0].start
        psf = sum(w * p for w, p in zip(weights[:, z_mid], psfs, strict=True))
        response = _convolve_same(own, psf)
        claim = (response > threshold) & (response > best[grown])
        best[grown][claim] = response[claim]
        out[grown][claim] = index + 1
    return out
