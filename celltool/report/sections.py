"""One section per folder: what made it (the manifest) and what it holds, by folder kind.

Built-in renderers cover every kind in :data:`celltool.manifest.KINDS`; a kind without one
(a third party's) gets the manifest part alone. Plugins add sections for a kind through the hook
``register_report_sections(register)``: ``register(kind, render)`` with
``render(folder, manifest, ctx) -> str`` (HTML), shown after the built-in part.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from celltool.errors import CelltoolError
from celltool.report import html as h
from celltool.report.context import ReportContext
from celltool.report.images import evenly

Render = Callable[[Path, dict, ReportContext], str]


# --- files -------------------------------------------------------------------------------------


def files(folder: Path | None) -> list[Path]:
    """Image files of a folder in natural order; none when it is missing or unreadable."""
    from celltool.imageio import list_images

    if folder is None or not folder.is_dir():
        return []
    try:
        return list_images(folder, allow_empty=True)
    except (CelltoolError, OSError):
        return []


def part_of(folder: Path, manifest: dict | None, name: str) -> Path | None:
    """A part of a container (``facts.parts``; absolute or relative) if it exists."""
    parts = ((manifest or {}).get("facts") or {}).get("parts") or {}
    value = parts.get(name) if isinstance(parts, dict) else None
    if not isinstance(value, str):
        return None
    path = folder / value  # an absolute value replaces folder
    return path if path.is_dir() else None


def pick(paths: list[Path], ctx: ReportContext) -> list[Path]:
    return [paths[i] for i in evenly(len(paths), ctx.samples)]


def count_line(paths: list[Path], what: str = "images") -> str:
    if not paths:
        return f'<p class="muted">no {h.esc(what)} found</p>'
    return f'<p class="muted">{len(paths)} {h.esc(what)}</p>'


def aligned(ctx: ReportContext, columns: list[tuple[str, Path | None, bool]]) -> str:
    """Rows of sample items across parts that share file stems: ``columns`` are
    (title, folder, is_label_map); the first column chooses the samples."""
    first = files(columns[0][1])
    if not first:
        return count_line(first)
    index = [{p.stem: p for p in files(folder)} for _, folder, _ in columns]
    rows = []
    for path in pick(first, ctx):
        cells = []
        for (title, _, labels), by_stem in zip(columns, index, strict=True):
            found = by_stem.get(path.stem)
            if found is not None:
                cells.append(ctx.image_file(found, f"{title}: {found.name}", labels=labels))
        rows.append(h.row(cells))
    titles = " | ".join(title for title, folder, _ in columns if folder is not None)
    return count_line(first) + f'<p class="muted">columns: {h.esc(titles)}</p>' + h.samples(rows)


# --- the manifest ------------------------------------------------------------------------------


def manifest_block(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    """What made the folder: step, command, plugin, seed, version, inputs, params, facts."""
    if manifest is None:
        return '<p class="muted">no manifest (celltool.json): taken as plain images</p>'
    m = ctx.clean(manifest)
    plugin = m.get("plugin") or {}
    made = [f"step <b>{h.esc(m.get('step', '?'))}</b>"]
    if plugin:
        made.append(
            f"{h.esc(plugin.get('family', 'component'))} <b>{h.esc(plugin.get('name', '?'))}</b>"
            f" ({h.esc(plugin.get('package', '?'))} {h.esc(plugin.get('version', ''))})"
        )
    made.append(f"seed {h.esc(m.get('seed'))}")
    made.append(f"celltool {h.esc(m.get('celltool_version', '?'))}")
    if m.get("created"):
        made.append(h.esc(m["created"]))
    inputs = []
    for record in manifest.get("inputs") or []:
        if isinstance(record, dict) and "path" in record:
            kind = h.esc(record.get("kind", "?"))
            inputs.append(f"{ctx.folder_link(record['path'])} <span class=kind>{kind}</span>")
    out = [f"<p>{' · '.join(made)}</p>"]
    out.append(f"<p>command: <code>{h.esc(m.get('command', '?'))}</code></p>")
    out.append(f"<p>inputs: {', '.join(inputs) if inputs else 'none'}</p>")
    params, facts = m.get("params") or {}, m.get("facts") or {}
    if isinstance(params, dict) and params:
        out.append(h.details(f"parameters ({len(params)})", h.kv_table(params)))
    if isinstance(facts, dict) and facts:
        out.append(h.details(f"facts ({len(facts)})", h.kv_table(facts)))
    return "".join(out)


# --- built-in kinds ----------------------------------------------------------------------------


def images_section(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    found = files(folder)
    return count_line(found) + h.row(ctx.image_file(p) for p in pick(found, ctx))


def labels_section(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    found = files(folder)
    shown = (ctx.image_file(p, labels=True) for p in pick(found, ctx))
    return count_line(found, "label maps") + h.row(shown)


def container_section(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    """A container's parts side by side: its images, then every other part as label maps
    (a simulation's cells/nuclei, prototypes' labels, spots' spot and mask maps)."""
    parts = list(((manifest or {}).get("facts") or {}).get("parts") or {})
    others = [name for name in parts if name != "images"]
    columns = [("image", part_of(folder, manifest, "images") or folder / "images", False)]
    columns += [(name, part_of(folder, manifest, name), True) for name in others]
    return aligned(ctx, [c for c in columns if c[1] is not None])


def segmentation_section(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    source = part_of(folder, manifest, "images")
    cells = part_of(folder, manifest, "cells")
    columns = [("image", source, False), ("cells", cells, True)]
    columns.append(("nuclei", part_of(folder, manifest, "nuclei"), True))
    if source is None:  # the source images moved: show the labels alone
        columns = [c for c in columns if c[1] is not None]
        if not columns:
            return count_line([], "label maps")
    return aligned(ctx, columns)


def sketch_section(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    columns = [
        ("image", part_of(folder, manifest, "images"), False),
        ("sketch", part_of(folder, manifest, "gray"), False),
    ]
    columns = [c for c in columns if c[1] is not None] or [("sketch", folder / "gray", False)]
    classes = ((manifest or {}).get("facts") or {}).get("classes") or []
    table = ""
    if isinstance(classes, list) and classes:
        rows = []
        for c in classes:
            if isinstance(c, dict):
                gray = int(c.get("gray", 0)) if str(c.get("gray", "")).isdigit() else 0
                colour = f"rgb({gray},{gray},{gray})"
                swatch = f'<span style="background:{colour};padding:0 12px"></span>'
                rows.append([h.esc(c.get("index")), h.esc(c.get("name")), f"{swatch} {gray}"])
        table = h.details(f"classes ({len(rows)})", h.table(["index", "class", "gray"], rows))
    return aligned(ctx, columns) + table


def _side_by_side(ctx: ReportContext, paths: list[Path], split: str) -> str:
    from celltool.imageio import read_image
    from celltool.report.images import split_side_by_side

    rows = []
    for path in pick(paths, ctx):
        try:
            left, right = split_side_by_side(read_image(path))
        except CelltoolError as exc:
            rows.append(h.warning(exc.message))
            continue
        cells = [ctx.image(left, f"{split} {path.name}: image"), ctx.image(right, "sketch")]
        rows.append(h.row(cells))
    return h.samples(rows)


def pairs_section(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    facts = (manifest or {}).get("facts") or {}
    layout = facts.get("layout", "side-by-side")
    counts = facts.get("samples_per_split")
    out = [f"<p>layout <b>{h.esc(layout)}</b>"]
    if isinstance(counts, dict):
        out.append(" · " + ", ".join(f"{h.esc(k)} {h.esc(v)}" for k, v in counts.items()))
    out.append("</p>")
    if layout == "ctc":
        for seq in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit())[:2]:
            out.append(f"<h3>sequence {h.esc(seq.name)}</h3>")
            out.append(aligned(ctx, [("frame", seq, False)]))
        return "".join(out)
    for split in ("train", "val", "test"):
        base = folder / split
        if not base.is_dir():
            continue
        if layout == "side-by-side":
            found = files(base)
            if found:
                out.append(f"<h3>{h.esc(split)}</h3>" + _side_by_side(ctx, found, split))
            continue
        subs = ["image_t", "sketch_t", "image_t1", "sketch_t1"]
        if not (base / "image_t").is_dir():
            subs = ["image", "sketch"]
        columns = [(f"{split} {s}", base / s, False) for s in subs if (base / s).is_dir()]
        if columns and files(columns[0][1]):
            out.append(f"<h3>{h.esc(split)}</h3>" + aligned(ctx, columns))
    return "".join(out)


def side_by_side_test_split(record: Any) -> Path | None:
    """The test split of an input that is a side-by-side pairs folder, else None."""
    from celltool.manifest import read_manifest

    path = Path(str(record.get("path", ""))) if isinstance(record, dict) else None
    if path is None or not (path / "test").is_dir():
        return None
    try:
        manifest = read_manifest(path) or {}
    except CelltoolError:
        return None
    layout = (manifest.get("facts") or {}).get("layout", "side-by-side")
    return path / "test" if manifest.get("kind") == "pairs" and layout == "side-by-side" else None


def generated_section(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    """real | sketch | generated when an input is a side-by-side pairs folder (generate reads
    its test split; names match), else the generated images alone."""
    from celltool.imageio import read_image
    from celltool.report.images import split_side_by_side

    generated = files(folder)
    for record in (manifest or {}).get("inputs") or []:
        test_split = side_by_side_test_split(record)
        test = {p.stem: p for p in files(test_split)}
        chosen = [p for p in pick(generated, ctx) if p.stem in test]
        if not chosen:
            continue
        rows = []
        for path in chosen:
            real, sketch = split_side_by_side(read_image(test[path.stem]))
            cells = [ctx.image(real, f"real {path.stem}"), ctx.image(sketch, "sketch")]
            cells.append(ctx.image_file(path, f"generated {path.name}"))
            rows.append(h.row(cells))
        note = '<p class="muted">columns: real | sketch (the test split) | generated</p>'
        return count_line(generated) + note + h.samples(rows)
    return images_section(folder, manifest, ctx)


def demo_section(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    parts = ((manifest or {}).get("facts") or {}).get("parts") or {}
    rows = [[h.esc(stage), ctx.folder_link(folder / str(rel))] for stage, rel in parts.items()]
    return h.table(["stage", "folder"], rows) if rows else ""


def report_section(folder: Path, manifest: dict | None, ctx: ReportContext) -> str:
    return '<p class="muted">an earlier report: open its own index.html</p>'


def builtin_renderers() -> dict[str, Render]:
    from celltool.report import results
    from celltool.report.benchmark import benchmark_section

    return {
        "images": images_section,
        "labels": labels_section,
        "segmentation": segmentation_section,
        "sketch": sketch_section,
        "pairs": pairs_section,
        "run": results.run_section,
        "generated": generated_section,
        "sequence": results.sequence_section,
        "metrics": results.metrics_section,
        "simulation": container_section,
        "prototypes": container_section,
        "spots": container_section,
        "demo": demo_section,
        "report": report_section,
        "benchmark": benchmark_section,
    }


# --- plugins -------------------------------------------------------------------------------------


def plugin_renderers() -> dict[str, list[tuple[str, Render]]]:
    """Renderers from the hook ``register_report_sections``: kind → [(plugin, render)]."""
    from celltool import plugins

    ps = plugins.load()
    found: dict[str, list[tuple[str, Render]]] = {}
    for impl in ps.pm.hook.register_report_sections.get_hookimpls():

        def register(kind: str, render: Render, _name: str = impl.plugin_name) -> None:
            if not isinstance(kind, str) or not kind or not callable(render):
                raise CelltoolError(
                    f"plugin '{_name}' called register({kind!r}, {render!r}) in "
                    "register_report_sections; expected register(kind: str, render: callable)"
                )
            found.setdefault(kind, []).append((_name, render))

        impl.function(register=register)
    return found


def render_folder(
    folder: Path,
    manifest: dict | None,
    ctx: ReportContext,
    extra: dict[str, list[tuple[str, Render]]],
) -> str:
    """The manifest block, the built-in part for the kind and the plugins' parts. A renderer
    that fails shows its error in place (and on stderr) instead of ending the report."""
    from celltool.console import warn

    kind = "images" if manifest is None else str(manifest.get("kind"))
    renderers = [("celltool", r) for r in [builtin_renderers().get(kind)] if r is not None]
    out = [manifest_block(folder, manifest, ctx)]
    for plugin, render in renderers + extra.get(kind, []):
        try:
            out.append(str(render(folder, manifest or {"kind": "images"}, ctx)))
        except Exception as exc:  # one broken section must not cost the whole report
            text = f"the {kind} section of {plugin} failed: {exc.__class__.__name__}: {exc}"
            warn(f"report: {ctx.show_path(folder)}: {text}")
            out.append(h.warning(text))
    return "".join(out)
