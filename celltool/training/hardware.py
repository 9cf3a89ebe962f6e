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


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
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
    caps = [f"{k}={os.environ[k]}" for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")
            if k in os.environ]  # fmt: skip
    return " + ".join(parts) + (f" (capped: {', '.join(caps)})" if caps else "")


def describe(device: Any = None) -> dict[str, Any]:
    """The machine a run or a benchmark ran on: CPU model and capability, threads, torch,
    the GPU when one is used, and the load average."""
    import torch

    record = {
        "cpu": cpu_model(),
        "capability": cpu_capability(),
        "cores": os.cpu_count(),
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


def resolve_precision(
    precision: str, device: Any, cpu_fast_path: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any], str]:
    """``(precision, options, reason)``: what ``auto`` means on ``device`` for a model whose
    measured fast bf16 CPU path is ``cpu_fast_path`` (None: it has none); an explicit
    precision is kept (the options are then the user's)."""
    import torch

    device = torch.device(device)
    if precision != "auto":
        return precision, {}, "--precision"
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        return ("bf16" if bf16 else "fp16"), {}, f"auto: {'bf16' if bf16 else 'no bf16'} GPU"
    if cpu_fast_path is not None and cpu_bf16():
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
