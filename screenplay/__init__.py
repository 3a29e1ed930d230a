"""The screenplay format library: document model, Fountain, FDX, PDF, HTML, repair, lint, stats.

Pure Python plus rendering libraries; knows nothing of Discord, torch or writers' rooms.
Public functions are imported lazily so that `import screenplay` stays cheap (the PDF writer pulls
in reportlab only when a PDF is made).
"""

from __future__ import annotations

import importlib
from typing import Any

from screenplay.errors import FormatError, ScreenplayError
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

_LAZY = {
    "parse_fountain": "screenplay.fountain",
    "to_fountain": "screenplay.fountain",
    "parse_fdx": "screenplay.fdx",
    "to_fdx": "screenplay.fdx",
    "to_pdf": "screenplay.pdf",
    "to_html": "screenplay.html",
    "repair": "screenplay.repair",
    "repair_with_report": "screenplay.repair",
    "RepairResult": "screenplay.repair",
    "lint": "screenplay.lint",
    "Problem": "screenplay.lint",
    "stats": "screenplay.stats",
    "Stats": "screenplay.stats",
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
    "parse_fdx",
    "parse_fountain",
    "repair",
    "repair_with_report",
    "stats",
    "to_fdx",
    "to_fountain",
    "to_html",
    "to_pdf",
]
