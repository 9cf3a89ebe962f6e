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
    *args: str,
    cwd: Path | None = None,
    input: str | None = None,
    env: dict | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess:
    """Run the installed ``celltool`` in a subprocess (a real process, real stdio); ``timeout``
    only guards against a hang (slow-marked trainings pass a longer one: CI machines vary)."""
    return subprocess.run(
        [CELLTOOL, *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def torchrun_train(
    model: str, *args: str | Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node 2 -m celltool train MODEL ARGS`` (torchrun is
    ``python -m torch.distributed.run``), one thread per process, output captured."""
    python = str(Path(CELLTOOL).with_name("python"))
    command = [python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "celltool", "train", model, *map(str, args)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip


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


def isolated_env(root: Path, source: Path) -> Path:
    """A fresh venv that sees this interpreter's packages (celltool, numpy, ...) through a .pth
    file, with only the third-party package at ``source`` pip-installed into it (as a user of
    that package would), and a ``celltool`` launcher."""
    import shutil
    import site

    env = root / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    (purelib,) = (env / "lib").glob("python*/site-packages")
    shared = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "_host.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in shared) + "\n"
    )
    copy = root / "src"
    shutil.copytree(source, copy)  # pip builds in-tree; keep the repo clean
    python = env / "bin" / "python"
    res = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", str(copy)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    launcher = env / "bin" / "celltool"
    launcher.write_text(
        f"#!{python}\nimport sys\nfrom celltool.cli import main\nsys.exit(main())\n"
    )
    launcher.chmod(0o755)
    return env


def run_env(env: Path, *args: str | Path) -> subprocess.CompletedProcess:
    """Run the ``celltool`` of an :func:`isolated_env` (no CELLTOOL_* settings)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CELLTOOL_")}
    return subprocess.run(
        [str(env / "bin" / "celltool"), *map(str, args)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )
