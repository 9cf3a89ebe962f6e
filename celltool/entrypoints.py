"""The ``celltool`` entry points of the installed distributions, cached between runs.

``importlib.metadata.entry_points()`` imports the email parser and reads the
``entry_points.txt`` of every installed distribution on each start. Every step of a pipe would
pay for it, so the ``celltool`` group's entry points are kept in a small JSON file in the user
cache dir (``$CELLTOOL_CACHE_DIR``, else ``$XDG_CACHE_HOME/celltool``, else
``~/.cache/celltool``), keyed by a fingerprint of what discovery reads: the ``sys.path``
entries in order and, in each, the name and mtime of every ``*.dist-info``/``*.egg-info``/
``*.egg`` and the mtime and size of its ``entry_points.txt``. Any difference (a distribution
installed, removed, upgraded or edited, another ``PYTHONPATH``, another interpreter) is a miss:
the full scan runs and rewrites the file, so a stale cache never hides a new plugin. The
fingerprint is taken before the scan, so a change racing with it only causes a rescan next time.
``CELLTOOL_NO_CACHE=1`` disables the cache; so does an import system that finds distributions
by other means than ``sys.path`` (a custom ``sys.meta_path`` finder).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_CACHE_DIR = "CELLTOOL_CACHE_DIR"
ENV_NO_CACHE = "CELLTOOL_NO_CACHE"
FORMAT = 1
_DIST_SUFFIXES = (".dist-info", ".egg-info", ".egg")
# importlib.metadata's own syntax of an entry point's value: "module[:attr.attr] [extras]"
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


@dataclass(frozen=True)
class EntryPointRecord:
    """One entry point: its name and value, and the distribution (name, version) declaring it."""

    name: str
    value: str
    dist: str
    version: str

    def load(self) -> Any:
        """Import the module (and attribute) the value names, as ``EntryPoint.load`` does."""
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"malformed entry point value {self.value!r}")
        obj = importlib.import_module(match.group("module"))
        attrs = match.group("attr")
        for attr in attrs.split(".") if attrs else ():
            obj = getattr(obj, attr)
        return obj


def cache_dir() -> Path:
    """Where celltool keeps caches (see the module docstring)."""
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "celltool"


def cache_file(group: str) -> Path:
    """One file per interpreter (venvs sharing a home do not evict each other)."""
    tag = zlib.crc32(f"{sys.prefix}\0{sys.executable}".encode()) & 0xFFFFFFFF
    return cache_dir() / f"entry-points-{group}-{tag:08x}.json"


def _only_path_finders() -> bool:
    """True when distributions can only come from sys.path (the standard finder)."""
    from importlib.machinery import PathFinder

    return all(
        finder is PathFinder or not hasattr(finder, "find_distributions")
        for finder in sys.meta_path
    )


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _metadata_dir(name: str) -> tuple[str, ...]:
    """Where a distribution's entry_points.txt lies inside it (an egg keeps it in EGG-INFO)."""
    return ("EGG-INFO",) if name.lower().endswith(".egg") else ()


def _entry_fingerprint(entry: str) -> list[Any] | None:
    """What discovery reads from one sys.path entry; None when it can hold no distribution."""
    root = entry or "."
    if os.path.isfile(root):  # a zip (egg, zipapp): any change moves its mtime or size
        return [entry, _stat(root)]
    try:
        children = sorted(
            (e.name, e.stat().st_mtime_ns)
            for e in os.scandir(root)
            if e.name.lower().endswith(_DIST_SUFFIXES)
        )
    except OSError:  # missing or unreadable: nothing from here (the key changes if it appears)
        return None
    if not children:
        return None
    dists = [
        [name, mtime, _stat(os.path.join(root, name, *_metadata_dir(name), "entry_points.txt"))]
        for name, mtime in children
    ]
    return [entry, os.path.abspath(root), dists]


def fingerprint() -> dict[str, Any] | None:
    """The cache key of the current interpreter and sys.path; None when it cannot be trusted."""
    if not _only_path_finders():
        return None
    entries = [fp for entry in sys.path if (fp := _entry_fingerprint(entry)) is not None]
    return {"format": FORMAT, "python": sys.version, "executable": sys.executable,
            "path": entries}  # fmt: skip


def scan(group: str) -> list[EntryPointRecord]:
    """The full scan through importlib.metadata (what the cache saves)."""
    from importlib import metadata

    records = []
    for ep in metadata.entry_points(group=group):
        dist = ep.dist
        name, version = (dist.metadata["Name"], dist.version) if dist is not None else ("?", "?")
        records.append(EntryPointRecord(ep.name, ep.value, name or "?", version or "?"))
    return records


def _read(path: Path, key: dict[str, Any]) -> list[EntryPointRecord] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["key"] != key:
            return None
        return [EntryPointRecord(*map(str, rec)) for rec in data["entry_points"]]
    except (OSError, ValueError, KeyError, TypeError):  # absent or damaged: rescan
        return None


def _write(path: Path, key: dict[str, Any], records: list[EntryPointRecord]) -> None:
    """Atomically (concurrent steps of a pipe may write at once); failures are ignored."""
    data = {"key": key, "entry_points": [[r.name, r.value, r.dist, r.version] for r in records]}
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:  # a read-only home must not stop celltool
        pass


def entry_points(group: str) -> list[EntryPointRecord]:
    """The group's entry points, from the cache when its key matches, else scanned (and cached)."""
    if os.environ.get(ENV_NO_CACHE) == "1":
        return scan(group)
    key = fingerprint()
    if key is None:
        return scan(group)
    path = cache_file(group)
    records = _read(path, key)
    if records is None:
        records = scan(group)
        _write(path, key, records)
    return records
