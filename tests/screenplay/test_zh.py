"""The Chinese screenplay convention (中文剧本): reading, writing, detection, round trips."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screenplay import (
    Action,
    Centered,
    Character,
    Dialogue,
    Lyrics,
    PageBreak,
    Parenthetical,
    SceneHeading,
    Section,
    Text,
    Transition,
    parse_fountain,
)
from screenplay.zh import looks_like_zh, parse_zh, read_heading, scene_cast, to_zh
from tests.screenplay.strategies import documents


def action(text: str) -> Action:
    return Action(Text.of(text))


@pytest.mark.parametrize(
    ("line", "number", "times", "settings", "place"),
    [
        ("1-1 日 内 客厅", "1-1", ("日",), ("内",), "客厅"),
        ("第3场 夜 外 村口", "3", ("夜",), ("外",), "村口"),
        ("第十二场 夜 外 村口", "12", ("夜",), ("外",), "村口"),
        ("3. 茶馆 夜 内", "3", ("夜",), ("内",), "茶馆"),
        ("12A、茶馆 夜内", "12A", ("夜",), ("内",), "茶馆"),
        ("内景 茶馆 夜", None, ("夜",), ("内景",), "茶馆"),
        ("场景一：医院走廊 日 内", "1", ("日",), ("内",), "医院走廊"),
        ("日 内外 客厅", None, ("日",), ("内外",), "客厅"),
        ("2-15 客厅 黄昏/内", "2-15", ("黄昏",), ("内",), "客厅"),
    ],
)
def test_scene_headings_in_their_varying_orders(
    line: str, number: str | None, times: tuple[str, ...], settings: tuple[str, ...], place: str
) -> None:
    heading = read_heading(line)
    assert heading is not None
    assert (heading.number, heading.times, heading.settings, heading.place) == (
        number,
        times,
        settings,
        place,
    )
    assert parse_zh(line).elements == (SceneHeading(line, number),)


@pytest.mark.parametrize(
    "line",
    ["夜很深。", "夜 很深", "3. 他走了。", "陈伯：日 内", "外面下着雨，日头不见了。", "内 衣"],
)
def test_lines_that_are_not_headings(line: str) -> None:
    assert not any(isinstance(e, SceneHeading) for e in parse_zh(line).elements)


def test_speech_with_extension_and_parenthetical_in_both_widths() -> None:
    text = (
        "陈伯：（压低声音）打烊了。\n小梅（画外音）：陈伯，是我。\n"
        "TOM(VO): (quietly) Hi.\n老周（内心独白）：\n"
    )
    assert parse_zh(text).elements == (
        Character("陈伯"),
        Parenthetical("(压低声音)"),
        Dialogue(Text.of("打烊了。")),
        Character("小梅", "画外音"),
        Dialogue(Text.of("陈伯，是我。")),
        Character("TOM", "VO"),
        Parenthetical("(quietly)"),
        Dialogue(Text.of("Hi.")),
        Character("老周", "内心独白"),
    )


def test_cast_lines_action_marks_transitions_and_episodes() -> None:
    text = (
        "第一集 归来\n\n1-1 日 内 客厅\n人物：陈伯、小梅\n△ 雨夜。\n▲ 灯灭了。\n"
        "门口贴着一张红纸：本店于本月三十日拆迁。\n切至：\n闪回\n闪回结束\n叠化\n"
    )
    doc = parse_zh(text)
    assert doc.elements == (
        Section("第一集 归来", 1),
        SceneHeading("1-1 日 内 客厅", "1-1"),
        action("人物：陈伯、小梅"),
        action("△ 雨夜。"),
        action("▲ 灯灭了。"),
        action("门口贴着一张红纸：本店于本月三十日拆迁。"),
        Transition("切至："),
        Transition("闪回"),
        Transition("闪回结束"),
        Transition("叠化"),
    )
    assert scene_cast(doc.elements) == ["陈伯", "小梅"]
    assert to_zh(doc) == text


def test_title_block_and_fountain_extras_round_trip() -> None:
    text = (
        "《茶馆》\n编剧：作家室\n联系方式：成都\n    writers@example.org\n\n"
        "内景 茶馆 夜\n~茶要慢慢泡哟，\n~人要慢慢等，\n===\n> 剧终 <\n"
        "[[改：第二稿]]\n= 小雨回家\n/*删掉的一场\n她哭了。*/\n\n# 第二幕\n"
    )
    doc = parse_zh(text)
    assert doc.title == "茶馆"
    assert doc.title_page.get("Author") == Text.of("作家室")
    assert doc.title_page.get("Contact") == Text.of("成都\nwriters@example.org")
    assert Lyrics(Text.of("茶要慢慢泡哟，\n人要慢慢等，")) in doc.elements
    assert PageBreak() in doc.elements
    assert Centered(Text.of("剧终")) in doc.elements
    assert to_zh(doc) == text


def test_a_title_page_without_a_title_is_written_as_untitled() -> None:
    # An untitled room's export still credits its writers; 《》 reads as a blank on the page.
    doc = parse_fountain("Author: 阿娜\n\n内景 茶馆 夜\n\n@陈伯\n打烊了。\n")
    written = to_zh(doc)
    assert written.startswith("《未命名》\n编剧：阿娜\n")
    assert parse_zh(written).title_page.get("Author") == Text.of("阿娜")


def test_a_script_in_traditional_characters_reads_as_the_simplified_one() -> None:
    # A Taiwanese or Hong Kong room types 內景, 第兩場, 場景三, 出場人物, 閃回: the same convention.
    text = (
        "第一集 歸來\n\n1-1 日 內 客廳\n出場人物：陳伯、小梅\n△ 陳伯擦著茶杯。\n"
        "陳伯：（壓低聲音）打烊了。\n小梅：再等等。\n閃回\n\n"
        "第兩場 夜 外 村口\n\n場景三：醫院走廊 日 內\n"
    )
    doc = parse_zh(text)
    kinds = [type(e).__name__ for e in doc.elements]
    assert kinds == [
        "Section", "SceneHeading", "Action", "Action", "Character", "Parenthetical",
        "Dialogue", "Character", "Dialogue", "Transition", "SceneHeading", "SceneHeading",
    ]  # fmt: skip
    assert [h.number for h in doc.elements if isinstance(h, SceneHeading)] == ["1-1", "2", "3"]
    heading = read_heading("內景 茶館 黃昏")
    assert heading is not None and (heading.settings, heading.place) == (("內景",), "茶館")
    assert heading.times == ("黃昏",)
    assert scene_cast(doc.elements[1:10]) == ["陳伯", "小梅"]
    assert looks_like_zh(text)


def test_a_hollywood_credit_line_is_said_by_the_writers_label() -> None:
    # `编剧：` already means "written by"; an English credit line on a Chinese page would not.
    doc = parse_fountain("Title: 茶馆\nCredit: Screenplay by\nAuthor: 阿娜\n\n内景 茶馆 夜\n")
    assert to_zh(doc).startswith("《茶馆》\n编剧：阿娜\n\n")
    # Any other credit is kept, and so is one with no writer after it.
    doc = parse_fountain("Title: 茶馆\nCredit: Story by\nAuthor: 阿娜\n\n内景 茶馆 夜\n")
    assert "署名：Story by\n编剧：阿娜" in to_zh(doc)
    doc = parse_fountain("Title: 茶馆\nCredit: Written by\n\n内景 茶馆 夜\n")
    assert "署名：Written by" in to_zh(doc)


def test_hollywood_elements_are_mapped() -> None:
    doc = parse_fountain(
        "INT. 老成都茶馆 - NIGHT #12#\n\nEXT. STREET - DUSK\n\nTOM: hello.\n\n@陈伯 (V.O.)\n"
        "(beat)\nOK\nthen\n\nCUT TO:\n\n.A BLACK VOID\n"
    )
    assert to_zh(doc) == (
        "12. 内景 老成都茶馆 夜\n\n外景 STREET 黄昏\n△ TOM: hello.\n陈伯（V.O.）：(beat) OK then\n"
        "切至：\n\n.A BLACK VOID\n"
    )
    again = parse_zh(to_zh(doc))
    assert again.elements[0] == SceneHeading("12. 内景 老成都茶馆 夜", "12")
    assert again.elements[-1] == SceneHeading("A BLACK VOID")


def test_detection() -> None:
    zh = "1-1 日 内 客厅\n陈伯：打烊了。\n小梅：是我。\n"
    assert looks_like_zh(zh)
    assert looks_like_zh("陈伯：打烊了。\n小梅：是我。\n陈伯：进来。\n")
    assert not looks_like_zh("INT. HOUSE - DAY\n\n陈伯：打烊了。\n小梅：是我。\n陈伯：进来。\n")
    assert not looks_like_zh("@陈伯\n打烊了。\n\n@小梅\n是我。\n")
    assert not looks_like_zh("Title: X\n\nNote: one thing.\nTODO: another.\nAlso: this.\n")


# --- round trips --------------------------------------------------------------------------------

_chars = st.sampled_from([*"我你他她的了是在有茶馆雨灯门风站看走一二三好吗", "ok", "A1"])
_punct = st.sampled_from([*"，。！？、…—“”", "（笑）"])
_names = st.sampled_from(["陈伯", "小梅", "林小雨", "老周", "TOM", "穿西装的男人"])
_times = st.sampled_from(["日", "夜", "晨", "黄昏", "傍晚", "清晨"])
_sets = st.sampled_from(["内", "外", "内外"])
_places = st.sampled_from(["客厅", "村口", "老成都茶馆", "医院走廊", "出租屋"])
_numbers = st.integers(1, 120)


@st.composite
def _sentence(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(st.lists(_chars, min_size=1, max_size=6), _punct), max_size=4))
    words = "".join("".join(chars) + mark for chars, mark in parts)
    return words + "".join(draw(st.lists(_chars, min_size=1, max_size=5))) + "。"


@st.composite
def _heading(draw: st.DrawFn) -> str:
    n, time_, set_, place = draw(_numbers), draw(_times), draw(_sets), draw(_places)
    return draw(
        st.sampled_from(
            [
                f"{n}-{draw(_numbers)} {time_} {set_} {place}",
                f"第{n}场 {time_} {set_} {place}",
                f"{n}. {place} {time_} {set_}",
                f"内景 {place} {time_}",
                f"场景{n}：{place} {time_} {set_}",
            ]
        )
    )


@st.composite
def _line(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["speech", "speech", "action", "mark", "cast", "transition"]))
    if kind == "speech":
        name = draw(_names)
        ext = draw(st.sampled_from(["", "（画外音）", "（OS）", "（VO）", "（内心独白）"]))
        paren = draw(st.sampled_from(["", "（压低声音）", "（笑）"]))
        return f"{name}{ext}：{paren}{draw(_sentence())}"
    if kind == "action":
        return draw(_sentence())
    if kind == "mark":
        return draw(st.sampled_from(["△ ", "▲ "])) + draw(_sentence())
    if kind == "cast":
        return "人物：" + "、".join(draw(st.lists(_names, min_size=1, max_size=3)))
    return draw(st.sampled_from(["切至：", "闪回", "闪回结束", "叠化", "淡出。"]))


@st.composite
def zh_scripts(draw: st.DrawFn) -> str:
    out: list[str] = []
    if draw(st.booleans()):
        out += ["《" + draw(_places) + "》", "编剧：" + draw(_names), ""]
    for episode in range(draw(st.integers(0, 2))):
        if out and out[-1]:
            out.append("")
        out.append(draw(st.sampled_from([f"第{episode + 1}集", "第一集 归来"])))
        for _ in range(draw(st.integers(0, 3))):
            if out and out[-1]:
                out.append("")
            out.append(draw(_heading()))
            out += draw(st.lists(_line(), max_size=6))
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n" if out else ""


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(zh_scripts())
def test_zh_text_round_trips_exactly(text: str) -> None:
    doc = parse_zh(text)
    assert to_zh(doc) == text
    assert parse_zh(to_zh(doc)) == doc


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_document_is_written_and_read_back_without_error(doc: object) -> None:
    from screenplay import Document

    assert isinstance(doc, Document)
    written = to_zh(doc)
    again = parse_zh(written)
    assert to_zh(again) == written  # what the writer writes is a fixed point
    headings = [e for e in doc.elements if isinstance(e, SceneHeading)]
    assert len([e for e in again.elements if isinstance(e, SceneHeading)]) == len(headings)


@pytest.mark.parametrize("said", ["(\n)", "(\n0 )", "( 压低声音 )\n好。", "(a)(b)"])
def test_speech_that_opens_on_a_bracket_reads_back_as_written(said: str) -> None:
    # Written, it reads back as a wryly; written again, it must come out the same.
    from screenplay import Document

    doc = Document(elements=(Character("MARA"), Dialogue(Text.of(said))))
    written = to_zh(doc)
    assert to_zh(parse_zh(written)) == written


@given(st.text(max_size=300))
def test_never_raises_on_text(text: str) -> None:
    to_zh(parse_zh(text))
    looks_like_zh(text)


# --- hostile input: time grows in proportion to size -------------------------------------------


@pytest.mark.parametrize(
    "unit",
    [
        "陈伯" * 40 + "：",  # a long name before a colon
        "（" * 50 + "\n",
        "1-1 日 内 " + " 客厅" * 30 + "\n",
        "~" + "茶" * 50 + "\n",
        "/*" + "a" * 50,  # a boneyard never closed
        "陈伯：（" + "打烊了" * 20,  # a parenthetical never closed
        "切至：\n" * 3,
    ],
)
def test_reading_and_writing_take_time_in_proportion_to_size(unit: str) -> None:
    def run(count: int) -> float:
        text = unit * count
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            to_zh(parse_zh(text))
            looks_like_zh(text)
            best = min(best, time.perf_counter() - start)
        return best

    small = 200
    while run(small) < 0.01 and small < 200 * 64:
        small *= 2
    ratio = run(small * 8) / run(small)
    assert ratio < 30, ratio


# --- lint on the convention ----------------------------------------------------------------------


def test_lint_finds_a_heading_without_a_time_and_a_speaker_off_the_cast_line() -> None:
    from screenplay import lint

    doc = parse_zh(
        "1-1 内 客厅\n人物：陈伯\n陈伯：打烊了。\n小梅：是我。\n\n1-2 夜 外 村口\n小梅：走吧。\n"
    )
    problems = [(p.code, p.message) for p in lint(doc)]
    assert [code for code, _ in problems] == ["malformed-heading", "unknown-speaker"]
    assert "日/夜" in problems[0][1]
    assert "小梅" in problems[1][1]
    good = "1-1 日 内 客厅\n人物：陈伯、小梅\n陈伯：打烊了。\n小梅（画外音）：是我。\n"
    assert lint(parse_zh(good)) == []


# --- render, Word and the command line ---------------------------------------------------------


def test_word_files_in_both_layouts() -> None:
    import io

    import docx
    from docx.shared import Inches

    from screenplay import render

    doc = parse_zh("《茶馆》\n\n1-1 日 内 客厅\n陈伯：（压低声音）打烊了。\n切至：\n")
    zh = docx.Document(io.BytesIO(render(doc, "docx", layout="zh")))
    assert [p.text for p in zh.paragraphs] == [
        "《茶馆》",
        "1-1 日 内 客厅",
        "陈伯：（压低声音）打烊了。",
        "切至：",
    ]
    assert all(run.bold for run in zh.paragraphs[1].runs)
    assert not any(run.bold for run in zh.paragraphs[2].runs)
    assert round(zh.sections[0].page_width.mm) == 210
    normal = zh.styles["Normal"].element.rPr.rFonts
    assert normal.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia")

    hw = docx.Document(io.BytesIO(render(doc, "docx")))
    by_text = {p.text: p for p in hw.paragraphs}
    assert hw.sections[0].page_width == Inches(8.5)
    assert hw.styles["Normal"].font.name == "Courier New"
    assert by_text["陈伯"].paragraph_format.left_indent == Inches(2.2)
    assert by_text["(压低声音)"].paragraph_format.left_indent == Inches(1.6)
    assert by_text["打烊了。"].paragraph_format.left_indent == Inches(1.0)
    assert by_text["切至："].alignment == 2  # right


def test_render_and_the_command_line(tmp_path: Path) -> None:
    from screenplay import render
    from screenplay.cli import main

    text = "1-1 日 内 客厅\n陈伯：打烊了。\n小梅：是我。\n"
    assert render(parse_zh(text), "zh").decode() == text
    source = tmp_path / "script.txt"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.fountain"
    assert main(["convert", str(source), "-o", str(out)]) == 0
    assert "@陈伯" in out.read_text(encoding="utf-8")  # detected as zh
    assert main(["convert", str(out), "--to", "zh", "-o", str(tmp_path / "back.txt")]) == 0
    assert (tmp_path / "back.txt").read_text(encoding="utf-8") == text
    assert main(["convert", str(source), "--layout", "zh", "-o", str(tmp_path / "a.docx")]) == 0
    assert main(["convert", str(source), "--layout", "zh", "-o", str(tmp_path / "a.pdf")]) == 0
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    plain = tmp_path / "plain.txt"
    plain.write_text("陈伯：打烊了。\n", encoding="utf-8")  # one line: too little to tell
    assert main(["convert", str(plain), "--from", "zh", "--to", "zh", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == "陈伯：打烊了。\n"
