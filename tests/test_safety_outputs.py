"""No input is ever deleted: every path a step reads (arguments, option paths, a plugin's
``Param(input=True)``, the parts of containers) is protected from ``-o ... --overwrite``, and
shards join only a folder their own command started."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from fuzz_cases import run_cli, tiny_data, tiny_runs

from celltool.errors import CelltoolError
from celltool.imageio import write_image
from celltool.outputs import OutputFolder, Shard


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (or the file itself) and its bytes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("protect")
    found = tiny_data(tmp)
    found.update(tiny_runs(tmp, found))
    masks = tmp / "masks"
    masks.mkdir()
    for path in sorted((found["sim"] / "images").glob("*.png")):
        write_image(masks / path.name, np.full((32, 32), 255, np.uint8))
    found["masks"] = masks
    shutil.copytree(found["sim"] / "images", tmp / "gen")
    found["gen"] = tmp / "gen"
    (tmp / "pairs.csv").write_text("real,generated\nsim_0000.png,sim_0000.png\n")
    found["csv"] = tmp / "pairs.csv"
    for name in ("man_track.txt", "res_track.txt"):
        (tmp / name).write_text("1 0 0 0\n")
    found["tracks"] = tmp / "man_track.txt"
    found["res"] = tmp / "res_track.txt"
    config = tmp / "config"
    config.mkdir()
    (config / "train.toml").write_text("epochs = 1\n")
    found["config"] = config / "train.toml"
    ckpt = tmp / "ckpt"
    ckpt.mkdir()
    shutil.copy(found["pix2pix"] / "checkpoints" / "latest.pt", ckpt / "latest.pt")
    found["ckpt"] = ckpt / "latest.pt"
    return found


TRAIN = ["--epochs", "1", "--netG", "unet_32", "--ngf", "2", "--ndf", "2", "--crop-size", "32",
         "--preprocess", "crop", "--samples", "0", "--threads", "1"]  # fmt: skip


# (argv with {name} placeholders, the protected path, where -o points: the path or its parent)
CASES = {
    "evaluate --real-labels": (
        [
            "evaluate",
            "{sim}/images",
            "{sim}/images",
            "--real-labels",
            "{masks}",
            "--metrics",
            "mae",
        ],
        "masks",
        "self",
    ),  # fmt: skip
    "evaluate --generated-labels": (
        [
            "evaluate",
            "{sim}/images",
            "{sim}/images",
            "--generated-labels",
            "{masks}",
            "--metrics",
            "mae",
        ],
        "masks",
        "self",
    ),  # fmt: skip
    "evaluate --pairs": (
        ["evaluate", "{sim}/images", "{sim}/images", "--pairs", "{csv}", "--metrics", "mae"],
        "csv",
        "parent",
    ),  # fmt: skip
    "evaluate --real-tracks": (
        ["evaluate", "{seg}", "{seg}", "--real-tracks", "{tracks}", "--generated-tracks", "{res}"],
        "tracks",
        "self",
    ),  # fmt: skip
    "evaluate --generated-tracks": (
        ["evaluate", "{seg}", "{seg}", "--real-tracks", "{tracks}", "--generated-tracks", "{res}"],
        "res",
        "self",
    ),  # fmt: skip
    "evaluate REAL's images part": (
        ["evaluate", "{seg}", "{gen}", "--metrics", "mae"],
        "sim",
        "self",
    ),  # fmt: skip
    "sketch --masks": (
        ["sketch", "{sim}/images", "--masks", "{masks}", "--levels", "1"],
        "masks",
        "self",
    ),  # fmt: skip
    "sketch: the segmentation's images part": (["sketch", "{seg}"], "sim", "self"),
    "split --masks": (
        ["split", "{sim}/images", "--masks", "{masks}", "-m", "frames"],
        "masks",
        "self",
    ),  # fmt: skip
    "split: the sketch's images part": (["split", "{sketch}", "-m", "frames"], "sim", "self"),
    "train --config": (
        ["train", "pix2pix", "{pairs}", "--config", "{config}", *TRAIN],
        "config",
        "parent",
    ),  # fmt: skip
    "generate --checkpoint": (
        ["generate", "{pix2pix}", "{sketches}", "--checkpoint", "{ckpt}", "--device", "cpu"],
        "ckpt",
        "parent",
    ),  # fmt: skip
    "generate RUN": (
        ["generate", "{pix2pix}", "{sketches}", "--device", "cpu"],
        "pix2pix",
        "self",
    ),  # fmt: skip
    "generate --start-sketches": (
        [
            "generate",
            "{dual}",
            "{sketches}",
            "--steps",
            "1",
            "--start-sketches",
            "{masks}",
            "--device",
            "cpu",
        ],
        "masks",
        "self",
    ),  # fmt: skip
    "generate --between": (
        [
            "generate",
            "{dual}",
            "--steps",
            "1",
            "--between",
            "{sim}/images/sim_0000.png",
            "{sim}/images/sim_0001.png",
            "--device",
            "cpu",
        ],
        "sim",
        "self",
    ),  # fmt: skip
    "segment INPUT": (["segment", "{sim}"], "sim", "self"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_path_a_step_reads_is_protected_from_overwrite(data, tmp_path, case):
    """`celltool evaluate a a --real-labels masks -o masks --overwrite` deleted masks/; so did
    8 of 8 such options."""
    template, name, where = CASES[case]
    protected = data[name]
    out = protected if where == "self" else protected.parent
    if out.is_file():
        out = out.parent
    before = snapshot(protected)
    argv = [a.format(**{k: str(v) for k, v in data.items()}) for a in template]
    outcome = run_cli([*argv, "-o", str(out), "--overwrite"])
    assert outcome.code == 2, outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert "overlaps input" in lines[-1] and len(lines) == 1, outcome.stderr
    assert snapshot(protected) == before


PROTOTYPES_PLUGIN = """
import numpy as np
from pathlib import Path
from celltool import hookimpl
from celltool.components import Component, Param
from celltool.contracts import SimulatorInfo


def from_prototypes(shape, rng, prototypes=""):
    n = len(list(Path(prototypes).iterdir()))
    return {"images": np.full(shape, n, np.uint8), "cells": np.zeros(shape, np.uint16)}


@hookimpl
def register_simulators(register):
    register(Component(
        name="from-prototypes", description="Reads a folder of prototypes.",
        target=from_prototypes,
        params=(Param("prototypes", "", "Folder of prototypes.", input=True),),
        info=SimulatorInfo(parts=("images", "cells")),
    ))
"""


def test_a_simulators_input_param_is_protected(tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    monkeypatch.setenv("CELLTOOL_PLUGINS_DIR", str(plugins))
    (plugins / "protos.py").write_text(textwrap.dedent(PROTOTYPES_PLUGIN))
    protos = tmp_path / "protos"
    protos.mkdir()
    (protos / "p.txt").write_text("precious")
    base = ["simulate", "-m", "from-prototypes", "-n", "1",
            "--size", "32", "--prototypes", str(protos)]  # fmt: skip
    outcome = run_cli([*base, "-o", str(protos), "--overwrite"])
    assert outcome.code == 2 and "overlaps input folder" in outcome.stderr
    assert (protos / "p.txt").read_text() == "precious"
    outcome = run_cli([*base, "-o", str(tmp_path / "sim")])
    assert outcome.code == 0, outcome.stderr
    outcome = run_cli([*base[:-1], str(tmp_path / "nope"), "-o", str(tmp_path / "sim2")])
    assert outcome.code == 2 and "--prototypes" in outcome.stderr  # must exist


# -- shards ----------------------------------------------------------------------------------
SIM = ["simulate", "-n", "4", "--size", "32", "--n-cells", "3", "--workers", "1"]


def test_a_shard_never_writes_into_a_foreign_folder(tmp_path):
    """`--shard K/N` wrote into any non-empty folder without --overwrite and replaced a user's
    file; shards join only a folder started by the same command's shards."""
    user = tmp_path / "userdata"
    user.mkdir()
    (user / "sim_0000.png").write_bytes(b"precious")
    for extra in ([], ["--overwrite"]):
        outcome = run_cli([*SIM, "-o", str(user), "--shard", "1/2", *extra])
        assert outcome.code == 1, outcome.stderr
        assert "was not started by shards of this command" in outcome.stderr
        assert sorted(p.name for p in user.iterdir()) == ["sim_0000.png"]
        assert (user / "sim_0000.png").read_bytes() == b"precious"


def test_shards_of_one_command_join_and_others_are_refused(tmp_path):
    out = tmp_path / "sim"
    assert run_cli([*SIM, "-o", str(out), "--shard", "1/2"]).code == 0
    # another command (another seed, another N) cannot join
    for other in (["--seed", "5", "--shard", "2/2"], ["--shard", "2/3"]):
        outcome = run_cli([*SIM, "-o", str(out), *other])
        assert outcome.code == 1 and "started by shards of another command" in outcome.stderr
    # the same shard again (a retried array task) and the missing one complete the folder
    assert run_cli([*SIM, "-o", str(out), "--shard", "1/2"]).code == 0
    assert run_cli([*SIM, "-o", str(out), "--shard", "2/2"]).code == 0
    whole = tmp_path / "whole"
    assert run_cli([*SIM, "-o", str(whole)]).code == 0
    for part in ("images", "cells", "nuclei"):
        for path in sorted((whole / part).glob("*.png")):
            assert (out / part / path.name).read_bytes() == path.read_bytes()


def test_shard_identity_is_checked_in_the_api(tmp_path):
    from celltool.manifest import make_manifest

    out = tmp_path / "o"
    folder = OutputFolder(out, shard=Shard(1, 2), identity={"step": "a"})
    with folder as work:
        (work / "x").write_text("1")
        folder.manifest = make_manifest("images", step="a")
    with pytest.raises(CelltoolError, match="differs in: step"):
        with OutputFolder(out, shard=Shard(2, 2), identity={"step": "b"}):
            pass
