"""Executors give identical results; shards add up to one run; memory is flat."""

from __future__ import annotations

import filecmp
import functools
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from celltool.errors import UsageError
from celltool.executor import ExecutorSpec, imap
from celltool.manifest import read_manifest
from celltool.outputs import Shard
from celltool.steps.simulation import simulate as simulate_folder

PARAMS = {"n_cells": 6, "cell_radius": "6,10"}


def run_sim(out: Path, spec: ExecutorSpec, n: int = 5, shard: Shard | None = None) -> Path:
    return simulate_folder(out, n=n, size=(64, 64), seed=4, params=PARAMS, spec=spec, shard=shard)


def files(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.name != "celltool.json" and ".shards" not in p.parts
    )


def same_files(a: Path, b: Path) -> None:
    assert files(a) == files(b)
    assert len(files(a)) > 0
    match, mismatch, errors = filecmp.cmpfiles(a, b, files(a), shallow=False)
    assert (mismatch, errors) == ([], [])


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_imap_keeps_order_and_raises(backend):
    spec = ExecutorSpec(backend, workers=2)
    assert list(imap(square, iter(range(20)), spec, 20)) == [x * x for x in range(20)]
    with pytest.raises(ValueError, match="three"):
        list(imap(fail_on_three, range(6), spec, 6))


def test_bad_executor_options():
    with pytest.raises(UsageError, match="choose one of auto, serial, process, dask"):
        ExecutorSpec("threads")
    with pytest.raises(UsageError, match="--workers"):
        ExecutorSpec("process", workers=-1)
    assert ExecutorSpec(workers=3).n_workers(2) == 2  # never more workers than items


def test_serial_process_and_worker_counts_give_identical_folders(tmp_path):
    ref = run_sim(tmp_path / "serial", ExecutorSpec("serial"))
    for name, spec in (("p1", ExecutorSpec("process", 1)), ("p2", ExecutorSpec("process", 2))):
        same_files(ref, run_sim(tmp_path / name, spec))
        for part in ("", "images", "cells"):
            a, b = read_manifest(ref / part), read_manifest(tmp_path / name / part)
            for key in ("kind", "params", "seed", "facts"):
                assert a[key] == b[key]


def _fail_first_finish_second(folder: Path, index: int) -> int:
    if index == 0:
        time.sleep(0.2)  # the other item is surely running by now
        raise ValueError("deliberate failure")
    time.sleep(0.8)
    (folder / f"{index}.done").write_text("late write")
    return index


def failing_midway(folder: Path, spec: ExecutorSpec) -> None:
    func = functools.partial(_fail_first_finish_second, folder)
    with pytest.raises(ValueError, match="deliberate failure"):
        list(imap(func, range(2), spec, 2))
    # the error comes back only once the running item is done: a step deletes its partial
    # folder right after, and a late write would leave it behind (a race CI once hit)
    assert (folder / "1.done").read_text() == "late write"


def test_process_failure_waits_for_running_items(tmp_path):
    failing_midway(tmp_path, ExecutorSpec("process", 2))


def test_dask_failure_waits_for_running_items(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        failing_midway(tmp_path, ExecutorSpec("dask", 2, scheduler=cluster.scheduler_address))


def test_dask_local_cluster_gives_identical_folder(tmp_path):
    pytest.importorskip("distributed")
    ref = run_sim(tmp_path / "serial", ExecutorSpec("serial"), n=3)
    same_files(ref, run_sim(tmp_path / "dask", ExecutorSpec("dask", 2), n=3))


def test_dask_scheduler_address(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    ref = run_sim(tmp_path / "serial", ExecutorSpec("serial"), n=2)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        monkeypatch.setenv("CELLTOOL_DASK_SCHEDULER", cluster.scheduler_address)
        # auto picks dask when a scheduler is configured
        same_files(ref, run_sim(tmp_path / "dask", ExecutorSpec("auto", 1), n=2))


@pytest.mark.parametrize("count", [2, 3, 7])
def test_shards_add_up_to_one_run(tmp_path, count):
    ref = run_sim(tmp_path / "one", ExecutorSpec("serial"))
    out = tmp_path / "sharded"
    for k in range(1, count + 1):
        assert (out / "celltool.json").exists() is False
        run_sim(out, ExecutorSpec("serial"), shard=Shard(k, count))  # 7 > 5: empty shards
    same_files(ref, out)
    for part in ("", "images", "nuclei"):
        a, b = read_manifest(ref / part), read_manifest(out / part)
        assert b["params"] == {**a["params"], "shards": count}
        assert a["facts"] == b["facts"]


def test_shard_cli_runs_in_any_order(tmp_path):
    from conftest import cli

    common = ["simulate", "-o", str(tmp_path / "s"), "-n", "3", "--size", "48", "--n-cells", "4"]
    common += ["--executor", "serial"]
    for k in (3, 1):
        assert cli(*common, "--shard", f"{k}/3").returncode == 0
        assert not (tmp_path / "s" / "celltool.json").exists()
    res = cli(*common, "--shard", "2/3")
    assert res.returncode == 0 and res.stdout.strip() == str(tmp_path / "s")
    assert read_manifest(tmp_path / "s")["params"]["shards"] == 3
    assert len(os.listdir(tmp_path / "s" / "images")) == 4  # 3 images + manifest


NOISE_PLUGIN = """
import numpy as np
from celltool import hookimpl
from celltool.components import Component


def noise(shape, rng):
    return {"images": rng.integers(0, 255, size=shape, dtype=np.uint8)}


@hookimpl
def register_simulators(register):
    register(Component("noise", "uniform noise", target=noise, info={"parts": ("images",)}))
"""


def peak_bytes(tmp_path: Path, n: int) -> int:
    tracemalloc.start()
    simulate_folder(
        tmp_path / f"m{n}", method="noise", n=n, size=(128, 128), spec=ExecutorSpec("serial")
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_memory_is_flat_in_the_number_of_images(tmp_path, monkeypatch):
    # a simulator whose per-image work is always the same, so peaks are comparable
    (tmp_path / "pdir").mkdir()
    (tmp_path / "pdir" / "noise.py").write_text(NOISE_PLUGIN)
    monkeypatch.setenv("CELLTOOL_PLUGINS_DIR", str(tmp_path / "pdir"))
    peak_bytes(tmp_path, 1)  # imports and caches out of the way
    small, large = peak_bytes(tmp_path, 2), peak_bytes(tmp_path, 20)
    # 18 more images: keeping them would add 18 × 16 kB; allow a quarter of that for the small
    # per-image records
    assert large - small < 18 * 128 * 128 // 4, (small, large)
