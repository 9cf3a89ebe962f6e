"""Each bad-input class: one line naming the file, exit 1 (data) or 2 (usage), no output left."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, cli

from celltool.imageio import write_image

PLUGINS = str(REPO / "tests" / "plugin_files")


def invert(*args: str, cwd: Path | None = None):
    return cli("--plugins-dir", PLUGINS, "invert", *args, cwd=cwd)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def one_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("celltool: error: ")
    return lines[0]


@pytest.fixture
def imgs(tmp_path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        write_image(folder / f"{i}.png", np.full((8, 8), i * 10, np.uint8))
    return folder


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    res = invert(str(tmp_path / "empty"))
    assert res.returncode == 1
    assert f"{tmp_path / 'empty'}: holds no images" in one_line(res)
    assert leftovers(tmp_path) == ["empty"]


def test_missing_folder_and_a_file_instead_of_a_folder(tmp_path):
    res = invert(str(tmp_path / "nope"))
    assert res.returncode == 1
    assert f"{tmp_path / 'nope'}: folder does not exist" in one_line(res)
    (tmp_path / "notes.txt").write_text("hello")
    res = invert(str(tmp_path / "notes.txt"))
    assert res.returncode == 1
    assert f"{tmp_path / 'notes.txt'}: is not a folder" in one_line(res)
    assert leftovers(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_corrupt_file_names_the_file_and_leaves_no_output(imgs, workers):
    (imgs / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    res = invert(str(imgs), "--workers", workers)
    assert res.returncode == 1
    assert f"{imgs / '2.png'}: cannot read image" in one_line(res)
    assert leftovers(imgs.parent) == ["imgs"]  # no imgs-invert, no .imgs-invert.partial-*


def test_non_image_files_are_ignored_in_a_folder_but_refused_alone(imgs, tmp_path):
    (imgs / "notes.txt").write_text("not an image")
    res = invert(str(imgs))
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "imgs-invert").iterdir()) == [
        "0.png",
        "1.png",
        "2.png",
        "3.png",
        "celltool.json",
    ]
    only_text = tmp_path / "text"
    only_text.mkdir()
    (only_text / "a.csv").write_text("1,2\n")
    res = invert(str(only_text))
    assert res.returncode == 1 and "text: holds no images" in one_line(res)


def test_unknown_plugin_and_unknown_command(tmp_path):
    res = cli("simulate", "-o", str(tmp_path / "o"), "-m", "nope")
    assert res.returncode == 2
    assert (
        "unknown simulator 'nope' (available: cells2d, spheroid, timelapse2d, toy-timelapse)"
        in one_line(res)
    )
    res = cli("segmentt", str(tmp_path))
    assert res.returncode == 2 and "No such command 'segmentt'" in res.stderr
    assert leftovers(tmp_path) == []


def test_wrong_input_kind_says_what_was_expected(sim):
    res = invert(str(sim / "cells"))
    assert res.returncode == 1
    assert one_line(res).endswith(
        f"{sim / 'cells'}: is a 'labels' folder (made by 'celltool simulate'); "
        "this step expects images or simulation"
    )
    assert not (sim / "cells-invert").exists()


def test_existing_output_needs_overwrite(imgs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    res = invert(str(imgs), "-o", str(out))
    assert res.returncode == 1
    assert f"{out}: output folder exists and is not empty (use --overwrite)" in one_line(res)
    assert (out / "keep.txt").read_text() == "precious"
    res = invert(str(imgs), "-o", str(out), "--overwrite")
    assert res.returncode == 0, res.stderr
    assert not (out / "keep.txt").exists() and (out / "celltool.json").is_file()
    assert leftovers(tmp_path) == ["imgs", "out"]  # the old copy is gone too
    # an empty existing folder is fine without --overwrite
    (tmp_path / "empty").mkdir()
    assert invert(str(imgs), "-o", str(tmp_path / "empty")).returncode == 0


def test_output_inside_input_is_a_usage_error(imgs):
    for out in (imgs / "sub", imgs, imgs.parent):
        res = invert(str(imgs), "-o", str(out))
        assert res.returncode == 2
        assert "overlaps input folder" in one_line(res)
    assert leftovers(imgs) == ["0.png", "1.png", "2.png", "3.png"]  # input untouched


@pytest.mark.parametrize("workers", ["1", "2"])
def test_step_failing_midway_leaves_nothing(imgs, workers):
    res = invert(str(imgs), "--fail-on", "2", "--workers", workers)
    assert res.returncode == 1
    assert f"{imgs / '2.png'}: deliberate failure" in one_line(res)
    assert leftovers(imgs.parent) == ["imgs"]


FAILING_SIMULATOR = """
import numpy as np
from celltool import hookimpl
from celltool.components import Component


def flaky(shape, rng, fail_at=2):
    image = (rng.random(shape) * 255).astype(np.uint8)
    if image[0, 0] >= 0 and flaky.calls == fail_at:
        raise RuntimeError("sensor on fire")
    flaky.calls += 1
    return {"images": image}


flaky.calls = 0


@hookimpl
def register_simulators(register):
    register(Component("flaky", "fails on the third image", target=flaky,
                       info={"parts": ("images",)}))
"""


def test_simulator_failing_on_image_three_leaves_no_output(tmp_path):
    pdir = tmp_path / "pdir"
    pdir.mkdir()
    (pdir / "flaky.py").write_text(textwrap.dedent(FAILING_SIMULATOR))
    work = tmp_path / "work"
    work.mkdir()
    args = ("--plugins-dir", str(pdir), "simulate", "-m", "flaky", "-n", "5", "--size", "32")
    res = cli(*args, "--executor", "serial", "-o", "out", cwd=work)
    assert res.returncode == 1
    assert one_line(res) == (
        "celltool: error: RuntimeError: sensor on fire (run with --debug for the traceback)"
    )
    assert leftovers(work) == []
    res = cli("--debug", *args, "--executor", "serial", "-o", "out", cwd=work)
    assert res.returncode == 1
    assert "Traceback (most recent call last)" in res.stderr and "flaky" in res.stderr
    assert leftovers(work) == []
    ok = cli(*args, "--executor", "serial", "-o", "out", "--fail-at", "99", cwd=work)
    assert ok.returncode == 2  # not an option of the plugin: usage error, nothing written
    assert leftovers(work) == []
