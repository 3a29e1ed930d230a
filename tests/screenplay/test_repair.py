"""Repair: what small models really write, read back as clean screenplay elements."""

from __future__ import annotations

import importlib
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from screenplay.fountain import split_scene_number
from screenplay.lint import lint
from screenplay.repair import repair, repair_with_report
from screenplay.types import (
    Action,
    Centered,
    Character,
    Dialogue,
    Document,
    Element,
    Lyrics,
    PageBreak,
    Parenthetical,
    SceneHeading,
    Section,
    Style,
    Synopsis,
    Transition,
)


def shape(doc: Document) -> list[tuple[str, str]]:
    """Elements as (kind, printed text): easy to compare with what a reader expects."""
    out: list[tuple[str, str]] = []
    for element in doc.elements:
        if isinstance(element, SceneHeading):
            out.append(("heading", element.text))
        elif isinstance(element, Action):
            out.append(("action", element.text.plain))
        elif isinstance(element, Character):
            out.append(("cue", element.cue))
        elif isinstance(element, Parenthetical):
            out.append(("paren", element.text))
        elif isinstance(element, Dialogue):
            out.append(("speech", element.text.plain))
        elif isinstance(element, Transition):
            out.append(("transition", element.text))
        elif isinstance(element, Section):
            out.append(("section", element.text))
        elif isinstance(element, Centered):
            out.append(("centered", element.text.plain))
        else:
            out.append((type(element).__name__.lower(), ""))
    return out


KITCHEN = [
    ("heading", "INT. KITCHEN - NIGHT"),
    ("action", "Mara stirs a pot."),
    ("cue", "MARA"),
    ("speech", "We're late."),
    ("cue", "TOM"),
    ("paren", "(quietly)"),
    ("speech", "I know."),
]


def test_fenced_scene_with_preamble_and_afterword() -> None:
    text = """Sure! Here is your scene:

```fountain
INT. KITCHEN - NIGHT

Mara stirs a pot.

MARA
We're late.

TOM
(quietly)
I know.
```

I hope this helps! Let me know if you'd like any changes."""
    result = repair_with_report(text)
    assert shape(result.document) == KITCHEN
    assert result.removed_chatter == (
        "Sure! Here is your scene:",
        "I hope this helps! Let me know if you'd like any changes.",
    )
    assert "removed markdown code fences" in result.changes
    assert repair(text) == result.document


def test_commentary_outside_a_fence_is_set_aside_but_screenplay_outside_is_kept() -> None:
    text = (
        "INT. KITCHEN - NIGHT\n\n```\nMara stirs a pot.\n```\n\n"
        "This version leans into the tension between them."
    )
    result = repair_with_report(text)
    assert shape(result.document) == [
        ("heading", "INT. KITCHEN - NIGHT"),
        ("action", "Mara stirs a pot."),
    ]
    assert result.removed_chatter == ("This version leans into the tension between them.",)


def test_markdown_headings_and_bold_chat_cues() -> None:
    text = """## INT. KITCHEN - NIGHT

Mara stirs a pot.

**MARA:** We're late.
**TOM:** (quietly) I know."""
    assert shape(repair(text)) == KITCHEN


def test_bold_heading_and_bold_standalone_cues_without_blank_lines() -> None:
    text = """**INT. KITCHEN - NIGHT**
Mara stirs a pot.
**MARA**
We're late.
**TOM**
(quietly)
I know."""
    result = repair_with_report(text)
    assert shape(result.document) == KITCHEN
    assert "turned bold, lower-case or colon cues into plain cues" in result.changes


def test_chat_transcript_in_mixed_case_with_cast() -> None:
    text = "Mara: We're late.\nTom: I know.\nMara grabs her coat.\nMara: Then move!"
    assert shape(repair(text, cast=["Mara", "Tom"])) == [
        ("cue", "MARA"),
        ("speech", "We're late."),
        ("cue", "TOM"),
        ("speech", "I know."),
        ("action", "Mara grabs her coat."),
        ("cue", "MARA"),
        ("speech", "Then move!"),
    ]


def test_chat_transcript_without_cast_is_recognised_by_repeated_speakers() -> None:
    text = "Mara: We're late.\nTom: I know.\nMara: Then move."
    assert [kind for kind, _ in shape(repair(text))] == ["cue", "speech"] * 3
    assert shape(repair(text))[2] == ("cue", "TOM")


def test_labels_before_a_colon_are_not_speakers() -> None:
    text = "Note: Mara is already tired.\n\nSetting: a cramped kitchen at night."
    assert shape(repair(text)) == [
        ("action", "Note: Mara is already tired."),
        ("action", "Setting: a cramped kitchen at night."),
    ]


def test_a_closing_note_to_the_user_is_set_aside() -> None:
    text = "MARA\nWe should go.\n\nThe phone rings.\n\n**Note:** I kept the tension high."
    result = repair_with_report(text)
    assert shape(result.document) == [
        ("cue", "MARA"),
        ("speech", "We should go."),
        ("action", "The phone rings."),
    ]
    assert result.removed_chatter == ("**Note:** I kept the tension high.",)


def test_one_mixed_case_name_before_a_colon_is_action_without_cast() -> None:
    assert shape(repair("Later: she comes back alone.")) == [
        ("action", "Later: she comes back alone.")
    ]


def test_lower_case_and_mixed_case_cues_of_the_cast() -> None:
    text = "INT KITCHEN NIGHT\nMara waits.\nmara\nWhere were you?\ntom (v.o.)\nOut."
    result = repair_with_report(text, cast=["MARA", "Tom"])
    assert shape(result.document) == [
        ("heading", "INT. KITCHEN - NIGHT"),
        ("action", "Mara waits."),
        ("cue", "MARA"),
        ("speech", "Where were you?"),
        ("cue", "TOM (V.O.)"),
        ("speech", "Out."),
    ]
    assert "put scene headings in the INT. PLACE - TIME form" in result.changes


def test_deliberate_mixed_case_of_a_cast_name_is_kept() -> None:
    doc = repair("mckenna: Hands up.", cast=["McKENNA"])
    assert doc.elements[0] == Character("McKENNA")


def test_inline_parentheticals_and_extensions() -> None:
    text = (
        "MARA: (quietly) We're late.\n"
        "TOM (annoyed): I know.\n"
        "NARRATOR (V.O.): They were always late.\n"
        "MARA: *(sighs)* Fine."
    )
    assert shape(repair(text)) == [
        ("cue", "MARA"),
        ("paren", "(quietly)"),
        ("speech", "We're late."),
        ("cue", "TOM"),
        ("paren", "(annoyed)"),
        ("speech", "I know."),
        ("cue", "NARRATOR (V.O.)"),
        ("speech", "They were always late."),
        ("cue", "MARA"),
        ("paren", "(sighs)"),
        ("speech", "Fine."),
    ]


def test_numbered_and_bulleted_lists() -> None:
    text = (
        "1. INT. BAR - NIGHT\n2. Rain on the glass.\n3. MARA: Close it.\n\n- TOM: No.\n* MARA: Now."
    )
    result = repair_with_report(text)
    assert shape(result.document) == [
        ("heading", "INT. BAR - NIGHT"),
        ("action", "Rain on the glass."),
        ("cue", "MARA"),
        ("speech", "Close it."),
        ("cue", "TOM"),
        ("speech", "No."),
        ("cue", "MARA"),
        ("speech", "Now."),
    ]
    assert "removed list markers" in result.changes


def test_chatter_without_fences_and_a_horizontal_rule() -> None:
    text = """Here's a tense scene between Mara and Tom:

INT. KITCHEN - NIGHT

Mara stirs a pot.

MARA
We're late.

---

Would you like another version, or should I make Tom angrier?"""
    result = repair_with_report(text)
    assert shape(result.document) == KITCHEN[:4]
    assert result.removed_chatter == (
        "Here's a tense scene between Mara and Tom:",
        "Would you like another version, or should I make Tom angrier?",
    )


def test_chatter_joined_to_the_scene_without_a_blank_line() -> None:
    result = repair_with_report("Certainly! Here it is.\nINT. KITCHEN - NIGHT\nMara stirs a pot.")
    assert shape(result.document) == KITCHEN[:2]
    assert result.removed_chatter == ("Certainly! Here it is.",)


def test_action_that_opens_like_chatter_but_is_the_scene_stays() -> None:
    text = "The rain has not stopped for days.\n\nMARA\nHere is the key."
    result = repair_with_report(text)
    assert shape(result.document) == [
        ("action", "The rain has not stopped for days."),
        ("cue", "MARA"),
        ("speech", "Here is the key."),
    ]
    assert result.removed_chatter == ()


def test_heading_normalisation_only_for_clear_headings() -> None:
    text = (
        "int. kitchen — night\n\nEXT. ROOF -- DAWN\n\nINT. DINER, MORNING\n\n"
        "Int the end she stays.\n\nEXT. DR. OKAFOR'S GARDEN - DAY"
    )
    assert shape(repair(text)) == [
        ("heading", "INT. KITCHEN - NIGHT"),
        ("heading", "EXT. ROOF - DAWN"),
        ("heading", "INT. DINER - MORNING"),
        ("action", "Int the end she stays."),
        ("heading", "EXT. DR. OKAFOR'S GARDEN - DAY"),
    ]


def test_scene_labels_become_numbers_or_sections() -> None:
    doc = repair("SCENE 12: INT. BAR - NIGHT\n\n### Scene 13\n\nScene heading: EXT. PIER - DAY")
    assert doc.elements[0] == SceneHeading("INT. BAR - NIGHT", "12")
    assert doc.elements[1] == Section("Scene 13", 3)
    assert doc.elements[2] == SceneHeading("EXT. PIER - DAY")


def test_stray_emphasis_markers_are_removed_and_paired_ones_kept() -> None:
    doc = repair("MARA\nWe're *late, and it is *really* your fault.\n\nShe **waits**.")
    speech, action = doc.elements[1], doc.elements[2]
    assert isinstance(speech, Dialogue) and isinstance(action, Action)
    assert speech.text.plain == "We're late, and it is really your fault."
    assert all(span.style == Style.NONE for span in speech.text.spans)
    assert [s.text for s in action.text.spans if s.style == Style.BOLD] == ["waits"]


def test_runs_of_blank_lines_collapse() -> None:
    assert repair("INT. KITCHEN - NIGHT\n\n\n\n\nMara stirs a pot.\n\n\n") == repair(
        "INT. KITCHEN - NIGHT\n\nMara stirs a pot."
    )


def test_windows_line_endings_tabs_and_control_characters() -> None:
    text = "EXT. ROOF - DAWN\r\n\r\nWind.\tMara\x07 looks\u200b down.\r\nMARA\r\nWe jump.\x00\r\n"
    result = repair_with_report(text)
    assert shape(result.document) == [
        ("heading", "EXT. ROOF - DAWN"),
        ("action", "Wind.    Mara looks down."),
        ("cue", "MARA"),
        ("speech", "We jump."),
    ]
    assert "normalised Windows line endings" in result.changes
    assert "removed 3 control or invisible character(s)" in result.changes


def test_chinese_cues_of_the_cast_with_full_width_colon() -> None:
    text = "林小雨：你好。\n王伟：（轻声）你来了。\n林小雨看着窗外。"
    assert shape(repair(text, cast=["林小雨", "王伟"])) == [
        ("cue", "林小雨"),
        ("speech", "你好。"),
        ("cue", "王伟"),
        ("paren", "（轻声）"),
        ("speech", "你来了。\n林小雨看着窗外。"),
    ]


def test_quoted_chat_dialogue_loses_its_quotes_but_not_inner_ones() -> None:
    text = 'MARA: "We\'re late."\nTOM: "She said \'wait\'," he mutters.'
    assert shape(repair(text)) == [
        ("cue", "MARA"),
        ("speech", "We're late."),
        ("cue", "TOM"),
        ("speech", "\"She said 'wait',\" he mutters."),
    ]


def test_stage_directions_inside_a_chat_become_action() -> None:
    text = "MARA: We're late.\n*She grabs her coat.*\n[Tom doesn't move.]\nTOM: I know."
    result = repair_with_report(text)
    assert shape(result.document) == [
        ("cue", "MARA"),
        ("speech", "We're late."),
        ("action", "She grabs her coat.\nTom doesn't move."),
        ("cue", "TOM"),
        ("speech", "I know."),
    ]
    assert "turned stage directions inside dialogue into action" in result.changes


def test_transitions_and_centered_text() -> None:
    text = "FADE IN:\n\nINT. BAR - NIGHT\n\nCUT TO:\n\n> FADE OUT.\n\n>THE END<"
    assert shape(repair(text)) == [
        ("transition", "FADE IN:"),
        ("heading", "INT. BAR - NIGHT"),
        ("transition", "CUT TO:"),
        ("transition", "FADE OUT."),
        ("centered", "THE END"),
    ]


def test_cue_with_its_speech_after_a_blank_line() -> None:
    assert shape(repair("MARA:\n\nWe're late.")) == [("cue", "MARA"), ("speech", "We're late.")]
    assert shape(repair("Tom\n\nI know.", cast=["TOM"])) == [("cue", "TOM"), ("speech", "I know.")]


def test_a_cue_introduced_in_capitals_survives_a_missing_blank_line() -> None:
    text = "MARA walks. TOM follows.\n\nMARA\nStop following me.\nTOM\nI'm not."
    assert shape(repair(text)) == [
        ("action", "MARA walks. TOM follows."),
        ("cue", "MARA"),
        ("speech", "Stop following me."),
        ("cue", "TOM"),
        ("speech", "I'm not."),
    ]


def test_shouting_inside_a_speech_is_not_a_new_cue() -> None:
    assert shape(repair("MARA\nWait.\nSTOP\nPlease.")) == [
        ("cue", "MARA"),
        ("speech", "Wait.\nSTOP\nPlease."),
    ]


def test_upper_case_action_is_not_mistaken_for_a_cue() -> None:
    assert shape(repair("SILENCE.\nThen the kettle screams.\n\nBANG!\nThe door.")) == [
        ("action", "SILENCE.\nThen the kettle screams."),
        ("action", "BANG!\nThe door."),
    ]


def test_title_page_lines_at_the_top() -> None:
    doc = repair("**Title:** The Last Train\nAuthor: Mara Lee\n\nINT. TRAIN - NIGHT")
    assert doc.title == "The Last Train"
    assert shape(doc) == [("heading", "INT. TRAIN - NIGHT")]


def test_markdown_quote_markers() -> None:
    assert shape(repair("> MARA: We're late.\n> TOM: I know.")) == [
        ("cue", "MARA"),
        ("speech", "We're late."),
        ("cue", "TOM"),
        ("speech", "I know."),
    ]


def test_nothing_but_chatter_gives_an_empty_document() -> None:
    result = repair_with_report("Sure! I can help with that.")
    assert result.document == Document()
    assert result.removed_chatter == ("Sure! I can help with that.",)


def test_empty_text() -> None:
    assert repair("") == Document()
    assert repair(" \n\n\t\n") == Document()


def test_repaired_documents_survive_a_fountain_round_trip() -> None:
    from screenplay.fountain import parse_fountain, to_fountain

    text = (
        "Sure!\n\n## INT. KITCHEN - NIGHT\n\nMara stirs a pot.\n**MARA:** (quietly) We're late.\n"
        "tom: *I* know.\n\n林小雨：你好。\n\nCUT TO:"
    )
    doc = repair(text, cast=["Mara", "Tom", "林小雨"])
    assert parse_fountain(to_fountain(doc)) == doc


# --- the rule: the writer's words are never dropped -------------------------------------------

_WORDS = st.sampled_from(
    ["rain", "Mara", "tom", "late", "kitchen", "night", "coat", "door", "你好", "why", "key"]
)
_LINE_SHAPES = st.sampled_from(
    [
        "{w} {w} {w}.",
        "MARA: {w} {w}",
        "**TOM:** ({w}) {w} {w}",
        "Mara: {w}",
        "INT. {W} - NIGHT",
        "int {w} day",
        "## {W}",
        "**{W}**",
        "- {w} {w}",
        "2. {w}",
        "*{w} {w}.*",
        "[{w}]",
        "MARA",
        "({w})",
        '"{w} {w}"',
        "```",
        "---",
        "",
        "",
        "{W} TO:",
        "林小雨：{w}",
        "{w} *{w} {w}",
    ]
)


@st.composite
def messy_takes(draw: st.DrawFn) -> str:
    lines = []
    for template in draw(st.lists(_LINE_SHAPES, max_size=14)):
        line = template
        while "{w}" in line or "{W}" in line:
            word = draw(_WORDS)
            line = line.replace("{w}", word, 1) if "{w}" in line else line.replace("{W}", word, 1)
        lines.append(line)
    return "\n".join(lines)


def _tokens(text: str) -> list[str]:
    return [t.casefold() for t in re.findall(r"\w+", text)]


def _document_words(doc: Document) -> list[str]:
    words: list[str] = []
    for entry in doc.title_page.entries:
        words += _tokens(entry.key) + _tokens(entry.value.source)
    for element in doc.elements:
        words += _tokens(_element_text(element))
    return words


def _element_text(element: Element) -> str:
    if isinstance(element, Action | Dialogue | Centered | Lyrics):
        return element.text.source
    if isinstance(element, SceneHeading):
        return f"{element.text} {element.number or ''}"
    if isinstance(element, Character):
        return element.cue
    if isinstance(element, Parenthetical | Transition | Section | Synopsis):
        return element.text
    assert isinstance(element, PageBreak)
    return ""


@settings(max_examples=250, deadline=None)
@given(messy_takes(), st.sampled_from([None, ["Mara", "Tom", "林小雨"]]))
def test_no_word_of_the_writer_is_lost(text: str, cast: list[str] | None) -> None:
    result = repair_with_report(text, cast)
    kept = _document_words(result.document)
    for chatter in result.removed_chatter:
        kept += _tokens(chatter)
    # List numbers are markup, not words; everything else must survive somewhere.
    wanted = [t for t in _tokens(re.sub(r"(?m)^\s*\d+\.\s", "", text))]
    missing = [word for word in wanted if word not in kept]
    assert not missing, f"lost {missing} from {text!r}"


def test_a_two_person_exchange_without_cast_is_dialogue() -> None:
    text = (
        "EXT. BEACH - SUNSET\n\nThe waves roll in. Mara and Tom walk side by side.\n\n"
        "Mara: It's beautiful.\nTom: Like you.\n\nShe laughs."
    )
    assert shape(repair(text)) == [
        ("heading", "EXT. BEACH - SUNSET"),
        ("action", "The waves roll in. Mara and Tom walk side by side."),
        ("cue", "MARA"),
        ("speech", "It's beautiful."),
        ("cue", "TOM"),
        ("speech", "Like you."),
        ("action", "She laughs."),
    ]


def test_times_of_day_before_a_colon_are_not_speakers() -> None:
    text = "Night: the city sleeps.\nMorning: the city wakes."
    assert [kind for kind, _ in shape(repair(text))] == ["action"]


def test_leaked_chat_template_tokens_are_removed() -> None:
    result = repair_with_report(
        "<|im_start|>assistant\nINT. BAR - NIGHT\n\nMARA: Hi.<|im_end|></s>"
    )
    assert shape(result.document) == [
        ("heading", "INT. BAR - NIGHT"),
        ("cue", "MARA"),
        ("speech", "Hi."),
    ]
    assert "removed the model's control tokens" in result.changes


def test_an_italic_beat_before_the_words_becomes_a_parenthetical() -> None:
    assert shape(repair("TOM: *shrugs* Whatever.\nMARA: *Really* now?")) == [
        ("cue", "TOM"),
        ("paren", "(shrugs)"),
        ("speech", "Whatever."),
        ("cue", "MARA"),
        ("speech", "Really now?"),
    ]


def test_action_that_starts_with_a_chatty_word_is_kept() -> None:
    text = "Great clouds roll over the hills.\n\nHere is the key, under the mat.\n\nMARA\nOkay."
    result = repair_with_report(text)
    assert [kind for kind, _ in shape(result.document)] == ["action", "action", "cue", "speech"]
    assert result.removed_chatter == ()


def test_a_long_wryly_right_after_the_cue_stays_a_parenthetical() -> None:
    doc = repair(
        "INT. STUDIO - NIGHT\n\nKAYLA\n(an accent from no country on Earth, slow and grand)\n"
        "Thank you, Desmond. The spirits are very loud tonight.\n"
    )
    assert [type(e).__name__ for e in doc.elements] == [
        "SceneHeading",
        "Character",
        "Parenthetical",
        "Dialogue",
    ]
    assert lint(doc) == []


def test_a_cue_that_misspells_one_cast_name_by_a_letter_is_that_character() -> None:
    text = "ROTH (V.O.)\nWho's there?\n\nAMS\nOnly me.\n\nMARCEL\nAnd me.\n\nJOB\nNo."
    result = repair_with_report(text, cast=["Ruth", "AMOS", "JOE", "JON"])
    assert [cue for kind, cue in shape(result.document) if kind == "cue"] == [
        "RUTH (V.O.)",
        "AMOS",
        "MARCEL",  # nobody of the cast is that close: a new speaker, which lint reports
        "JOB",  # JOE and JON are both one letter away: no guess
    ]
    assert "read the cue ROTH as RUTH (a misspelt name of the cast)" in result.changes
    assert "read the cue AMS as AMOS (a misspelt name of the cast)" in result.changes
    assert [p.code for p in lint(result.document, ["Ruth", "AMOS", "JOE", "JON"])] == [
        "unknown-speaker",
        "unknown-speaker",
    ]


def test_a_misspelt_name_is_reported_only_where_a_cue_used_it() -> None:
    # ROTH only narrates here (an action line the model ran into the speech): no cue read it.
    text = "RUTH\nWho's there?\nROTH grabs her coat."
    result = repair_with_report(text, cast=["Ruth"])
    assert [kind for kind, _ in shape(result.document)] == ["cue", "speech", "action"]
    assert not any("misspelt" in change for change in result.changes)


# --- scanned, not backtracked: the same readings as the patterns they replace ------------------
#
# Each pattern below took quadratic or cubic time on a long run of spaces (a kilobyte of model
# output could stop the bot for seconds); on short lines they are the reference the rewritten
# readers must agree with.

_repair = importlib.import_module("screenplay.repair")
_OLD_MD_HEADING = re.compile(r"^\s*(#{1,6})\s+(.*?)\s*#*\s*$")
_OLD_EXTENSION = re.compile(r"^(.*?)\s*[(（]([^()（）]*)[)）]\s*$")
_OLD_CENTRED = re.compile(r">\s*(.*?)\s*<")
_OLD_CHAT = re.compile(r"(?P<name>[^:：*_\n\"“]{1,50}?)\s*(?P<close>[*_]{0,3})\s*[:：]\s*")
_OLD_LABEL = re.compile(
    r"^(?:scene(?:\s+heading)?|slugline)\s*(?P<number>\d+[A-Z]?)?\s*[:.\-–—]\s*", re.IGNORECASE
)
_OLD_FENCE = re.compile(r"^\s*(```|~~~)\s*[\w+-]*\s*$")
_OLD_SCENE_NUMBER = re.compile(r"\s*#([\w.\-]+)#$")


def _lines(alphabet: str, size: int = 14) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), max_size=size)


@settings(max_examples=300, deadline=None)
@given(_lines("# a\t\u00a0"))
def test_a_markdown_heading_is_read_as_the_old_pattern_read_it(line: str) -> None:
    match = _OLD_MD_HEADING.match(line)
    expected = (len(match[1]), match[2]) if match else None
    assert _repair._markdown_heading(line) == expected


@settings(max_examples=300, deadline=None)
@given(_lines("A( )（）\n\u00a0^x", 10))
def test_a_name_and_its_extension_are_split_as_the_old_pattern_split_them(name: str) -> None:
    match = _OLD_EXTENSION.match(name)
    expected = (
        (match[1].strip(), match[2].strip()) if match else (name.strip().rstrip("^").strip(), None)
    )
    assert _repair._split_extension(name) == expected


@settings(max_examples=300, deadline=None)
@given(_lines("<> a.THE END", 10))
def test_centred_text_is_found_as_the_old_pattern_found_it(line: str) -> None:
    match = _OLD_CENTRED.fullmatch(line) or re.fullmatch(r"(THE END)\.?", line)
    assert _repair._centered(line) == (match[1] if match else None)


@settings(max_examples=300, deadline=None)
@given(_lines('Ma :：*_ "1', 12), _lines("scene hading 12a:.- ", 20), _lines("`~ a+-\t", 10))
def test_chat_lines_scene_labels_and_fences_match_as_before(
    chat: str, label: str, fence: str
) -> None:
    def groups(match: re.Match[str] | None) -> tuple[str | None, ...] | None:
        return (match.group(), *match.groups()) if match else None

    assert groups(_repair._CHAT.match(chat)) == groups(_OLD_CHAT.match(chat))
    assert groups(_repair._SCENE_LABEL.match(label)) == groups(_OLD_LABEL.match(label))
    assert bool(_repair._FENCE.match(fence)) == bool(_OLD_FENCE.match(fence))


@settings(max_examples=300, deadline=None)
@given(_lines("#a1.-_ \\\u00a0", 14))
def test_a_scene_number_at_the_end_of_a_take_heading_is_found_as_before(body: str) -> None:
    found = _OLD_SCENE_NUMBER.search(body)
    expected = (body[: found.start()], found[1]) if found else (body, None)
    assert split_scene_number(body, escapes=False) == expected


def _old_place_and_time(rest: str) -> str | None:
    if len(rest.split()) > 12:
        return None
    rest = re.sub(r"\s*(?:--|[—–])\s*|\s+-\s+", " - ", rest.strip().rstrip("."))
    rest = re.sub(r"\s+", " ", rest).strip(" -").upper()
    if " - " in rest:
        return rest
    place, comma, time = rest.rpartition(",")
    if comma and time.strip() in _repair._TIMES_OF_DAY:
        return f"{place.strip()} - {time.strip()}"
    for time in sorted(_repair._TIMES_OF_DAY, key=len, reverse=True):
        if rest.endswith(" " + time) and len(rest) > len(time) + 1:
            return f"{rest[: -len(time)].strip()} - {time}"
    return rest


_PLACE_WORDS = ["a", " ", "  ", "-", "--", "—", "–", ".", ",", "\u00a0", "DAY", "night", "\t"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PLACE_WORDS), max_size=10).map("".join))
def test_a_place_and_time_are_read_as_before(rest: str) -> None:
    assert _repair._place_and_time(rest) == _old_place_and_time(rest)


@settings(max_examples=200, deadline=None)
@given(_lines("AB .'-\n·x", 30), st.lists(_lines("AB .'-·", 6), max_size=4))
def test_mentions_of_a_name_are_counted_as_findall_counts_them(text: str, names: list[str]) -> None:
    mentions = _repair._Mentions(text, [name.strip() for name in names])
    for name in {name.strip() for name in names}:
        if name and _repair._looks_like_upper_cue(name):
            expected = len(re.findall(rf"(?<!\w){re.escape(name)}(?!\w)", text))
            assert mentions.count(name) == expected


@settings(max_examples=300, deadline=None)
@given(_lines("abc", 5), _lines("abc", 5))
def test_one_edit_apart_means_one_letter_inserted_deleted_replaced_or_swapped(
    a: str, b: str
) -> None:
    def edits(word: str) -> set[str]:
        letters = "abc"
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        return (
            {left + right[1:] for left, right in splits if right}
            | {left + c + right[1:] for left, right in splits if right for c in letters}
            | {left + c + right for left, right in splits for c in letters}
            | {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
        )

    assert _repair._one_edit(a, b) == (a != b and b in edits(a))


def test_a_scene_number_no_scene_has_is_left_out() -> None:
    take = "Scene " + "9" * 40 + ": INT. KITCHEN - NIGHT\n\nShe waits."
    assert repair(take).elements[0] == SceneHeading("INT. KITCHEN - NIGHT")
    assert repair("Scene 12: INT. KITCHEN - NIGHT\n\nShe waits.").elements[0] == SceneHeading(
        "INT. KITCHEN - NIGHT", "12"
    )


def test_colon_lines_are_action_in_a_text_that_forces_its_cues() -> None:
    """Chinese scripts write captions and screens with a colon (`字幕：一年前`); in a take that
    marks its cues with `@`, such a line is action, not a speaker — while without forced cues,
    `陈伯：打烊了。` lines are still read as speeches."""
    forced = "INT. 茶馆 - 夜\n\n字幕：一年前。\n\n@陈伯\n打烊了。\n\n手机屏幕：三个未接来电。\n"
    elements = repair(forced, ["陈伯"]).elements
    assert [type(e).__name__ for e in elements] == [
        "SceneHeading",
        "Action",
        "Character",
        "Dialogue",
        "Action",
    ]
    chat = "INT. 茶馆 - 夜\n\n陈伯：打烊了。\n\n小梅：再坐一会儿。\n"
    assert [type(e).__name__ for e in repair(chat).elements].count("Character") == 2
