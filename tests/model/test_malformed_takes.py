"""Takes a writers' room would not keep: the prompt's template copied, speakers the room never
cast, a beat that is a scene heading or a bare description, broken characters. Each makes a
take malformed (sampled once more, then marked); the corpus's scenes are none of these."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from model.generator import Generator
from model.prompts import (
    build_messages,
    parse_answer,
    prompt_label,
    request_echo,
    template_echo,
)
from model.tasks import (
    CharacterSheet,
    ProgressCallback,
    PromptContext,
    Sampling,
    TaskKind,
    TaskRequest,
)
from model.worker import decode_whole
from training.synopses import without_synopses

CORPUS = Path(__file__).resolve().parents[2] / "training" / "corpus"
_HEADING = re.compile(r"(?m)^(?=(?:INT|EXT|EST|INT\./EXT|I/E)[. ])")
MARA, TOM = CharacterSheet("MARA", role="cook"), CharacterSheet("TOM", role="fugitive")
ROOM = PromptContext(title="Night Shift", characters=(MARA, TOM))


# --- template echo ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "take"),
    [
        (TaskKind.PREMISE, "Title: <the title>\nLogline: <one sentence: who wants what, ...>"),
        (TaskKind.PREMISE, "Title: <THE TITLE>\nLogline: A cook hides a thief from the law."),
        (TaskKind.PREMISE, "Title: Night Shift\nLogline: one sentence: a cook hides a thief"),
        (TaskKind.PREMISE, "Title: ...\nLogline: A cook hides a thief from the law."),
        (TaskKind.CHARACTER, "Name: MARA\nRole: ...\nDescription: a cook\nPersonality: ..."),
        (TaskKind.BEAT, "Propose the next plot development or a twist in one to three sentences."),
        (TaskKind.SCENE, "INT. DINER - NIGHT\n\nRain streaks the windows.\n\nJOE\nWe're closed."),
        (TaskKind.DIALOGUE, "MARA\n<her line>\n\nTOM\nI need a ride."),
        (TaskKind.CONTINUE, "Answer with the screenplay text only.\n\nMARA\nGo home, Tom."),
    ],
)
def test_a_take_that_copies_the_prompts_template_is_malformed(kind: TaskKind, take: str) -> None:
    request = TaskRequest(kind, "a cook hides a thief", ("MARA", "TOM"), ROOM)
    problems = parse_answer(request, take).problems
    assert any("copies the prompt's answer format" in p for p in problems), problems


def test_every_placeholder_the_prompts_write_is_recognised() -> None:
    # Read from the builders: a template added tomorrow is covered by the same rule.
    for kind in TaskKind:
        user = build_messages(TaskRequest(kind, "an idea", ("MARA",)))[-1]["content"]
        for placeholder in re.findall(r"<[^<>\n]+>", user):
            assert template_echo(placeholder.upper())


@pytest.mark.parametrize(
    "take",
    [
        "Title: Night Shift\nLogline: A cook hides a thief from the police, who are her family.",
        "MARA\n...\n\nTOM\nSay something.",  # silence is a line
        "INT. DINER - NIGHT\n\nRain on the windows.\n\n> THE END <",
    ],
)
def test_filled_in_answers_are_not_template_echo(take: str) -> None:
    assert template_echo(take) is None


# --- copies of the request ---------------------------------------------------------------------

TANG = CharacterSheet(
    "唐小田",
    role="婚庆剪辑师",
    description="27岁，齐刘海，黑色卫衣袖子上沾着蛋糕奶油，耳机挂在脖子上，眼睛熬得通红",
)
SITUATION = (
    "Mara finds the letter under the diner's back door at closing time, reads it twice by the "
    "light of the fridge, folds it into her apron and says nothing to Tom about the harbour police"
)


@pytest.mark.parametrize(
    ("request_", "take"),
    [
        # A Chinese take that writes its character's sheet out again, word for word.
        (
            TaskRequest(
                TaskKind.DIALOGUE,
                "小田发现新娘换了人",
                ("唐小田",),
                PromptContext(language="中文", characters=(TANG,)),
            ),
            "唐小田：（27岁），齐刘海，黑色卫衣袖子上沾着蛋糕奶油，耳机挂在脖子上，眼睛熬得通红。",
        ),
        # An English one that reads the writer's situation back as its action.
        (
            TaskRequest(TaskKind.SCENE, SITUATION, ("MARA", "TOM"), ROOM),
            f"INT. DINER - NIGHT\n\n{SITUATION}.\n\nMARA\nGo home, Tom.",
        ),
        # A continuation that copies the script so far instead of going on from it.
        (
            TaskRequest(
                TaskKind.CONTINUE,
                "",
                (),
                PromptContext(characters=(MARA, TOM), recent_script=f"MARA\n{SITUATION}."),
            ),
            f"MARA\n{SITUATION}.\n\nTOM\nAnd?",
        ),
    ],
)
def test_a_take_that_copies_its_request_back_is_malformed(request_: TaskRequest, take: str) -> None:
    problems = parse_answer(request_, take).problems
    assert any("copies its request back" in p for p in problems), problems


def test_a_take_that_names_the_requests_people_and_places_is_no_copy() -> None:
    request = TaskRequest(TaskKind.SCENE, SITUATION, ("MARA", "TOM"), ROOM)
    take = (
        "INT. DINER - NIGHT\n\nClosing time. Mara finds the letter under the back door and "
        "reads it twice by the light of the fridge.\n\nMARA\nTom. The harbour police.\n\n"
        "TOM\nI know."
    )
    assert parse_answer(request, take).problems == ()


def test_no_answer_of_the_corpus_copies_its_prompt_back_or_writes_its_labels() -> None:
    # The corpus's answers quote their prompts (a character's description, the situation) for
    # up to 22 words, or 29 Chinese characters, in a row: the check starts past both. Nor does
    # any write a label of its prompt (系统提示： in an action line is no 提示：).
    from training.data import examples_for, load_source

    copies = [
        (example.script, example.kind.value, echo)
        for script in load_source(None)
        for example in examples_for(script)
        if example.request is not None
        and (
            echo := request_echo(example.request, example.answer)
            or prompt_label(example.request, example.answer)
        )
        is not None
    ]
    assert copies == []


@pytest.mark.parametrize("kind", [TaskKind.PREMISE, TaskKind.CHARACTER])
def test_no_premise_or_sheet_of_the_corpus_is_flagged(kind: TaskKind) -> None:
    # A premise is its two lines (`test_premise_form`); no sheet gives ages that cannot all
    # hold, though the corpus's give them on two time lines and at moments of a life
    # (`test_sheet_ages`). The beats are swept in `test_corpus`.
    from training.data import examples_for, load_source

    flagged = [
        (example.script, problems)
        for script in load_source(None)
        for example in examples_for(script)
        if example.kind is kind
        and example.request is not None
        and (problems := parse_answer(example.request, example.answer).problems)
    ]
    assert flagged == []


ZH_ROOM = PromptContext(language="Chinese")


@pytest.mark.parametrize(
    ("kind", "take", "label"),
    [
        # Seen in session 15's evaluation: a continuation that wrote the beat prompt's label.
        (
            TaskKind.CONTINUE,
            "EXT. BOOTH - DAWN\n\nA door opens.\n\nHint: In front of the mirror, a chair.",
            "Hint:",
        ),
        (TaskKind.SCENE, "INT. DINER - NIGHT\n\nCurrent scene: the diner.\n", "Current scene:"),
        (TaskKind.DIALOGUE, "MARA (role: the cook; personality: stubborn)\nGo.", "role:"),
        (TaskKind.DIALOGUE, "- **Situation**: Mara hides Tom.\n\nMARA\nGo.", "Situation:"),
        # A character sheet written out in brackets, a Chinese room's labels.
        (TaskKind.CONTINUE, "铁三娘（外形：69岁，身份：老镖头）走进来。", "外形："),
        (TaskKind.DIALOGUE, "石满仓：（身份：镖师）走吧。", "身份："),
        (TaskKind.SCENE, "内景 茶馆 - 夜\n\n△ 提示：阿梅擦着柜台。", "提示："),
    ],
)
def test_a_script_take_that_fills_in_the_prompts_form_is_malformed(
    kind: TaskKind, take: str, label: str
) -> None:
    request = TaskRequest(kind, SITUATION, ("MARA", "TOM"), ROOM if label.isascii() else ZH_ROOM)
    problems = parse_answer(request, take).problems
    assert problems and f"(“{label}”)" in problems[0]
    assert prompt_label(request, take)


@pytest.mark.parametrize(
    ("kind", "take"),
    [
        # A screenplay's own lines: a title card, a character called VOICE, a system prompt.
        (TaskKind.SCENE, "INT. DINER - NIGHT\n\nTITLE: THREE WEEKS LATER\n\nMara waits."),
        (TaskKind.DIALOGUE, "VOICE (V.O.)\nHello?\n\nMARA\nWho is this?"),
        (TaskKind.CONTINUE, "Tone deaf, Mara sings on.\n\nMARA\nThe genre: tragedy."),
        (TaskKind.CONTINUE, "△ 屏幕上，系统提示：本户已列入优化名单。"),
    ],
)
def test_a_script_take_may_write_words_that_are_also_prompt_labels(
    kind: TaskKind, take: str
) -> None:
    room = ROOM if take.isascii() else ZH_ROOM
    assert prompt_label(TaskRequest(kind, SITUATION, ("MARA",), room), take) is None


def test_a_premise_answers_in_the_fields_it_was_asked_for() -> None:
    request = TaskRequest(TaskKind.PREMISE, "a cook hides a thief")
    assert prompt_label(request, "Title: Night Shift\nLogline: A cook hides a thief.") is None


def test_a_long_hostile_copy_is_judged_in_one_pass() -> None:
    request = TaskRequest(TaskKind.CONTINUE, "", (), PromptContext(recent_script="窗外" * 4000))
    assert request_echo(request, "窗外" * 100_000)
    assert request_echo(request, "窗内" * 100_000) is None


# --- speakers --------------------------------------------------------------------------------

INVENTED = (
    "INT. MANOR HALL - NIGHT\n\nCandles gutter.\n\nLEAN\nThe carriage is late.\n\n"
    "EARTHYN\nIt always is.\n\nEZHAM\nThen we wait.\n\nMARA\nNo. We go.\n"
)


@pytest.mark.parametrize("kind", [TaskKind.SCENE, TaskKind.CONTINUE, TaskKind.DIALOGUE])
def test_speakers_outside_the_rooms_cast_are_flagged_in_every_script_kind(kind: TaskKind) -> None:
    problems = parse_answer(TaskRequest(kind, "the guests arrive", (), ROOM), INVENTED).problems
    for name in ("LEAN", "EARTHYN", "EZHAM"):
        assert any(f"{name} speaks but is not in the cast" in p for p in problems), problems
    assert not any("MARA speaks" in p for p in problems)


def test_speakers_the_context_knows_of_are_the_cast() -> None:
    # A sheet left out for the token budget, a speaker of the script so far: both are cast.
    context = PromptContext(
        characters=(MARA,),
        omitted=("the sheet of LEAN", "2 earlier scenes"),
        recent_script="INT. HALL - NIGHT\n\nEARTHYN\nLate again.\n\nEZHAM\nAs ever.",
    )
    take = parse_answer(TaskRequest(TaskKind.CONTINUE, "", (), context), INVENTED)
    assert not any("not in the cast" in p for p in take.problems), take.problems


def test_a_room_without_a_bible_lets_a_scene_bring_in_anyone() -> None:
    take = parse_answer(TaskRequest(TaskKind.SCENE, "the guests arrive"), INVENTED)
    assert not any("not in the cast" in p for p in take.problems)


@pytest.mark.parametrize(
    "walk_on",
    [
        "A WAITER sets down two cups.\n\nWAITER\nAnything else?\n",
        "WAITER #2\nAnything else?\n",
        "OLD MAN\nYou're not from here.\n",
        "A stooped GROUNDSKEEPER leans on his rake.\n\nGROUNDSKEEPER\nClosed, miss.\n",
        "@服务员\n还要点什么？\n",
    ],
)
def test_a_walk_on_part_is_not_an_invented_speaker(walk_on: str) -> None:
    take = "INT. DINER - NIGHT\n\nMARA\nTwo coffees.\n\n" + walk_on
    problems = parse_answer(TaskRequest(TaskKind.SCENE, "x", (), ROOM), take).problems
    assert not any("not in the cast" in p for p in problems), problems


@pytest.mark.parametrize(
    ("action", "invented"),
    [
        # One new face the take's action brings on is a scene's business.
        ("GRAVES sits at the console.", ()),
        # Two are a take that has lost the room's people (session 30's evaluation, a
        # continuation of a script whose cast knows neither).
        ("GRAVES sits at the console. VANE stands at the desk.", ("GRAVES", "VANE")),
        # A walk-on part is no newcomer of the kind; the writer's own words bring VANE on.
        ("GRAVES sits at the console. A WAITER stands at the desk.", ()),
    ],
)
@pytest.mark.parametrize("kind", [TaskKind.CONTINUE, TaskKind.DIALOGUE, TaskKind.SCENE])
def test_a_take_brings_on_at_most_one_newcomer_of_its_own(
    action: str, invented: tuple[str, ...], kind: TaskKind
) -> None:
    speakers = [w.strip(".") for w in action.split() if w.isupper() and len(w) > 1]
    take = "INT. BOOTH - NIGHT\n\n" + action + "\n\nMARA\nThe data.\n\n"
    take += "".join(
        f"{name}\nPage {page}, at the bottom.\n\n" for page, name in enumerate(speakers)
    )
    room = PromptContext(cast=("MARA", "TOM"))
    problems = parse_answer(TaskRequest(kind, "the booth at night", (), room), take).problems
    flagged = tuple(sorted(re.findall(r"(\w+) speaks but is not in the cast", " ".join(problems))))
    assert flagged == invented, problems
    # Named in the writer's request, both may speak.
    asked = TaskRequest(kind, "Graves and Vane take over the booth", (), room)
    assert not any("not in the cast" in p for p in parse_answer(asked, take).problems)


def test_a_speaker_is_judged_where_they_first_speak() -> None:
    """Session 30's evaluation: DUTTI (a garbled DUTTA) spoke four times before the action
    mentioned him; the mention let every speech of his pass."""
    take = (
        "BRENDA\nA third.\n\nDUTTI\nI want it!\n\nBRENDA\nIt's a change of design.\n\n"
        "DUTTI raises his hands.\n\nDUTTI\nThen let them know.\n"
    )
    request = TaskRequest(TaskKind.DIALOGUE, "Brenda nags Lexi", ("BRENDA", "LEXI"), ROOM)
    problems = parse_answer(request, take).problems
    assert [p for p in problems if "not in the cast" in p] == [
        "line 4: DUTTI speaks but is not in the cast.",
        "line 12: DUTTI speaks but is not in the cast.",
    ]
    # Brought on before speaking, he is a newcomer the take may have.
    introduced = "DUTTI crosses the traffic.\n\n" + take
    assert not any("not in the cast" in p for p in parse_answer(request, introduced).problems)


@pytest.mark.parametrize(
    ("words", "speaker", "invented"),
    [
        # Session 29's evaluation: the writer's situation brings DUTTA on; only BRENDA and LEXI
        # were named as in play.
        ("Brenda nags Lexi; then Dutta crosses the traffic to announce the lights", "DUTTA", False),
        ("Brenda nags Lexi about the gold", "DUTTA", True),
        ("Brenda nags Lexi; the dutiful neighbours watch", "DUTTA", True),  # a word, not the name
        ("布伦达数落莱克西；老杜穿过马路来宣布", "老杜", False),
        ("布伦达数落莱克西", "老杜", True),
    ],
)
def test_a_speaker_the_writers_own_words_name_is_not_invented(
    words: str, speaker: str, invented: bool
) -> None:
    problems = _brenda_and_lexi_with(speaker, words)
    flagged = [p for p in problems if "not in the cast" in p]
    assert bool(flagged) == invented, problems


def _brenda_and_lexi_with(speaker: str, words: str, *, walks_in: bool = False) -> tuple[str, ...]:
    """The problems of a dialogue take asked with the writer's `words` for BRENDA and LEXI (布伦达
    and 莱克西 for a Chinese `speaker`) in which `speaker` speaks too, brought on by an action
    line first with `walks_in`."""
    chinese = not speaker.isascii()
    room = PromptContext(language="中文" if chinese else "English")
    cast = ("布伦达", "莱克西") if chinese else ("BRENDA", "LEXI")
    if chinese:
        enters = f"△ {speaker}走进来。\n" if walks_in else ""
        take = f"{enters}布伦达：又是银牌。\n{speaker}：十月换红绿灯。\n莱克西：什么？"
    else:
        enters = f"{speaker.title()} walks in.\n\n" if walks_in else ""
        take = f"{enters}BRENDA\nSilver again.\n\n{speaker}\nLights, in October.\n\nLEXI\nWhat?\n"
    return parse_answer(TaskRequest(TaskKind.DIALOGUE, words, cast, room), take).problems


@pytest.mark.parametrize(
    ("words", "speaker"),
    [
        # Session 31's evaluation: "she" in the writer's words let a SHE speak in a scene.
        ("Brenda nags Lexi; she mocks his ever-changing reasons", "SHE"),
        ("Brenda nags Lexi; they argue", "THEY"),
        ("Brenda nags Lexi; He walks in", "HE"),  # the take's action says so, too (below)
        ("布伦达数落莱克西，她冷笑", "她"),
        ("布伦达数落莱克西", "他们"),
    ],
)
def test_a_pronoun_is_no_speaker_whatever_the_words_around_it(words: str, speaker: str) -> None:
    problems = _brenda_and_lexi_with(speaker, words, walks_in=True)
    assert any(f"{speaker} speaks but is not in the cast" in p for p in problems), problems


def test_a_cast_members_name_given_other_surnames_is_an_invented_speaker() -> None:
    # The take lost track of who MARA is: it introduces MARA PELOSO and MARA MARPLOTTO beside her.
    take = (
        "MARA\nWe're closed.\n\nMARA PELOSO (38), pen and notebook, sits at the counter.\n\n"
        "MARA MARPLOTTO (37), a tape recorder in hand, points at the door.\n\n"
        "MARA MARPLOTTO\nI have my code.\n"
    )
    problems = parse_answer(TaskRequest(TaskKind.DIALOGUE, "x", ("MARA",), ROOM), take).problems
    assert any("MARA MARPLOTTO speaks but is not in the cast" in p for p in problems), problems


@pytest.mark.parametrize(
    ("take", "invented"),
    [
        # Session 19's shown takes: a cast member's name run into the words after it, and the
        # heading's road, each "introduced" by action that runs them on without spaces.
        (
            "外景 官道 正堂 夜\n△ 黄土官道看看阎福门口，兵丁看着。\n阎福门口：哭哭哭；丝直爆火",
            "阎福门口",
        ),
        ("外景 官道 夜\n△ 黄土官道上尘土飞扬。\n官道：初次官道七百八十万，", "官道"),
        # A cast member's own people, brought on by the action, are new speakers.
        ("外景 官道 夜\n△ 阎福的手下跑过来。\n阎福的手下：大人！", ""),
        ("外景 官道 夜\n△ 阎福娘子推门进来。\n阎福娘子：你回来了。", ""),
        ("外景 官道 夜\n△ 一个老兵走过来。\n老兵：站住！", ""),
    ],
)
def test_a_chinese_cue_the_action_only_seems_to_bring_on_is_invented(
    take: str, invented: str
) -> None:
    room = PromptContext(language="中文", cast=("阎福", "骆九川"))
    problems = parse_answer(TaskRequest(TaskKind.CONTINUE, "", (), room), take).problems
    flagged = [p for p in problems if "not in the cast" in p]
    assert flagged == ([f"line 5: {invented} speaks but is not in the cast."] if invented else [])


@pytest.mark.parametrize(
    ("words", "take", "borrowed"),
    [
        # The prompt shows the shape of an answer with `INT. DINER - NIGHT` (`内景 茶馆 夜`):
        # with the heading's words spared the repetition penalty, a take may copy its place.
        ("", "EXT. DINER - NIGHT\n\nPilar runs.", True),
        ("", "EXT. FATHER ASGEIR'S HOUSE - DINER - NIGHT\n\nPilar runs.", True),
        ("Pilar waits", "INT. BOOTH - NIGHT\n\nPilar eyes the dinerware.", False),
        # A room whose story is at a diner goes there.
        ("Pilar back at the harbour diner", "INT. HARBOUR DINER - NIGHT\n\nPilar runs.", False),
        ("", "内景 茶馆 夜\n△ 阎福走进来。", True),
        ("阎福在茶馆里等人", "内景 茶馆 夜\n△ 阎福走进来。", False),
    ],
)
def test_a_scene_set_at_the_place_of_the_prompts_example_is_malformed(
    words: str, take: str, borrowed: bool
) -> None:
    chinese = "△" in take
    room = PromptContext(language="中文" if chinese else "English", cast=("PILAR", "阎福"))
    kind = TaskKind.SCENE if words else TaskKind.CONTINUE
    problems = parse_answer(TaskRequest(kind, words, (), room), take).problems
    found = [p for p in problems if "the prompt's example" in p]
    assert bool(found) is borrowed, problems


def test_a_cast_members_full_name_the_room_gave_is_the_cast_member() -> None:
    mara = CharacterSheet("MARA", role="cook", description="Mara Quinn, fifty, runs the diner")
    room = PromptContext(title="Night Shift", characters=(mara, TOM))
    take = "MARA QUINN (50) wipes the counter.\n\nMARA QUINN\nWe're closed.\n\nTOM\nI know.\n"
    problems = parse_answer(TaskRequest(TaskKind.DIALOGUE, "x", ("MARA",), room), take).problems
    assert not any("not in the cast" in p for p in problems), problems


# --- beats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("take", "what"),
    [
        ("INT. DINER - NIGHT", "a scene heading"),
        ("EXT. QUARRY ROAD - DAY\n\nDust on the wind.", "a scene heading"),
        ("Beat: INT./EXT. CAR - MOVING", "a scene heading"),
        ("内景 茶馆 夜", "a scene heading"),
        ("外景 码头 - 日", "a scene heading"),
        ("A dimly lit diner at midnight.", "a description"),
        ("The old quarry under a grey sky.", "a description"),
    ],
)
def test_a_beat_that_is_no_development_is_malformed(take: str, what: str) -> None:
    problems = parse_answer(TaskRequest(TaskKind.BEAT, "a twist"), take).problems
    assert any(f"The beat is {what}" in p for p in problems), problems


@pytest.mark.parametrize(
    "take",
    [
        "Tom confesses he robbed the bank with Mara's brother.",
        "The police arrive before Mara can hide him.",
        "Mara and Tom fight over the keys.",
        "A stranger buys the diner and fires everyone.",
        "Interpol agents storm the diner.",
        "林小雨发现茶馆的账本被人改过。",
    ],
)
def test_a_plot_development_is_a_beat(take: str) -> None:
    assert parse_answer(TaskRequest(TaskKind.BEAT, "a twist"), take).problems == ()


# --- broken characters -----------------------------------------------------------------------


def test_a_take_with_a_broken_character_is_malformed() -> None:
    for kind in TaskKind:
        take = "MARA\nWe\ufffdre closed.\n" if kind is not TaskKind.BEAT else "Tom \ufffd leaves."
        problems = parse_answer(TaskRequest(kind, "x", ("MARA",), ROOM), take).problems
        assert any("broken character" in p for p in problems)


def test_text_is_decoded_only_at_whole_characters(tokenizer: Any) -> None:
    # The shipped model's tokenizer spends three tokens on 窗 and two on 雨.
    ids = tokenizer("窗外下雨了", add_special_tokens=False)["input_ids"]
    assert "\ufffd" in tokenizer.decode(ids[:1]) + tokenizer.decode(ids[:-1])
    prefixes = [decode_whole(tokenizer, ids[:end]) for end in range(len(ids) + 1)]
    assert all("\ufffd" not in text for text in prefixes)
    assert all("窗外下雨了".startswith(text) for text in prefixes)
    assert prefixes[-1] == "窗外下雨了"
    # Bytes that make no character stay visible to the parser, which marks the take.
    stray = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("窗")[1])
    assert "\ufffd" in decode_whole(tokenizer, [*ids, stray, *ids])


# --- the generator samples them once more ----------------------------------------------------


class ScriptedBackend:
    """A backend that answers from a list: first takes, then second tries."""

    name = "scripted"

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.seeds: list[list[int | None]] = []

    async def complete(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
    ) -> list[str]:
        self.seeds.append([s.seed for s in sampling])
        return self.answers.pop(0)[: len(sampling)]

    async def close(self) -> None:
        return None


async def test_malformed_takes_are_sampled_once_more_and_marked_if_still_bad() -> None:
    echo = "Title: <THE TITLE>\nLogline: <one sentence: who wants what>"
    good = "Title: Night Shift\nLogline: A cook hides a thief from her own family."
    backend = ScriptedBackend([echo, good, echo], [good, echo])
    generator = Generator(backend)
    takes = await generator.generate(TaskRequest(TaskKind.PREMISE, "x"), 3, Sampling(seed=1))
    assert backend.seeds == [[1, 2, 3], [7920, 7922]]  # another seed for each bad take
    assert [t.regenerated for t in takes] == [True, False, True]
    assert takes[0].title == "Night Shift" and takes[0].problems == ()
    assert takes[1].problems == ()
    assert any("copies the prompt's answer format" in p for p in takes[2].problems)


async def test_without_second_tries_takes_stay_as_first_sampled() -> None:
    """What `training.evaluate --first-sampled` scores: the same seeds, no second round, the
    malformed take kept with its problems."""
    echo = "Title: <THE TITLE>\nLogline: <one sentence: who wants what>"
    good = "Title: Night Shift\nLogline: A cook hides a thief from her own family."
    backend = ScriptedBackend([echo, good])
    generator = Generator(backend, second_tries=False)
    takes = await generator.generate(TaskRequest(TaskKind.PREMISE, "x"), 2, Sampling(seed=1))
    assert backend.seeds == [[1, 2]]
    assert not any(t.regenerated for t in takes)
    assert takes[0].problems and takes[1].problems == ()


async def test_a_take_of_invented_speakers_is_sampled_once_more() -> None:
    kept = "INT. MANOR HALL - NIGHT\n\nCandles gutter.\n\nMARA\nWe go.\n\nTOM\nNow?\n"
    backend = ScriptedBackend([INVENTED], [kept])
    request = TaskRequest(TaskKind.SCENE, "the guests arrive", (), ROOM)
    (take,) = await Generator(backend).generate(request, 1, Sampling(seed=5))
    assert take.regenerated and take.problems == () and "MARA" in take.fountain


# --- the corpus ------------------------------------------------------------------------------


def corpus_takes() -> list[tuple[str, str, tuple[CharacterSheet, ...]]]:
    takes: list[tuple[str, str, tuple[CharacterSheet, ...]]] = []
    for path in sorted(CORPUS.glob("*.fountain")):
        sheets = tuple(
            CharacterSheet(
                **{k: str(v) for k, v in sheet.items() if k != "name"}, name=sheet["name"]
            )
            for sheet in json.loads(path.with_suffix(".cast.json").read_text(encoding="utf-8"))
        )
        text = without_synopses(path.read_text(encoding="utf-8"))
        scenes = _HEADING.split(text)[1:]
        takes.extend((f"{path.stem} scene {i}", scene, sheets) for i, scene in enumerate(scenes, 1))
    return takes


def test_no_corpus_scene_is_flagged_by_the_take_checks() -> None:
    takes = corpus_takes()
    assert len(takes) >= 100
    flagged: list[tuple[str, str, list[str]]] = []
    for name, scene, sheets in takes:
        for kind in (TaskKind.SCENE, TaskKind.CONTINUE, TaskKind.DIALOGUE):
            request = TaskRequest(kind, "x", (), PromptContext(characters=sheets))
            problems = parse_answer(request, scene).problems
            # The screenplay reader's own lint is another matter (its rules, its owner).
            ours = [p for p in problems if not re.match(r"line \d+: .* (cue|dialogue)", p)]
            if ours:
                flagged.append((name, kind.value, ours))
        if echo := template_echo(scene):
            flagged.append((name, "echo", [echo]))
    assert flagged == []


@pytest.mark.parametrize("kind", [TaskKind.CONTINUE, TaskKind.SCENE])
def test_a_chinese_heading_run_on_into_the_action_is_malformed(kind: TaskKind) -> None:
    """Session 30's evaluation: 3 of 18 Chinese continuations opened on a heading that ran on
    into the action (`内景 国际出口 陈伯的独脚坐着，掐着一张照片…`), read as an action line and
    shown as clean; the bot samples such a take again."""
    room = PromptContext(language="中文", cast=("林未", "何淑珍"))
    request = TaskRequest(kind, "机场，林未、何淑珍在场：林未要走", ("林未", "何淑珍"), room)
    take = "内景 国际出口 陈伯的独脚坐着，掐着一张照片。\n林未：我走了。\n何淑珍：别走。"
    assert any("写进了动作" in p for p in parse_answer(request, take).problems)
    ended = "内景 国际出口 夜\n△ 陈伯坐着，掐着一张照片。\n林未：我走了。\n何淑珍：别走。"
    assert parse_answer(request, ended).problems == ()
