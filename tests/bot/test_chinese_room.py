"""A Chinese room writes in its own convention: `/write` takes `陈伯：打烊了。` as a speech and
`内景 茶馆 夜` as a scene heading, and the script exports as a 中文剧本 text file and as Word,
with the Chinese page for a room whose language is Chinese."""

from __future__ import annotations

import io

import docx

from bot.room import RoomService
from screenplay.types import Action, Character, Dialogue, Parenthetical, SceneHeading
from tests.bot.conftest import ANA, ROOM

SCENE = "内景 茶馆 夜\n△ 雨夜。茶馆只剩一盏灯。\n陈伯：（压低声音）打烊了。\n小梅：再坐一会儿。"


async def test_write_takes_the_chinese_convention(service: RoomService) -> None:
    lines = await service.write(ROOM, ANA, SCENE)
    kinds = [type(line.element) for line in lines]
    assert kinds == [
        SceneHeading,
        Action,
        Character,
        Parenthetical,
        Dialogue,
        Character,
        Dialogue,
    ]
    cues = [line.element.name for line in lines if isinstance(line.element, Character)]
    assert cues == ["陈伯", "小梅"]


async def test_a_single_speech_line_is_dialogue_and_fountain_stays_fountain(
    service: RoomService,
) -> None:
    speech = await service.write(ROOM, ANA, "陈伯：打烊了。")
    assert [type(line.element) for line in speech] == [Character, Dialogue]
    # A Fountain text with Chinese in it is read as Fountain: its colon line stays action.
    fountain = await service.write(ROOM, ANA, "@陈伯\n字幕：一年前。")
    assert [type(line.element) for line in fountain] == [Character, Dialogue]
    plain = await service.write(ROOM, ANA, "She waits: nobody comes.")
    assert [type(line.element) for line in plain] == [Action]


async def test_a_chinese_room_exports_its_convention_and_word(service: RoomService) -> None:
    await service.set_premise(ROOM, ANA, title="茶馆", language="Chinese")
    await service.write(ROOM, ANA, SCENE)
    text = (await service.export(ROOM, "zh")).decode("utf-8")
    assert "陈伯：（压低声音）打烊了。" in text
    assert "内景 茶馆 夜" in text
    word = docx.Document(io.BytesIO(await service.export(ROOM, "docx")))
    paragraphs = [p.text for p in word.paragraphs]
    assert any("陈伯" in p and "打烊了" in p for p in paragraphs)
    heading = next(p for p in word.paragraphs if "茶馆" in p.text and "夜" in p.text)
    assert all(run.bold for run in heading.runs if run.text.strip())
    assert (await service.export(ROOM, "pdf")).startswith(b"%PDF")


async def test_a_fresh_room_asked_in_chinese_becomes_a_chinese_room(service: RoomService) -> None:
    """The room's language follows the script of its first request: a Chinese premise makes a
    Chinese room (its prompts in Chinese), undone like any change; English stays English."""
    proposal, became_chinese = await service.propose_noting_language(
        ROOM, ANA, "premise", "一个茶馆老板在拆迁前的最后一夜"
    )
    assert became_chinese  # the front ends tell the room
    project = (await service.room(ROOM)).project
    assert project.language == "Chinese" and project.page_size.value == "a4"
    request, _ = await service.request_for(ROOM, proposal.id)
    assert request.context.language == "Chinese"
    # The room writes in Chinese already: the next request changes nothing, and says so.
    _, again = await service.propose_noting_language(ROOM, ANA, "beat", "拆迁办的人来了")
    assert not again
    await service.undo(ROOM, ANA)
    assert (await service.room(ROOM)).project.language == "English"


async def test_a_room_that_began_in_english_keeps_its_language(service: RoomService) -> None:
    _, became_chinese = await service.propose_noting_language(
        ROOM, ANA, "premise", "A ferry pilot's last crossing"
    )
    assert not became_chinese
    assert (await service.room(ROOM)).project.language == "English"
    await service.set_premise(ROOM, ANA, title="The Last Crossing")
    _, became_chinese = await service.propose_noting_language(
        ROOM, ANA, "dialogue", "陈伯和小梅在渡口告别", ["陈伯", "小梅"]
    )
    assert not became_chinese
    assert (await service.room(ROOM)).project.language == "English"


async def test_a_chinese_rooms_attribution_notes_are_chinese(service: RoomService) -> None:
    """Who wrote or picked each passage is noted in the script's own language, in the export
    and in `/show` alike: the whole room reads the same file."""
    await service.set_premise(ROOM, ANA, title="茶馆", language="Chinese")
    await service.write(ROOM, ANA, SCENE)
    proposal = await service.ask(ROOM, ANA, "dialogue", "小梅不肯走", ["小梅"])
    await service.pick(ROOM, ANA, proposal.id, 2)
    names = {ANA: "阿娜"}
    noted = (await service.export(ROOM, "zh", attribution=True, names=names)).decode("utf-8")
    assert "由 阿娜 撰写" in noted
    assert f"第 {proposal.id} 号提案的候选稿 2（模型 fake-model），由 阿娜 选定" in noted
    shown = await service.script_text(ROOM, attribution=True, names=names)
    assert "[[由 阿娜 撰写]]" in shown and "written by" not in shown
    fountain = (await service.export(ROOM, "fountain", attribution=True)).decode("utf-8")
    assert f"[[由 用户 {ANA} 撰写]]" in fountain
