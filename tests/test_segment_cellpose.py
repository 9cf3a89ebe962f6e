"""The cellpose adapter, for real and offline: a tiny network trained from scratch on simulated
images, then run through ``celltool segment --method cellpose --model PATH``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

from celltool.imageio import list_images, read_image
from celltool.labels import match_instances
from celltool.manifest import read_manifest

if importlib.util.find_spec("cellpose") is None:  # not imported here: it imports torch
    pytest.skip("cellpose not installed (extra: cellpose)", allow_module_level=True)
EPOCHS = 60


def test_preset_fills_only_options_left_at_defaults():
    from celltool_cellpose.adapter import DEFAULTS, apply_preset

    given = dict(DEFAULTS, diameter=25.0)
    p = apply_preset(given, "seed")
    assert p["model"] == "cyto" and p["flow_threshold"] == 0.9 and p["diameter"] == 25.0
    assert p["nuclei_model"] == "nuclei" and p["nuclei_diameter"] == 15.2
    assert apply_preset(given, "none") == given


def test_missing_model_file_is_an_error(sim, tmp_path):
    res = cli("segment", str(sim), "-o", str(tmp_path / "x"), "-m", "cellpose", "--model",
              str(tmp_path / "nope.pt"), "--workers", "1")  # fmt: skip
    assert res.returncode == 1
    assert "nope.pt: cellpose model file does not exist" in res.stderr
    assert not (tmp_path / "x").exists()


def test_named_model_absent_locally_is_an_error_not_a_download(sim, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    env = {"CELLPOSE_LOCAL_MODELS_PATH": str(models)}
    res = cli("segment", str(sim), "-o", str(tmp_path / "x"), "-m", "cellpose",
              "--preset", "seed", "--workers", "1", env=env)  # fmt: skip
    assert res.returncode == 1
    assert "cellpose model 'cyto' is not installed" in res.stderr
    assert "--model PATH" in res.stderr and "--download" in res.stderr
    assert list(models.iterdir()) == []  # nothing was fetched
    res = cli("segment", str(sim), "-o", str(tmp_path / "y"), "-m", "cellpose", "--model",
              "cyto9", "--workers", "1", env=env)  # fmt: skip
    assert res.returncode == 2 and "unknown cellpose model 'cyto9'" in res.stderr


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> tuple[Path, Path]:
    """A cellpose 3.1 network trained from scratch for a few epochs on simulated cells."""
    import torch
    from cellpose import models, train

    from celltool.executor import ExecutorSpec
    from celltool.steps.simulation import simulate as simulate_folder

    root = tmp_path_factory.mktemp("cellpose")
    sim = simulate_folder(
        root / "sim",
        n=8,
        size=(96, 96),
        seed=5,
        spec=ExecutorSpec("serial"),
        params={"n_cells": 6, "cell_radius": "9,13", "max_overlap": 0.0},
    )
    files = list_images(sim / "images")
    images = [read_image(f).astype(np.float32) for f in files]
    labels = [read_image(sim / "cells" / f.name).astype(np.int32) for f in files]
    torch.manual_seed(0)
    np.random.seed(0)
    net = models.CellposeModel(gpu=False, pretrained_model=False, nchan=2)
    path = train.train_seg(
        net.net,
        train_data=images,
        train_labels=labels,
        channels=[0, 0],
        n_epochs=EPOCHS,
        learning_rate=0.02,
        batch_size=8,
        rescale=False,
        bsize=64,
        min_train_masks=1,
        save_path=str(root),
        model_name="tiny",
    )[0]
    return Path(path), sim


@pytest.mark.slow
def test_tiny_trained_model_segments_through_the_cli(tiny_model, tmp_path):
    model, sim = tiny_model
    assert model.is_file()
    out = tmp_path / "seg"
    res = cli("segment", str(sim), "-o", str(out), "-m", "cellpose", "--model", str(model),
              "--diameter", "30", "--workers", "1")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{out}\n"  # cellpose's own messages stay off stdout
    manifest = read_manifest(out)
    assert manifest["plugin"]["name"] == "cellpose" and manifest["params"]["model"] == str(model)
    assert set(manifest["facts"]["parts"]) == {"cells", "images"}  # no nuclei model given
    f1 = []
    for f in list_images(sim / "images"):
        pred = read_image(out / "cells" / f.name)
        assert pred.dtype == np.uint16 and pred.shape == (96, 96)
        f1.append(match_instances(read_image(sim / "cells" / f.name), pred).f1)
    print(f"tiny cellpose model: mean F1 {np.mean(f1):.3f}")
    assert np.mean(f1) >= 0.5, f1  # a network trained for a minute, on its training images
