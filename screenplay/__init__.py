"""The screenplay format library: document model, Fountain, FDX, the Chinese convention (zh), PDF,
HTML, Word, repair, lint, stats.

Pure Python plus rendering libraries; knows nothing of Discord, torch or writers' rooms.
The PDF writer is imported lazily so that `import screenplay` stays cheap (reportlab and the
bundled fonts are loaded only when a PDF is made). The other functions are imported eagerly: a
function named like its module (`lint`, `stats`, `repair`, `render`) must be bound here, or
importing the submodule would replace it with the module object.
"""

from __future__ import annotations

import importlib
from typing import Any

from screenplay.errors import FileError, FormatError, ScreenplayError
from screenplay.fdx import parse_fdx, to_fdx
from screenplay.files import read_script_bytes, write_atomic
from screenplay.fountain import parse_fountain, to_fountain
from screenplay.html import to_html
from screenplay.lint import Problem, lint
from screenplay.render import render
from screenplay.repair import RepairResult, repair, repair_with_report
from screenplay.stats import Stats, stats
from screenplay.types import (
    PRINTED,
    Action,
    Boneyard,
    Centered,
    Character,
    Dialogue,
    Document,
    Element,
    Lyrics,
    Note,
    PageBreak,
    Parenthetical,
    SceneHeading,
    Section,
    Span,
    Style,
    Synopsis,
    Text,
    TitleEntry,
    TitlePage,
    Transition,
    dialogue_blocks,
)
from screenplay.zh import looks_like_zh, parse_zh, to_zh

_LAZY = {
    "to_pdf": "screenplay.pdf",
    "to_docx": "screenplay.word",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'screenplay' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "PRINTED",
    "Action",
    "Boneyard",
    "Centered",
    "Character",
    "Dialogue",
    "Document",
    "Element",
    "FileError",
    "FormatError",
    "Lyrics",
    "Note",
    "PageBreak",
    "Parenthetical",
    "Problem",
    "RepairResult",
    "SceneHeading",
    "ScreenplayError",
    "Section",
    "Span",
    "Stats",
    "Style",
    "Synopsis",
    "Text",
    "TitleEntry",
    "TitlePage",
    "Transition",
    "dialogue_blocks",
    "lint",
    "looks_like_zh",
    "parse_fdx",
    "parse_fountain",
    "parse_zh",
    "read_script_bytes",
    "render",
    "repair",
    "repair_with_report",
    "stats",
    "to_docx",
    "to_fdx",
    "to_fountain",
    "to_html",
    "to_pdf",
    "to_zh",
    "write_atomic",
]
