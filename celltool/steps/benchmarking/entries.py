"""Which segmenters a benchmark runs, each with its own settings.

An entry is ``METHOD`` or ``METHOD:LABEL`` (the same segmenter twice with different settings:
``watershed,watershed:tight``), or a name whose config table says ``method = "..."``.
Settings come from, in order: the segmenter's defaults, the config file's table of the entry
(``[watershed]``, ``["watershed:tight"]``), then ``--options ENTRY.PARAM=VALUE``. The options
of ``celltool segment`` itself (``min_size``, ``max_size``, ``clear_border``, ``channel``)
may be set per entry too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celltool import plugins
from celltool.components import Component
from celltool.errors import CelltoolError, UsageError
from celltool.steps.common import input_paths

# options of `celltool segment` (not of a segmenter), with their bounds
SEGMENT_OPTIONS: dict[str, tuple[type, int | None, int | None]] = {
    "min_size": (int, 0, 10**9),
    "max_size": (int, 0, 10**9),
    "clear_border": (bool, None, None),
    "channel": (int, 0, 1024),
}
MAX_ENTRIES = 64
NAME = re.compile(r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$")


@dataclass(frozen=True)
class Entry:
    """One segmenter setting of a benchmark."""

    name: str  # as given: "watershed", "watershed:tight"
    component: Component
    params: dict[str, Any] = field(default_factory=dict)  # given segmenter options
    segment: dict[str, Any] = field(default_factory=dict)  # options of segment() itself

    @property
    def method(self) -> str:
        return self.component.name

    @property
    def folder(self) -> str:
        """The entry's sub-folder of the benchmark (``watershed:tight`` → ``watershed-tight``)."""
        return self.name.replace(":", "-")

    def resolved(self) -> dict[str, Any]:
        """Every parameter of the segmenter (defaults filled in), as segment records them."""
        return self.component.resolve(self.params)

    def inputs(self) -> list[Path]:
        """Files the entry's options name as inputs (a model file, a run folder)."""
        return input_paths(self.component, self.resolved())


def parse_options(items: Iterable[str]) -> dict[str, dict[str, str]]:
    """``["watershed:tight.threshold_scale=1.6", ...]`` → ``{"watershed:tight":
    {"threshold_scale": "1.6"}}`` (values stay strings; each segmenter converts its own)."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        name, dot, param = key.strip().rpartition(".")
        if not eq or not dot or not name or not param:
            raise UsageError(f"--options {item!r}: expected SEGMENTER.PARAM=VALUE")
        out.setdefault(name, {})[param.strip().replace("-", "_")] = value.strip()
    return out


def _split_names(segmenters: str | Sequence[str]) -> list[str]:
    raw = segmenters.split(",") if isinstance(segmenters, str) else list(segmenters)
    names = [n.strip() for n in raw if n and n.strip()]
    if not names:
        raise UsageError("--segmenters: give at least one segmenter (e.g. watershed,otsu)")
    if len(names) > MAX_ENTRIES:
        raise UsageError(f"--segmenters: at most {MAX_ENTRIES} entries, got {len(names)}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(
            f"--segmenters: {', '.join(dupes)} given twice; name a second setting METHOD:LABEL"
        )
    for n in names:
        if not NAME.match(n):
            raise UsageError(f"--segmenters: {n!r} is not METHOD or METHOD:LABEL")
    return names


def _segment_option(name: str, key: str, value: Any) -> Any:
    from celltool.components import Param

    kind, lo, hi = SEGMENT_OPTIONS[key]
    return Param(key, kind(), type=kind, min=lo, max=hi).convert(value, owner=name)


def make_entries(
    segmenters: str | Sequence[str],
    options: Mapping[str, Mapping[str, Any]] | None = None,
    config: Mapping[str, Any] | None = None,
) -> list[Entry]:
    """The entries of ``segmenters`` with their settings (config tables, then ``options``).
    Unknown segmenters, options and config tables are usage errors."""
    names = _split_names(segmenters)
    options = dict(options or {})
    config = dict(config or {})
    for source, what in ((options, "--options"), (config, "--config")):
        stray = sorted(set(source) - set(names))
        if stray:
            raise UsageError(
                f"{what}: {', '.join(stray)} is not in --segmenters ({', '.join(names)})"
            )
    entries = []
    for name in names:
        table = config.get(name, {})
        if not isinstance(table, Mapping):
            raise UsageError(f"--config: [{name}] must be a table of options")
        given = {**table, **options.get(name, {})}
        method = str(given.pop("method", name.partition(":")[0]))
        try:
            component = plugins.get("segmenters", method)
        except UsageError as exc:
            raise UsageError(f"--segmenters: {exc}") from None
        own = {k.replace("-", "_"): v for k, v in given.items()}
        core = {k: _segment_option(name, k, v) for k, v in own.items() if k in SEGMENT_OPTIONS}
        params = {k: v for k, v in own.items() if k not in SEGMENT_OPTIONS}
        component.resolve(params)  # unknown names and bad values fail before any work
        entries.append(Entry(name, component, params, core))
    folders = [e.folder for e in entries]
    if len(set(folders)) != len(folders) or {"reference", "images", "plots"} & set(folders):
        raise UsageError(f"--segmenters: folder names collide ({', '.join(folders)})")
    return entries


def read_config(path: str | Path | None) -> dict[str, Any]:
    """A TOML file with one table per entry (optionally inside a ``[benchmark]`` table)."""
    if path is None:
        return {}
    from celltool.training.runs import read_toml

    data = read_toml(Path(path))
    data = data.get("benchmark", data)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise CelltoolError("expected one table of options per segmenter, e.g. [watershed]", path)
    return data
