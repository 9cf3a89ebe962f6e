"""Gather the folders of a report (the given ones, a demo's sub-folders, their ancestors through
the manifests' ``inputs``), order them as a chain, and write the page."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celltool import __version__
from celltool.errors import CelltoolError, UsageError
from celltool.manifest import read_manifest
from celltool.report import html as h

MAX_FOLDERS = 200  # folders in one report (ancestors beyond are left out, with a warning)
MAX_SAMPLES = 32


@dataclass
class Entry:
    """One folder of the report."""

    path: Path  # resolved
    manifest: dict[str, Any] | None
    given: bool
    id: str = ""

    @property
    def kind(self) -> str:
        return "images" if self.manifest is None else str(self.manifest.get("kind"))

    def inputs(self) -> list[Path]:
        records = (self.manifest or {}).get("inputs") or []
        return [
            Path(r["path"]).resolve()
            for r in records
            if isinstance(r, dict) and isinstance(r.get("path"), str)
        ]


def container_of(path: Path) -> Path:
    """The container whose part ``path`` is (``sim/images`` → ``sim``), else ``path``."""
    try:
        parent = read_manifest(path.parent)
    except CelltoolError:
        return path
    if parent is None or parent.get("kind") == "demo":  # a demo's stages are folders of their own
        return path
    parts = (parent.get("facts") or {}).get("parts") or {}
    if isinstance(parts, dict) and path.name in {str(v) for v in parts.values()}:
        return path.parent
    return path


def _subfolders(demo: Path, manifest: dict[str, Any]) -> list[Path]:
    """A demo's stage folders, then every other sub-folder with a manifest (natural order)."""
    from celltool.imageio import natural_key

    parts = (manifest.get("facts") or {}).get("parts") or {}
    listed = [demo / str(v) for v in parts.values()] if isinstance(parts, dict) else []
    others = sorted(
        (p for p in demo.iterdir() if p.is_dir() and (p / "celltool.json").is_file()),
        key=lambda p: natural_key(p.name),
    )
    return [p for p in dict.fromkeys(listed + others) if p.is_dir()]


def gather(folders: Sequence[str | Path], *, ancestors: bool = True) -> list[Entry]:
    """The report's folders in order: inputs before the folders made from them."""
    from celltool.console import warn

    found: dict[Path, Entry] = {}

    def add(path: Path, given: bool) -> Entry | None:
        path = path.resolve()
        if path in found:
            found[path].given |= given
            return found[path]
        if len(found) >= MAX_FOLDERS:
            warn(f"report: more than {MAX_FOLDERS} folders; leaving out {path.name} and others")
            return None
        found[path] = Entry(path, read_manifest(path), given)
        return found[path]

    for folder in folders:
        folder = Path(folder)
        if not folder.exists():
            raise CelltoolError("folder does not exist", folder)
        if not folder.is_dir():
            raise CelltoolError("is not a folder", folder)
        entry = add(folder, True)
        if entry is not None and entry.kind == "demo":
            for sub in _subfolders(entry.path, entry.manifest or {}):
                add(sub, True)
    queue = list(found.values())
    while ancestors and queue:
        entry = queue.pop(0)
        for source in entry.inputs():
            if source.is_dir() and container_of(source) not in found:
                new = add(container_of(source), False)
                if new is None:
                    queue = []
                    break
                queue.append(new)
    return chain_order(list(found.values()))


def chain_order(entries: list[Entry]) -> list[Entry]:
    """Topological order (a folder after the folders it was made from), else as found."""
    known = {e.path: e for e in entries}
    done: dict[Path, Entry] = {}
    visiting: set[Path] = set()

    def visit(entry: Entry) -> None:
        if entry.path in done or entry.path in visiting:
            return
        visiting.add(entry.path)
        for source in entry.inputs():
            source = container_of(source)
            if source in known:
                visit(known[source])
        done[entry.path] = entry

    for entry in entries:
        visit(entry)
    ordered = list(done.values())
    for i, entry in enumerate(ordered, start=1):
        entry.id = f"f{i}"
    return ordered


def lineage(entry: Entry, known: dict[Path, Entry]) -> list[Entry]:
    """The longest chain of report folders that ends in ``entry`` (through its inputs)."""
    best: dict[Path, list[Entry]] = {}

    def longest(e: Entry, seen: frozenset) -> list[Entry]:
        if e.path in best:
            return best[e.path]
        chains = [
            longest(known[s], seen | {e.path})
            for s in (container_of(p) for p in e.inputs())
            if s in known and s not in seen and s != e.path
        ]
        best[e.path] = max(chains, key=len, default=[]) + [e]
        return best[e.path]

    return longest(entry, frozenset())


def _head(entries: list[Entry], ctx: Any, title: str) -> str:
    known = {e.path: e for e in entries}
    used = {container_of(s) for e in entries for s in e.inputs()}
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"<h1>{h.esc(title)}</h1>"]
    out.append(
        f'<p class="muted">celltool {h.esc(__version__)} · {len(entries)} folders · written '
        f"{now} · paths are relative to <code>{h.esc(ctx.base.name or '/')}</code></p>"
    )
    rows = []
    for e in entries:
        step = (e.manifest or {}).get("step", "")
        made_from = ", ".join(ctx.folder_link(s) for s in e.inputs()) or "—"
        rows.append(
            [
                e.id[1:],
                h.link(f"#{e.id}", ctx.show_path(e.path)) + ("" if e.given else " (ancestor)"),
                f"<span class=kind>{h.esc(e.kind)}</span>",
                h.esc(step),
                made_from,
            ]
        )
    out.append("<h2>Contents</h2>" + h.table(["#", "folder", "kind", "step", "made from"], rows))
    chains = []
    for e in entries:
        if e.path not in used:
            steps = lineage(e, known)
            if len(steps) > 1:
                links = " → ".join(h.link(f"#{s.id}", ctx.show_path(s.path)) for s in steps)
                chains.append(f'<p class="chain">{links}</p>')
    if chains:
        out.append("<h2>Chains</h2>" + "".join(chains))
    return "".join(out)


def build_report(
    folders: Sequence[str | Path],
    out: str | Path | None = None,
    *,
    ancestors: bool = True,
    samples: int = 4,
    title: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a static HTML report of celltool output folders into ``out`` (a ``report``
    folder: ``index.html``, ``assets/``, ``celltool.json``); return ``out``."""
    from celltool.console import info
    from celltool.imageio import atomic_write_bytes
    from celltool.manifest import make_manifest
    from celltool.outputs import OutputFolder, default_output
    from celltool.report.context import ReportContext
    from celltool.report.results import comparison
    from celltool.report.sections import plugin_renderers, render_folder

    if not folders:
        raise UsageError("give at least one folder to report on")
    if not 1 <= samples <= MAX_SAMPLES:
        raise UsageError(f"--samples {samples}: expected 1..{MAX_SAMPLES}")
    out = Path(out) if out else default_output(folders[0], "report")
    entries = gather(folders, ancestors=ancestors)
    base = Path(os.path.commonpath([str(e.path.parent) for e in entries]))
    anchors = {e.path: e.id for e in entries}
    extra = plugin_renderers()
    title = title or f"celltool report: {', '.join(Path(f).name for f in folders)}"
    folder = OutputFolder(out, inputs=folders, overwrite=overwrite)
    with folder as work:
        ctx = ReportContext(work, base, samples, anchors)
        body = [_head(entries, ctx, title)]
        for e in entries:
            ctx.folder_id = e.id
            info(f"report: {ctx.show_path(e.path)} ({e.kind})")
            kind = f"<span class=kind>{h.esc(e.kind)}</span>"
            heading = f"{e.id[1:]}. {h.esc(ctx.show_path(e.path))} {kind}"
            body.append(f'<section id="{e.id}"><h2>{heading}</h2>')
            body.append(render_folder(e.path, e.manifest, ctx, extra) + "</section>")
        ctx.folder_id = "compare"
        compared = comparison(entries, ctx)
        if compared:
            body.append(f'<section id="compare"><h2>Comparisons</h2>{compared}</section>')
        atomic_write_bytes(work / "index.html", h.page(title, "\n".join(body)).encode())
        kinds: dict[str, int] = {}
        for e in entries:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        folder.manifest = make_manifest(
            "report",
            step="report",
            params={"ancestors": ancestors, "samples": samples, "title": title},
            inputs=folders,
            facts={
                "index": "index.html",
                "assets": "assets/",
                "folders": [ctx.show_path(e.path) for e in entries],
                "kinds": kinds,
                "bootstrap_seed": 0,
            },
        )
    return out
