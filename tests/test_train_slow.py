"""Slow trainer tests: a real SIGKILL + resume, and torchrun data parallelism (gloo, 2 CPUs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import CELLTOOL, cli, torchrun_train
from test_train import TINY, _weights, make_pairs

pytestmark = pytest.mark.slow


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    import torch

    pairs = make_pairs(tmp_path, n=8)
    args = ["--epochs", "3", "--checkpoint-steps", "2", "--seed", "5", *TINY]
    full = tmp_path / "full"
    assert cli("train", "pix2pix", str(pairs), "-o", str(full), *args).returncode == 0
    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [CELLTOOL, "train", "pix2pix", str(pairs), "-o", str(cut), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = cut / "logs" / "losses.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill mid-way through epoch 2 (6 train pairs per epoch)
        if log.exists() and len(log.read_text().splitlines()) >= 8:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = torch.load(cut / "checkpoints/latest.pt", weights_only=False)
    assert 0 < state["position"]["global_step"] < 18
    assert json.loads((cut / "celltool.json").read_text())["facts"]["status"] == "training"
    res = cli("train", "pix2pix", "--resume", str(cut))
    assert res.returncode == 0, res.stderr
    a, b = _weights(full), _weights(cut)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [json.loads(x)["step"] for x in log.read_text().splitlines()]
    assert steps == list(range(1, 19))


MASTER = ["--precision", "bf16", "--master-weights", "--fused-adam"]


@pytest.mark.parametrize("extra", [[], MASTER], ids=["fp32", "master"])
def test_torchrun_two_processes_train_one_model(tmp_path, extra):
    """The documented command, ``torchrun --nproc_per_node 2 -m celltool train ...`` (torchrun is
    ``python -m torch.distributed.run``), on CPU with gloo; also with bf16 master weights (the
    gradients are averaged into the masters, so the bf16 weights stay equal too)."""
    import torch

    pairs = make_pairs(tmp_path, n=6)  # 4 train pairs → 2 per process per epoch
    run = tmp_path / "run"
    res = torchrun_train("pix2pix", pairs, "-o", run, "--epochs", "2", "--device", "cpu",
                         "--norm", "batch", *TINY, *extra)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().splitlines() == [str(run)]  # rank 0 prints RUN
    state = torch.load(run / "checkpoints/latest.pt", weights_only=False)
    sums = state["rank_checksums"]
    assert len(sums) == 2 and sums[0] == sums[1]  # both processes hold the same weights
    assert len(state["rng"]) == 2  # per-process RNG states for exact resume
    steps = [json.loads(x)["step"] for x in (run / "logs/losses.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]  # 2 epochs × 2 steps: the 4 pairs are split over 2 processes
