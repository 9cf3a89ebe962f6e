"""What the machine can do, and the precision ``--precision auto`` picks from it.

bf16 pays on a CPU only where the hardware computes it (AVX-512 BF16 or AMX): on an AVX2 CPU
oneDNN emulates bf16 convolutions and the measured bf16 paths run 33–70× slower than fp32
(docs/training.md, "Precision and speed"). So ``auto`` is

- on CUDA: bf16 where the GPU supports it, else fp16 with a grad scaler;
- on a CPU: bf16 with the options the model declares as its measured fast CPU path
  (``TrainerInfo.cpu_bf16``, e.g. pix2pix: fp32 master weights, channels-last activations,
  fused Adam) where the CPU has AVX-512 BF16 or AMX; fp32 elsewhere, and for models that
  declare no fast bf16 path.

The choice and the machine are recorded in the run's config and manifest (``precision_from``,
``hardware``), and a resumed run keeps the recorded choice.
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) that still include native bf16 instructions
BF16_ISAS = {"ALL", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX",
             "AVX512_CORE_AMX_FP16", "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16",
             "AVX10_2_512", "AVX10_2_512_AMX_2"}  # fmt: skip


def _cpuinfo() -> list[str]:
    """The lines of Linux's /proc/cpuinfo (none elsewhere)."""
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    for line in _cpuinfo():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


# environment variables that cap the instruction sets torch's CPU kernels use (oneDNN, ATen's
# own vector code and inductor, MKL's GEMMs): set together, they make an AVX-512 machine run
# the AVX2 code an AVX2 machine would
CAPS = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else what platform knows)."""
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX), as torch will use it:
    a cap through ``ONEDNN_MAX_CPU_ISA`` or ``ATEN_CPU_CAPABILITY`` (e.g. to reproduce an
    AVX2 machine) counts."""
    flags = cpu_flags()
    if not ({"avx512_bf16", "amx_bf16"} & flags):
        return False
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    aten = os.environ.get("ATEN_CPU_CAPABILITY", "").lower()
    return isa in BF16_ISAS and aten not in ("default", "avx2")


def cpu_amx() -> bool:
    """Whether this CPU has AMX and torch may use it (no ISA cap below AMX)."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper()
    return "amx_bf16" in cpu_flags() and cpu_bf16() and (isa == "ALL" or "AMX" in isa)


def cpu_capability() -> str:
    """torch's vector capability (AVX2, AVX512, ...) plus the bf16 units, e.g.
    ``AVX512 + AVX512_BF16 + AMX``."""
    import torch

    parts = [torch.backends.cpu.get_cpu_capability()]
    flags = cpu_flags()
    if "avx512_bf16" in flags:
        parts.append("AVX512_BF16")
    if "amx_bf16" in flags:
        parts.append("AMX")
    caps = [f"{k}={os.environ[k]}" for k in CAPS if k in os.environ]
    return " + ".join(parts) + (f" (capped: {', '.join(caps)})" if caps else "")


def cpu_clock_mhz() -> float | None:
    """The clock /proc/cpuinfo reports (the highest over cores; under a hypervisor often the
    nominal clock, not the turbo clock the cores run at); None where unknown."""
    try:
        values = [float(ln.split(":", 1)[1]) for ln in _cpuinfo() if ln.startswith("cpu MHz")]
    except ValueError:
        return None
    return max(values) if values else None


def cpu_family() -> str:
    """The CPU family the docs' speed tables are keyed by: ``AVX2``, ``AVX-512``,
    ``AVX-512 BF16/AMX`` (bf16 as torch will use it, :func:`cpu_bf16`), with `` (capped)``
    when an environment cap (:data:`CAPS`) makes the machine run below what it has."""
    capability = cpu_capability()
    vector = capability.split(" ")[0].upper()
    capped = " (capped)" if "(capped" in capability else ""
    if vector.startswith("AVX512"):
        return ("AVX-512 BF16/AMX" if cpu_bf16() else "AVX-512") + capped
    return ("no vector unit" if vector == "DEFAULT" else vector) + capped


def fp32_peak_gflops(cores: int, capability: str, clock_mhz: float | None) -> float | None:
    """The fp32 peak of ``cores`` cores: cores × flops per cycle × clock (two FMA units:
    32 flops/cycle with AVX2, 64 with AVX-512); None where the clock is unknown. Under a
    hypervisor /proc/cpuinfo's clock is often the nominal one, so a turbo clock makes the
    true peak higher."""
    if not clock_mhz:
        return None
    per_cycle = 64 if capability.upper().startswith("AVX512") else 32
    return cores * per_cycle * clock_mhz / 1000


def usable_cpus() -> int:
    """The cores this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def describe(device: Any = None) -> dict[str, Any]:
    """The machine a run or a benchmark ran on: CPU model, capability (with any cap), clock,
    cores, threads, torch, the GPU when one is used, and the load average."""
    import torch

    record = {
        "cpu": cpu_model(),
        "capability": cpu_capability(),
        "family": cpu_family(),
        "clock_mhz": cpu_clock_mhz(),
        "cores": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if device is not None and str(device).startswith("cuda") and torch.cuda.is_available():
        record["gpu"] = torch.cuda.get_device_name(torch.device(device))
    try:
        record["load"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    return record


# on AVX-512 BF16 CPUs without AMX (AMD EPYC, torch 2.14.1) oneDNN's bf16 Conv3d weight
# gradients are wrong for small maps (NaN or 1e37 where fp32 gives 0.06: docs/training.md)
NO_AMX_3D = "auto: CPU without AMX, where bf16 3D convolution gradients are wrong"


def resolve_precision(
    precision: str,
    device: Any,
    cpu_fast_path: Mapping[str, Any] | None = None,
    volumes: bool = False,
) -> tuple[str, dict[str, Any], str]:
    """``(precision, options, reason)``: what ``auto`` means on ``device`` for a model whose
    measured fast bf16 CPU path is ``cpu_fast_path`` (None: it has none) and which may train
    on 3D ``volumes``; an explicit precision is kept (the options are then the user's)."""
    import torch

    device = torch.device(device)
    if precision != "auto":
        return precision, {}, "--precision"
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        return ("bf16" if bf16 else "fp16"), {}, f"auto: {'bf16' if bf16 else 'no bf16'} GPU"
    if cpu_fast_path is not None and cpu_bf16():
        if volumes and not cpu_amx():
            return "fp32", {}, NO_AMX_3D
        return "bf16", dict(cpu_fast_path), "auto: CPU with AVX-512 BF16/AMX"
    why = "no AVX-512 BF16/AMX" if not cpu_bf16() else "no measured bf16 path for this model"
    return "fp32", {}, f"auto: CPU, {why}"


_WARNED: set[str] = set()


def warn_slow_bf16(device: Any) -> None:
    """Once per process: explicit bf16 on a CPU without bf16 units is much slower than fp32."""
    import torch

    if torch.device(device).type != "cpu" or cpu_bf16() or "bf16" in _WARNED:
        return
    _WARNED.add("bf16")
    from celltool.console import warn

    warn(
        f"--precision bf16 on a CPU without AVX-512 BF16/AMX ({cpu_capability()}): bf16 is "
        "emulated there and measured 33-70x slower than fp32 (docs/training.md); use "
        "--precision auto or fp32"
    )
