"""Run folders are safe to share and to replace: checkpoints never run code, a new run replaces
an old one only when it has its first checkpoint, a diverged run stops with one line, and
resuming says when there is nothing to do."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fuzz_cases import run_cli
from test_train import make_pairs

from celltool.errors import CelltoolError

torch = pytest.importorskip("torch")

TINY = ["--netG", "unet_32", "--ngf", "2", "--ndf", "2", "--crop-size", "32", "--preprocess",
        "crop", "--samples", "0", "--threads", "1", "--save-every", "0"]  # fmt: skip


def one_error(outcome, code: int = 1) -> str:
    assert outcome.code == code, outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("celltool: error: "), outcome.stderr
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_pairs(tmp_path_factory.mktemp("pairs"), n=5, size=32)


@pytest.fixture(scope="module")
def run(data) -> Path:
    """A finished one-epoch pix2pix run (copied by the tests that change it)."""
    out = data.parent / "run"
    outcome = run_cli(["train", "pix2pix", str(data), "-o", str(out), "--epochs", "1", *TINY])
    assert outcome.code == 0, outcome.stderr
    return out


class Payload:
    """Unpickling this creates ``path``: what an attacker's checkpoint would do."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_checkpoint_with_a_pickled_payload_is_refused(run, data, tmp_path):
    """generate and train --resume load checkpoints with weights_only=True: the payload of a
    shared run folder never runs; both refuse it with one line."""
    evil = tmp_path / "evil-run"
    shutil.copytree(run, evil)
    marker = tmp_path / "pwned"
    latest = evil / "checkpoints" / "latest.pt"
    state = torch.load(latest, map_location="cpu", weights_only=True)
    state["extra"] = {"x": Payload(marker)}
    torch.save(state, latest)
    # the payload is live: a plain torch.load would run it
    torch.load(latest, weights_only=False)
    assert marker.exists()
    marker.unlink()
    sketches = tmp_path / "sketches"
    sketches.mkdir()
    from celltool.imageio import write_image

    write_image(sketches / "a.png", np.zeros((32, 32), np.uint8))
    for argv in (
        ["generate", str(evil), str(sketches), "-o", str(tmp_path / "g"), "--device", "cpu"],
        ["train", "pix2pix", "--resume", str(evil), "--epochs", "2"],
    ):
        line = one_error(run_cli(argv))
        assert f"{latest}: refused: the checkpoint holds objects other than tensors" in line
        assert not marker.exists()
    assert not (tmp_path / "g").exists()


def test_checkpoints_hold_only_tensors_and_plain_data(run):
    state = torch.load(run / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
    assert set(state["rng"][0]) >= {"python", "numpy", "torch"}
    assert isinstance(state["rng"][0]["numpy"]["keys"], list)


def test_overwrite_keeps_the_old_run_when_the_new_one_fails(run, data, tmp_path):
    """train -o OLD --overwrite used to delete OLD first; a new run failing on a corrupt image
    left nothing."""
    old = tmp_path / "old"
    shutil.copytree(run, old)
    before = (old / "checkpoints" / "latest.pt").read_bytes()
    bad = tmp_path / "bad"
    shutil.copytree(data, bad)
    (bad / "train" / "f002.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    argv = ["train", "pix2pix", str(bad), "-o", str(old), "--overwrite", "--epochs", "1", *TINY]
    line = one_error(run_cli(argv))
    assert str(bad / "train" / "f002.png") in line
    assert (old / "checkpoints" / "latest.pt").read_bytes() == before
    assert json.loads((old / "celltool.json").read_text())["facts"]["status"] == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "old"]  # no partial left
    # the same command on good data replaces the old run (another seed: other weights)
    argv[2] = str(data)
    assert run_cli([*argv, "--seed", "1"]).code == 0
    assert (old / "checkpoints" / "latest.pt").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "old"]


class Diverging:
    """Wraps a trainer class: losses turn NaN at step 2."""

    @staticmethod
    def make(component):
        base = component.load()

        class Diverges(base):
            steps = 0

            def train_step(self, batch):
                losses = super().train_step(batch)
                Diverges.steps += 1
                return {**losses, "G_L1": math.nan} if Diverges.steps >= 2 else losses

        return replace(component, target=Diverges)


def test_nan_loss_stops_training_with_one_line(data, tmp_path):
    """Training that reached NaN losses went on and exited 0."""
    from celltool import plugins
    from celltool.training.loop import train
    from celltool.training.runs import resolve_config

    component = Diverging.make(plugins.get("trainers", "pix2pix"))
    options = {"netG": "unet_32", "ngf": 2, "ndf": 2, "crop_size": 32, "preprocess": "crop",
               "samples": 0, "threads": 1, "epochs": 2, "checkpoint_steps": 1}  # fmt: skip
    config = resolve_config(component, options)
    with pytest.raises(CelltoolError, match=r"loss G_L1 is nan at step 2 \(epoch 1\)") as err:
        train(component, [data], tmp_path / "run", config)
    assert "\n" not in str(err.value)
    record = json.loads((tmp_path / "run" / "celltool.json").read_text())
    assert record["facts"]["status"] == "failed"  # published at step 1; not "training"
    state = torch.load(tmp_path / "run/checkpoints/latest.pt", weights_only=True)
    assert state["position"]["global_step"] == 1  # the last finite checkpoint is kept


def test_resume_items(run, tmp_path):
    """--resume -o X was silently ignored; --resume --epochs N on a run that trained N epochs
    exited 0 doing nothing; epochs_done is kept up to date."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    assert json.loads((copy / "celltool.json").read_text())["facts"]["epochs_done"] == 1
    line = one_error(
        run_cli(["train", "pix2pix", "--resume", str(copy), "-o", str(tmp_path / "x")]), 2
    )
    assert "--resume continues RUN in place; do not give another -o" in line
    line = one_error(run_cli(["train", "pix2pix", "--resume", str(copy), "--epochs", "1"]), 2)
    assert "has trained 1 epochs already; raise --epochs" in line
    assert run_cli(["train", "pix2pix", "--resume", str(copy), "--epochs", "2"]).code == 0
    facts = json.loads((copy / "celltool.json").read_text())["facts"]
    assert facts["epochs_done"] == 2 and facts["status"] == "done"


def test_generate_refuses_inputs_the_model_cannot_take(run, tmp_path):
    """A (5, 64, 64) TIFF given to a 2D model came out as a 5×64 PNG; an RGB image given to a
    1-channel model silently used channel 0; `generate RUN RUN` translated loss_curve.png."""
    from celltool.imageio import write_image

    rng = np.random.default_rng(0)
    cases = {
        "stack.tif": (rng.random((5, 64, 64)) * 255).astype(np.uint8),
        "colour.png": (rng.random((32, 32, 3)) * 255).astype(np.uint8),
        "deep.png": np.full((32, 32), 4000, np.uint16),
    }
    says = {
        "stack.tif": "is a 3D stack (5, 64, 64); this model takes 2D images",
        "colour.png": "has 3 channels; the model was trained on 1-channel images",
        "deep.png": "holds values up to 4000; the model was trained on 8-bit images",
    }
    for name, array in cases.items():
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        write_image(folder / name, array)
        argv = ["generate", str(run), str(folder), "-o", str(tmp_path / "g"), "--device", "cpu"]
        line = one_error(run_cli(argv))
        assert f"{folder / name}: {says[name]}" in line
        assert not (tmp_path / "g").exists()
    gray = tmp_path / "gray"  # gray stored as RGB (the original pix2pix data) is fine
    gray.mkdir()
    plane = (rng.random((32, 32)) * 255).astype(np.uint8)
    write_image(gray / "g.png", np.dstack([plane] * 3))
    argv = ["generate", str(run), str(gray), "-o", str(tmp_path / "g"), "--device", "cpu"]
    assert run_cli(argv).code == 0
    line = one_error(run_cli(["generate", str(run), str(run), "-o", str(tmp_path / "r")]))
    assert f"{run}: is a 'run' folder, not input images" in line
