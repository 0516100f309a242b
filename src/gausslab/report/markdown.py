"""report.md: the same document as Markdown, with pictures linked by their path relative to the study folder."""

from __future__ import annotations

import os
from collections.abc import Callable

from gausslab.report.doc import Block, Bullets, Cell, Document, FigureRow, Heading, Paragraph, Section, Table


def render(doc: Document) -> str:
    """report.md of `doc`: the same page as Markdown, the opening sections (the verdicts) before the header."""
    lines = [f"# {doc.title}", ""]
    for section in doc.sections[: doc.opening]:
        lines += _section(section, doc)
    lines += ["## About this study", "", *(f"- **{k}**: {_inline(v)}" for k, v in doc.header), ""]
    for section in doc.sections[doc.opening :]:
        lines += _section(section, doc)
    return "\n".join(lines) + "\n"


def _inline(text: str) -> str:
    """Text safe inside a table cell or list item: no pipes or newlines breaking the structure."""
    return text.replace("|", "\\|").replace("\n", " ")


def _section(s: Section, doc: Document) -> list[str]:
    lines = [f"## {s.title}", ""]
    for block in s.blocks:
        lines += [*_block(block, doc), ""]
    return lines


def _table(t: Table, doc: Document) -> list[str]:
    caption = [f"*{_inline(t.caption)}*", ""] if t.caption else []
    warnings = [f"> ⚠ {_inline(w)}" for w in t.warnings] + ([""] if t.warnings else [])
    head = "| " + " | ".join(_inline(c) for c in t.columns) + " |"
    rule = "|" + "|".join("---" for _ in t.columns) + "|"
    rows = ["| " + " | ".join(_text(c) for c in row) + " |" for row in t.rows]
    notes = ([""] + [_inline(n) for n in t.notes]) if t.notes else []
    return [*warnings, *caption, head, rule, *rows, *notes]


def _text(c: Cell) -> str:
    return f"[{_inline(c.text)}]({c.href})" if c.href else _inline(c.text)


def _figures(row: FigureRow, doc: Document) -> list[str]:
    return [f"![{_inline(f.caption)}](<{os.path.relpath(f.path, doc.root).replace(os.sep, '/')}>)" for f in row.figures]


BLOCKS: dict[type, Callable[[Block, Document], list[str]]] = {
    Table: _table,
    FigureRow: _figures,
    Paragraph: lambda p, doc: [p.text],
    Bullets: lambda b, doc: [f"- {_inline(item)}" for item in b.items],
    Heading: lambda h, doc: [f"### {h.text}"],
}


def _block(block: Block, doc: Document) -> list[str]:
    return BLOCKS[type(block)](block, doc)
