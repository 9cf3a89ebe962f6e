"""Output folders: default names, refusal rules, atomic publication, shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from celltool.errors import CelltoolError, UsageError
from celltool.manifest import MANIFEST_NAME, make_manifest, read_manifest
from celltool.outputs import OutputFolder, Shard, default_output, published


def test_default_output_is_beside_the_input():
    assert default_output("data/imgs", "segment") == Path("data/imgs-segment")
    assert default_output("data/imgs/", "segment") == Path("data/imgs-segment")
    assert default_output("imgs", "sketch") == Path("imgs-sketch")


def test_default_output_of_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "imgs").mkdir()
    monkeypatch.chdir(tmp_path / "imgs")
    assert default_output(".", "segment") == tmp_path / "imgs-segment"
    assert default_output("./", "segment") == tmp_path / "imgs-segment"
    assert default_output("..", "x").name == f"{tmp_path.name}-x"


def test_folder_is_published_only_at_the_end(tmp_path):
    target = OutputFolder(tmp_path / "out")
    with target as work:
        assert work != tmp_path / "out" and work.name.startswith(".out.partial-")
        (work / "a.txt").write_text("a")
        assert not (tmp_path / "out").exists()
        target.manifest = make_manifest("images", step="t")
        target.part_manifests["sub"] = make_manifest("labels", step="t")
        (work / "sub").mkdir()
    assert (tmp_path / "out" / "a.txt").read_text() == "a"
    assert read_manifest(tmp_path / "out" / "sub")["kind"] == "labels"
    assert published(tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_or_missing_manifest_leaves_nothing(tmp_path):
    with pytest.raises(KeyError), OutputFolder(tmp_path / "out") as work:
        (work / "a.txt").write_text("a")
        raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="without setting its manifest"):
        with OutputFolder(tmp_path / "out"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_refusal_rules(tmp_path):
    (tmp_path / "in").mkdir()
    with pytest.raises(UsageError, match="overlaps input folder"):
        OutputFolder(tmp_path / "in" / "out", inputs=[tmp_path / "in"])
    with pytest.raises(UsageError, match="overlaps input folder"):
        OutputFolder(tmp_path, inputs=[tmp_path / "in"])
    (tmp_path / "file").write_text("x")
    with pytest.raises(CelltoolError, match="output exists and is not a folder"):
        OutputFolder(tmp_path / "file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(CelltoolError, match="not empty"):
        OutputFolder(tmp_path / "full")
    target = OutputFolder(tmp_path / "full", overwrite=True)
    with target as work:
        (work / "y").write_text("y")
        target.manifest = make_manifest("images", step="t")
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == [MANIFEST_NAME, "y"]


def test_shard_parsing_and_split():
    assert Shard.parse(None) is None
    shards = [Shard.parse(f"{k}/3") for k in (1, 2, 3)]
    taken = [s.take(range(8)) for s in shards]
    assert taken == [[0, 3, 6], [1, 4, 7], [2, 5]]
    assert sorted(sum(taken, [])) == list(range(8))
    for bad in ("0/3", "4/3", "x", "1/2/3", "1-3"):
        with pytest.raises(UsageError, match="--shard"):
            Shard.parse(bad)


def test_shards_publish_the_manifest_when_the_last_one_finishes(tmp_path):
    out = tmp_path / "out"
    for k in (2, 1, 3):
        target = OutputFolder(out, shard=Shard(k, 3))
        with target as work:
            (work / "sub").mkdir(exist_ok=True)
            (work / "sub" / f"{k}.txt").write_text(str(k))
            target.manifest = make_manifest("simulation", step="t")
            target.part_manifests["sub"] = make_manifest("labels", step="t")
        assert published(out) == (k == 3)
        assert published(out / "sub") == (k == 3)
    assert read_manifest(out)["params"]["shards"] == 3
    assert sorted(p.name for p in (out / "sub").iterdir()) == [
        "1.txt",
        "2.txt",
        "3.txt",
        MANIFEST_NAME,
    ]
    with pytest.raises(CelltoolError, match="already complete"):
        OutputFolder(out, shard=Shard(1, 3))  # a new sharded run needs a fresh folder


def test_published_files_and_folders_get_the_usual_permissions(tmp_path):
    """Temp files are created 0600/0700; what a step publishes follows the umask instead."""
    import os

    from celltool.imageio import write_image
    from celltool.manifest import make_manifest

    old = os.umask(0o022)
    try:
        folder = OutputFolder(tmp_path / "out")
        with folder as work:
            write_image(work / "a.png", np.zeros((4, 4), np.uint8))
            folder.manifest = make_manifest("images", step="test")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "a.png").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "out" / "celltool.json").stat().st_mode & 0o777 == 0o644
