"""The console's commands for revising together, as a writer types them, across a restart."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from bot.app import open_app
from bot.commandline import COMMANDS
from bot.console_session import run_console
from bot.settings import Settings
from model.tasks import GeneratedTake
from tests.fakes import Call, FakeGenerator, canned_take


async def _session(db: Path, lines: str, generator: FakeGenerator) -> dict[str, str]:
    out = io.StringIO()
    async with open_app(Settings(database=db), generator=generator) as app:
        await run_console(app, lines.strip().splitlines(), out, echo=True)
    answers: dict[str, str] = {}
    text = "\n" + out.getvalue()
    for block in text.split("\n> ")[1:]:
        command, _, answer = block.partition("\n")
        answers[command] = answer
    return answers


def _second_take_flawed(call: Call, number: int) -> GeneratedTake:
    take = canned_take(call, number)
    return (
        dataclasses.replace(take, problems=("MARA's speech is cut off.",)) if number == 2 else take
    )


async def test_bible_style_settings_and_outline_commands_across_a_restart(tmp_path: Path) -> None:
    db, generator = tmp_path / "room.db", FakeGenerator()
    first = await _session(
        db,
        """
/write text:"INT. DECK - NIGHT\\n\\nRain.\\n\\nMARA\\nGo."
/bible
/location add name:"ferry deck" description:"wet steel"
/room style genre:noir tone:wry language:French notes:"short lines" paper:a4
/room settings top_p:0.9 top_k:20 repetition_penalty:1.2 temperature:0.7
/room settings top_p:0
/beat
/pick take:1
""",
        generator,
    )
    assert first["/bible"].startswith("The bible is empty")
    assert (
        "Added the location FERRY DECK."
        in first['/location add name:"ferry deck" description:"wet steel"']
    )
    style = first['/room style genre:noir tone:wry language:French notes:"short lines" paper:a4']
    assert "genre:noir tone:wry language:French paper:a4" in style
    assert (
        "top_p:0.9 top_k:20 repetition_penalty:1.2"
        in first["/room settings top_p:0.9 top_k:20 repetition_penalty:1.2 temperature:0.7"]
    )
    assert first["/room settings top_p:0"].startswith("error: Top-p must be above 0")
    second = await _session(
        db,
        """
/character name:Tom
/pick take:1
/bible edit name:tom voice:"gruff" rename:"Tom Reyes"
/location edit name:"ferry deck" description:"rusted steel"
/outline edit number:1 text:"Mara leaves port"
/bible
/outline remove number:1
/outline
/undo
/bible remove name:"tom reyes"
/location remove name:"ferry deck"
/undo
/undo
/bible
""",
        generator,
    )
    assert "TOM REYES" in second['/bible edit name:tom voice:"gruff" rename:"Tom Reyes"']
    assert "Voice: gruff" in second["/bible"]
    assert (
        "1. [planned] Mara leaves port" in second['/outline edit number:1 text:"Mara leaves port"']
    )
    assert second["/outline"].startswith("The outline has no beats yet")
    final = second["/bible"]
    assert "TOM REYES" in final and "FERRY DECK: rusted steel" in final
    request = generator.requests[-1]
    assert request.context.genre == "noir" and request.context.language == "French"
    assert (generator.calls[-1].sampling.top_p, generator.calls[-1].sampling.top_k) == (0.9, 20)


async def test_direction_vary_problems_attribution_and_stats(tmp_path: Path) -> None:
    db = tmp_path / "room.db"
    generator = FakeGenerator(write=_second_take_flawed)
    answers = await _session(
        db,
        """
/continue direction:"Mara finally snaps"
@ben /vote take:2
/vary take:2
/pick take:1
/show attribution:true
/stats
""",
        generator,
    )
    assert generator.requests[0].prompt == "Mara finally snaps"
    ballot = answers['/continue direction:"Mara finally snaps"']
    assert "problems: MARA's speech is cut off. — a vote cannot put it in" in ballot
    assert answers["@ben /vote take:2"].startswith(
        "error: Take 2 of proposal #1 still has problems"
    )
    assert "Take 2 of the scene." in generator.requests[1].variation
    assert "Varying take 2 of proposal #1 as #2." in answers["/vary take:2"]
    assert (
        "[[take 1 of proposal #2 (model fake-model), picked by you]]"
        in answers["/show attribution:true"]
    )
    assert answers["/stats"].startswith("1 page (letter)")
    assert "MARA: 1 line, 3 words" in answers["/stats"]


def test_help_lists_every_new_command_with_an_example() -> None:
    names = {c.name for c in COMMANDS}
    new = {"bible", "bible edit", "bible remove", "location add", "location edit"}
    new |= {"location remove", "outline edit", "outline remove", "room style", "vary", "stats"}
    assert new <= names
    for command in COMMANDS:
        if command.name in new - {"bible", "stats"}:
            assert f"/{command.name} " in str(command.summary), command.name


async def test_a_writer_adds_a_sheet_and_a_beat_without_the_model(tmp_path: Path) -> None:
    """`/bible add` and `/outline add` write to the bible and the outline directly; each is one
    undoable change."""
    db, generator = tmp_path / "room.db", FakeGenerator()
    added = await _session(
        db,
        """
/bible add name:Mara role:"ferry pilot" voice:"clipped"
/outline add text:"The storm hits"
/outline
""",
        generator,
    )
    assert "MARA" in added['/bible add name:Mara role:"ferry pilot" voice:"clipped"']
    assert "Role: ferry pilot" in added['/bible add name:Mara role:"ferry pilot" voice:"clipped"']
    assert "The storm hits" in added["/outline"]
    undone = await _session(db, "/undo\n/outline\n/bible", generator)
    assert "The storm hits" not in undone["/outline"]
    assert "MARA" in undone["/bible"]
    assert generator.calls == []  # no model was asked


async def test_a_fresh_console_room_asked_in_chinese_is_told_it_writes_in_chinese_now(
    tmp_path: Path,
) -> None:
    answers = await _session(
        tmp_path / "room.db",
        """
/premise idea:一个茶馆老板在拆迁前的最后一夜
/premise idea:拆迁办的年轻职员第二天又来了
""",
        FakeGenerator(),
    )
    first, second = answers.values()
    assert "This room writes in Chinese now" in first and "/undo" in first
    assert "writes Chinese poorly" in first  # the built-in model, by the settings
    assert "writes in Chinese now" not in second
