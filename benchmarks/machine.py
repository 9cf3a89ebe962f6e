"""Where a benchmark ran: the one record every results file under benchmarks/results carries.

    from machine import machine, finish
    result = {"machine": machine(), ...}      # CPU, capability (and any cap), family, clock,
    ...                                       # cores, threads, torch, python, load before
    finish(result["machine"])                 # load after, just before writing the file

The CPU part is ``celltool.training.hardware.describe()`` (the same record a training run
keeps), so a figure in a results file can always be traced to a CPU family: AVX2, AVX-512,
AVX-512 BF16/AMX, or a capped run (``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2
MKL_ENABLE_INSTRUCTIONS=AVX2`` on an AVX-512 machine reproduces an AVX2 one; the capability
then says ``(capped: ...)`` and the family ``AVX2 (capped)``).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def loadavg() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (None where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def machine(device: Any = None, **extra: Any) -> dict[str, Any]:
    """The machine record with the load before the measurement; ``extra`` adds fields (a
    note, the device). Call :func:`finish` on it before writing the results file."""
    from celltool.training.hardware import describe

    record = describe(device)
    record.pop("load", None)
    record["python"] = platform.python_version()
    record["load_before"] = loadavg()
    record.update(extra)
    return record


def finish(record: dict[str, Any]) -> dict[str, Any]:
    """Add the load after the measurement (in place); returns the record."""
    record["load_after"] = loadavg()
    return record


def fp32_peak_gflops(record: dict[str, Any]) -> float | None:
    """The fp32 peak of the cores a benchmark used (its torch threads, at most the usable
    cores) at the clock /proc/cpuinfo reports."""
    from celltool.training.hardware import fp32_peak_gflops as peak

    cores = min(int(record.get("threads") or 1), int(record.get("usable_cpus") or 1))
    return peak(cores, record["capability"], record.get("clock_mhz"))
