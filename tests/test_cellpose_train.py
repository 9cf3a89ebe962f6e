"""`celltool train cellpose`: cellpose 3.1's network trained by celltool's framework, offline,
from scratch or from a model file; its runs segment through the cellpose adapter."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from conftest import cli

from celltool.imageio import list_images, read_image
from celltool.labels import match_instances
from celltool.manifest import read_manifest

if importlib.util.find_spec("cellpose") is None:  # not imported here: it imports torch
    pytest.skip("cellpose not installed (extra: cellpose)", allow_module_level=True)


def ellipses() -> np.ndarray:
    y, x = np.mgrid[:48, :48]
    labels = np.zeros((48, 48), np.int32)
    labels[((y - 15) ** 2 / 60 + (x - 20) ** 2 / 150) < 1] = 1
    labels[((y - 34) ** 2 / 40 + (x - 30) ** 2 / 90) < 1] = 2
    return labels


def test_flows_turn_with_the_image():
    """The target flows of a flipped/transposed label map are the turned flows (a sign or
    axis error would anti-correlate them); cellpose's centre pixel may move by one."""
    from celltool_cellpose.trainer import flows_target

    from celltool.training.labelled import symmetry

    labels = ellipses()
    flows = flows_target(labels)
    assert flows.shape == (3, 48, 48) and np.array_equal(flows[0], labels > 0)
    for k in range(8):
        direct = flows_target(symmetry([labels], k)[0])
        turned = symmetry([flows], k, [(1, 2)])[0]
        assert np.array_equal(direct[0], turned[0])
        assert np.corrcoef(direct[1:].ravel(), turned[1:].ravel())[0, 1] > 0.98, k


def test_schedule_is_cellposes():
    from celltool_cellpose.trainer import cellpose_lr

    short, mid = cellpose_lr(50), cellpose_lr(200)
    assert [short(e) for e in (0, 4, 9, 10, 49)] == [0.1, 0.5, 1.0, 1.0, 1.0]
    assert [mid(e) for e in (149, 150, 154, 155, 199)] == [1.0, 0.5, 0.5, 0.25, 0.5**10]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from celltool.executor import ExecutorSpec
    from celltool.steps.simulation import simulate
    from celltool.steps.splitting import split

    root = tmp_path_factory.mktemp("cptrain")
    sim = simulate(root / "sim", n=6, size=(96, 96), seed=5, spec=ExecutorSpec("serial"),
                   params={"n_cells": 6, "cell_radius": "9,13", "max_overlap": 0.0})  # fmt: skip
    pairs = split(sim, root / "pairs", layout="folders", labels="instances",
                  params={"crop": "96", "crops": 1}, ratios=(1, 0, 0))  # fmt: skip
    return sim, pairs


def test_train_a_few_steps_and_segment(data, tmp_path):
    from celltool.errors import CelltoolError
    from celltool.steps.training import train

    sim, pairs = data
    small = {"epochs": 2, "crop_size": 64, "batch_size": 3, "threads": 1, "samples": 1}
    run = train("cellpose", [pairs], tmp_path / "run", options=small)
    record = json.loads((run / "config.json").read_text())
    diam = record["data_info"]["diam_labels"]
    assert 12 < diam < 30  # cells of radius 9-13 px
    import torch

    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["networks"]["net"]
    assert float(state["diam_mean"]) == pytest.approx(diam)
    assert float(state["diam_labels"]) == pytest.approx(diam)
    out = tmp_path / "seg"
    res = cli("segment", str(sim), "-o", str(out), "-m", "cellpose", "--model", str(run),
              "--workers", "1")  # fmt: skip
    assert res.returncode == 0, res.stderr
    for f in list_images(sim / "images"):
        pred = read_image(out / "cells" / f.name)
        assert pred.dtype == np.uint16 and pred.shape == (96, 96)
    # the same weights written as a cellpose model file start a new run (--pretrained)
    model_file = tmp_path / "cp_model"
    torch.save(state, model_file)
    tiny_lr = {**small, "epochs": 1, "lr": 1e-9, "pretrained": str(model_file)}
    train("cellpose", [pairs], tmp_path / "run2", options=tiny_lr)
    tuned = torch.load(tmp_path / "run2" / "checkpoints" / "latest.pt", weights_only=True)
    w = "output.2.weight"
    assert torch.allclose(tuned["networks"]["net"][w], state[w], atol=1e-6)
    with pytest.raises(CelltoolError, match="cellpose model file does not exist"):
        train("cellpose", [pairs], tmp_path / "run3", options={"pretrained": tmp_path / "no"})
    assert not (tmp_path / "run3").exists()


@pytest.mark.slow
def test_trained_from_scratch_segments_its_cells(data, tmp_path):
    """~250 steps from scratch on six simulated images: cellpose's network learns them."""
    sim, pairs = data
    run = tmp_path / "run"
    res = cli("train", "cellpose", str(pairs), "-o", str(run), "--epochs", "40",
              "--crop-size", "64", "--crops-per-image", "6", "--batch-size", "6", "--lr", "0.02",
              "--threads", "2", "--samples", "0", "--save-every", "0", timeout=900)  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = tmp_path / "seg"
    res = cli("segment", str(sim), "-o", str(out), "-m", "cellpose", "--model", str(run),
              "--workers", "1")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert read_manifest(out)["params"]["model"] == str(run)
    f1 = [
        match_instances(read_image(sim / "cells" / f.name), read_image(out / "cells" / f.name)).f1
        for f in list_images(sim / "images")
    ]
    print(f"cellpose trained by celltool, 40 epochs: mean F1 {np.mean(f1):.3f}")
    assert np.mean(f1) >= 0.5, f1
