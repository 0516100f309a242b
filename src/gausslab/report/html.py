"""report.html: one self-contained page — inline CSS, plots as base64 PNG data URIs, no external links.

Every string from the study (names, paths, labels, errors, numbers) passes through `html.escape`.
Metric cells carry `data-runs` (space-separated run names) and `data-key` (the metrics.json key).
Readable from 800 px up: tables scroll inside their own box, charts shrink to the column (never
below their natural size at 800 px), and image grids keep their natural size (`data-cell-px`:
pixels per image) inside a box that scrolls when a grid is wider than the column.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from html import escape

from gausslab.report.doc import Block, Bullets, Cell, Document, FigureRow, Heading, Paragraph, Section, Table

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
.table { max-width: 100%; overflow-x: auto; margin: .8em 0 1.2em; }
table { border-collapse: collapse; font-size: .88em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td[data-key] { text-align: right; white-space: nowrap; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3em; }
p.note { font-size: .85em; color: #444; margin: .3em 0; }
p.warning { background: #fff4e0; border-left: 4px solid #e69500; padding: .3em .6em; font-size: .9em; }
dl.header { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .15em 1em; font-size: .9em; }
dl.header dt { font-weight: 600; } dl.header dd { margin: 0; overflow-wrap: anywhere; }
p, li, dd, caption { overflow-wrap: anywhere; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; max-width: 100%; }
figure { margin: 0; max-width: 100%; } figure.chart img { max-width: 100%; height: auto; border: 1px solid #eee; }
figure.grid { overflow-x: auto; } figure.grid img { max-width: none; image-rendering: pixelated; }
figcaption { font-size: .85em; color: #555; max-width: 30em; }
"""


def render(doc: Document) -> str:
    """report.html of `doc`: one self-contained page, the opening sections (the verdicts) before the header."""
    header = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in doc.header)
    toc = "".join(f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in doc.sections)
    opening = "".join(_section(s) for s in doc.sections[: doc.opening])
    body = "".join(_section(s) for s in doc.sections[doc.opening :])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(doc.title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{escape(doc.title)}</h1>{opening}<h2>About this study</h2>"
            f'<dl class="header">{header}</dl><nav><ol>{toc}</ol></nav>{body}</body></html>\n')


def _section(s: Section) -> str:
    inner = "".join(BLOCKS[type(b)](b) for b in s.blocks)
    return f'<section id="{escape(s.id)}"><h2>{escape(s.title)}</h2>{inner}</section>'


def _cell(c: Cell, tag: str = "td") -> str:
    attrs = f' data-runs="{escape(" ".join(c.runs))}" data-key="{escape(c.key)}"' if c.key else ""
    text = f'<a href="{escape(c.href)}">{escape(c.text)}</a>' if c.href else escape(c.text)
    return f"<{tag}{attrs}>{text}</{tag}>"


def _table(t: Table) -> str:
    caption = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in t.rows)
    warnings = "".join(f'<p class="warning">⚠ {escape(w)}</p>' for w in t.warnings)
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in t.notes)
    return (f'{warnings}<div class="table"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
            f"</table></div>{notes}")


def _figures(row: FigureRow) -> str:
    items = []
    for f in row.figures:
        png = f.path.read_bytes()
        width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk of a PNG
        data = base64.b64encode(png).decode("ascii")
        cell = f' data-cell-px="{f.cell_px}"' if f.kind == "grid" else ""
        items.append(f'<figure class="{f.kind}"><img src="data:image/png;base64,{data}" width="{width}" '
                     f'height="{height}"{cell} alt="{escape(f.caption)}"><figcaption>{escape(f.caption)}</figcaption>'
                     "</figure>")
    return f'<div class="figures">{"".join(items)}</div>'


def _bullets(b: Bullets) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in b.items) + "</ul>"


BLOCKS: dict[type, Callable[[Block], str]] = {
    Table: _table,
    FigureRow: _figures,
    Paragraph: lambda p: f"<p>{escape(p.text)}</p>",
    Bullets: _bullets,
    Heading: lambda h: f"<h3>{escape(h.text)}</h3>",
}
