"""unet-seg: targets and their decoding, the data set, a short training run through the
framework, and segmentation through `celltool segment --method unet-seg --model RUN`."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cli

from celltool.imageio import list_images, read_image
from celltool.labels import match_instances
from celltool.manifest import read_manifest


def blobs() -> np.ndarray:
    """Three touching discs and one alone (ids 1..4) on 64²."""
    y, x = np.mgrid[:64, :64]
    labels = np.zeros((64, 64), np.int32)
    for i, (cy, cx, r) in enumerate([(20, 16, 9), (20, 33, 9), (36, 24, 9), (50, 52, 7)], 1):
        labels[((y - cy) ** 2 + (x - cx) ** 2 < r * r) & (labels == 0)] = i
    return labels


@pytest.mark.parametrize("mode", ["boundary", "distance"])
def test_targets_decode_to_the_instances(mode):
    from celltool_unetseg.targets import instances, make_target

    labels = blobs()
    target = make_target(labels, mode)
    if mode == "boundary":
        assert set(np.unique(target)) == {0, 1, 2}
        assert np.array_equal(target > 0, labels > 0)
        maps = np.stack([target == k for k in range(3)]).astype(np.float32)
    else:
        assert target.shape == (2, 64, 64) and target[1].max() == 1.0
        assert np.all(target[1][labels == 0] == 0)
        maps = target
    decoded = instances(maps, mode)
    m = match_instances(labels, decoded, 0.7)
    assert m.tp == 4 and m.fp == 0 and decoded.max() == 4


def test_symmetries_and_seeded_items(sim, tmp_path):
    from celltool_unetseg.data import LabelPairsDataset

    from celltool.training.labelled import symmetry

    a = np.arange(12).reshape(3, 4)
    images = {symmetry([a], k)[0].tobytes() for k in range(8)}
    assert len(images) == 8  # the 8 symmetries of a rectangle's pixels are all different
    from celltool.steps.splitting import split

    pairs = split(sim, tmp_path / "pairs", layout="folders", labels="instances",
                  params={"crop": "64", "crops": 1}, ratios=(1, 0, 0))  # fmt: skip
    config = {"targets": "boundary", "crop_size": 32, "crops_per_image": 3, "seed": 4,
              "intensity_aug": 0.2}  # fmt: skip
    ds = LabelPairsDataset(pairs, "train", config, train=True)
    assert len(ds) == 3 * len(list_images(pairs / "train" / "image"))
    one, again, other = ds[(2, 5)], ds[(2, 5)], ds[(3, 5)]
    assert one["input"].shape == (1, 32, 32) and one["target"].shape == (32, 32)
    assert np.array_equal(one["input"], again["input"])
    assert not np.array_equal(one["input"], other["input"])
    assert ds.info["out_channels"] == 3 and ds.info["in_channels"] == 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A unet-seg run trained for ~100 steps on simulated cells (seconds on one thread)."""
    from celltool.executor import ExecutorSpec
    from celltool.steps.simulation import simulate
    from celltool.steps.splitting import split
    from celltool.steps.training import train

    root = tmp_path_factory.mktemp("unetseg")
    sim = simulate(root / "sim", n=6, size=(96, 96), seed=3, spec=ExecutorSpec("serial"),
                   params={"n_cells": 6, "cell_radius": "8,12", "max_overlap": 0.0})  # fmt: skip
    pairs = split(sim, root / "pairs", layout="folders", labels="instances",
                  params={"crop": "96", "crops": 1}, ratios=(1, 0, 0))  # fmt: skip
    run = train("unet-seg", [pairs], root / "run", options={
        "epochs": 12, "batch_size": 4, "crop_size": 64, "crops_per_image": 6, "lr": 3e-3,
        "base_filters": 8, "depth": 3, "threads": 1, "samples": 2, "seed": 1,
    })  # fmt: skip
    return sim, run


def test_training_run_and_segment_cli(trained, tmp_path):
    sim, run = trained
    manifest = read_manifest(run)
    assert manifest["kind"] == "run" and manifest["facts"]["status"] == "done"
    losses = [line for line in (run / "logs" / "losses.jsonl").read_text().splitlines()]
    import json

    ce = [json.loads(line)["losses"]["ce"] for line in losses]
    assert np.mean(ce[-5:]) < 0.7 * np.mean(ce[:5])
    out = tmp_path / "seg"
    res = cli("segment", str(sim), "-o", str(out), "-m", "unet-seg", "--model", str(run),
              "--threads", "1", "--workers", "1")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert read_manifest(out)["params"]["model"] == str(run)
    f1 = []
    for f in list_images(sim / "images"):
        pred = read_image(out / "cells" / f.name)
        assert pred.dtype == np.uint16 and pred.shape == (96, 96)
        f1.append(match_instances(read_image(sim / "cells" / f.name), pred).f1)
    print(f"unet-seg, 12 short epochs: mean F1 {np.mean(f1):.3f}")
    assert np.mean(f1) >= 0.8, f1  # its training images, after ~100 steps


def test_generate_and_errors(trained, tmp_path):
    sim, run = trained
    res = cli("generate", str(run), str(sim / "images"), "-o", str(tmp_path / "g"))
    assert res.returncode == 0, res.stderr
    assert read_manifest(tmp_path / "g")["kind"] == "labels"
    assert len(list_images(tmp_path / "g")) == len(list_images(sim / "images"))
    res = cli("segment", str(sim), "-o", str(tmp_path / "x"), "-m", "unet-seg", "--workers", "1")
    assert res.returncode == 2 and "needs --model RUN" in res.stderr
    res = cli("segment", str(sim), "-o", str(tmp_path / "y"), "-m", "unet-seg", "--model",
              str(tmp_path / "nope"), "--workers", "1")  # fmt: skip
    assert res.returncode == 1 and "nope: unet-seg model does not exist" in res.stderr
    res = cli("segment", str(sim), "-o", str(tmp_path / "z"), "-m", "unet-seg", "--model",
              str(run), "--seed-threshold", "2", "--workers", "1")  # fmt: skip
    assert res.returncode == 2 and "--seed-threshold" in res.stderr
