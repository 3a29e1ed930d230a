"""The HTML page: parsed back with html.parser to check its structure, text and escaping."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from hypothesis import given, settings

from screenplay.fountain import parse_fountain
from screenplay.html import to_html
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
from tests.screenplay.strategies import documents

T = Text.of
VOID = {"meta", "hr", "br", "link"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def find_all(self, css_class: str | None = None, tag: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (css_class is None or css_class in child.classes) and (
                    tag is None or child.tag == tag
                ):
                    found.append(child)
                found += child.find_all(css_class, tag)
        return found

    def one(self, css_class: str | None = None, tag: str | None = None) -> Node:
        (node,) = self.find_all(css_class, tag)
        return node


class _TreeBuilder(HTMLParser):
    """A strict little tree builder: every non-void element must be closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _parse(html: str) -> tuple[_TreeBuilder, Node]:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder, builder.root


def _script(*elements: Element, title: TitlePage | None = None) -> Node:
    _, root = _parse(to_html(Document(title or TitlePage(), tuple(elements))))
    return root.one("script")


def test_a_complete_standalone_page() -> None:
    title = TitlePage((TitleEntry("Title", T("THE LONG NIGHT")), TitleEntry("Author", T("Ada"))))
    html = to_html(Document(title, (Action(T("She waits.")),)))
    builder, root = _parse(html)
    assert builder.doctype == "DOCTYPE html"
    page = root.one(tag="html")
    assert page.attrs["lang"] == "en"
    assert root.one(tag="title").text == "THE LONG NIGHT"
    assert {"charset": "utf-8"} in [meta.attrs for meta in root.find_all(tag="meta")]
    style = root.one(tag="style").text
    assert "Courier" in style and "@page" in style and "size: letter" in style
    assert "22ch" in style and "10ch" in style  # cue and dialogue indents
    assert not root.find_all(tag="link") and not root.find_all(tag="script")


def test_each_element_gets_its_class() -> None:
    script = _script(
        SceneHeading("INT. HOUSE - DAY", "1"),
        Action(T("She waits.")),
        Character("MARA", "V.O."),
        Parenthetical("(quietly)"),
        Dialogue(T("We're late.")),
        Lyrics(T("Keeper, keeper")),
        Transition("CUT TO:"),
        Centered(T("THE END")),
    )
    heading = script.one("scene-heading")
    assert heading.tag == "h2" and heading.text == "1INT. HOUSE - DAY1"
    assert [n.text for n in heading.find_all("scene-number")] == ["1", "1"]
    assert script.one("action").text == "She waits."
    speech = script.one("dialogue")
    assert [(p.attrs["class"], p.text) for p in speech.find_all(tag="p")] == [
        ("character", "MARA (V.O.)"),
        ("parenthetical", "(quietly)"),
        ("speech", "We're late."),
        ("lyrics", "Keeper, keeper"),
    ]
    assert script.one("transition").text == "CUT TO:"
    assert script.one("centered").text == "THE END"


def test_writer_text_is_escaped_never_markup() -> None:
    attack = "<script>alert('x')</script> & <b>bold</b>"
    script = _script(
        Character("MARA"),
        Dialogue(T(attack)),
        Action(T('A "quoted" <img src=x onerror=alert(1)>')),
    )
    assert script.one("speech").text == attack
    assert script.one("speech").children == [attack]
    assert not script.find_all(tag="script") and not script.find_all(tag="img")
    assert script.one("action").text == 'A "quoted" <img src=x onerror=alert(1)>'


def test_emphasis_becomes_b_i_u() -> None:
    spans = [
        Span("plain "),
        Span("loud", Style.BOLD),
        Span(" "),
        Span("soft", Style.ITALIC),
        Span(" "),
        Span("all", Style.BOLD | Style.ITALIC | Style.UNDERLINE),
    ]
    action = _script(Action(Text.from_spans(spans))).one("action")
    bold = [n.text for n in action.find_all(tag="b")]
    italic = [n.text for n in action.find_all(tag="i")]
    underline = [n.text for n in action.find_all(tag="u")]
    assert (bold, italic, underline) == (["loud", "all"], ["soft", "all"], ["all"])
    assert action.text == "plain loud soft all"


def test_dual_dialogue_sits_side_by_side() -> None:
    script = _script(
        Character("TOM"),
        Dialogue(T("Left.")),
        Character("MARA", dual=True),
        Dialogue(T("Right.")),
        Character("TOM"),
        Dialogue(T("Alone.")),
    )
    pair = script.one("dual-dialogue")
    assert [d.one("character").text for d in pair.find_all("dialogue")] == ["TOM", "MARA"]
    assert len(script.find_all("dialogue")) == 3
    assert "grid-template-columns: 1fr 1fr" in to_html(Document())


def test_notes_and_structure_are_not_in_the_page() -> None:
    html = to_html(
        Document(
            elements=(
                Section("ACT ONE"),
                Synopsis("She learns the truth"),
                Note("cut this scene"),
                Boneyard("an old draft"),
                Action(Text.from_spans([Span("She waits."), Span(" check the prop", note=True)])),
                Action(Text.from_spans([Span("a"), Span("\n"), Span("only a note", note=True)])),
            )
        )
    )
    for hidden in ("ACT ONE", "learns the truth", "cut this scene", "old draft", "prop", "only a"):
        assert hidden not in html
    _, root = _parse(html)
    assert [p.text for p in root.find_all("action")] == ["She waits.", "a"]


def test_title_page_and_page_breaks() -> None:
    title = TitlePage(
        (
            TitleEntry("Contact", T("ada@example.com")),
            TitleEntry("Title", T("THE LONG NIGHT")),
            TitleEntry("Credit", T("written by")),
            TitleEntry("Author", T("Ada Lovelace")),
            TitleEntry("Draft date", T("28 Nov 2026")),
        )
    )
    _, root = _parse(to_html(Document(title, (Action(T("One.")), PageBreak(), Action(T("Two."))))))
    cover = root.one("title-page")
    assert [p.text for p in cover.one("title-block").find_all(tag="p")] == [
        "THE LONG NIGHT",
        "written by",
        "Ada Lovelace",
    ]
    assert [p.text for p in cover.one("title-corner").find_all(tag="p")] == [
        "28 Nov 2026",
        "ada@example.com",
    ]
    script = root.one("script")
    kinds = [node.tag for node in script.children if isinstance(node, Node)]
    assert kinds == ["p", "hr", "p"]


def test_language_is_declared_for_chinese_or_as_given() -> None:
    doc = Document(elements=(Character("林小雨"), Dialogue(T("你好。我在找一个人。"))))
    _, root = _parse(to_html(doc))
    assert root.one(tag="html").attrs["lang"] == "zh"
    _, root = _parse(to_html(doc, lang="zh-Hant"))
    assert root.one(tag="html").attrs["lang"] == "zh-Hant"
    assert root.one("speech").text == "你好。我在找一个人。"


def test_korean_wraps_at_spaces_in_the_browser_and_chinese_anywhere() -> None:
    doc = Document(elements=(Character("김지수"), Dialogue(T("오늘 밤 우리는 섬을 떠나야 해요."))))
    _, root = _parse(to_html(doc))
    assert root.one(tag="html").attrs["lang"] == "ko"
    style = re.sub(r"/\*.*?\*/", "", root.one(tag="style").text, flags=re.DOTALL)
    # CSS `word-break: normal` lets a browser break a Korean word between any two syllables.
    keep_all = re.findall(r"([^{}]*)\{[^}]*word-break: keep-all", style)
    assert [selector.strip() for selector in keep_all] == [".screenplay:lang(ko)"]


def test_a_blank_line_between_verses_stays_inside_the_lyric() -> None:
    source = "MARA\n~Row, row, row your boat\n~gently down the stream.\n  \n~Merrily, merrily"
    _, root = _parse(to_html(parse_fountain(source)))
    speech = root.one("dialogue")
    assert [(p.attrs["class"], p.text) for p in speech.find_all(tag="p")] == [
        ("character", "MARA"),
        ("lyrics", "Row, row, row your boat\ngently down the stream.\n\nMerrily, merrily"),
    ]


@settings(max_examples=150, deadline=None)
@given(documents())
def test_every_document_makes_well_formed_html_with_all_its_text(doc: Document) -> None:
    _, root = _parse(to_html(doc))
    shown = root.one("script").text
    for element in doc.elements:
        if isinstance(element, Action | Dialogue | Lyrics | Centered):
            for line in element.text.lines():
                assert line.plain in shown
        elif isinstance(element, SceneHeading | Parenthetical | Transition):
            assert element.text in shown
        elif isinstance(element, Character):
            assert element.cue in shown
