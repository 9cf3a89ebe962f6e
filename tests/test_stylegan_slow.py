"""Slow StyleGAN tests: a real SIGKILL + resume through the CLI, and torchrun data parallelism
(gloo, 2 CPU processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CELLTOOL, cli, torchrun_train
from test_stylegan import make_masks

pytestmark = pytest.mark.slow

ARGS = ["--cfg", "stylegan2", "--resolution", "16", "--cbase", "128", "--cmax", "8",
        "--w-dim", "8", "--map-layers", "2", "--epoch-images", "8", "--batch-size", "4",
        "--samples", "2", "--threads", "1", "--d-reg-interval", "2", "--ada-kimg", "1",
        "--ada-target", "-1", "--save-every", "0"]  # fmt: skip


def _state(run: Path) -> dict:
    import torch

    return torch.load(run / "checkpoints/latest.pt", map_location="cpu", weights_only=False)


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    import torch

    masks = make_masks(tmp_path / "masks")
    args = ["--epochs", "4", "--checkpoint-steps", "1", "--seed", "5", *ARGS]
    full = tmp_path / "full"
    res = cli("train", "stylegan", str(masks), "-o", str(full), *args)
    assert res.returncode == 0, res.stderr
    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [CELLTOOL, "train", "stylegan", str(masks), "-o", str(cut), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = cut / "logs" / "losses.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill during epoch 3 (2 steps per epoch)
        if log.exists() and len(log.read_text().splitlines()) >= 5:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = _state(cut)
    assert 0 < killed["position"]["global_step"] < 8
    assert killed["extra"]["nimg"] == 4 * killed["position"]["global_step"]
    res = cli("train", "stylegan", "--resume", str(cut))
    assert res.returncode == 0, res.stderr
    a, b = _state(full), _state(cut)
    for net in ("G", "D", "G_ema"):
        for key, value in a["networks"][net].items():
            assert torch.equal(value, b["networks"][net][key]), (net, key)
    assert a["extra"] == b["extra"]  # images seen, ADA p and statistics, path-length mean
    steps = [json.loads(x)["step"] for x in log.read_text().splitlines()]
    assert steps == list(range(1, 9))


def test_torchrun_two_processes_train_one_model(tmp_path):
    masks = make_masks(tmp_path / "masks")
    run = tmp_path / "run"
    res = torchrun_train("stylegan", masks, "-o", run, "--epochs", "2", "--device", "cpu", *ARGS)
    assert res.returncode == 0, res.stderr[-3000:]
    state = _state(run)
    sums = state["rank_checksums"]
    assert len(sums) == 2 and sums[0] == sums[1]  # same G, D, G_ema (and w_avg) everywhere
    assert state["extra"]["nimg"] == 16  # 2 epochs × 1 step × batch 4 × 2 processes
    steps = [json.loads(x)["step"] for x in (run / "logs/losses.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
