"""What a section renderer gets besides its folder and manifest: a place to write thumbnails and
plots inside the report, paths shown without the machine's absolute paths, and escaping.

Third-party renderers (hook ``register_report_sections``) receive the same object.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from celltool.imageio import atomic_write_bytes, write_image
from celltool.report import html as h
from celltool.report import images

ABSOLUTE = re.compile(r"""(?:^|(?<=[\s=:'"(\[,]))/[^\s'",;)\]]+""")
SAFE = re.compile(r"[^A-Za-z0-9._-]+")
IMAGE_SUFFIX = re.compile(r"\.(png|tiff?|jpe?g)$", re.IGNORECASE)


class ReportContext:
    """Helpers for section renderers.

    - ``esc(value)``: HTML-escape text (everything from a manifest or a file name).
    - ``image(array, caption, labels=False)``: thumbnail(s) written into the report, as
      ``<figure>`` HTML (a 3D stack gives its middle slice and its max projection).
    - ``image_file(path, caption=None, labels=False)``: the same for an image file.
    - ``plot(plot, name)``: a :class:`celltool.plots.Plot` written as PNG + CSV, as HTML.
    - ``table(header, rows)``: an escaped table; ``show_path(path)``: a path for the page
      (relative to the report's base folder, never the machine's absolute path).
    - ``samples``: how many sample images a section shows.
    """

    esc = staticmethod(h.esc)

    def __init__(self, out: Path, base: Path, samples: int, anchors: dict[Path, str]) -> None:
        self.out = out  # the report folder being written
        self.base = base
        self.samples = samples
        self.anchors = anchors  # folder (resolved) -> section id
        self.folder_id = "report"
        self._taken: set[str] = set()

    # --- paths ---------------------------------------------------------------------------------

    def show_path(self, path: str | Path) -> str:
        """``path`` relative to the base folder, or ``…/parent/name`` when outside it."""
        p = Path(path)
        if not p.is_absolute():
            return p.as_posix()
        for candidate in (Path(os.path.normpath(p)), p.resolve()):
            try:
                rel = candidate.relative_to(self.base)
                return rel.as_posix() if rel.parts else self.base.name
            except ValueError:
                continue
        return "…/" + "/".join(p.parts[-2:])

    def clean(self, value: Any) -> Any:
        """``value`` with every absolute path inside its strings shown by :meth:`show_path`."""
        if isinstance(value, str):
            return ABSOLUTE.sub(lambda m: self.show_path(m.group(0)), value)
        if isinstance(value, dict):
            return {self.clean(k): self.clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.clean(v) for v in value]
        return value

    def folder_link(self, path: str | Path) -> str:
        """HTML: a link to the folder's section when it is in the report, else its name."""
        resolved = Path(path).resolve()
        shown = self.show_path(path)
        anchor = self.anchors.get(resolved)
        return h.link(f"#{anchor}", shown) if anchor else f"<code>{h.esc(shown)}</code>"

    # --- files in the report ---------------------------------------------------------------------

    def asset(self, name: str, suffix: str) -> tuple[Path, str]:
        """A new file ``assets/<section>/<name><suffix>``: (path to write, relative src)."""
        name = IMAGE_SUFFIX.sub("", name)
        stem = SAFE.sub("_", name).strip("._") or "item"
        rel = f"assets/{self.folder_id}/{stem[:60]}"
        candidate, k = rel + suffix, 1
        while candidate in self._taken:
            k += 1
            candidate = f"{rel}-{k}{suffix}"
        self._taken.add(candidate)
        path = self.out / candidate
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, candidate

    def write_bytes(self, data: bytes, name: str, suffix: str) -> str:
        path, src = self.asset(name, suffix)
        atomic_write_bytes(path, data)
        return src

    def image(
        self, array: np.ndarray, caption: str = "", *, labels: bool = False, max_side: int = 256
    ) -> str:
        """Thumbnail figure(s) of an image or a label map (colours per id)."""
        views = images.label_views(array) if labels else images.views(array)
        out = []
        for view, plane in views:
            shown = plane if labels else images.stretch(plane)
            thumb = images.shrink(shown, max_side, nearest=labels)
            path, src = self.asset(caption or "image", ".png")
            write_image(path, thumb)
            side = max(thumb.shape[:2])
            small = side <= max_side // 2  # shown enlarged, pixels kept sharp
            width = thumb.shape[1] * max(2, 128 // side) if small else None
            text = f"{caption} · {view}" if view else caption
            cls = "wide" if max_side > 256 else ("px" if small else "")
            out.append(h.figure(src, text, width=width, cls=cls))
        return "".join(out)

    def image_file(self, path: str | Path, caption: str | None = None, *, labels: bool = False):
        """:meth:`image` of a file (``caption``: its name); a warning if it cannot be read."""
        from celltool.errors import CelltoolError
        from celltool.imageio import read_image

        path = Path(path)
        try:
            array = read_image(path)
        except CelltoolError as exc:
            return h.warning(f"{self.show_path(path)}: {exc.message}")
        return self.image(array, path.name if caption is None else caption, labels=labels)

    def plot(self, plot: Any, name: str, caption: str = "", *, half: bool = False) -> str:
        """Write a Plot (PNG + CSV beside it) and return it as a figure with a link to its data."""
        path, src = self.asset(name, ".png")
        self._taken.add(src[:-4] + ".csv")
        plot.write(path)
        csv_src = src[:-4] + ".csv"
        text = h.esc(caption) + " " if caption else ""
        cls = "plot half" if half else "plot"
        return (
            f'<figure class="{cls}"><img src="{h.esc(src)}" alt="{h.esc(name)}">'
            f"<figcaption>{text}data: {h.link(csv_src, Path(csv_src).name)}</figcaption></figure>"
        )

    def table(self, header: list[str], rows: list[list[Any]]) -> str:
        return h.table(header, [[h.esc(h.compact(self.clean(v))) for v in r] for r in rows])
