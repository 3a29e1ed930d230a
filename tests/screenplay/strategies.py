"""Hypothesis strategies for screenplay documents in canonical form.

Shared by the Fountain and FDX round-trip tests. A generated document is one that a writer could
produce: dialogue blocks start with a cue, two dialogue paragraphs are never adjacent (they would be
one paragraph), text has no trailing spaces and no blank lines inside a paragraph except in dialogue
(where Fountain keeps them with a two-space line).
"""

from __future__ import annotations

from hypothesis import strategies as st

from screenplay.types import (
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
)

# Letters of several scripts, digits and the punctuation that Fountain gives meaning to.
_ALPHABET = st.sampled_from(
    [
        *"abcdefgxyzABCDEFXYZ0123456789 .,:;!?'\"-()#=~^@>*_\\/[]",
        *"éñ林小雨。你好",
    ]
)

_STYLES = st.sampled_from(
    [
        Style.NONE,
        Style.BOLD,
        Style.ITALIC,
        Style.UNDERLINE,
        Style.BOLD | Style.ITALIC,
        Style.BOLD | Style.UNDERLINE,
        Style.BOLD | Style.ITALIC | Style.UNDERLINE,
    ]
)


def _clean_line(s: str) -> str:
    return s.strip()


words = st.text(_ALPHABET, min_size=1, max_size=24).map(_clean_line).filter(bool)


@st.composite
def line_text(draw: st.DrawFn) -> Text:
    """One line of rich text: a few styled words, sometimes an inline note.

    Emphasis starts and ends on a visible character (the words are stripped): Fountain, like
    Markdown, cannot emphasise a space at the edge of a run (`**bold **` is not bold)."""
    spans: list[Span] = []
    for _ in range(draw(st.integers(1, 3))):
        spans.append(Span(draw(words), draw(_STYLES)))
        spans.append(Span(" "))
    if draw(st.booleans()) and draw(st.integers(0, 4)) == 0:
        spans.append(Span(draw(words), note=True))
    text = Text.from_spans(spans)
    # Trailing spaces are not kept by any format; trim them from the last plain span.
    while text.spans and text.spans[-1].style == Style.NONE and text.spans[-1].text.endswith(" "):
        last = text.spans[-1]
        text = Text.from_spans((*text.spans[:-1], Span(last.text.rstrip(" "), last.style)))
    return text


@st.composite
def multi_line_text(draw: st.DrawFn, max_lines: int = 3) -> Text:
    lines = draw(st.lists(line_text(), min_size=1, max_size=max_lines))
    spans: list[Span] = []
    for i, line in enumerate(lines):
        if i:
            spans.append(Span("\n"))
        spans.extend(line.spans)
    return Text.from_spans(spans)


_upper_names = st.sampled_from(["MARA", "TOM", "DR. ODUYA", "McKENNA", "林小雨", "JO-ANN", "BOB 2"])
_extensions = st.sampled_from([None, "V.O.", "O.S.", "CONT'D", "into phone"])
_headings = st.sampled_from(
    [
        "INT. HOUSE - DAY",
        "EXT. HARBOUR - NIGHT",
        "INT./EXT. CAR - MOVING - DUSK",
        "I/E TRAIN - CONTINUOUS",
        "EST. CITY SKYLINE",
        "A BLACK VOID",
        "the roof of the world",
        "INT. 茶馆 - 夜",
    ]
)
_transitions = st.sampled_from(
    ["CUT TO:", "SMASH CUT TO:", "FADE OUT.", "Dissolve to:", "FADE IN:"]
)


@st.composite
def dialogue_block(draw: st.DrawFn, dual: bool = False) -> list[Element]:
    block: list[Element] = [Character(draw(_upper_names), draw(_extensions), dual)]
    last: type | None = Character
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["dialogue", "paren", "lyrics"]))
        if kind == "dialogue" and last is not Dialogue:
            block.append(Dialogue(draw(multi_line_text())))
            last = Dialogue
        elif kind == "paren" and last is not Parenthetical:
            block.append(Parenthetical("(" + draw(words).replace("(", "").replace(")", "") + ")"))
            last = Parenthetical
        elif kind == "lyrics" and last is not Lyrics:
            block.append(Lyrics(draw(line_text())))
            last = Lyrics
    if last is not Dialogue and last is not Lyrics:
        block.append(Dialogue(draw(line_text())))
    return block


@st.composite
def element_group(draw: st.DrawFn) -> list[Element]:
    kind = draw(
        st.sampled_from(
            [
                "heading",
                "action",
                "dialogue",
                "dual",
                "transition",
                "centered",
                "pagebreak",
                "section",
                "synopsis",
                "note",
                "boneyard",
            ]
        )
    )
    if kind == "heading":
        number = draw(st.sampled_from([None, "1", "12A", "3-B"]))
        return [SceneHeading(draw(_headings), number)]
    if kind == "action":
        return [Action(draw(multi_line_text()))]
    if kind == "dialogue":
        return draw(dialogue_block())
    if kind == "dual":
        return draw(dialogue_block()) + draw(dialogue_block(dual=True))
    if kind == "transition":
        return [Transition(draw(_transitions))]
    if kind == "centered":
        return [Centered(draw(line_text()))]
    if kind == "pagebreak":
        return [PageBreak()]
    if kind == "section":
        return [Section(draw(words), draw(st.integers(1, 3)))]
    if kind == "synopsis":
        return [Synopsis(draw(words))]
    if kind == "note":
        return [Note(draw(words).replace("]", ""))]
    # A boneyard ends at the first `*/`, so its text cannot hold one (removing the pair from
    # a word could leave a new one: `**//`).
    return [Boneyard(draw(words.filter(lambda w: "*/" not in w)))]


_title_keys = st.sampled_from(["Title", "Credit", "Author", "Source", "Draft date", "Contact"])


@st.composite
def title_pages(draw: st.DrawFn) -> TitlePage:
    keys = draw(st.lists(_title_keys, max_size=4, unique=True))
    return TitlePage(tuple(TitleEntry(k, draw(multi_line_text(max_lines=2))) for k in keys))


@st.composite
def documents(draw: st.DrawFn, printed_only: bool = False) -> Document:
    """Canonical documents. `printed_only` leaves out what a format cannot carry (e.g. FDX has
    no sections, synopses or boneyard)."""
    elements: list[Element] = []
    for group in draw(st.lists(element_group(), max_size=12)):
        if printed_only and isinstance(group[0], Section | Synopsis | Note | Boneyard):
            continue
        elements.extend(group)
    return Document(draw(title_pages()), tuple(elements))
