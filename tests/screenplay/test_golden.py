"""Golden files: every example script in tests/files/ through every export format.

Each `tests/files/<stem>.fountain` is discovered automatically and rendered with the public
writers; the output must equal the reviewed files in `tests/files/golden/`:

- `<stem>.fountain`  canonical Fountain (`to_fountain`),
- `<stem>.fdx`       Final Draft XML (`to_fdx`),
- `<stem>.html`      the HTML page (`to_html`),
- `<stem>.pdf.txt`   the page count and the text of `to_pdf(doc, paper="letter")` as
  `pdftotext -layout` reads it (a PDF's bytes carry timestamps; its laid-out text does not).

Each `tests/files/<stem>.zh.txt`, a script in the Chinese convention (中文剧本), is read with
`parse_zh` and must write back unchanged (zh -> document -> zh); its golden files are:

- `<stem>.zh.txt`      the script as `to_zh` writes it,
- `<stem>.fountain`, `<stem>.fdx`  the Hollywood formats,
- `<stem>.zh.pdf.txt`  the A4 PDF in the Chinese layout as `pdftotext -layout` reads it,
- `<stem>.docx.txt`    the Word file in the Chinese layout read back with python-docx, a line a
  paragraph marked with its alignment and `**` around bold runs.

`pytest --update-goldens` rewrites them; review the diff before committing. Adding an example
script needs nothing but the file and a run with `--update-goldens`.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import typing
from pathlib import Path

import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH

from screenplay import (
    PRINTED,
    Action,
    Character,
    Dialogue,
    Document,
    Element,
    PageBreak,
    SceneHeading,
    Section,
    Span,
    Style,
    Text,
    parse_fdx,
    parse_fountain,
    render,
    to_fdx,
    to_fountain,
    to_html,
    to_pdf,
)
from screenplay.zh import parse_zh, to_zh

FILES = Path(__file__).resolve().parent.parent / "files"
GOLDEN = FILES / "golden"
SCRIPTS = sorted(FILES.glob("*.fountain"))
ZH_SCRIPTS = sorted(FILES.glob("*.zh.txt"))

needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)


@pytest.fixture(params=SCRIPTS, ids=[p.name for p in SCRIPTS])
def script(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


def _parse(path: Path) -> Document:
    return parse_fountain(path.read_text(encoding="utf-8"))


def _check_golden(name: str, actual: str, update: bool) -> None:
    """Compare `actual` with the golden file `name`, or rewrite it when updating."""
    golden = GOLDEN / name
    if update:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8", newline="\n")
        return
    if not golden.exists():
        pytest.fail(f"no golden file {golden}; run pytest --update-goldens and review it")
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file (pytest --update-goldens)"


def _pdf_text(doc: Document, tmp_path: Path, layout: str = "hollywood") -> str:
    """The page count and the laid-out text of the PDF (letter, or A4 in the Chinese layout),
    one block per page."""
    pdf = tmp_path / "script.pdf"
    pdf.write_bytes(to_pdf(doc, layout=layout))
    result = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(pdf), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pages = result.stdout.decode("utf-8").split("\f")
    if pages and not pages[-1].strip():
        pages.pop()  # pdftotext ends every page, the last one too, with a form feed
    out = [f"pages: {len(pages)}"]
    for number, page in enumerate(pages, start=1):
        out.append(f"---------- page {number} ----------")
        out.extend(line.rstrip() for line in page.rstrip("\n").split("\n"))
    return "\n".join(out) + "\n"


def _without_notes(element: Element) -> Element:
    """The element as printed: inline `[[notes]]` removed from its rich text."""
    changes = {
        f.name: Text.from_spans(s for s in value.spans if not s.note)
        for f in dataclasses.fields(element)
        if isinstance(value := getattr(element, f.name), Text)
    }
    return dataclasses.replace(element, **changes) if changes else element


def _printed(doc: Document) -> list[Element]:
    return [_without_notes(e) for e in doc.elements if isinstance(e, PRINTED)]


def test_canonical_fountain_matches_golden(script: Path, update_goldens: bool) -> None:
    _check_golden(f"{script.stem}.fountain", to_fountain(_parse(script)), update_goldens)


def test_fdx_matches_golden(script: Path, update_goldens: bool) -> None:
    _check_golden(f"{script.stem}.fdx", to_fdx(_parse(script)), update_goldens)


def test_html_matches_golden(script: Path, update_goldens: bool) -> None:
    _check_golden(f"{script.stem}.html", to_html(_parse(script)), update_goldens)


@needs_pdftotext
def test_pdf_text_matches_golden(script: Path, update_goldens: bool, tmp_path: Path) -> None:
    _check_golden(f"{script.stem}.pdf.txt", _pdf_text(_parse(script), tmp_path), update_goldens)


def test_golden_fountain_reads_back_as_the_same_document(script: Path) -> None:
    golden = GOLDEN / f"{script.stem}.fountain"
    assert parse_fountain(golden.read_text(encoding="utf-8")) == _parse(script)


def test_golden_fdx_reads_back_with_the_same_printed_elements(script: Path) -> None:
    golden = GOLDEN / f"{script.stem}.fdx"
    assert _printed(parse_fdx(golden.read_text(encoding="utf-8"))) == _printed(_parse(script))


def test_every_golden_file_belongs_to_an_example_script() -> None:
    """A renamed or deleted example must take its golden files with it."""
    stems = {p.stem for p in SCRIPTS} | {p.name.removesuffix(".zh.txt") for p in ZH_SCRIPTS}
    suffixes = (".fountain", ".fdx", ".html", ".pdf.txt", ".zh.txt", ".zh.pdf.txt", ".docx.txt")
    orphans = [
        g.name
        for g in GOLDEN.iterdir()
        if not any(g.name.endswith(s) and g.name.removesuffix(s) in stems for s in suffixes)
    ]
    assert orphans == []


def test_examples_together_use_every_element() -> None:
    """Guards the example set itself: deleting the only script with lyrics must fail here."""
    docs = [_parse(p) for p in SCRIPTS]
    elements = [e for doc in docs for e in doc.elements]
    kinds = {type(e).__name__ for e in elements}
    assert kinds >= {t.__name__ for t in typing.get_args(Element)}

    cues = [e for e in elements if isinstance(e, Character)]
    assert {"V.O.", "O.S.", "CONT'D"} <= {c.extension for c in cues}
    assert any(c.dual for c in cues)
    assert any(c.name != c.name.upper() for c in cues), "a forced @McKENNA-style cue"
    assert any(c.name == "林小雨" for c in cues), "a Chinese @cue"

    headings = [e for e in elements if isinstance(e, SceneHeading)]
    assert {"1", "12A"} <= {h.number for h in headings}
    prefixes = ("INT.", "EXT.", "EST.", "INT./EXT.", "INT/EXT.", "I/E.")
    assert {h.text.split(" ")[0] for h in headings} >= set(prefixes)
    assert any(not h.text.startswith(prefixes) for h in headings), "a forced .HEADING"
    assert {e.level for e in elements if isinstance(e, Section)} >= {1, 2}
    assert any(
        isinstance(e, Action) and any(line.plain.startswith("    ") for line in e.text.lines())
        for e in elements
    ), "indented action kept as written"

    spans: list[Span] = []
    for element in elements:
        text = getattr(element, "text", None)
        if isinstance(text, Text):
            spans.extend(text.spans)
    styles = {s.style for s in spans}
    assert {Style.ITALIC, Style.BOLD, Style.BOLD | Style.ITALIC, Style.UNDERLINE} <= styles
    assert any(s.note for s in spans), "an inline [[note]]"
    assert any("*" in s.text and not s.note for s in spans), r"an escaped \* printed as is"
    assert any(
        isinstance(e, Dialogue)
        and "elbows." in e.text.plain
        and "five, six" in e.text.plain.lower()
        for e in elements
    ), "dialogue kept going across a two-space line"
    assert any(len(doc.title_page.entries) >= 6 for doc in docs)
    assert any("\n" in entry.value.plain for doc in docs for entry in doc.title_page.entries)
    assert PageBreak() in elements


@needs_pdftotext
def test_long_speech_continues_on_the_next_page(tmp_path: Path) -> None:
    text = _pdf_text(_parse(FILES / "closing_argument.fountain"), tmp_path)
    assert "(MORE)" in text
    assert "RUTH (CONT'D)" in text


@needs_pdftotext
def test_chinese_script_prints_its_chinese(tmp_path: Path) -> None:
    text = _pdf_text(_parse(FILES / "zh_teahouse.fountain"), tmp_path)
    assert "林小雨" in text
    assert "茶馆的最后一夜" in text


# --- the Chinese convention ---------------------------------------------------------------------


@pytest.fixture(params=ZH_SCRIPTS, ids=[p.name for p in ZH_SCRIPTS])
def zh_script(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


def _zh_stem(path: Path) -> str:
    return path.name.removesuffix(".zh.txt")


def _docx_text(doc: Document) -> str:
    """The Word file in the Chinese layout as python-docx reads it back."""
    import io

    import docx

    word = docx.Document(io.BytesIO(render(doc, "docx", layout="zh")))
    out: list[str] = []
    for paragraph in word.paragraphs:
        align = {WD_ALIGN_PARAGRAPH.CENTER: "center", WD_ALIGN_PARAGRAPH.RIGHT: "right"}
        runs = "".join(f"**{r.text}**" if r.bold else r.text for r in paragraph.runs)
        out.append(f"{align.get(paragraph.alignment, 'left'):6} | {runs}".rstrip())
    return "\n".join(out) + "\n"


def test_zh_examples_round_trip_exactly(zh_script: Path) -> None:
    text = zh_script.read_text(encoding="utf-8")
    assert to_zh(parse_zh(text)) == text


def test_zh_matches_golden(zh_script: Path, update_goldens: bool) -> None:
    doc = parse_zh(zh_script.read_text(encoding="utf-8"))
    stem = _zh_stem(zh_script)
    _check_golden(f"{stem}.zh.txt", to_zh(doc), update_goldens)
    _check_golden(f"{stem}.fountain", to_fountain(doc), update_goldens)
    _check_golden(f"{stem}.fdx", to_fdx(doc), update_goldens)
    _check_golden(f"{stem}.docx.txt", _docx_text(doc), update_goldens)


def test_zh_fdx_keeps_every_printed_element(zh_script: Path) -> None:
    doc = parse_zh(zh_script.read_text(encoding="utf-8"))
    assert _printed(parse_fdx(to_fdx(doc))) == _printed(doc)


@needs_pdftotext
def test_zh_pdf_matches_golden_and_keeps_the_line_breaking_rules(
    zh_script: Path, update_goldens: bool, tmp_path: Path
) -> None:
    doc = parse_zh(zh_script.read_text(encoding="utf-8"))
    text = _pdf_text(doc, tmp_path, layout="zh")
    _check_golden(f"{_zh_stem(zh_script)}.zh.pdf.txt", text, update_goldens)
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith(("pages:", "----------"))
    ]
    # Kinsoku: no line starts with closing punctuation or ends with an opening one.
    assert [line for line in lines if line[0] in "，。、；：？！）」』》"] == []
    assert [line for line in lines if line[-1] in "（「『《"] == []
    # The text extracts whole: every printed line of the script, joined across its wraps.
    printed = re.sub(r"\s+", "", "".join(lines))
    for line in to_zh(doc).splitlines():
        if line.strip() and not line.startswith(("=", "[[", "/*", "#")):
            words = line.removeprefix(">").removesuffix("<").removeprefix("~")
            assert re.sub(r"\s+", "", words) in printed, words
