"""Revising together in Discord: the bible, locations, the outline, the style and sampling, a
direction, variations, takes with problems, and reading the script like a script, through
`!` messages (dpytest) on a real room, across a restart."""

from __future__ import annotations

import dataclasses
from typing import Any

from model.tasks import GeneratedTake
from tests.cogs.conftest import BotFactory, CannedGenerator, FakeInteraction, canned_take
from tests.fakes import Call


def _embed(h: Any) -> dict[str, Any]:
    embed: dict[str, Any] = h.sent.sends()[-1].payload["embeds"][0]
    return embed


def _flawed(call: Call, number: int) -> GeneratedTake:
    take = canned_take(call, number)
    return (
        dataclasses.replace(take, problems=("TOM's speech is cut off.",)) if number == 2 else take
    )


async def test_a_room_that_chooses_chinese_hears_what_the_built_in_model_makes_of_it(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!room style language:中文")
    notice = h.sent.sends()[-1].content
    assert "writes Chinese poorly" in notice and "docs/DEPLOY.md" in notice
    assert "Language: Chinese" in _embed(h)["description"]
    await h.say("!room style genre:武侠")  # the language is not chosen again: no notice again
    assert not h.sent.sends()[-1].content
    await h.say("!room style language:English")
    assert not h.sent.sends()[-1].content


async def test_a_fresh_room_asked_in_chinese_is_told_it_writes_in_chinese_now(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!premise 一个茶馆老板在拆迁前的最后一夜")
    told = h.sent.sends()[-1].content  # beneath the ballot of its takes
    assert told.startswith("This room writes in Chinese now") and "/undo" in told
    assert "writes Chinese poorly" in told  # the built-in model
    assert (await h.room.room(h.room_id)).project.language == "Chinese"
    await h.say("!premise 拆迁办的年轻职员第二天又来了")
    assert "writes in Chinese now" not in h.sent.sends()[-1].content


async def test_a_room_served_by_a_larger_model_hears_no_such_notice(
    make_bot: BotFactory,
) -> None:
    h = await make_bot(model="Qwen/Qwen2.5-7B-Instruct")
    await h.say("!premise 一个茶馆老板在拆迁前的最后一夜")
    told = h.sent.sends()[-1].content
    assert told.startswith("This room writes in Chinese now") and "DEPLOY" not in told
    await h.say("!room style language:中文")
    assert not h.sent.sends()[-1].content
    assert "Language: Chinese" in _embed(h)["description"]


async def test_the_bible_outline_and_style_commands_survive_a_restart_and_undo(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!character Mara a tired ferry pilot")
    await h.say("!pick 1")
    await h.say('!location add name:"ferry deck" description:"wet steel"')
    assert h.sent.sends()[-1].content == "Added the location FERRY DECK."
    await h.say("!room style genre:noir language:French paper:a4 notes:short")
    assert "Genre: noir" in _embed(h)["description"]
    await h.say("!room settings top_p:0.9 top_k:20 repetition_penalty:1.2")
    assert "top-p 0.9; top-k 20; repetition penalty 1.2" in _embed(h)["description"]
    await h.say("!beat a storm hits")
    await h.say("!pick 1")
    await h.restart()  # the bot restarts on the same database
    await h.say("!bible edit name:mara voice:gruff")
    assert h.sent.sends()[-1].content == "MARA's sheet is updated."
    await h.say('!location edit name:"ferry deck" description:"rusted"')
    await h.say("!outline edit 1 The storm breaks the mast")
    assert h.sent.sends()[-1].content == "Beat 1 (planned): The storm breaks the mast"
    await h.say("!bible")
    fields = {f["name"]: f["value"] for f in _embed(h)["fields"]}
    assert fields["Locations"] == "FERRY DECK: rusted" and "MARA" in fields
    await h.say("!outline remove 1")
    await h.say("!bible remove mara")
    await h.say("!location remove ferry deck")
    room = await h.room.room(h.room_id)
    assert (room.characters, room.locations, room.beats) == ((), (), ())
    for _ in range(3):
        await h.say("!undo")
    room = await h.room.room(h.room_id)
    assert room.characters[0].voice == "gruff" and room.beats[0].text.startswith("The storm")
    assert room.project.page_size.value == "a4"
    settings = await h.room.settings(h.room_id)
    assert (settings.top_p, settings.top_k, settings.repetition_penalty) == (0.9, 20, 1.2)


async def test_direction_vary_a_flawed_take_attribution_and_stats(make_bot: BotFactory) -> None:
    h = await make_bot(generator=CannedGenerator(write=_flawed))
    await h.say("!write INT. DECK - NIGHT")
    await h.say("!continue Mara finally snaps")
    assert h.generator.requests[-1].prompt == "Mara finally snaps"
    ballot = h.last_ballot()
    description = ballot.embeds[0].description or ""
    assert "Take 2 has problems (TOM's speech is cut off.): votes cannot put it in" in description
    click = FakeInteraction(h.bot, h.member("ben"), h.channel, ballot)
    await h.bot.board.click_vote(click.as_interaction(), 1, 2)
    assert any("still has problems" in str(a) for a in click.answers)
    await h.say("!vary 2")
    assert h.generator.requests[-1].variation.strip()
    assert h.generator.requests[-1].prompt == "Mara finally snaps"
    proposal = max(p.id for p in await h.room.pending_proposals(h.room_id))
    await h.say(f"!pick 1 {proposal}")
    await h.say("!show 1 true")
    shown = h.sent.sends()[-1].content
    assert "[[written by ana_0_nick]]" in shown and "picked by ana_0_nick" in shown
    await h.say("!stats")
    embed = _embed(h)
    assert embed["description"].startswith("1 page(s) (letter)")
    assert any(f["name"] == "Lines per character" for f in embed["fields"])
    await h.say("!export fountain")
    message = next(m for m in reversed(list(h.bot.cached_messages)) if m.attachments)
    text = (await message.attachments[0].read()).decode()
    assert "Credit: Written by\nAuthor: ana\\_0\\_nick" in text  # Fountain escapes _


async def test_a_writer_adds_a_sheet_and_a_beat_without_the_model(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say('!bible add name:mara role:"ferry pilot" voice:clipped')
    assert h.sent.sends()[-1].content == "MARA is in the bible."
    await h.say("!outline add The storm hits")
    assert h.sent.sends()[-1].content == "Beat 1: The storm hits"
    room = await h.room.room(h.room_id)
    assert (room.characters[0].role, room.beats[0].text) == ("ferry pilot", "The storm hits")
    await h.say("!undo")
    await h.say("!undo")
    room = await h.room.room(h.room_id)
    assert (room.characters, room.beats) == ((), ())
