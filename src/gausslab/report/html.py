"""report.html: one self-contained page — inline CSS, plots as base64 PNG data URIs, no external links.

Every string from the study (names, paths, labels, errors, numbers) passes through `html.escape`.
Metric cells carry `data-runs` (space-separated run names) and `data-key` (the metrics.json key).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape

from gausslab.report.doc import Block, Bullets, Cell, Document, FigureRow, Heading, Paragraph, Section, Table

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0 1.2em; font-size: .88em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3em; }
dl.header { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; font-size: .9em; }
dl.header dt { font-weight: 600; } dl.header dd { margin: 0; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; max-width: 100%; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
"""


def render(doc: Document) -> str:
    header = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in doc.header)
    toc = "".join(f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in doc.sections)
    body = "".join(_section(s) for s in doc.sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(doc.title)}</title>'
            f"<style>{CSS}</style></head><body><h1>{escape(doc.title)}</h1>"
            f'<dl class="header">{header}</dl><nav><ol>{toc}</ol></nav>{body}</body></html>\n')


def _section(s: Section) -> str:
    inner = "".join(BLOCKS[type(b)](b) for b in s.blocks)
    return f'<section id="{escape(s.id)}"><h2>{escape(s.title)}</h2>{inner}</section>'


def _cell(c: Cell, tag: str = "td") -> str:
    attrs = f' data-runs="{escape(" ".join(c.runs))}" data-key="{escape(c.key)}"' if c.key else ""
    return f"<{tag}{attrs}>{escape(c.text)}</{tag}>"


def _table(t: Table) -> str:
    caption = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in t.rows)
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _figures(row: FigureRow) -> str:
    items = []
    for f in row.figures:
        data = base64.b64encode(f.path.read_bytes()).decode("ascii")
        items.append(f'<figure><img src="data:image/png;base64,{data}" alt="{escape(f.caption)}">'
                     f"<figcaption>{escape(f.caption)}</figcaption></figure>")
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
