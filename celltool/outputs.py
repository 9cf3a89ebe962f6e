"""Output folders: derived default names, refusal rules, atomic publication and shards.

A step writes into a hidden sibling ``.NAME.partial-XXXX`` and renames it to ``NAME`` only
when it finished and wrote its manifest, so a failing step leaves no partial output folder.
With ``--shard K/N`` (array jobs), every shard writes its own files straight into ``NAME``
and a marker ``.shards/K-of-N.json``; the shard that completes the set writes the manifest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celltool.errors import CelltoolError, UsageError
from celltool.imageio import atomic_write_bytes, default_mode
from celltool.manifest import MANIFEST_NAME, dumps, read_manifest, write_manifest


def folder_name(path: str | Path) -> str:
    """The name of a folder, also for ``.``, ``..`` or a trailing slash (its real name)."""
    path = Path(os.path.normpath(path))
    return path.name if path.name not in ("", ".", "..") else path.resolve().name


def default_output(first_input: str | Path, step: str) -> Path:
    """``imgs`` → ``imgs-segment`` beside it (trailing slashes ignored)."""
    path = Path(os.path.normpath(first_input))
    if path.name in ("", ".", ".."):  # "." or "..": name it after the real folder
        path = path.resolve()
    return path.parent / f"{path.name}-{step}"


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based K
    count: int  # N

    @classmethod
    def parse(cls, text: str | None) -> Shard | None:
        if not text:
            return None
        try:
            k, n = (int(part) for part in text.split("/"))
        except ValueError:
            raise UsageError(f"--shard {text!r}: expected K/N, e.g. 3/10") from None
        if not 1 <= k <= n:
            raise UsageError(f"--shard {text!r}: K must be between 1 and N")
        return cls(k, n)

    def take(self, items: Iterable[Any]) -> list[Any]:
        """The items this shard processes: every N-th, starting at K-1."""
        return [item for i, item in enumerate(items) if i % self.count == self.index - 1]


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def check_output(out: Path, inputs: Iterable[str | Path], overwrite: bool) -> None:
    """Refuse an output folder that overlaps an input (any path the step reads), holds the
    current directory, or is not empty without ``--overwrite``."""
    out = Path(out)
    if str(out) == "" or _is_within(Path.cwd(), out):
        raise UsageError(
            f"output folder {str(out) or repr('')} is (or holds) the current directory; "
            "choose a new folder with -o"
        )
    for folder in inputs:
        folder = Path(folder)
        if _is_within(out, folder) or _is_within(folder, out):
            raise UsageError(
                f"output folder {out} overlaps input folder {folder}; choose another -o"
            )
    if out.exists() and not out.is_dir():
        raise CelltoolError("output exists and is not a folder", out)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise CelltoolError("output folder exists and is not empty (use --overwrite)", out)


class OutputFolder:
    """Context manager that yields the folder to write into and publishes it atomically.

    Set ``.manifest`` (a record from :func:`celltool.manifest.make_manifest`) before the
    ``with`` block ends; it is written last, after every file. Manifests of sub-folders
    (parts of a container) go in ``.part_manifests`` (``{"images": record, ...}``); they are
    written just before it. With a shard, both are written only by the shard that completes
    the set, so a folder with a manifest is always complete.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        inputs: Iterable[str | Path] = (),
        overwrite: bool = False,
        shard: Shard | None = None,
    ) -> None:
        self.path = Path(path)
        self.inputs = [Path(p) for p in inputs]
        self.overwrite = overwrite
        self.shard = shard
        self.manifest: Mapping[str, Any] | None = None
        self.part_manifests: dict[str, Mapping[str, Any]] = {}
        self.work: Path | None = None
        if shard is None:
            check_output(self.path, self.inputs, overwrite)
        else:
            check_output(self.path, self.inputs, overwrite=True)  # shards share the folder
            if (self.path / MANIFEST_NAME).exists():
                raise CelltoolError(
                    "output folder is already complete (it has its manifest); delete it to "
                    "run the shards again",
                    self.path,
                )

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.shard is not None:
            self.path.mkdir(exist_ok=True)
            self.work = self.path
        else:
            self.work = Path(
                tempfile.mkdtemp(prefix=f".{folder_name(self.path)}.partial-", dir=self.path.parent)
            )
            self.work.chmod(default_mode(directory=True))
        return self.work

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.work is not None
        if exc_type is not None:
            if self.shard is None:
                shutil.rmtree(self.work, ignore_errors=True)
            return
        if self.manifest is None:
            if self.shard is None:
                shutil.rmtree(self.work, ignore_errors=True)
            raise RuntimeError("step finished without setting its manifest")
        if self.shard is not None:
            self._finish_shard()
            return
        self._write_manifests(self.manifest)
        self._publish()

    def _write_manifests(self, record: Mapping[str, Any]) -> None:
        assert self.work is not None
        for name, part_record in self.part_manifests.items():
            write_manifest(self.work / name, self._with_shards(part_record))
        write_manifest(self.work, self._with_shards(record))

    def _with_shards(self, record: Mapping[str, Any]) -> dict[str, Any]:
        if self.shard is None:
            return dict(record)
        return {**record, "params": {**record.get("params", {}), "shards": self.shard.count}}

    def _publish(self) -> None:
        assert self.work is not None
        old = None
        if self.path.exists():
            old = self.path.with_name(f".{folder_name(self.path)}.old-{os.getpid()}")
            os.replace(self.path, old)
        os.replace(self.work, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _finish_shard(self) -> None:
        assert self.shard is not None and self.manifest is not None
        marks = self.path / ".shards"
        marks.mkdir(exist_ok=True)
        name = f"{self.shard.index}-of-{self.shard.count}.json"
        atomic_write_bytes(marks / name, dumps(self.manifest).encode())
        done = {p.name for p in marks.glob(f"*-of-{self.shard.count}.json")}
        if len(done) == self.shard.count:
            self._write_manifests(self.manifest)


def published(folder: str | Path) -> bool:
    """Whether a folder is complete (has its manifest)."""
    return (Path(folder) / MANIFEST_NAME).is_file() and read_manifest(folder) is not None
