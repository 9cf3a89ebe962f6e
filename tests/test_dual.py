"""The temporal dual model: training, the temporal GAN's gradient path, learned motion (flow
sign) against the seed variant, sequence generation (--steps, --between), exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

from celltool.errors import CelltoolError, UsageError
from celltool.imageio import read_image

SIZE = 32
VELOCITY = (0.0, 2.0)  # px per frame, +x
TINY = {
    "netG": "unet_32",
    "ngf": 8,
    "ndf": 8,
    "crop_size": SIZE,
    "preprocess": "none",
    "flip": False,  # a flip would reverse the toy's one-way motion
    "rollout": 2,
    "save_every": 0,
    "samples": 1,
    "threads": 1,
    "lr": 1e-3,
    "n_epochs_decay": 0,
    "seed": 0,
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """30 frames of 5 cells moving +2 px/frame in x → temporal pairs (train: frames 0–23)."""
    from celltool_simulate.toy import moving_cells

    from celltool.imageio import write_image
    from celltool.steps.splitting import split as split_folder

    tmp = tmp_path_factory.mktemp("toy")
    frames = moving_cells(30, SIZE, seed=0, velocity=VELOCITY, cells=5)
    images, masks = tmp / "toy" / "images", tmp / "toy" / "masks"
    for folder, arrays in ((images, frames[0]), (masks, frames[1])):
        folder.mkdir(parents=True)
        for t, array in enumerate(arrays):
            write_image(folder / f"t{t:03d}.png", array)
    split_folder(
        images, tmp / "pairs", masks=masks, method="frames", by="time", pairs="temporal",
        ratios=(0.8, 0.0, 0.2),
    )  # fmt: skip
    return tmp


def _train(data: Path, run: Path, **extra) -> Path:
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    component = plugins.get("trainers", "dual")
    options = {**TINY, **extra}
    stop = options.pop("stop", None)
    config = resolve_config(component, options)
    return train(component, [data], run, config, overwrite=True, stop_after_steps=stop)


def _generate(run: Path, inputs: list[Path], out: Path, **options) -> Path:
    from celltool import plugins
    from celltool.steps.generation import resolve_options
    from celltool.training.generate import generate_folder

    opts = {**resolve_options(plugins.get("trainers", "dual"), {}), "between": None, **options}
    return generate_folder(run, inputs, out, options=opts, device="cpu")


def _mean_dx(frames: list[np.ndarray]) -> float:
    """Mean x component of the Farnebäck flow (the evaluate branch's) over the sequence."""
    from celltool_metrics.sequence import flows

    return float(np.mean([f[..., 0].mean() for f in flows(frames, 255)]))


@pytest.fixture(scope="module")
def runs(toy) -> dict[str, Path]:
    """A dual and a seed run, 5 epochs each on the toy time-lapse."""
    return {
        v: _train(toy / "pairs", toy / f"run-{v}", variant=v, epochs=5) for v in ("dual", "seed")
    }


def test_chains_link_whole_frame_pairs(toy):
    from celltool_dual.data import SequenceDataset

    ds = SequenceDataset(toy / "pairs", "train", {**TINY, "rollout": 3})
    assert len(ds.chains) == 1 and len(ds.chains[0]) == 24  # frames 0..23 in one chain
    assert ds.length == 4 and len(ds) == 21
    item = ds[(0, 5)]
    assert item["images"].shape == (4, 1, SIZE, SIZE)
    # consecutive windows share frames: window 5 frame 1 == window 6 frame 0
    assert np.array_equal(item["images"][1], ds[(0, 6)]["images"][0])
    real = read_image(toy / "toy" / "images" / "t006.png").astype(np.float32) / 127.5 - 1
    assert np.allclose(item["images"][1, 0].numpy(), real)


def test_training_runs_and_losses_are_finite(runs):
    for variant, run in runs.items():
        records = [json.loads(x) for x in (run / "logs" / "losses.jsonl").open()]
        assert len(records) == 5 * (22 if variant == "dual" else 23)
        for rec in records:
            assert all(np.isfinite(v) for v in rec["losses"].values()), rec
        first, last = records[0]["losses"]["G_l1"], records[-1]["losses"]["G_l1"]
        assert last < 0.5 * first, (variant, first, last)
    dual = [json.loads(x) for x in (runs["dual"] / "logs" / "losses.jsonl").open()]
    assert dual[0]["losses"]["teacher"] == 1.0 and dual[-1]["losses"]["teacher"] == 0.0


def test_temporal_gan_term_reaches_the_render_generator(toy):
    """Backpropagate the temporal GAN term alone: the render and motion generators get a
    non-zero gradient (the seed's t+1 discriminators reached no generator)."""
    import torch
    from celltool_dual.model import Dual

    from celltool import plugins
    from celltool.training.api import Context, DataInfo
    from celltool.training.runs import resolve_config

    config = resolve_config(plugins.get("trainers", "dual"), {**TINY, "epochs": 2})
    config["teacher_start"] = 0.0  # roll out on the model's own sketches
    ds = Dual.make_dataset([toy / "pairs"], "train", config, True)
    model = Dual(config, DataInfo.from_dict(ds.info), Context(device=torch.device("cpu")))
    batch = torch.utils.data.default_collate([ds[(0, 0)], ds[(0, 1)]])
    terms, _, _ = model.generator_losses(batch)
    terms["gan"].backward()
    for name in ("render", "motion"):
        grads = [p.grad for p in model.networks[name].parameters() if p.grad is not None]
        assert grads and sum(float(g.abs().sum()) for g in grads) > 0, name
    assert all(p.grad is None for p in model.networks["D"].parameters())  # D frozen for G


def test_dual_learns_the_motion_direction_and_seed_does_not(toy, runs):
    """The motion network and the fitted motion model both move the toy cells right at about
    the real speed; the seed variant's iteration does not move them."""
    from celltool.training.generate import load_trainer

    opts = {"tile": 0, "overlap": 0, "blend": "cosine", "batch_size": 4}
    start = read_image(toy / "toy" / "images" / "t023.png")
    real = [read_image(toy / "toy" / "images" / f"t{23 + k:03d}.png") for k in range(7)]
    dx = {}
    for name, variant, motion in (
        ("net", "dual", "net"), ("fitted", "dual", "fitted"), ("seed", "seed", "auto")
    ):  # fmt: skip
        model, _ = load_trainer(runs[variant], device="cpu")
        frames = model.rollout(start, 6, {**opts, "motion": motion})
        dx[name] = _mean_dx([start] + [im for im, _ in frames])
    real_dx = _mean_dx(real)
    assert real_dx > 1.5
    assert dx["net"] > 0.5 * real_dx, dx  # moves right, at about the real speed
    assert dx["fitted"] > 0.5 * real_dx, dx
    assert abs(dx["seed"]) < 0.25 * real_dx, dx  # the seed's iteration does not move cells


def test_fitted_motion_model_is_stored_and_selectable(toy, runs, tmp_path):
    """The run's config holds the motion model fitted to the training frames (toy: +2 px/frame
    in x); --motion picks it or the network; the manifest says which; seeds reproduce."""
    config = json.loads((runs["dual"] / "config.json").read_text())
    fitted = config["data_info"]["motion_model"]
    assert 1.0 < fitted["drift_x"] < 2.4 and abs(fitted["drift_y"]) < 0.3
    start = tmp_path / "start"
    start.mkdir()
    (start / "t023.png").write_bytes((toy / "toy" / "images" / "t023.png").read_bytes())
    outs = {}
    for name, extra in (("a", []), ("b", []), ("c", ["--seed", "1"]), ("net", ["--motion", "net"])):
        out = tmp_path / name
        res = cli("generate", str(runs["dual"]), str(start), "--steps", "3", "-o", str(out), *extra)
        assert res.returncode == 0, res.stderr
        outs[name] = [read_image(out / "sketches" / f"t023_step{k:04d}.png") for k in (1, 2, 3)]
        facts = json.loads((out / "celltool.json").read_text())["facts"]
        assert facts["motion"] == ("net" if name == "net" else "fitted")
    assert all(np.array_equal(a, b) for a, b in zip(outs["a"], outs["b"], strict=True))
    assert not all(np.array_equal(a, c) for a, c in zip(outs["a"], outs["c"], strict=True))
    # the written sketches are the ones the frames were rendered from: binary masks
    assert set(np.unique(outs["a"][0])) <= {0, 255}
    res = cli("generate", str(runs["seed"]), str(start), "--steps", "2", "--motion", "fitted",
              "-o", str(tmp_path / "s"))  # fmt: skip
    assert res.returncode == 0, res.stderr  # the seed variant has its own recursion


def test_generate_steps_writes_named_sequence(toy, runs, tmp_path):
    start = tmp_path / "start"
    start.mkdir()
    (start / "t023.png").write_bytes((toy / "toy" / "images" / "t023.png").read_bytes())
    out = tmp_path / "seq"
    res = cli("generate", str(runs["dual"]), str(start), "--steps", "5", "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out)
    names = [f"t023_step{k:04d}.png" for k in range(1, 6)]
    for part in ("images", "sketches"):
        assert sorted(p.name for p in (out / part).iterdir()) == names
    manifest = json.loads((out / "celltool.json").read_text())
    assert manifest["kind"] == "sequence" and manifest["facts"]["steps"] == 5
    frames = [read_image(out / "images" / n) for n in names]
    assert all(f.shape == (SIZE, SIZE) and f.dtype == np.uint8 for f in frames)
    assert all(
        not np.array_equal(a, b) for a, b in zip(frames[:-1], frames[1:], strict=True)
    )  # steps differ
    # without --steps (pix2pix-style single images) it refuses, leaving no output
    with pytest.raises(UsageError, match="--steps"):
        _generate(runs["dual"], [start], tmp_path / "x", steps=0)
    assert not (tmp_path / "x").exists()


def test_generate_between_writes_k_frames(toy, runs, tmp_path):
    a = toy / "toy" / "images" / "t024.png"
    b = toy / "toy" / "images" / "t028.png"
    out = tmp_path / "mid"
    res = cli("generate", str(runs["dual"]), "--between", str(a), str(b), "--steps", "3",
              "-o", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (out / "images").iterdir())
    assert names == [f"t024-t028_step{k:04d}.png" for k in (1, 2, 3)]
    # the interpolated sketches move from A's cells towards B's: +x displacement
    sketches = [read_image(out / "sketches" / n) for n in names]
    xs = [np.nonzero(s > 127)[1].mean() for s in sketches]
    assert len(set(np.round(xs, 3))) == 3
    with pytest.raises(CelltoolError, match="does not exist"):
        _generate(runs["dual"], [], tmp_path / "bad", steps=2, between=[a, tmp_path / "no.png"])
    assert not (tmp_path / "bad").exists()


def test_interpolate_masks_moves_a_disc():
    """Overlapping discs (a shift smaller than the radius) interpolate to the halfway disc."""
    from celltool_dual.model import interpolate_masks

    yy, xx = np.mgrid[:40, :40]
    a = (yy - 20) ** 2 + (xx - 16) ** 2 < 64
    b = (yy - 20) ** 2 + (xx - 24) ** 2 < 64
    mid = interpolate_masks(a, b, 0.5)
    assert abs(np.nonzero(mid)[1].mean() - 20) < 0.25
    assert abs(int(mid.sum()) - int(a.sum())) <= 0.3 * a.sum()
    assert np.array_equal(interpolate_masks(a, b, 0.0), a)
    assert np.array_equal(interpolate_masks(a, b, 1.0), b)


def test_resume_is_exact(toy, tmp_path):
    import torch

    full = _train(toy / "pairs", tmp_path / "full", epochs=2, checkpoint_steps=1, rollout=1)
    cut = _train(toy / "pairs", tmp_path / "cut", epochs=2, checkpoint_steps=1, rollout=1,
                 stop=30)  # fmt: skip
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    component = plugins.get("trainers", "dual")
    config = resolve_config(component, {**TINY, "epochs": 2, "checkpoint_steps": 1, "rollout": 1})
    train(component, None, cut, config, resume=True)

    def weights(run: Path) -> dict:
        state = torch.load(run / "checkpoints" / "latest.pt", weights_only=False)
        return {f"{n}.{k}": v for n, sd in state["networks"].items() for k, v in sd.items()}

    a, b = weights(full), weights(cut)
    assert a.keys() == b.keys() and any(k.startswith("motion.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_non_temporal_pairs_are_a_one_line_error(tmp_path):
    from celltool.steps.pairs import pairs_folder as write_pairs

    image = np.zeros((32, 32), np.uint8)
    pairs = write_pairs(tmp_path / "p", {"train": [("a", image, image)]})
    res = cli("train", "dual", str(pairs), "-o", str(tmp_path / "r"))
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "not a temporal pairs folder" in res.stderr and str(pairs) in res.stderr
    assert not (tmp_path / "r").exists()  # data that does not load leaves no run folder


def test_dual_trains_with_bf16_master_weights(toy, tmp_path):
    """The framework's --master-weights needs nothing from a model: dual's several networks and
    optimizers train through ctx.step, and the checkpoint holds fp32 weights."""
    import math

    import torch

    options = {"epochs": 1, "stop": 3, "checkpoint_steps": 1, "precision": "bf16"}
    run = _train(toy / "pairs", tmp_path / "m", master_weights=True, **options)
    state = torch.load(run / "checkpoints/latest.pt", weights_only=False)
    tensors = [v for sd in state["networks"].values() for v in sd.values()]
    assert tensors and all(v.dtype != torch.bfloat16 for v in tensors)
    records = [json.loads(x) for x in (run / "logs/losses.jsonl").read_text().splitlines()]
    assert len(records) == 3
    assert all(math.isfinite(v) for r in records for v in r["losses"].values())
