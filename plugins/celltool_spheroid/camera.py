"""A physical camera (the chain of microsim, re-implemented): photons → quantum efficiency →
Poisson shot noise + dark current → full well → optional EM gain → Gaussian read noise →
ADC gain and offset → bit depth; N acquisitions averaged.

cell_data_synthesis had Poisson noise on an 8-bit gray scale plus Gaussian noise and a fixed
baseline of 15; here the photon budget is physical and the output 8, 12 or 16 bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from celltool_spheroid.errors import BadParameter

MAX_AVERAGES = 1000


@dataclass(frozen=True)
class Camera:
    """Camera parameters (defaults like microsim's generic camera, QE of a good sCMOS).

    - ``qe``: quantum efficiency, the fraction of photons that become electrons (0..1).
    - ``read_noise``: Gaussian read noise, electrons rms.
    - ``dark_current``: electrons per pixel per second; ``exposure``: seconds.
    - ``clock_induced_charge``: electrons per pixel per frame (EMCCDs).
    - ``full_well``: electrons a pixel holds (more saturate).
    - ``em_gain``: electron-multiplying gain (1 = none); the register is modelled as a Gamma
      distribution of shape n (electrons in) and scale ``em_gain`` (excess noise factor 2).
    - ``offset``: ADU added to every pixel (the bias).
    - ``bit_depth``: 8 (uint8), 12 or 16 (uint16); values saturate at 2^bits − 1.
    - ``adc_gain``: electrons per ADU; None: full well / (2^bits − 1), so that a full well
      reaches the top of the ADC range.
    - ``averages``: acquisitions averaged (each with its own noise).
    """

    qe: float = 0.8
    read_noise: float = 6.0
    dark_current: float = 0.001
    exposure: float = 0.1
    clock_induced_charge: float = 0.0
    full_well: float = 18_000.0
    em_gain: float = 1.0
    offset: float = 100.0
    bit_depth: int = 12
    adc_gain: float | None = None
    averages: int = 1

    def __post_init__(self) -> None:
        checks = {
            "qe": 0 <= self.qe <= 1,
            "read_noise": 0 <= self.read_noise <= 1e4,
            "dark_current": 0 <= self.dark_current <= 1e6,
            "exposure": 0 <= self.exposure <= 3600,
            "clock_induced_charge": 0 <= self.clock_induced_charge <= 1e3,
            "full_well": 1 <= self.full_well <= 1e8,
            "em_gain": 1 <= self.em_gain <= 1e4,
            "offset": 0 <= self.offset < 2**self.bit_depth,
            "bit_depth": self.bit_depth in (8, 12, 16),
            "adc_gain": self.adc_gain is None or 1e-4 <= self.adc_gain <= 1e6,
            "averages": 1 <= self.averages <= MAX_AVERAGES,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"{name}={getattr(self, name)}" for name in bad)
            raise BadParameter(f"camera parameter out of range: {values}")

    @property
    def max_value(self) -> int:
        return 2**self.bit_depth - 1

    @property
    def electrons_per_adu(self) -> float:
        return float(self.adc_gain or self.full_well / self.max_value)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.bit_depth == 8 else np.uint16)


def expose(photons: np.ndarray, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """One acquisition in ADU (float32, quantised but not yet averaged or cast)."""
    mean_e = np.clip(photons, 0, None).astype(np.float64) * camera.qe
    mean_e += camera.dark_current * camera.exposure + camera.clock_induced_charge
    electrons = rng.poisson(mean_e).astype(np.float32)
    np.minimum(electrons, np.float32(camera.full_well), out=electrons)
    if camera.em_gain > 1:
        hit = electrons > 0
        electrons[hit] = rng.gamma(electrons[hit], camera.em_gain).astype(np.float32)
    if camera.read_noise > 0:
        electrons += rng.normal(0.0, camera.read_noise, electrons.shape).astype(np.float32)
    adu = np.round(electrons / np.float32(camera.electrons_per_adu) + np.float32(camera.offset))
    return np.clip(adu, 0, camera.max_value)


def acquire(photons: np.ndarray, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """The camera image of an expected-photon map (per pixel per acquisition): the mean of
    ``camera.averages`` acquisitions, rounded, as uint8 (8 bit) or uint16 (12/16 bit)."""
    total = expose(photons, camera, rng)
    for _ in range(camera.averages - 1):
        total += expose(photons, camera, rng)
    if camera.averages > 1:
        total = np.round(total / np.float32(camera.averages))
    return total.astype(camera.dtype)
