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
    from celltool.commands.simulate import simulate_folder
    from celltool.executor import ExecutorSpec

    out = tmp_path_factory.mktemp("sim") / "sim"
    return simulate_folder(
        out,
        n=6,
        size=(128, 128),
        seed=1,
        component_params={"n_cells": 12, "cell_radius": "8,14"},
        spec=ExecutorSpec("serial"),
    )


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)
