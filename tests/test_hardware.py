"""What celltool.training.hardware reads off the machine (mocked /proc/cpuinfo, torch's
capability and the environment caps): the capability string, the CPU family the docs' speed
tables are keyed by, the clock and the fp32 peak."""

from __future__ import annotations

import pytest
import torch

from celltool.training import hardware

CPUINFO = """processor\t: 0
model name\t: Example(R) CPU @ 2.10GHz
cpu MHz\t\t: 2100.000
flags\t\t: fpu sse2 avx avx2 fma {extra}
processor\t: 1
model name\t: Example(R) CPU @ 2.10GHz
cpu MHz\t\t: 3400.500
flags\t\t: fpu sse2 avx avx2 fma {extra}
"""


@pytest.fixture
def machine(monkeypatch):
    """Pretend /proc/cpuinfo has ``extra`` flags and torch reports ``vector``; no caps."""

    def set_machine(vector: str, extra: str = "") -> None:
        lines = CPUINFO.format(extra=extra).splitlines()
        monkeypatch.setattr(hardware, "_cpuinfo", lambda: lines)
        hardware.cpu_flags.cache_clear()
        hardware.cpu_model.cache_clear()
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: vector)

    for name in hardware.CAPS:
        monkeypatch.delenv(name, raising=False)
    yield set_machine
    hardware.cpu_flags.cache_clear()
    hardware.cpu_model.cache_clear()


def test_families_from_the_flags(machine):
    machine("AVX2")
    assert hardware.cpu_family() == "AVX2"
    assert hardware.cpu_capability() == "AVX2"
    machine("AVX512", "avx512f")
    assert hardware.cpu_family() == "AVX-512"
    machine("AVX512", "avx512f avx512_bf16 amx_bf16 amx_tile")
    assert hardware.cpu_capability() == "AVX512 + AVX512_BF16 + AMX"
    assert hardware.cpu_family() == "AVX-512 BF16/AMX"
    machine("DEFAULT")
    assert hardware.cpu_family() == "no vector unit"


def test_a_capped_machine_says_so_and_counts_as_avx2(machine, monkeypatch):
    machine("AVX2", "avx512f avx512_bf16 amx_bf16")  # torch honours ATEN_CPU_CAPABILITY=avx2
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    capability = hardware.cpu_capability()
    assert capability.startswith("AVX2 + AVX512_BF16 + AMX (capped: ")
    assert "ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2" in (
        capability
    )
    assert hardware.cpu_family() == "AVX2 (capped)"
    assert not hardware.cpu_bf16()  # so --precision auto picks fp32 there
    assert hardware.resolve_precision("auto", "cpu", {"master_weights": True})[0] == "fp32"
    # a oneDNN cap alone that keeps AVX-512 but drops bf16
    monkeypatch.delenv("ATEN_CPU_CAPABILITY")
    monkeypatch.delenv("MKL_ENABLE_INSTRUCTIONS")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")
    machine("AVX512", "avx512f avx512_bf16 amx_bf16")
    assert hardware.cpu_family() == "AVX-512 (capped)"


def test_model_clock_and_peak(machine):
    machine("AVX2")
    assert hardware.cpu_model() == "Example(R) CPU @ 2.10GHz"
    assert hardware.cpu_clock_mhz() == 3400.5  # the highest core's
    assert hardware.fp32_peak_gflops(2, "AVX2", 2000.0) == 128.0  # 2 × 32 flops × 2 GHz
    assert hardware.fp32_peak_gflops(1, "AVX512 + AMX", 2000.0) == 128.0  # 64 flops/cycle
    assert hardware.fp32_peak_gflops(2, "AVX2", None) is None
    record = hardware.describe()
    assert record["family"] == "AVX2" and record["clock_mhz"] == 3400.5
    assert record["usable_cpus"] >= 1 and record["threads"] == torch.get_num_threads()


def test_no_cpuinfo(monkeypatch):
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: [])
    hardware.cpu_flags.cache_clear()
    try:
        assert hardware.cpu_flags() == frozenset() and hardware.cpu_clock_mhz() is None
        assert not hardware.cpu_bf16()
    finally:
        hardware.cpu_flags.cache_clear()
