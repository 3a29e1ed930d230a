"""A Chinese room is asked in Chinese and answered in the 中文剧本 convention; the training
targets of the Chinese corpus read back clean through the very parser the bot uses."""

from __future__ import annotations

import re

import pytest

from model.prompts import build_messages, format_answer, parse_answer, template_echo
from model.tasks import CharacterSheet, PromptContext, TaskKind, TaskRequest, is_chinese
from screenplay.types import Character, Dialogue
from training.data import CORPUS_DIR, examples_for, load_source

CJK = re.compile(r"[\u4e00-\u9fff]")

ROOM = PromptContext(
    title="最后一壶茶",
    logline="茶馆老板陈伯想在拆迁前守住最后一夜。",
    language="中文",
    characters=(CharacterSheet("陈伯", role="茶馆老板", personality="嘴硬心软"),),
    recent_script="INT. 茶馆 - NIGHT\n\n雨打在窗上。\n\n@陈伯\n(擦杯子)\n打烊了。\n",
    cast=("陈伯", "小梅"),
)


def dialogue(context: PromptContext = ROOM) -> TaskRequest:
    return TaskRequest(TaskKind.DIALOGUE, "小梅深夜来访", ("陈伯", "小梅"), context=context)


@pytest.mark.parametrize("name", ["Chinese", "中文", "zh-CN", " 汉语 ", "華語"])
def test_the_names_of_chinese_are_chinese(name: str) -> None:
    assert is_chinese(name)
    assert not is_chinese("English")


def test_a_chinese_room_is_asked_in_chinese_with_its_script_in_the_convention() -> None:
    system, user = (m["content"] for m in build_messages(dialogue()))
    assert "编剧" in system and "screenwriter" not in system
    assert "片名：最后一壶茶" in user and "陈伯（身份：茶馆老板；性格：嘴硬心软）" in user
    # The script so far as the model will write it: a Chinese heading, speech on one line.
    assert "内景 茶馆 夜" in user and "陈伯：（擦杯子）打烊了。" in user
    assert "INT." not in user and "@陈伯" not in user
    assert "写陈伯、小梅之间的对白" in user
    english = " ".join(re.findall(r"[A-Za-z]{4,}", user))
    assert english == "", english


def test_an_english_room_is_still_asked_in_english() -> None:
    context = PromptContext(title="Night Shift", recent_script="INT. DINER - NIGHT\n\nRain.\n")
    request = TaskRequest(TaskKind.DIALOGUE, "Ann comes in", ("JOE", "ANN"), context=context)
    text = "\n".join(m["content"] for m in build_messages(request))
    assert not CJK.search(text)
    assert "INT. DINER - NIGHT" in text


def test_a_take_in_the_convention_is_read_as_dialogue_and_chatter_is_dropped() -> None:
    take = (
        "好的，以下是对白：\n内景 茶馆 夜\n△ 门被推开。\n小梅：（喘气）还有茶吗？\n陈伯：打烊了。"
    )
    parsed = parse_answer(dialogue(), take)
    assert parsed.problems == ()
    assert "@小梅\n(喘气)\n还有茶吗？" in parsed.fountain
    assert "好的" not in parsed.fountain


def test_an_invented_speaker_in_a_chinese_take_is_flagged() -> None:
    parsed = parse_answer(dialogue(), "陈伯：打烊了。\n李四：你好。\n小梅：嗯。")
    assert any("李四" in problem for problem in parsed.problems)


def test_a_fountain_answer_in_a_chinese_room_is_still_read() -> None:
    parsed = parse_answer(dialogue(), "INT. 茶馆 - NIGHT\n\n@陈伯\n打烊了。\n\n@小梅\n我知道。\n")
    assert parsed.problems == ()
    assert "@陈伯\n打烊了。" in parsed.fountain


@pytest.mark.parametrize(
    "take",
    [
        "片名：<片名>\n梗概：<一句话：谁想要什么，什么阻挡着他>",
        "内景 茶馆 夜\n陈伯：打烊了。\n小梅：（笑）我不是来喝茶的。",
        "陈伯：用一到三句话提出下一个情节发展或转折。",
        "姓名：小梅\n性格：…",
    ],
)
def test_a_chinese_take_that_copies_the_format_is_an_echo(take: str) -> None:
    assert template_echo(take) is not None


def test_a_chinese_take_in_its_own_words_is_not_an_echo() -> None:
    assert template_echo("陈伯：我只说一句话：滚。\n小梅：（笑）你舍不得。") is None


def test_chinese_sheets_and_premises_read_back() -> None:
    sheet = CharacterSheet("小梅", role="大学生", personality="倔强", voice="说话快")
    asked = TaskRequest(TaskKind.CHARACTER, "小梅", ("小梅",), context=ROOM)
    text = format_answer(TaskKind.CHARACTER, sheet=sheet, language="中文")
    assert text.splitlines()[0] == "姓名：小梅"
    assert parse_answer(asked, text).sheet == sheet
    premise = TaskRequest(TaskKind.PREMISE, "茶馆", context=ROOM)
    text = format_answer(
        TaskKind.PREMISE, title="最后一壶茶", logline="他想守住茶馆。", language="中文"
    )
    read = parse_answer(premise, text)
    assert (read.title, read.logline, read.problems) == ("最后一壶茶", "他想守住茶馆。", ())


def test_a_chinese_heading_is_no_beat() -> None:
    beat = TaskRequest(TaskKind.BEAT, "", context=ROOM)
    assert parse_answer(beat, "1-1 日 内 客厅").problems
    assert parse_answer(beat, "小梅发现陈伯早就把茶馆卖了。").problems == ()


def test_every_chinese_training_target_is_in_the_convention_and_reads_back_clean() -> None:
    """What training teaches for a Chinese script is exactly what the bot's parser reads: the
    answers of every task of the Chinese corpus parse without a problem, and the script answers
    are written in the convention (one-line speeches, no Fountain cues)."""
    scripts = [s for s in load_source(CORPUS_DIR) if is_chinese(s.language)]
    assert scripts
    for script in scripts:
        for example in examples_for(script):
            assert example.request is not None
            assert "编剧" in example.messages[0]["content"]
            parsed = parse_answer(example.request, example.answer)
            assert parsed.problems == (), (script.name, example.kind, parsed.problems)
            if example.kind is TaskKind.DIALOGUE:
                assert "@" not in example.answer and "：" in example.answer
                assert "\n@" in parsed.fountain


def test_a_speech_read_from_the_convention_keeps_its_words() -> None:
    from screenplay.fountain import parse_fountain

    parsed = parse_answer(dialogue(), "陈伯：（压低声音）打烊了，明天请早。\n小梅：好。")
    elements = parse_fountain(parsed.fountain).elements
    cues = [e.name for e in elements if isinstance(e, Character)]
    words = [e.text.plain for e in elements if isinstance(e, Dialogue)]
    assert cues == ["陈伯", "小梅"] and words == ["打烊了，明天请早。", "好。"]


def test_a_model_that_learned_the_first_prompt_format_is_asked_in_english() -> None:
    """An adapter trained before the Chinese prompts (format 1) is asked as it learned: English
    instructions, the script in Fountain, and the room's language named."""
    system, user = (m["content"] for m in build_messages(dialogue(), prompt_format=1))
    assert "screenwriter" in system and "Write everything in 中文." in system
    assert "INT. 茶馆 - NIGHT" in user and "@陈伯" in user
    assert "编剧室" not in system + user
