"""Shared fixtures: small synthetic image folders, the real time-lapse, CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_timelapse() -> Path:
    """``shared/`` sits beside the clone (CI); worktrees may sit deeper, so look upwards."""
    if os.environ.get("CELLTOOL_TIMELAPSE"):
        return Path(os.environ["CELLTOOL_TIMELAPSE"])
    for parent in REPO.parents:
        candidate = parent / "shared" / "data" / "timelapse"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "data" / "timelapse"


TIMELAPSE = _find_timelapse()
CELLTOOL = str(Path(sys.executable).with_name("celltool"))


@pytest.fixture(autouse=True)
def _isolate_plugins(monkeypatch):
    """Every test starts with a fresh plugin set and no plugin env settings."""
    from celltool import plugins

    for var in (plugins.ENV_LOAD, plugins.ENV_DISABLE, plugins.ENV_DIRS):
        monkeypatch.setenv(var, "")  # recorded, so that what a test sets is undone
        monkeypatch.delenv(var)
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def timelapse() -> Path:
    """The shared real time-lapse (skipped with the reason when absent)."""
    if not (TIMELAPSE / "images").is_dir():
        pytest.skip(f"real time-lapse not found at {TIMELAPSE} (shared/ is beside the repo in CI)")
    return TIMELAPSE


def cli(
    *args: str, cwd: Path | None = None, input: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the installed ``celltool`` in a subprocess (a real process, real stdio)."""
    return subprocess.run(
        [CELLTOOL, *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=180,
    )


def sh(script: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a real shell pipeline with the venv's bin first on PATH."""
    path = f"{Path(CELLTOOL).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["sh", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path, **(env or {})},
        timeout=300,
    )


@pytest.fixture
def sim(tmp_path_factory) -> Path:
    """A small simulated data set (6 images of 128², seeded): OUT/{images,cells,nuclei}."""
    from celltool.executor import ExecutorSpec
    from celltool.steps.simulation import simulate as simulate_folder

    out = tmp_path_factory.mktemp("sim") / "sim"
    return simulate_folder(
        out,
        n=6,
        size=(128, 128),
        seed=1,
        params={"n_cells": 12, "cell_radius": "8,14"},
        spec=ExecutorSpec("serial"),
    )


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# Real nuclei shipped in the stardist package (img2d.tif / mask2d.tif): `make test-data` puts a
# stardist wheel (or sdist) here; tests never touch the network.
TEST_DATA = Path(os.environ.get("CELLTOOL_TEST_DATA", REPO / ".cache" / "test-data"))


def stardist_sample() -> tuple[np.ndarray, np.ndarray] | None:
    """``(image, labels)`` of stardist's img2d/mask2d from a downloaded package, else None."""
    import io
    import tarfile
    import zipfile

    import tifffile

    for archive in sorted(TEST_DATA.glob("stardist-*")):
        names = ("stardist/data/images/img2d.tif", "stardist/data/images/mask2d.tif")
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as z:
                blobs = [z.read(n) for n in names]
        elif archive.name.endswith(".tar.gz"):
            with tarfile.open(archive) as t:
                members = {m.name.split("/", 1)[-1]: m for m in t.getmembers()}
                blobs = [t.extractfile(members[n]).read() for n in names]
        else:
            continue
        image, labels = (tifffile.imread(io.BytesIO(b)) for b in blobs)
        return image, labels
    return None


@pytest.fixture(scope="session")
def stardist_nuclei() -> tuple[np.ndarray, np.ndarray]:
    sample = stardist_sample()
    if sample is None:
        pytest.skip(f"no stardist package in {TEST_DATA} (run `make test-data` once, online)")
    return sample
