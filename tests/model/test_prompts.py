"""Prompts say what the model must answer and in which format; parsers read those answers;
loops are caught."""

from __future__ import annotations

import pytest

from model.prompts import (
    answer_start,
    asked_heading,
    build_messages,
    format_answer,
    parse_answer,
    places_named,
)
from model.takechecks import find_loop, mention_at
from model.tasks import CharacterSheet, PromptContext, TaskKind, TaskRequest
from screenplay.fountain import parse_fountain
from screenplay.stats import split_heading
from screenplay.types import SceneHeading

MARA = CharacterSheet(name="MARA", role="lead", personality="dry, impatient", voice="clipped")
CONTEXT = PromptContext(
    title="Night Shift",
    logline="A diner cook hides a fugitive.",
    style_notes="Keep lines short. No swearing.",
    language="French",
    characters=(MARA,),
    recent_script="INT. DINER - NIGHT\n\nRain on the windows.",
)

CHINESE_ROOM = PromptContext(title="夜班", language="中文")
ROOM_EN = PromptContext()


def test_messages_carry_context_instructions_and_the_answer_format() -> None:
    request = TaskRequest(TaskKind.DIALOGUE, "Tom asks for a ride", ("MARA", "TOM"), CONTEXT)
    system, user = build_messages(request)
    assert system["role"] == "system" and user["role"] == "user"
    assert "Keep lines short. No swearing." in system["content"]
    assert "French" in system["content"]
    text = user["content"]
    for expected in ("Night Shift", "MARA (role: lead", "Rain on the windows.", "Tom asks"):
        assert expected in text
    assert "between MARA, TOM" in text and "Fountain" in text


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (TaskKind.PREMISE, "Logline:"),
        (TaskKind.CHARACTER, "Personality: ..."),
        (TaskKind.SCENE, "scene heading"),
        (TaskKind.BEAT, "twist"),
        (TaskKind.CONTINUE, "Continue the script"),
    ],
)
def test_every_kind_names_its_answer_format(kind: TaskKind, expected: str) -> None:
    assert expected in build_messages(TaskRequest(kind, "an idea"))[-1]["content"]


def test_a_sheet_is_read_back_from_the_format_training_writes() -> None:
    sheet = CharacterSheet("MARA", "lead", "a cook", "dry", "ran away at 16", "clipped", "TOM")
    answer = format_answer(TaskKind.CHARACTER, sheet=sheet)
    parsed = parse_answer(TaskRequest(TaskKind.CHARACTER, "a cook"), answer)
    assert parsed.sheet == sheet and parsed.problems == ()


def test_a_sheet_tolerates_markdown_and_wrapped_values() -> None:
    text = "**Name:** Mara Diaz\n- **Personality**: dry,\n  impatient\nVoice: clipped\n"
    parsed = parse_answer(TaskRequest(TaskKind.CHARACTER, "a cook"), text)
    assert parsed.sheet is not None
    assert parsed.sheet.name == "MARA DIAZ"
    assert parsed.sheet.personality == "dry, impatient"
    assert parsed.problems == ()


def test_the_writers_name_wins_and_prose_is_kept_as_the_description() -> None:
    request = TaskRequest(TaskKind.CHARACTER, "Ines: the keeper", ("INES",))
    named = parse_answer(request, "Name: Marguerite\nRole: keeper\nVoice: dry")
    assert named.sheet is not None and named.sheet.name == "INES"
    prose = parse_answer(request, "She has kept the light for forty years and talks to gulls.")
    assert prose.sheet is not None and prose.sheet.name == "INES"
    assert prose.sheet.description == "She has kept the light for forty years and talks to gulls."
    assert "kept as the description" in prose.problems[0]


def test_premise_and_beat_answers() -> None:
    text = format_answer(TaskKind.PREMISE, title="Night Shift", logline="A cook hides a thief.")
    parsed = parse_answer(TaskRequest(TaskKind.PREMISE, "x"), "Sure!\n" + text)
    assert (parsed.title, parsed.logline, parsed.problems) == (
        "Night Shift",
        "A cook hides a thief.",
        (),
    )
    missing = parse_answer(TaskRequest(TaskKind.PREMISE, "x"), "A film about a cook.")
    assert "The premise has no logline." in missing.problems
    beat = parse_answer(TaskRequest(TaskKind.BEAT), "Twist: the thief is her brother.\n\nMore.")
    assert beat.beat == "the thief is her brother."


@pytest.mark.parametrize(
    ("idea", "genre", "title", "copied"),
    [
        ("spy: At a trade summit in Geneva", "", "At a Trade Summit in Geneva", True),
        ("At a trade summit in Geneva", "", "“At a trade summit, in Geneva”", True),
        (
            "a veteran court interpreter finds one wrong word",
            "",
            "Veteran Court Interpreter Finds One Wrong Word",
            True,
        ),
        ("legal drama: a veteran court interpreter", "", "Legal Drama", True),
        ("a court interpreter finds one wrong word", "Legal drama", "LEGAL DRAMA", True),
        ("短剧：婚礼跟拍摄像师拍到了不该拍的画面", "", "婚礼跟拍摄像师拍到了不该拍的画面", True),
        # A title of the writer's own, pitched as the idea, is theirs to keep.
        ("The Last Ship", "", "The Last Ship", False),
        # A phrase of the idea makes a title.
        ("the last ship out of Lisbon before the war", "", "The Last Ship", False),
        ("短剧：婚礼跟拍摄像师拍到了不该拍的画面", "", "不该拍的画面", False),
    ],
)
def test_a_premise_titled_with_the_idea_it_was_asked_for_is_malformed(
    idea: str, genre: str, title: str, copied: bool
) -> None:
    # Four of eighteen English premises the bot showed in session 19's blind read.
    chinese = "短剧" in idea
    context = PromptContext(genre=genre, language="中文") if chinese else PromptContext(genre=genre)
    request = TaskRequest(TaskKind.PREMISE, idea, context=context)
    text = (
        f"片名：{title}\n梗概：一个摄像师。" if chinese else f"Title: {title}\nLogline: A spy lies."
    )
    problems = parse_answer(request, text).problems
    assert bool(problems) is copied, problems
    if copied:
        assert problems[0].startswith("The title only repeats the idea it was asked for")


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ('"The Last Crossing" (2013)', "The Last Crossing"),
        ('The Last Crossing" (2013)', "The Last Crossing"),
        ("**Night Shift**", "Night Shift"),
        ("“Night Shift”", "Night Shift"),
        ("Night Shift [1999]", "Night Shift"),
        ("《夜班》（2019）", "夜班"),
        ("2001", "2001"),  # a title that is a year stays
        ("Summer of '69", "Summer of '69"),
        ("Blade Runner 2049", "Blade Runner 2049"),
    ],
)
def test_a_premise_title_is_kept_without_the_marks_around_it(written: str, title: str) -> None:
    # The title becomes the script's title card and the export's: `THE LAST CROSSING" (2013)`
    # was what a console session's picked premise gave the script.
    chinese = "《" in written
    request = TaskRequest(TaskKind.PREMISE, "x", context=CHINESE_ROOM if chinese else ROOM_EN)
    label, logline = (
        ("片名：", "\n梗概：一个渡船驾驶员的最后一次航行。")
        if chinese
        else (
            "Title: ",
            "\nLogline: A ferry pilot's last crossing.",
        )
    )
    parsed = parse_answer(request, label + written + logline)
    assert parsed.title == title and not parsed.problems


def test_loops_are_found_and_ordinary_scripts_are_not() -> None:
    ordinary = (
        "INT. DINER - NIGHT\n\nMARA\nYes.\n\nTOM\nYes.\n\nMARA\nYou want coffee or not?\n\n"
        "TOM\nI want a ride out of town.\n\nMARA\nYes.\n"
    )
    assert find_loop(ordinary) is None
    # A voice-over cue comes back with every speech; that is a scene, not a loop.
    voice_over = "".join(
        f"MR. PIKE (V.O.)\nLine {word} of the tape.\n\nJUNO\n{word.title()}, she says.\n\n"
        for word in ("one", "two", "three", "four", "five")
    )
    assert find_loop(voice_over) is None
    same_line = "MARA\nI told you already.\nI told you already.\nI told you already.\n"
    assert "repeats the line" in (find_loop(same_line) or "")
    paragraph = "She opens the door and looks out at the rain.\n\n" * 2
    assert "repeats a paragraph" in (find_loop(paragraph) or "")
    stuck = "A gentle rain, a gentle rain, a gentle rain, a gentle rain, a gentle rain falls."
    assert "round in circles" in (find_loop(stuck) or "")
    assert find_loop(stuck) in parse_answer(TaskRequest(TaskKind.BEAT), stuck).problems


@pytest.mark.parametrize(
    ("take", "shown"),
    [
        # The token budget ran out inside a wryly, after a cue, inside a parenthesis.
        ("MARGIT\nYou know it.\n\nGUS\n(to", "MARGIT\nYou know it.\n"),
        ("MARGIT\nYou know it.\n\nGUS\n(quietly)", "MARGIT\nYou know it.\n"),
        ("MARGIT\nYou know it. (to him", "MARGIT\nYou know it.\n"),
        # A take that ends well keeps every word, parentheses included.
        (
            "MARGIT\n(to him)\nYou (of all people) know it.",
            "MARGIT\n(to him)\nYou (of all people) know it.\n",
        ),
    ],
)
def test_a_take_cut_off_by_its_budget_ends_at_its_last_whole_element(take: str, shown: str) -> None:
    answer = parse_answer(TaskRequest(TaskKind.DIALOGUE, "x", ("GUS", "MARGIT")), take)
    assert answer.fountain == shown
    assert answer.problems == ()


@pytest.mark.parametrize(
    ("typed", "heading"),
    [
        ("INT. DINER - NIGHT — Maya confronts Joe", "INT. DINER - NIGHT"),
        ("ext. rooftop: Maya waits for the signal", "EXT. ROOFTOP"),
        ("INT. MR. BLACK'S OFFICE - DAY. Bob waits", "INT. MR. BLACK'S OFFICE - DAY"),
        ("I/E CAR - MOVING - DAY\nThey drive in silence.", "INT./EXT. CAR - MOVING - DAY"),
        ("EST. CITY SKYLINE - DAWN -- the sun comes up", "EST. CITY SKYLINE - DAWN"),
        ("int hospital corridor - night", "INT. HOSPITAL CORRIDOR - NIGHT"),
        ("EXT. BEACH", "EXT. BEACH"),
        # No heading first: the writer's words are a description, whatever they mention.
        ("Maya confronts Joe at the diner, INT. DINER", ""),
        ("Interior of a car: Maya drives", ""),
        ("EXTRA people crowd the square", ""),
        ("INT. - NIGHT: somewhere", ""),
        ("INT.", ""),
        ("INT. " + "A" * 300, ""),
    ],
)
def test_a_scene_asked_with_a_heading_opens_on_it(typed: str, heading: str) -> None:
    request = TaskRequest(TaskKind.SCENE, typed)
    assert asked_heading(request) == heading
    assert answer_start(request) == (f"{heading}\n\n" if heading else "")
    # A continuation given a heading first goes on in a new scene there; dialogue is speech.
    assert answer_start(TaskRequest(TaskKind.CONTINUE, typed)) == answer_start(request)
    assert answer_start(TaskRequest(TaskKind.DIALOGUE, typed, ("MAYA",))) == "MAYA\n"


@pytest.mark.parametrize(
    ("characters", "start"),
    [
        (("Maya", "Joe"), "MAYA\n"),
        (("  joe ",), "JOE\n"),
        (("Dr. O'Neil", "Maya"), "DR. O'NEIL\n"),
        (("Zoë",), "ZOË\n"),
        (("林未", "Maya"), ""),  # no capital letter: a Fountain reader sees no cue; left free
        (("MAYA: hi",), ""),
        (("(beat)",), ""),
        (("x" * 60,), ""),
        ((), ""),
    ],
)
def test_an_english_dialogue_take_opens_on_its_first_characters_cue(
    characters: tuple[str, ...], start: str
) -> None:
    """The shipped model wrote 2 of 18 English dialogue takes as a list of characters with
    nobody speaking, in each of three evaluations; begun on the first character's cue, the
    take is a line of that character's, and the room reads it so."""
    request = TaskRequest(TaskKind.DIALOGUE, "Maya asks Joe for the keys", characters)
    assert answer_start(request) == start
    if start:
        answer = parse_answer(request, start + "Give me the keys, Joe.")
        document = parse_fountain(answer.fountain)
        assert [type(e).__name__ for e in document.elements] == ["Character", "Dialogue"]
        assert not answer.problems


@pytest.mark.parametrize(
    ("typed", "start", "place"),
    [
        ("日 内 咖啡馆：小林等了一个小时", "日 内 咖啡馆\n", "咖啡馆"),
        ("内景 咖啡馆 夜", "内景 咖啡馆 夜\n", "咖啡馆"),
        ("1-1 日 内 客厅，全家吃饭", "1-1 日 内 客厅\n", "客厅"),
        # A Fountain heading typed in a Chinese room opens in the room's convention.
        ("INT. 咖啡馆 - 夜 — 小林等人", "内景 咖啡馆 夜\n", "咖啡馆"),
        ("小林在咖啡馆等了一个小时", "", ""),
        ("咖啡馆 夜", "", ""),  # a place and a time, no interior or exterior: not a heading
    ],
)
def test_a_chinese_scene_opens_on_the_heading_in_the_convention(
    typed: str, start: str, place: str
) -> None:
    request = TaskRequest(TaskKind.SCENE, typed, context=CHINESE_ROOM)
    assert answer_start(request) == start
    if start:
        # Read back as the room keeps it: a scene at the place asked.
        document = parse_fountain(parse_answer(request, start + "△ 小林推门进来。").fountain)
        first = document.elements[0]
        assert isinstance(first, SceneHeading) and split_heading(first.text)[1] == place


def test_a_hostile_description_costs_no_more_than_its_first_lines() -> None:
    import time

    for typed in ("INT. " + " " * 200_000 + "x", "INT. DINER" + " —" * 100_000):
        started = time.perf_counter()
        asked_heading(TaskRequest(TaskKind.SCENE, typed))
        assert time.perf_counter() - started < 0.05


def test_a_place_is_named_by_all_its_words_and_the_most_specific_comes_first() -> None:
    headings = [
        "INT. HOUSE - NIGHT",
        "INT. MARA'S HOUSE - KITCHEN - DAY",
        "EXT. PIER 9 - DAWN",
        "内景 咖啡馆 夜",
    ]
    assert places_named(headings, "Mara’s house, kitchen; she waits") == (
        "INT. MARA'S HOUSE - KITCHEN - DAY",
        "INT. HOUSE - NIGHT",
    )
    assert places_named(headings, "out on pier 9") == ("EXT. PIER 9 - DAWN",)
    assert places_named(headings, "out on pier 90") == ()
    # The end of a longer name is another place.
    diner = ["INT. HARBOUR DINER - NIGHT", "EXT. LARKSPUR COURT - DAY"]
    assert places_named(diner, "14 Larkspur Court, with JUNE") == ()
    assert places_named(diner, "Tom at Mara's Harbour Diner") == ()
    assert places_named(diner, "Harbour Diner, with TOM") == (diner[0],)
    assert places_named(diner, "Later. Harbour diner again") == (diner[0],)
    assert places_named(headings, "小林回到咖啡馆") == ("内景 咖啡馆 夜",)
    # The take opens on the script's heading, at the time the words give.
    for heading, start in (
        ("内景 咖啡馆 夜", "内景 咖啡馆 清晨\n"),
        ("日 外 江边码头", "清晨 外 江边码头\n"),
    ):
        request = TaskRequest(
            TaskKind.SCENE,
            "清晨，小林回到那里",
            context=PromptContext(language="中文", places=(heading,)),
        )
        assert answer_start(request) == start


def test_a_long_script_costs_a_scene_request_little() -> None:
    import time

    headings = [f"INT. ROOM {i} - NIGHT" for i in range(20_000)] * 3 + ["EXT. PIER 9 - DAWN"]
    headings += [f"内景 房间{i} 夜" for i in range(5_000)]
    started = time.perf_counter()
    assert places_named(headings, "out on pier 9 " * 200) == ("EXT. PIER 9 - DAWN",)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("text", "name", "at"),
    [
        ("Later, pilar's coat is on the chair.", "PILAR", 7),  # case aside, a possessive names
        ("Pilarica waves.", "PILAR", -1),  # inside another word it does not
        ("Ann and Annie. ANN again.", "Ann", 0),
        ("他看着老周的手。", "老周", 3),  # Chinese: anywhere, no spaces between words
        ("他看着老王的手。", "老周", -1),
        ("José sits. JOSÉ stands.", "JOSÉ", 0),  # a name outside ASCII is a word too
        ("Joséphine waves.", "JOSÉ", -1),
        ("他看着Tom老师。", "TOM", 3),  # a Latin name run into Chinese is a word
        ("他看着Tomas老师。", "TOM", -1),
        ("他看着Tom老师。", "TOM老师", 3),  # a mixed name, case aside
        ("Anyone.", " ", -1),
    ],
)
def test_a_name_is_mentioned_as_a_word_or_anywhere_in_chinese(
    text: str, name: str, at: int
) -> None:
    """One rule for whether a text names a character, used by the cast check, the room's context,
    the evaluation and the synopsis check."""
    assert mention_at(text, name) == at


def test_a_name_is_mentioned_by_its_parts_when_asked() -> None:
    assert mention_at("Marplotto shrugs; Pilar laughs.", "PILAR MARPLOTTO") == -1
    assert mention_at("Marplotto shrugs; Pilar laughs.", "PILAR MARPLOTTO", parts=True) == 0
    assert mention_at("A DJ plays.", "DJ KO", parts=True) == -1  # parts of two letters do not
    # A title alone names nobody in particular.
    for title in ("Dr. Reyes arrives.", "The Mrs next door calls."):
        assert mention_at(title, "DR. AINSWORTH", parts=True) == -1
        assert mention_at(title, "MRS ALDER", parts=True) == -1
    assert mention_at("Ainsworth nods.", "DR. AINSWORTH", parts=True) == 0


@pytest.mark.parametrize(
    ("prompt", "characters", "language", "start"),
    [
        # As the corpus asks: `NAME, role`; the role's one age opens the description.
        (
            "林未, 女儿；和母亲一起重生的十八岁考生",
            (),
            "中文",
            "姓名：林未\n身份：女儿；和母亲一起重生的十八岁考生\n外形：18岁，",
        ),
        ("贺屿, 新郎；富家公子", (), "中文", "姓名：贺屿\n身份：新郎；富家公子\n外形："),
        (
            "Lucia, Protagonist; a certified court interpreter",
            (),
            "English",
            "Name: LUCIA\nRole: Protagonist; a certified court interpreter\nDescription:",
        ),
        # As the bot asks: the name given apart, the writer's description after it.
        (
            "Mara: a seventeen-year-old lighthouse keeper",
            ("Mara",),
            "English",
            "Name: MARA\nRole: A seventeen-year-old lighthouse keeper\nDescription: Seventeen,",
        ),
        (
            "a forty-two-year-old cook",
            ("Tom",),
            "English",
            "Name: TOM\nRole: A forty-two-year-old cook\nDescription: Forty-two,",
        ),
        # A span gives no one age to open on.
        (
            "Ann, a judge in her 40s",
            (),
            "English",
            "Name: ANN\nRole: A judge in her 40s\nDescription:",
        ),
        # A child's age is not hers.
        (
            "Ann, a 40-year-old with a 12-year-old son",
            (),
            "English",
            "Name: ANN\nRole: A 40-year-old with a 12-year-old son\nDescription: Forty,",
        ),
        # The name alone: nothing more asked, or a description too long to be a role's line.
        ("Mara", ("Mara",), "English", "Name: MARA\n"),
        ("Mara: " + "a keeper who counts the ships " * 5, ("Mara",), "English", "Name: MARA\n"),
        ("老周：" + "一个总在夜里数船的灯塔看守人" * 3, ("老周",), "中文", "姓名：老周\n"),
        # Nobody named: the model names them.
        ("a cook who lies about the soup", (), "English", ""),
    ],
)
def test_a_sheet_is_begun_on_the_name_and_role_its_request_gives(
    prompt: str, characters: tuple[str, ...], language: str, start: str
) -> None:
    """Every sheet of the corpus but one opens on its request's name and role (and its role's
    age, where it gives one); first sampled, the shipped model renamed the character, rewrote
    the role with an age of its own and gave ages the request rules out (4 of 18 Chinese sheets
    in session 29's evaluation). The begun take reads as a sheet with those lines."""
    request = TaskRequest(TaskKind.CHARACTER, prompt, characters, PromptContext(language=language))
    assert answer_start(request) == start
    if "\n" not in start.rstrip("\n"):
        return
    chinese = language == "中文"
    rest = "马尾，校服\n性格：话少" if chinese else " hoodie, headset\nPersonality: Dry."
    parsed = parse_answer(request, start + rest)
    assert parsed.problems == ()
    assert parsed.sheet is not None
    assert parsed.sheet.role == start.splitlines()[1].split("：" if chinese else ": ", 1)[1]
    assert parsed.sheet.description.endswith(rest.split("\n")[0].strip())
