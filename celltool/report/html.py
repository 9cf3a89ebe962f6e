"""HTML pieces of the report: escaping, tables, figures and the page around them.

Everything that comes from a manifest, a file name or a CSV goes through :func:`esc`; the
functions here take *text* unless their argument is named ``..._html``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
       margin: 0 auto; max-width: 1180px; padding: 0 20px 60px; background: #fff; }
h1 { font-size: 1.6em; margin: 24px 0 4px; }
h2 { font-size: 1.25em; margin: 36px 0 6px; padding-top: 10px; border-top: 2px solid #ddd; }
h3 { font-size: 1.05em; margin: 18px 0 6px; }
code, pre { font: 13px/1.35 ui-monospace, Menlo, Consolas, monospace; background: #f4f4f6; }
code { padding: 1px 4px; border-radius: 3px; word-break: break-all; }
pre { padding: 8px; overflow-x: auto; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.kind { display: inline-block; font-size: 12px; padding: 1px 7px; border-radius: 9px;
        background: #e8eefc; color: #1f3f9f; vertical-align: middle; margin-left: 6px; }
.muted { color: #666; font-size: 13px; }
.warn { color: #8a1f11; background: #fdecea; padding: 6px 10px; border-radius: 4px; }
.row { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; margin: 6px 0; }
figure { margin: 0; }
figure img { display: block; max-width: 170px; height: auto; border: 1px solid #ccc;
             background: #000; }
figure.plot img, figure.wide img { max-width: 100%; }
figure.plot img { background: #fff; border: 0; }
figcaption { font-size: 12px; color: #444; max-width: 170px; overflow-wrap: anywhere; }
.plots { display: flex; flex-wrap: wrap; gap: 12px 20px; }
.plots figure.plot.half img { max-width: 560px; }
.samples { display: flex; flex-wrap: wrap; gap: 14px 28px; margin: 6px 0; }
.samples .row { margin: 0; }
figure.plot figcaption, figure.wide figcaption { max-width: none; }
img.px { image-rendering: pixelated; }
details { margin: 4px 0; }
summary { cursor: pointer; color: #333; }
.chain { font-size: 14px; margin: 2px 0; }
.chain a { text-decoration: none; }
nav ol { columns: 2; font-size: 14px; }
"""


def esc(value: Any) -> str:
    """Text for HTML (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def compact(value: Any, limit: int = 240) -> str:
    """A value as short text: strings as they are, the rest as compact JSON, cut at ``limit``."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, separators=(", ", ": "), ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > limit:
        count = f", {len(value)} items" if isinstance(value, (list, dict)) else ""
        text = text[:limit] + f"… ({len(text)} characters{count})"
    return text


def fmt_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(compact(value))
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def table(header: Sequence[str], rows_html: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table: ``header`` is text, ``rows_html`` are cells that are already HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows_html)
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def kv_table(items: Mapping[str, Any]) -> str:
    """Two columns, name and value, both escaped (values as compact text)."""
    rows = [[f"<code>{esc(k)}</code>", esc(compact(v))] for k, v in items.items()]
    return table(["name", "value"], rows)


def details(summary: str, body_html: str, open_: bool = False) -> str:
    attr = " open" if open_ else ""
    return f"<details{attr}><summary>{esc(summary)}</summary>{body_html}</details>"


def figure(src: str, caption: str = "", *, width: int | None = None, cls: str = "") -> str:
    """An image with a caption; ``src`` is a relative path inside the report."""
    size = f' width="{int(width)}"' if width else ""
    klass = f' class="{esc(cls)}"' if cls else ""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure{klass}><img src="{esc(src)}" alt="{esc(caption)}"{size}>{cap}</figure>'


def row(items_html: Iterable[str]) -> str:
    return '<div class="row">' + "".join(items_html) + "</div>"


def samples(rows_html: Iterable[str]) -> str:
    """Rows of one sample each (e.g. image | labels), wrapped side by side when there is room."""
    return '<div class="samples">' + "".join(rows_html) + "</div>"


def link(href: str, text: str) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def warning(text: str) -> str:
    return f'<p class="warn">{esc(text)}</p>'


def page(title: str, body_html: str) -> str:
    """The whole page: no scripts, no external references."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body_html}\n"
        "</body></html>\n"
    )
