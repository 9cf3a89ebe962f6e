"""Every option is bounded and checked in one place (``Param.convert``): a bad value is exit 2
with one line naming the option, never an exception name, a hang or a silent NaN."""

from __future__ import annotations

import math

import pytest
from fuzz_cases import VALUES, run_cli

from celltool import plugins
from celltool.components import Param, parse_device, parse_pair, parse_range
from celltool.errors import UsageError
from celltool.executor import ExecutorSpec
from celltool.training.options import FRAMEWORK_PARAMS, TILING_PARAMS, check_sizes

EXTRA = (1.5, -0.5, 10**12, -(10**12), [], {}, [1, 2], True, None)


def every_param() -> list[tuple[str, Param]]:
    """(owner, param) of every built-in component and the framework's options."""
    found = [("framework", p) for p in FRAMEWORK_PARAMS + TILING_PARAMS]
    registry = plugins.registry()
    for family in registry.families:
        for component in registry.all(family):
            found += [(component.name, p) for p in component.params]
            info = component.info
            found += [(component.name, p) for p in getattr(info, "generate_params", ())]
    return found


def test_every_param_converts_or_refuses_with_its_flag():
    """Random and boundary values of every parameter: a value of its type within its bounds,
    or a UsageError that names the flag; numbers are never NaN or infinite."""
    checked = 0
    for owner, param in every_param():
        for value in (*VALUES, *EXTRA):
            if value is None:
                continue
            try:
                converted = param.convert(value, owner=owner)
            except UsageError as exc:
                assert param.flag in str(exc), (owner, param.name, value, str(exc))
                assert "\n" not in str(exc) and len(str(exc)) < 400
                continue
            for v in converted if isinstance(converted, tuple) else (converted,):
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    assert math.isfinite(v), (owner, param.name, value)
                    assert param.min is None or v >= param.min, (owner, param.name, value)
                    assert param.max is None or v <= param.max, (owner, param.name, value)
            checked += 1
    assert checked > 100  # the valid values of a hundred-odd options went through


def test_every_numeric_param_has_bounds():
    """A number without bounds could hang a step or exhaust memory."""
    unbounded = [
        f"{owner}: {p.flag}"
        for owner, p in every_param()
        if p.py_type in (int, float) and p.choices is None and (p.min is None or p.max is None)
    ]
    assert unbounded == []


def test_ranges_and_pairs():
    assert parse_range("2,5") == (2.0, 5.0) and parse_range("3") == (3.0, 3.0)
    with pytest.raises(ValueError, match="lo <= hi"):
        parse_range("10,5")
    with pytest.raises(ValueError, match="two numbers"):
        parse_range("1,2,3")
    assert parse_pair("-1,2") == (-1.0, 2.0)
    with pytest.raises(ValueError, match="two numbers"):
        parse_pair("1")
    assert parse_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError):
        parse_device("gpu")
    radius = plugins.get("simulators", "cells2d").param("cell_radius")
    assert radius.convert([4, 6]) == (4.0, 6.0)  # a list from a config file is checked too
    with pytest.raises(UsageError, match="--cell-radius"):
        radius.convert([6, 4, 2])


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["simulate", "-n", "1", "--size", "32", "--cell-radius", "10,5"], "--cell-radius"),
        (["simulate", "-n", "1", "--size", "32", "--read-noise", "nan"], "--read-noise"),
        (["simulate", "-n", "1", "--size", "32", "--seed", "-1"], "--seed"),
        (["simulate", "-m", "timelapse2d", "--elongation", "0,0"], "--elongation"),
        (["simulate", "-m", "timelapse2d", "--drift", "1,2,3"], "--drift"),
        (["simulate", "-n", "1", "-m", "nope"], "--method"),
        (["simulate", "-n", "1", "--scheduler", "abc"], "--scheduler"),
        (["simulate", "-n", "1", "--workers", "100000"], "--workers"),
        (["segment", ".", "--nucleus-quantile", "2"], "--nucleus-quantile"),
        (["segment", ".", "--smooth-sigma", "1e308"], "--smooth-sigma"),
        (["split", ".", "--ratios", "nan,0,0"], "--ratios"),
        (["split", ".", "--masks", ""], "--masks"),
        (["evaluate", ".", ".", "--pairs", "no.csv"], "--pairs"),
        (["evaluate", ".", ".", "--real-labels", "x" * 300], "--real-labels"),
        (["train", "pix2pix", ".", "--lr", "inf"], "--lr"),
        (["train", "pix2pix", ".", "--netG", "unet_33"], "--netG"),
        (["train", "pix2pix", ".", "--workers", "10000"], "--workers"),
        (["train", "pix2pix", ".", "--config", ""], "--config"),
        (["train", "dual", ".", "--lambda-l1", "nan"], "--lambda-l1"),
        (["train", "dual", ".", "--teacher-start", "nan"], "--teacher-start"),
        (["train", "dual", ".", "--teacher-end", "2"], "--teacher-end"),
    ],
)
def test_bad_values_are_one_line_usage_errors(args, flag, tmp_path):
    outcome = run_cli([*args, "-o", str(tmp_path / "out")])
    assert outcome.code == 2, outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("celltool: error: ") and flag in lines[0]
    assert not (tmp_path / "out").exists()


def test_crop_size_must_fit_the_networks():
    config = {"netG": "unet_32", "crop_size": 33, "netD": "basic"}
    with pytest.raises(UsageError, match="--crop-size 33: --netG unet_32 needs a multiple of 32"):
        check_sizes(config)
    with pytest.raises(UsageError, match="--crop-size 16: the PatchGAN .* at least 24"):
        check_sizes({**config, "netG": "unet_16", "crop_size": 16})
    check_sizes({**config, "crop_size": 64})  # fits
    check_sizes({**config, "netG": "resnet_2blocks", "crop_size": 28})  # 28 = 7 × 4 ≥ 24


def test_scheduler_address_is_checked(monkeypatch):
    assert ExecutorSpec("dask", 1, "tcp://10.0.0.5:8786").scheduler == "tcp://10.0.0.5:8786"
    assert ExecutorSpec("dask", 1, "localhost:8786").scheduler == "localhost:8786"
    for bad in ("abc", "host:0", "host:99999", "tcp://", ""):
        with pytest.raises(UsageError, match="--scheduler"):
            ExecutorSpec("dask", 1, bad)
    monkeypatch.setenv("CELLTOOL_DASK_SCHEDULER", "nowhere")
    with pytest.raises(UsageError, match="CELLTOOL_DASK_SCHEDULER 'nowhere'"):
        ExecutorSpec()


def test_option_files_of_the_wrong_kind_name_the_option(tmp_path):
    """`evaluate --pairs image.png` gave UnicodeDecodeError; a config file that is not TOML or
    holds values of the wrong type names the file or the option."""
    import numpy as np

    from celltool.imageio import write_image

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    write_image(imgs / "a.png", np.zeros((16, 16), np.uint8))
    outcome = run_cli(["evaluate", str(imgs), str(imgs), "--pairs", str(imgs / "a.png"), "-o",
                       str(tmp_path / "m"), "--metrics", "mae"])  # fmt: skip
    assert outcome.code == 2, outcome.stderr
    assert outcome.stderr.startswith(f"celltool: error: {imgs / 'a.png'}: --pairs: cannot read")
    for text, says in ((b"\x89PNG\x00\xff", "unreadable TOML"), (b"lr = [1, 2]\n", "--lr")):
        (tmp_path / "c.toml").write_bytes(text)
        outcome = run_cli(["train", "pix2pix", str(imgs), "--config", str(tmp_path / "c.toml"),
                           "-o", str(tmp_path / "r")])  # fmt: skip
        assert outcome.code in (1, 2) and says in outcome.stderr, outcome.stderr
        assert len(outcome.stderr.strip().splitlines()) == 1
