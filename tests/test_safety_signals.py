"""Signals and odd outputs: SIGTERM and SIGHUP clean up like Ctrl-C, a killed run never blocks
a rerun, `-o .` / `-o ''` are refused, and a closed pipe after publishing is not an error."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CELLTOOL, cli
from test_train import make_pairs

TRAIN = ["--netG", "unet_32", "--ngf", "4", "--ndf", "4", "--crop-size", "32", "--preprocess",
         "crop", "--samples", "0", "--threads", "1"]  # fmt: skip


def start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [CELLTOOL, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(pattern: str, folder: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until a file or folder matching ``pattern`` appears in ``folder`` (the step started)."""
    end = time.monotonic() + timeout
    while not list(folder.glob(pattern)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"{pattern} never appeared"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("sig", "workers"), [(signal.SIGTERM, "1"), (signal.SIGHUP, "1"), (signal.SIGTERM, "2")]
)
def test_sigterm_and_sighup_remove_the_partial_folder(tmp_path, sig, workers):
    """Only SIGINT cleaned up; SIGTERM (a batch scheduler's kill) and SIGHUP (a closed
    terminal) left .NAME.partial-* folders."""
    proc = start("simulate", "-n", "400", "--size", "128", "-o", "sim", "--workers", workers,
                 cwd=tmp_path)  # fmt: skip
    wait_for(".sim.partial-*/images/*.png", tmp_path, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == f"celltool: terminated ({sig.name})"
    assert list(tmp_path.iterdir()) == []


def test_sigterm_before_the_first_checkpoint_leaves_no_run(tmp_path):
    pairs = make_pairs(tmp_path, n=60, size=32)
    proc = start("train", "pix2pix", str(pairs), "-o", "run", "--epochs", "1", *TRAIN,
                 cwd=tmp_path)  # fmt: skip
    wait_for(".run.partial-*/logs", tmp_path, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs"]


def test_a_killed_run_does_not_block_a_rerun(tmp_path):
    """kill -9 before the first checkpoint used to leave RUN with no checkpoint, status
    'training', and a rerun refused as 'not empty'."""
    pairs = make_pairs(tmp_path, n=60, size=32)
    args = ["train", "pix2pix", str(pairs), "-o", "run", "--epochs", "1", *TRAIN]
    proc = start(*args, cwd=tmp_path)
    wait_for(".run.partial-*/logs", tmp_path, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert not (tmp_path / "run").exists()  # only a hidden .run.partial-* sibling remains
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "run" / "checkpoints" / "latest.pt").is_file()


@pytest.mark.parametrize("out", [".", "", "./", ".."])
def test_output_holding_the_current_folder_is_refused(tmp_path, out):
    """`-o .` or `-o ''` in an empty folder failed with "PosixPath('.') has an empty name" and
    left ..partial-*."""
    work = tmp_path / "empty"
    work.mkdir()
    res = cli("simulate", "-n", "1", "--size", "32", "-o", out, cwd=work)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "is (or holds) the current directory" in lines[0]
    assert list(tmp_path.iterdir()) == [work] and list(work.iterdir()) == []


def test_a_reader_that_goes_away_is_not_an_error(tmp_path):
    """`celltool simulate ... | true` exited 1 with no message although the folder was
    published: the step's work is done; stdout only carries the path."""
    path = f"{Path(CELLTOOL).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    script = "celltool simulate -n 2 --size 32 --n-cells 3 -o sim | true; echo rc=$?"
    res = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PATH": path}, timeout=120,
    )  # fmt: skip
    assert res.stdout.strip() == "rc=0", res.stderr
    assert res.stderr == ""
    assert (tmp_path / "sim" / "celltool.json").is_file()
    assert sorted(p.name for p in (tmp_path / "sim" / "images").iterdir()) == [
        "celltool.json",
        "sim_0000.png",
        "sim_0001.png",
    ]


def test_sigterm_is_not_caught_outside_the_cli(tmp_path):
    """The handlers are the CLI's only: after ``run`` returns, the defaults are back."""
    from celltool.cli import run

    before = signal.getsignal(signal.SIGTERM)
    assert (
        run(["simulate", "-n", "1", "--size", "32", "--n-cells", "3", "-o", str(tmp_path / "s")])
        == 0
    )
    assert signal.getsignal(signal.SIGTERM) is before
