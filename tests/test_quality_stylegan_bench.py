"""benchmarks/quality_stylegan.py: the snapshot choice and the model-free reference draws that
docs/stylegan.md quotes, on the shared time-lapse masks (skipped without them)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def quality(timelapse):
    module = load_benchmark()
    module.DATA = timelapse / "masks"
    return module


def test_references_are_independent_draws_and_ellipses_are_too_convex(quality):
    out = quality.references(range(150, 160), n=120, res=64, scale=1.0, repeats=2)
    first, second = out["draws"]
    assert first["training_crops"]["nn_distance_w"] != second["training_crops"]["nn_distance_w"]
    for key, (low, mid, high) in out["min_median_max"]["training_crops"].items():
        assert low <= mid <= high, key
    # ellipses are convex (solidity ~0.94, real cells ~0.83): far worse than real crops
    for draw in out["draws"]:
        assert draw["ellipses"]["solidity_w"] > 2 * draw["training_crops"]["solidity_w"]
    assert 0 <= out["training_crops_beat_ellipses_on_nn"] <= 2


def test_select_snapshot_scores_every_snapshot_and_keeps_the_best(quality, tmp_path, monkeypatch):
    import celltool_stylegan.calibrate as calibrate

    monkeypatch.setattr(calibrate, "SAMPLES", 40)  # split choices on 40 samples: seconds
    masks = quality.link_frames(tmp_path / "masks", range(150, 153))
    run = tmp_path / "run"
    done = cli("train", "stylegan", str(masks), "-o", str(run), "--resolution", "64",
               "--cbase", "256", "--cmax", "16", "--epochs", "2", "--epoch-images", "16",
               "--save-every", "1", "--batch-size", "4", "--seed", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = quality.crops(range(150, 153), 12, 64, 1.0, seed=3)
    picked = quality.select_snapshot(run, tmp_path / "work", seen, {})
    scores = picked["scores"]
    assert set(scores) == {"epoch_0001.pt", "epoch_0002.pt", "latest.pt"}
    assert picked["chosen"] == min(scores, key=scores.get)
    # the last snapshot and latest.pt hold the same weights: same seed, same masks, same score
    assert scores["epoch_0002.pt"] == scores["latest.pt"]
    epochs = 1 if picked["chosen"] == "epoch_0001.pt" else 2
    assert picked["kimg"] == pytest.approx(0.016 * epochs)  # 16 images per epoch
    # --select-split: generate's --split-reference on the training masks, for that snapshot
    from celltool_stylegan.calibrate import best

    chosen = run / "checkpoints" / picked["chosen"]
    split = quality.select_split(run, tmp_path / "work", masks, {}, chosen)
    assert split["chosen"] == best(split["scores"]) and split["reference"] == str(masks)
    assert len(split["scores"]) == 15 and split["select_s"] >= 0
    # --select-joint: every snapshot scored with its own best split, the lowest kept
    joint = quality.select_snapshot(run, tmp_path / "work", seen, {}, masks)
    choices = joint["split_choices"]
    assert set(choices) == set(scores)
    for name, choice in choices.items():
        assert joint["scores"][name] == min(choice["scores"].values())
    assert joint["chosen"] == min(joint["scores"], key=joint["scores"].get)
    assert joint["split_selection"] == choices[joint["chosen"]]
    # a snapshot gets the same split scores whichever way it is reached
    assert choices[picked["chosen"]]["scores"] == split["scores"]


def load_benchmark(name: str = "quality_stylegan"):
    """A benchmark module without the time-lapse (for what needs no data)."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_docs_cpu_recipe_command_is_the_benchmarks_recipe():
    """docs/stylegan.md's first command and the benchmark's CPU dict name the same recipe."""
    bench = load_benchmark()
    text = (BENCH.parent / "docs" / "stylegan.md").read_text()
    block = text.split("# a small CPU recipe", 1)[1].split("celltool train stylegan --resume", 1)[0]
    words = block.replace("\\\n", " ").split("#", 1)[0].split()
    flags = {words[i][2:].replace("-", "_"): words[i + 1]
             for i in range(len(words) - 1) if words[i].startswith("--")}  # fmt: skip
    assert float(flags["gamma"]) == bench.CPU["gamma"] == 1.0
    for key in ("resolution", "cbase", "cmax", "w_dim", "map_layers", "pl_weight", "style_mixing",
                "batch_size", "lr", "glr", "ada_kimg"):  # fmt: skip
        assert float(flags[key]) == float(bench.CPU[key]), key


def test_recipe_overrides_keep_types_and_pass_new_keys():
    bench = load_benchmark()
    options = bench.recipe(["gamma=0", "ada-kimg=5", "seed=3"])
    assert options["gamma"] == 0.0 and isinstance(options["gamma"], float)  # auto γ back
    assert options["ada_kimg"] == 5.0 and options["seed"] == "3"
    assert bench.recipe([]) == bench.CPU and bench.recipe([]) is not bench.CPU


def load_trend():
    sys.path.insert(0, str(BENCH))
    try:
        import timelapse_trend
    finally:
        sys.path.remove(str(BENCH))
    return timelapse_trend


@pytest.mark.parametrize("kind", ["linear", "exponential"])
def test_forecast_picks_the_growth_law_by_backtest_and_extrapolates_it(kind):
    trend = load_trend()
    t = np.arange(160.0)
    law = {"linear": lambda x: 60 + 0.3 * x, "exponential": lambda x: 60 * np.exp(0.004 * x)}[kind]
    stats = {"count": law(t), "coverage": 0.0005 * law(t)}
    out = trend.forecast(stats)
    assert out["rule"].startswith(kind)
    assert abs(out["backtest_relative_error"][out["rule"]]["count"]) < 1e-9
    ahead = law(np.arange(160.0, 200.0)).mean()
    assert out["forecast"]["count"] == pytest.approx(ahead, rel=1e-9)
    assert out["forecast"]["coverage"] == pytest.approx(0.0005 * ahead, rel=1e-9)


def test_time_lapse_targets_come_from_the_training_frames_only(quality, monkeypatch):
    trend = load_trend()
    read = []
    real = trend.frame_statistics
    monkeypatch.setattr(trend, "frame_statistics", lambda f, frames: real(
        lambda i: read.append(i) or f(i), frames))  # fmt: skip
    seen = quality.crops(range(150, 160), 400, 64, 1.0, seed=2)
    targets, info = trend.crop_targets(quality.DATA, range(150, 160), seen)
    assert max(read) == 159 and len(read) == 160  # never a held-back frame
    # the culture grows: an exponential fitted to frames 120-159, chosen by backtest
    assert info["rule"] == "exponential_40"
    assert info["training_frame_means"]["count"] == pytest.approx(107.8, abs=0.05)  # 150-159
    assert info["growth"]["count"] == pytest.approx(1.146, abs=0.002)
    assert info["growth"]["coverage"] == pytest.approx(1.169, abs=0.002)
    assert targets["count"] == pytest.approx(1.146 * info["training_crop_means"]["count"], rel=2e-3)


def test_spacing_exponent_recovers_a_power_law():
    trend = load_trend()
    count = np.linspace(60, 140, 50)
    spacing = 200 * count**-0.5
    spacing[3] = np.nan  # a frame with one cell has no spacing: left out
    assert trend.spacing_exponent(count, spacing) == pytest.approx(-0.5, abs=1e-9)


def test_spacing_target_follows_the_forecast_density(quality):
    from celltool.labels import centroid_spacing

    trend = load_trend()
    seen = quality.crops(range(150, 160), 400, 64, 1.0, seed=2)
    targets, info = trend.crop_targets(quality.DATA, range(150, 160), seen, spacing=True)
    # denser frames, closer cells: nearest-neighbour distance ~ count^-0.48 over frames 000-159
    assert info["spacing_exponent"] == pytest.approx(-0.478, abs=0.005)
    assert info["growth"]["nn_distance"] == pytest.approx(1.146**-0.478, abs=0.003)
    crop_nn = np.concatenate([centroid_spacing(s) for s in seen]).mean()
    assert info["training_crop_means"]["nn_distance"] == pytest.approx(crop_nn)
    assert targets["nn_distance"] == pytest.approx(crop_nn * 1.146**-0.478, rel=4e-3)
    assert targets["count"] == pytest.approx(1.146 * info["training_crop_means"]["count"], rel=2e-3)
    assert info["rule"] == "exponential_40"  # the density forecast is unchanged by spacing
    # the rejected alternative: spacing extrapolated along time grows while the density grows
    rejected = info["spacing_extrapolated"]
    assert rejected["forecast"]["spacing"] > info["training_frame_means"]["spacing"]


def test_small_objects_counts_interior_fragments_and_standalone_ones():
    """benchmarks/stylegan_small_objects.py: small = interior objects under half the real
    median area; small_touching = the share of those that touch another object."""
    module = load_benchmark("stylegan_small_objects")
    labels = np.zeros((40, 40), np.uint16)
    labels[5:15, 5:15] = 1  # 100 px, interior
    labels[5:15, 15:18] = 2  # 30 px, touches 1: a fragment
    labels[25:28, 25:28] = 3  # 9 px, alone
    labels[30:40, 0:10] = 4  # on the border: not counted
    labels[20:30, 5:15] = 5  # 100 px, interior, touches nothing small
    foreground = np.where(labels > 0, 1.0, -1.0)
    foreground[labels == 3] = 0.25  # the lone small object is a faint one
    out = module.small_objects([labels], 100.0, [foreground])
    assert out["small_peak"] == pytest.approx((0.25 + 1.0) / 2) and out["other_peak"] == 1.0
    assert out["interior"] == 4
    assert out["small"] == pytest.approx(2 / 4)
    assert out["small_touching"] == pytest.approx(1 / 2)
    assert out["median_area"] == pytest.approx(65.0)
