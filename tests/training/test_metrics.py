"""The evaluation's figures on texts whose answers are known by hand."""

from __future__ import annotations

import dataclasses

import pytest

from model.tasks import CharacterSheet, PromptContext, TaskKind, TaskRequest
from training.evaluate import CopyIndex, distinct_n, rouge_l, score_take


def test_rouge_l_is_the_f1_of_the_longest_common_subsequence() -> None:
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == 1.0
    # LCS "the cat on the mat": precision 5/6, recall 5/5.
    assert rouge_l("the cat sat on the mat", "the cat on the mat") == pytest.approx(10 / 11)
    # Order matters: only one word of a reversed pair can be in the subsequence.
    assert rouge_l("mara tom", "tom mara") == pytest.approx(0.5)
    assert rouge_l("nothing alike", "the cat sat") == 0.0
    assert rouge_l("", "the cat") == 0.0


def test_rouge_l_counts_chinese_by_character() -> None:
    assert rouge_l("我不走", "我不走了") == pytest.approx(2 * 1 * 0.75 / 1.75)


def test_distinct_2_pools_a_requests_takes() -> None:
    assert distinct_n(["a b c d"], 2) == 1.0
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n(["we go now", "we go now"], 2) == 0.5  # two identical takes
    assert distinct_n(["we go now", "they stay here"], 2) == 1.0
    assert distinct_n(["one"], 2) == 0.0


def test_copy_check_finds_the_longest_shared_run_of_words() -> None:
    corpus = CopyIndex(
        ["The lighthouse keeper counts the ships that never come back to the harbour.", "Rain."]
    )
    take = "Nobody knew why. He counts the ships that never come back, every night."
    assert corpus.longest_shared(take) == 7  # "counts the ships that never come back"
    assert corpus.longest_shared("Completely different words here.") == 0
    assert corpus.longest_shared("rain") == 1
    assert CopyIndex(["她把茶杯放下"]).longest_shared("然后她把茶杯放在桌上") == 5  # 她把茶杯放


def _dialogue_request() -> TaskRequest:
    sheets = (CharacterSheet("MARA", role="pilot"), CharacterSheet("TOM", role="mechanic"))
    return TaskRequest(
        TaskKind.DIALOGUE, "The engine fails.", ("MARA", "TOM"), PromptContext(characters=sheets)
    )


def test_a_clean_take_by_the_cast_scores_clean() -> None:
    take = "MARA\nIt's dead.\n\nTOM\n(wiping his hands)\nGive me ten minutes.\n"
    score = score_take(_dialogue_request(), take, take, CopyIndex(["unrelated text"]))
    assert score.lint_clean and not score.loops
    assert (score.cues, score.cues_in_cast) == (2, 2)
    assert score.rouge_l == 1.0


def test_a_stranger_speaking_and_a_loop_are_caught() -> None:
    # A stranger, not a walk-on part such as BARTENDER (which the bot lets a take cast).
    stranger = "MARA\nIt's dead.\n\nEZHAM\nAnother round?\n"
    score = score_take(_dialogue_request(), stranger, "MARA\nNo.", CopyIndex([""]))
    assert (score.cues, score.cues_in_cast) == (2, 1)
    assert not score.lint_clean  # the bot's lint reports the unknown speaker
    loop = "MARA\nWe need to go now.\n\nTOM\nWe need to go now.\n\nMARA\nWe need to go now.\n"
    looped = score_take(_dialogue_request(), loop, "MARA\nNo.", CopyIndex([""]))
    assert looped.loops
    assert looped.lint_clean  # the structure is sound; the loop is counted apart


def test_a_character_of_the_bible_out_of_play_is_in_the_cast_but_not_in_play() -> None:
    # DUTTA has a sheet in the room's bible, is not asked for and the writer's words do not name
    # him: the bot lets him speak, and his cue counts in the cast but outside the people in play.
    request = _dialogue_request()
    request = dataclasses.replace(
        request, context=dataclasses.replace(request.context, cast=("MARA", "TOM", "DUTTA"))
    )
    take = "MARA\nIt's dead.\n\nDUTTA\nThe council sent me.\n\nEZHAM\nAnother round?\n"
    score = score_take(request, take, take, CopyIndex([""]))
    assert (score.cues, score.cues_in_cast) == (3, 2)  # EZHAM is nobody's
    assert score.cues_in_play == 1
    alone = score_take(_dialogue_request(), take, take, CopyIndex([""]))
    assert (alone.cues_in_cast, alone.cues_in_play) == (1, 1)  # a room without DUTTA's sheet
    # The writer's words bring him on: he is in play.
    named = dataclasses.replace(request, prompt="The engine fails; Dutta arrives.")
    assert score_take(named, take, take, CopyIndex([""])).cues_in_play == 2


def test_a_take_without_dialogue_is_not_clean() -> None:
    score = score_take(_dialogue_request(), "Sure! Here is your scene.", "MARA\nNo.", CopyIndex([]))
    assert not score.lint_clean
    assert score.cues == 0


@pytest.mark.parametrize(
    ("language", "reference", "kept", "moved"),
    [
        (
            "English",
            "INT. GENEVA CONFERENCE CENTRE, INTERPRETERS' BOOTH 4 - NIGHT\n\nPILAR waits.",
            "int. Geneva Conference Centre,  Interpreters’ Booth 4 - DAY\n\nPILAR waits.",
            "EXT. GLOBECRATE CONCAVE, INTERPRETER'S BOOTH - NIGHT\n\nPILAR waits.",
        ),
        (
            "Chinese",
            "内景 客栈大堂 - 夜\n\n△ 石满仓推门进来。",
            "外景 客栈大堂 - 日\n\n△ 石满仓坐下。",
            "内景 吊寬嘟嘟 - 夜\n\n△ 石满仓坐下。",
        ),
    ],
)
def test_a_scene_at_another_place_than_asked_is_counted(
    language: str, reference: str, kept: str, moved: str
) -> None:
    """The writer named the place; a take whose heading mangles it did not listen, whatever
    its setting, time of day, case or punctuation."""
    request = TaskRequest(
        TaskKind.SCENE, "The place, with PILAR", ("PILAR",), PromptContext(language=language)
    )
    corpus = CopyIndex([""])
    assert score_take(request, kept, reference, corpus).place_kept is True
    assert score_take(request, moved, reference, corpus).place_kept is False
    assert score_take(request, "PILAR waits.", reference, corpus).place_kept is False
    dialogue = TaskRequest(TaskKind.DIALOGUE, "x", ("PILAR",), PromptContext(language=language))
    assert score_take(dialogue, kept, reference, corpus).place_kept is None


@pytest.mark.parametrize(
    ("language", "names", "named", "others"),
    [
        (
            "English",
            ("PILAR", "ANSELM"),
            "INT. BOOTH - DAY\n\nPilar adjusts her headset.",
            "INT. BOOTH - DAY\n\nGILL waits. PILARS of smoke rise.",
        ),
        (
            "Chinese",
            ("唐小田", "大刘"),
            "内景 剪辑间 夜\n\n△ 大刘推门进来。",
            "内景 剪辑间 夜\n\n△ 铁三娘推门进来。",
        ),
    ],
)
def test_a_scene_that_stages_none_of_the_characters_asked_is_counted(
    language: str, names: tuple[str, ...], named: str, others: str
) -> None:
    """Asked for a scene with two people, a take that stages two others did not listen."""
    request = TaskRequest(TaskKind.SCENE, "The booth", names, PromptContext(language=language))
    corpus = CopyIndex([""])
    assert score_take(request, named, named, corpus).named_asked is True
    assert score_take(request, others, named, corpus).named_asked is False
    alone = TaskRequest(TaskKind.SCENE, "The booth", (), PromptContext(language=language))
    assert score_take(alone, others, named, corpus).named_asked is None


@pytest.mark.parametrize(
    ("language", "asked", "names", "followed", "elsewhere"),
    [
        (
            "English",
            "Diner, with MARA and TOM: Mara hides Tom from the sheriffs and steals the keys.",
            ("MARA", "TOM"),
            "INT. DINER - NIGHT\n\nMara drags Tom behind the counter. A SHERIFF stealing a "
            "look.\n\nMARA\nThe keys. Now.",
            "INT. DINER - NIGHT\n\nMara pours Tom a coffee. Tom reads the paper.",
        ),
        (
            "Chinese",
            "驾校，汤秀芝、熊磊在场：汤秀芝来驾校报名，熊磊让她先做三力测试。",
            ("汤秀芝", "熊磊"),
            "内景 驾校 日\n\n△ 汤秀芝走到窗口报名。\n\n熊磊：先做个三力测试。",
            "内景 驾校 日\n\n△ 汤秀芝喝茶。\n\n熊磊：今天下雨。",
        ),
    ],
)
def test_a_take_that_leaves_out_what_it_was_asked_for_is_counted(
    language: str, asked: str, names: tuple[str, ...], followed: str, elsewhere: str
) -> None:
    """A writer asks for what happens; a take about something else did not listen. Names do not
    count (every take names its people), nor the commonest words."""
    corpus = CopyIndex([""])
    for kind in (TaskKind.SCENE, TaskKind.DIALOGUE):
        request = TaskRequest(kind, asked, names, PromptContext(language=language))
        used = score_take(request, followed, followed, corpus).asked_words
        ignored = score_take(request, elsewhere, followed, corpus).asked_words
        assert used is not None and ignored is not None
        assert used >= 0.5 > 0.3 >= ignored, (used, ignored)
    beat = TaskRequest(TaskKind.BEAT, asked, (), PromptContext(language=language))
    assert score_take(beat, followed, followed, corpus).asked_words is None
    only_names = TaskRequest(TaskKind.SCENE, " and ".join(names), names)
    assert score_take(only_names, followed, followed, corpus).asked_words is None


def test_what_a_take_was_asked_for_is_not_its_begun_heading_nor_a_name_inside_a_word() -> None:
    """The heading a writer typed begins every take of it, so it shows nothing of whether the
    take listened; and a KIT asked to scrub the kitchen left the kitchen in what was asked."""
    corpus = CopyIndex([""])
    typed = TaskRequest(
        TaskKind.SCENE,
        "INT. KITCHEN - NIGHT — Kit scrubs the kitchen before the inspection",
        ("KIT",),
        PromptContext(language="English"),
    )
    followed = "INT. KITCHEN - NIGHT\n\nKit scrubs the floor. The inspection is at nine."
    ignored = "INT. KITCHEN - NIGHT\n\nKit eats soup by the window."
    assert score_take(typed, followed, followed, corpus).asked_words == 1.0
    assert score_take(typed, ignored, followed, corpus).asked_words == 0.0
    for kind in (TaskKind.SCENE, TaskKind.DIALOGUE):
        worded = TaskRequest(kind, "Kit scrubs the kitchen before the inspection.", ("KIT",))
        take = "Kit scrubs the kitchen for the inspection."
        assert score_take(worded, take, take, corpus).asked_words == 1.0
