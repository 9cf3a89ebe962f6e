"""--precision auto: bf16 only where the hardware computes it (mocked CPU flags), the model's
fast CPU options with it, the choice recorded in the run and kept on resume."""

from __future__ import annotations

import json

import pytest

from celltool.training import hardware


@pytest.fixture
def cpu(monkeypatch):
    """Pretend the CPU has the given flags."""

    def set_flags(*flags: str) -> None:
        monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))

    for name in hardware.CAPS:
        monkeypatch.delenv(name, raising=False)
    return set_flags


FAST = {"master_weights": True}


def test_auto_is_fp32_on_avx2_and_bf16_with_avx512_bf16_or_amx(cpu, monkeypatch):
    cpu("avx2", "fma")
    assert hardware.resolve_precision("auto", "cpu", FAST)[:2] == ("fp32", {})
    cpu("avx2", "avx512f", "avx512_bf16")
    assert hardware.resolve_precision("auto", "cpu", FAST)[:2] == ("bf16", FAST)
    cpu("avx2", "amx_bf16", "amx_tile")
    assert hardware.resolve_precision("auto", "cpu", FAST)[0] == "bf16"
    assert hardware.resolve_precision("auto", "cpu", None)[0] == "fp32"  # no fast path declared
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # a capped run reproduces an AVX2 CPU
    assert hardware.resolve_precision("auto", "cpu", FAST)[0] == "fp32"
    assert hardware.resolve_precision("bf16", "cpu", FAST) == ("bf16", {}, "--precision")


def test_explicit_bf16_on_a_cpu_without_it_warns_once(cpu, monkeypatch):
    cpu("avx2")
    warned = []
    monkeypatch.setattr(hardware, "_WARNED", set())
    monkeypatch.setattr("celltool.console.warn", warned.append)
    hardware.warn_slow_bf16("cpu")
    hardware.warn_slow_bf16("cpu")
    assert len(warned) == 1 and "33-70x slower" in warned[0]


def _pairs(tmp_path):
    import numpy as np

    from celltool.steps.pairs import pairs_folder

    rng = np.random.default_rng(0)
    items = [(f"{i}", rng.integers(0, 255, (32, 32), np.uint8),
              (rng.random((32, 32)) > 0.5).astype(np.uint8) * 255) for i in range(3)]  # fmt: skip
    return pairs_folder(tmp_path / "pairs", {"train": items, "test": items[:1]})


OPTIONS = {"netG": "unet_32", "ngf": 4, "ndf": 4, "crop_size": 32, "preprocess": "none",
           "samples": 0, "save_every": 0, "threads": 1}  # fmt: skip


def test_the_choice_is_recorded_and_survives_resume(cpu, tmp_path):
    from celltool.manifest import read_manifest
    from celltool.steps.training import train

    pairs = _pairs(tmp_path)
    cpu("avx512f", "avx512_bf16")
    run = train("pix2pix", [pairs], tmp_path / "run", options={**OPTIONS, "epochs": 1})
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["precision"] == "bf16"
    assert record["config"]["master_weights"] is True  # pix2pix's fast CPU path came along
    assert record["precision"]["from"].startswith("auto: CPU with AVX-512 BF16")
    assert "AVX512_BF16" in record["precision"]["hardware"]["capability"]
    assert read_manifest(run)["facts"]["precision"]["chosen"] == "bf16"
    cpu("avx2")  # resumed elsewhere: the recorded choice stays
    train("pix2pix", None, options={"epochs": 2}, resume=run)
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["precision"] == "bf16" and record["config"]["epochs"] == 2
    fp32 = train("pix2pix", [pairs], tmp_path / "run32", options={**OPTIONS, "epochs": 1})
    record = json.loads((fp32 / "config.json").read_text())
    assert record["config"]["precision"] == "fp32" and record["config"]["master_weights"] is False
    assert "no AVX-512 BF16/AMX" in record["precision"]["from"]


def test_auto_keeps_3d_models_in_fp32_on_a_cpu_without_amx(cpu, monkeypatch):
    cpu("avx512f", "avx512_bf16")  # e.g. AMD EPYC: AVX-512 BF16, no AMX
    assert hardware.resolve_precision("auto", "cpu", {}, volumes=True) == (
        "fp32", {}, hardware.NO_AMX_3D)  # fmt: skip
    assert hardware.resolve_precision("auto", "cpu", {}, volumes=False)[0] == "bf16"
    cpu("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    assert hardware.resolve_precision("auto", "cpu", {}, volumes=True)[0] == "bf16"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # AMX capped off
    assert hardware.resolve_precision("auto", "cpu", {}, volumes=True)[0] == "fp32"


def test_bf16_3d_gradients_are_right_wherever_auto_picks_bf16_for_volumes():
    """On this machine (no mocks): the small-map Conv3d weight gradients that oneDNN gets wrong
    in bf16 on CPUs without AMX are checked against fp32 wherever auto picks bf16 for 3D."""
    import torch

    choice, _, reason = hardware.resolve_precision("auto", "cpu", {}, volumes=True)
    if choice != "bf16":
        assert reason in (hardware.NO_AMX_3D, "auto: CPU, no AVX-512 BF16/AMX")
        return
    torch.manual_seed(0)
    for cin, cout in ((16, 1), (8, 16), (1, 16)):
        conv, x = torch.nn.Conv3d(cin, cout, 4, 1, 1), torch.randn(1, cin, 3, 3, 3)
        conv(x).square().mean().backward()
        ref = conv.weight.grad.clone()
        low = torch.nn.Conv3d(cin, cout, 4, 1, 1).bfloat16()
        low.load_state_dict({k: v.bfloat16() for k, v in conv.state_dict().items()})
        low(x.bfloat16()).float().square().mean().backward()
        err = (low.weight.grad.float() - ref).abs().max() / ref.abs().max()
        assert err < 0.05, (cin, cout, float(err))
