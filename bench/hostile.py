"""How the screenplay library's time grows with hostile input: each input at one size and at eight
times that size, through every path that reads it — the Fountain and FDX readers, repair, lint,
stats, the page layout and the four writers.

    python -m bench.hostile                      # every input through every path
    python -m bench.hostile --only repair --scale 2
    python -m bench.hostile --timeout 20         # give up on a size after 20 s (old code)

Each input is built to make one kind of super-linear work show: a scene heading padded with
spaces (a regular expression that backtracks), a paragraph of a hundred pages (re-wrapping the
rest for each page), a word longer than a line, nested emphasis marks, a paragraph of ten thousand
lines, model output with long runs of spaces where markdown and chat lines are recognised, FDX
with thousands of hidden elements or notes. Linear work takes about 8 times as long at 8 times the
size; the ratio column shows it (say up to 12 on a quiet machine). Figures only: nothing here
passes or fails; `tests/screenplay/test_hostile.py` holds the limits.

Each size runs in a forked process that is stopped after `--timeout` seconds, so the bench also
finishes on code that is quadratic (run it from another checkout with PYTHONPATH to compare).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from screenplay import lint, parse_fdx, parse_fountain, repair, stats, to_fdx, to_fountain
from screenplay.html import to_html
from screenplay.layout import paginate
from screenplay.types import Document

# --- the inputs: each builds text (Fountain or model output) or FDX bytes of about n bytes -------

_SENTENCE = "Rain hammers the deck, and she waits for the ferry. "


def _fdx(content: str, private: str = "", title: str = "") -> bytes:
    title_page = f"<TitlePage><Content>{title}</Content></TitlePage>" if title else ""
    hidden = f'<WritersRoom Version="1">{private}</WritersRoom>' if private else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><FinalDraft DocumentType="Script" Version="5">'
        f"<Content>{content}</Content>{title_page}{hidden}</FinalDraft>"
    ).encode()


def _paragraph(kind: str, text: str) -> str:
    return f'<Paragraph Type="{kind}"><Text>{text}</Text></Paragraph>'


def heading_spaces(n: int) -> str:
    return "INT. HOUSE" + " " * n + "- DAY\n\nShe waits.\n"


def long_paragraph(n: int) -> str:
    return "INT. DECK - NIGHT\n\n" + _SENTENCE * (n // len(_SENTENCE)) + "\n"


def long_word(n: int) -> str:
    return "INT. DECK - NIGHT\n\n" + "x" * n + "\n"


def nested_emphasis(n: int) -> str:
    return "*_**_*" * (n // 6) + "\n"


def many_lines(n: int) -> str:
    return "She waits.\n" * (n // 11)


def speech_lines(n: int) -> str:
    return "MARA\n" + "We wait.\n" * (n // 9)


def outline(n: int) -> str:
    return "# Act\n= A beat.\n~Sing along\n" * (n // 27)


def inline_notes(n: int) -> str:
    return "She waits[[a note]] " * (n // 20) + "\n"


def many_scenes(n: int) -> str:
    return "".join(f"INT. KITCHEN - HOUR {i}\n\nShe waits.\n\n" for i in range(n // 36))


def markdown_heading(n: int) -> str:
    return "# Scene" + " " * n + "one\n"


def chat_spaces(n: int) -> str:
    return "Mara" + " " * n + "x\n"


def centred_spaces(n: int) -> str:
    return ">>" + " " * n + "x\n"


def label_spaces(n: int) -> str:
    return "scene" + " " * n + "x\n\nINT. KITCHEN" + " " * n + "x - NIGHT\n\n```" + " " * n + "!\n"


def model_spaces(n: int) -> str:
    """Every line of model output that repair looks at twice, with a long run of spaces."""
    part = n // 6
    return "\n\n".join(
        [
            markdown_heading(part),
            chat_spaces(part),
            centred_spaces(part),
            label_spaces(part // 3),
            "MARA" + " " * part + "(V.O.)\nHello.\n",
        ]
    )


def chatter(n: int) -> str:
    return "Sure!\n\n" * (n // 7) + "INT. KITCHEN - NIGHT\n\nShe waits.\n"


def capital_lines(n: int) -> str:
    return "MARA\nWe wait.\n" + "".join(f"NAME{i}\nHi.\n" for i in range(n // 12))


def fdx_hidden(n: int) -> bytes:
    hidden = '<Hidden Index="0" Type="Note">n</Hidden>' * (n // 40)
    return _fdx(_paragraph("Action", "She waits."), hidden)


def fdx_notes(n: int) -> bytes:
    count = n // 50
    notes = "".join(f'<InlineNote Element="0" Offset="{i}">n</InlineNote>' for i in range(count))
    return _fdx(_paragraph("Action", "x" * count), notes)


def fdx_cue_spaces(n: int) -> bytes:
    speech = _paragraph("Character", "TOM") + _paragraph("Dialogue", "Hi.")
    long_cue = _paragraph("Character", "MARA" + " " * n + "X") + _paragraph("Dialogue", "Hi.")
    return _fdx(long_cue + speech * (n // 25))


def _contacts(n: int) -> str:
    empty = '<Paragraph Alignment="Left"><Text></Text></Paragraph>'
    return ('<Paragraph Alignment="Left"><Text>Agent</Text></Paragraph>' + empty) * (n // 110)


def fdx_contacts(n: int) -> bytes:
    return _fdx(_paragraph("Action", "She waits."), title=_contacts(n))


def fdx_everything(n: int) -> bytes:
    """Hidden elements, notes, a long cue and a split contact in one script."""
    part = n // 4
    cue = _paragraph("Character", "MARA" + " " * (part // 4) + "X") + _paragraph("Dialogue", "Hi")
    notes = "".join(
        f'<InlineNote Element="0" Offset="{i}">n</InlineNote>' for i in range(part // 50)
    )
    hidden = '<Hidden Index="1" Type="Note">n</Hidden>' * (part // 40)
    action = _paragraph("Action", "x" * (part // 50))
    return _fdx(action + cue, hidden + notes, title=_contacts(part))


@dataclass(frozen=True)
class Hostile:
    """A hostile input: how to build it at about n bytes, and n at the smaller of two sizes."""

    name: str
    make: Callable[[int], str | bytes]
    size: int


HOSTILE = {
    hostile.name: hostile
    for hostile in (
        Hostile("heading-spaces", heading_spaces, 8_000),
        Hostile("long-paragraph", long_paragraph, 12_000),
        Hostile("long-word", long_word, 6_000),
        Hostile("nested-emphasis", nested_emphasis, 6_000),
        Hostile("many-lines", many_lines, 6_000),
        Hostile("speech-lines", speech_lines, 6_000),
        Hostile("outline", outline, 6_000),
        Hostile("inline-notes", inline_notes, 12_000),
        Hostile("many-scenes", many_scenes, 12_000),
        Hostile("markdown-heading", markdown_heading, 4_000),
        Hostile("chat-spaces", chat_spaces, 8_000),
        Hostile("centred-spaces", centred_spaces, 4_000),
        Hostile("label-spaces", label_spaces, 4_000),
        Hostile("model-spaces", model_spaces, 12_000),
        Hostile("chatter", chatter, 12_000),
        Hostile("capital-lines", capital_lines, 3_000),
        Hostile("fdx-hidden", fdx_hidden, 80_000),
        Hostile("fdx-notes", fdx_notes, 80_000),
        Hostile("fdx-cue-spaces", fdx_cue_spaces, 8_000),
        Hostile("fdx-contacts", fdx_contacts, 40_000),
        Hostile("fdx-everything", fdx_everything, 64_000),
    )
}


# --- the paths --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """An input as each path takes it: the raw text or bytes, and the document read from it."""

    raw: str | bytes
    doc: Document


def prepare(raw: str | bytes) -> Sample:
    return Sample(raw, parse_fdx(raw) if isinstance(raw, bytes) else parse_fountain(raw))


def _parse(sample: Sample) -> object:
    raw = sample.raw
    return parse_fdx(raw) if isinstance(raw, bytes) else parse_fountain(raw)


def _repair(sample: Sample) -> object:
    return repair(sample.raw) if isinstance(sample.raw, str) else None


def _pdf(sample: Sample) -> bytes:
    from screenplay.pdf import to_pdf  # reportlab loads only when this path runs

    return to_pdf(sample.doc)


PATHS: dict[str, Callable[[Sample], Any]] = {
    "parse": _parse,
    "repair": _repair,
    # As the room lints a take: line numbers of the script exported to Fountain.
    "lint": lambda sample: lint(sample.doc),
    "stats": lambda sample: stats(sample.doc),
    "layout": lambda sample: paginate(sample.doc),
    "pdf": _pdf,
    "html": lambda sample: to_html(sample.doc),
    "fountain": lambda sample: to_fountain(sample.doc),
    "fdx": lambda sample: to_fdx(sample.doc),
}


def applies(hostile: Hostile, path: str) -> bool:
    """Repair reads text as a model writes it, not FDX."""
    return not (path == "repair" and hostile.name.startswith("fdx-"))


def seconds(path: str, sample: Sample, repeat: int = 3) -> float:
    """The best of `repeat` runs of `path` on `sample`, with the garbage collector off (as
    timeit does: its pauses belong to whatever happens to allocate when they come)."""
    run = PATHS[path]
    best = float("inf")
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            run(sample)
            best = min(best, time.perf_counter() - start)
    finally:
        if enabled:
            gc.enable()
    return best


def _timed_in_child(path: str, raw: str | bytes, repeat: int, timeout: float) -> float | None:
    """`seconds` in a forked process; None when it takes longer than `timeout`."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def child() -> None:
        send.send(seconds(path, prepare(raw), repeat))

    process = context.Process(target=child, daemon=True)
    process.start()
    result = receive.recv() if receive.poll(timeout) else None
    process.kill()
    process.join()
    return result


def _figure(value: float | None, timeout: float) -> str:
    return f">{timeout:.0f} s".rjust(9) if value is None else f"{value * 1000:9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every input's size")
    parser.add_argument("--factor", type=int, default=8, help="the larger size over the smaller")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best counts")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before giving up")
    parser.add_argument("--only", action="append", metavar="PATH", help="a path to run (repeat)")
    parser.add_argument("--input", action="append", metavar="NAME", help="an input (repeat)")
    args = parser.parse_args()
    paths = args.only or list(PATHS)
    names = args.input or list(HOSTILE)
    print(f"{'input':17} {'path':8} {'size':>9} {'ms':>9} {f'x{args.factor} ms':>9} {'ratio':>7}")
    for name in names:
        hostile = HOSTILE[name]
        size = int(hostile.size * args.scale)
        small, large = hostile.make(size), hostile.make(size * args.factor)
        for path in paths:
            if not applies(hostile, path):
                continue
            one = _timed_in_child(path, small, args.repeat, args.timeout)
            many = _timed_in_child(path, large, args.repeat, args.timeout) if one else None
            ratio = f"{many / one:7.1f}" if one and many else "      -"
            print(
                f"{name:17} {path:8} {len(small) / 1024:7.1f}KB {_figure(one, args.timeout)} "
                f"{_figure(many, args.timeout)} {ratio}",
                flush=True,
            )


if __name__ == "__main__":
    main()
