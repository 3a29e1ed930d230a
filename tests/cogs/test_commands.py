"""The room commands end to end: `!` messages through discord.py and dpytest, a real room on
SQLite, canned takes. Slash commands share the callbacks; their options are checked on the
command tree."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
import screenplain.parsers.fountain as screenplain_fountain
from discord.ext import commands

from bot.domain import ProposalStatus
from cogs.embeds import number_emoji
from cogs.errors import APOLOGY
from tests.cogs.conftest import BotFactory, FakeInteraction, Harness, settle


async def vote_by_reactions(h: Harness, take: int, *writers: str) -> None:
    ballot = h.last_ballot()
    for writer in writers:
        await h.react(writer, ballot, number_emoji(take))


async def last_attachment(h: Harness) -> tuple[str, bytes]:
    message = next(m for m in reversed(list(h.bot.cached_messages)) if m.attachments)
    attachment = message.attachments[0]
    return attachment.filename, await attachment.read()


async def test_a_room_writes_a_scene_and_exports_fountain_that_screenplain_reads(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!premise A ferry pilot crosses a strait in a storm")
    await vote_by_reactions(h, 2, "ana", "ben")
    await h.say("!character Mara a tired ferry pilot")
    await vote_by_reactions(h, 1, "ana", "ben")
    await h.say("!scene The ferry deck in the storm")
    await vote_by_reactions(h, 3, "ben", "cy")
    await h.say('!dialogue "Mara argues with Tom" MARA, TOM')
    # One writer clicks a button, the other reacts: both are votes.
    ballot = h.last_ballot()
    proposal = await h.room.proposal(h.room_id, 4)
    click = FakeInteraction(h.bot, h.member("cy"), h.channel, ballot)
    await h.bot.board.click_vote(click.as_interaction(), proposal.id, 1)
    await h.react("ana", ballot, number_emoji(1))

    assert h.generator.requests[3].characters == ("MARA", "TOM")
    room = await h.room.room(h.room_id)
    assert room.project.title == "THE FERRY 2"
    assert [c.name for c in room.characters] == ["MARA"]

    await h.say("!export fountain")
    filename, data = await last_attachment(h)
    assert filename == "THE_FERRY_2.fountain"
    parsed = screenplain_fountain.parse(io.StringIO(data.decode("utf-8")))
    assert parsed.title_page["Title"] == ["THE FERRY 2"]
    kinds = [type(p).__name__ for p in parsed.paragraphs]
    assert kinds == ["Slug", "Action", "Dialog", "Dialog"]
    # A Chinese title names the file in Chinese.
    await h.room.set_premise(h.room_id, h.member("ana").id, title="雨夜/茶馆..final")
    await h.say("!export fountain")
    assert (await last_attachment(h))[0] == "雨夜_茶馆_final.fountain"
    slug, action, mara, tom = parsed.paragraphs
    assert str(slug.line) == "INT. FERRY DECK - NIGHT"
    assert "Take 3: rain hammers the deck." in str(action.lines[0])
    assert (str(mara.character), str(tom.character)) == ("MARA", "TOM")
    assert str(mara.blocks[0][1]) == "We cross tonight, take 1."

    await h.say("!export fountain true")
    _, data = await last_attachment(h)
    notes = [line for line in data.decode("utf-8").splitlines() if line.startswith("[[")]
    assert notes == [
        "[[take 3 of proposal #3 (model canned-model), picked by cy_2_nick]]",
        "[[take 1 of proposal #4 (model canned-model), picked by ana_0_nick]]",
    ]


async def test_every_export_format_is_an_attachment(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!write INT. KITCHEN - NIGHT\n\nMara pours two cups.")
    for fmt, magic in (("fdx", b"<?xml"), ("pdf", b"%PDF"), ("html", b"<!DOCTYPE html")):
        await h.say(f"!export {fmt}")
        filename, data = await last_attachment(h)
        assert filename == f"script.{fmt}"
        assert data.lstrip()[: len(magic)].lower() == magic.lower()


async def test_a_room_error_is_answered_on_one_line(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!pick 1")
    assert h.sent.sends()[-1].content == "There is no proposal open to votes in this room."
    await h.say("!write Title: The Pilot\n\nINT. CABIN - NIGHT")
    answer = h.sent.sends()[-1].content
    assert answer.startswith("Title page lines (Title:, Author: ...) do not go into the script;")
    assert "\n" not in answer
    await h.say("!export rtf")
    assert h.sent.sends()[-1].content.startswith("That option does not fit:")


async def test_an_unexpected_error_is_logged_and_answered_with_an_apology(
    make_bot: BotFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    h = await make_bot()

    async def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("disk on fire")

    monkeypatch.setattr(h.room, "characters", broken)  # what /cast reads
    with caplog.at_level(logging.ERROR), pytest.raises(commands.CommandInvokeError):
        await h.say("!cast")
    assert h.sent.sends()[-1].content == APOLOGY
    assert any("disk on fire" in str(r.exc_info) for r in caplog.records)


async def test_the_cooldown_refuses_a_burst_politely_per_writer(make_bot: BotFactory) -> None:
    h = await make_bot(cooldown_s=30)
    await h.say("!cast", "ana")
    await h.say("!outline", "ana")
    refusal = h.sent.sends()[-1].content
    assert refusal.startswith("Easy there — one command every 30 s per writer; try again in")
    await h.say("!cast", "ben")
    assert h.sent.sends()[-1].payload["embeds"][0]["title"] == "Cast"


async def test_write_show_undo_and_redo(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!write INT. KITCHEN - NIGHT\n\nMara pours two cups.")
    assert h.sent.sends()[-1].content == "Wrote 2 lines into the script (lines 1–2)."
    await h.say("!write EXT. PIER - DAWN\n\nGulls.")
    await h.say("!show 2")
    assert h.sent.sends()[-1].content == "```\nEXT. PIER - DAWN\n\nGulls.\n```"
    await h.say("!undo")
    assert h.sent.sends()[-1].content == "Undid: wrote 2 lines."
    assert len(await h.room.show(h.room_id)) == 2
    await h.say("!redo")
    assert len(await h.room.show(h.room_id)) == 4
    await h.say("!show 3")
    assert h.sent.sends()[-1].content == "There is no scene 3; the script has 2 scenes."


async def test_another_writers_change_needs_a_showrunner_to_undo(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!write INT. KITCHEN - NIGHT", "ana")  # ana opened the room: its showrunner
    await h.say("!undo", "ben")
    assert h.sent.sends()[-1].content.startswith("The last change (wrote 1 line) is another")
    assert len(await h.room.show(h.room_id)) == 1


async def test_cast_outline_character_sheet_and_beats(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!character Mara a tired ferry pilot")
    await vote_by_reactions(h, 2, "ana", "ben")
    await h.say("!character")
    embed = h.sent.sends()[-1].payload["embeds"][0]
    assert embed["fields"][0]["name"] == "MARA"
    await h.say("!character mara")
    embed = h.sent.sends()[-1].payload["embeds"][0]
    assert embed["title"] == "MARA"
    assert {"name": "Role", "value": "lead of take 2", "inline": False} in embed["fields"]
    await h.say("!beat a storm hits")
    await vote_by_reactions(h, 1, "ana", "ben")
    await h.say("!outline")
    assert h.sent.sends()[-1].payload["embeds"][0]["description"] == "1. Beat take 1"


async def test_room_settings_change_the_pick_rule_and_need_a_showrunner(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!room settings pick_rule:first takes:2 deadline:10m", "ana")
    assert len(h.sent.sends()) == 1  # the settings, once (not the group's own answer too)
    settings = await h.room.settings(h.room_id)
    assert (settings.pick_rule.value, settings.takes_per_request) == ("first", 2)
    assert settings.vote_deadline_s == 600
    await h.say("!room settings quorum:3", "ben")
    assert h.sent.sends()[-1].content == "Only a showrunner can change the room's settings."
    ben = h.member("ben")
    await h.say(f"!room settings showrunners:<@{ben.id}>", "ana")
    assert (await h.room.settings(h.room_id)).showrunners == (ben.id,)
    # Under the first-vote rule one reaction decides; two takes were asked for.
    await h.say("!scene The pier at dawn", "cy")
    assert len((await h.room.proposal(h.room_id, 1)).takes) == 2
    await vote_by_reactions(h, 2, "cy")
    proposal = await h.room.proposal(h.room_id, 1)
    assert (proposal.status, proposal.decided_take) == (ProposalStatus.DECIDED, 2)


async def test_pick_lets_a_showrunner_decide_and_reset_wants_confirmation(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn", "ana")
    await h.say("!pick 3", "ben")
    assert h.sent.sends()[-1].content == "Only a showrunner can pick a take; vote for it instead."
    await h.say("!pick 3", "ana")
    proposal = await h.room.proposal(h.room_id, 1)
    assert proposal.decided_take == 3
    assert h.sent.last_ballot_edit()["embeds"][0]["title"] == "Proposal #1: take 3 went in"
    await h.say("!room reset", "ana")
    assert h.sent.sends()[-1].content.startswith("A reset empties the story")
    await h.say("!room reset true", "ana")
    assert not (await h.room.room(h.room_id)).script


async def test_import_makes_an_uploaded_fountain_file_the_script(
    make_bot: BotFactory, tmp_path: pytest.TempPathFactory
) -> None:
    h = await make_bot()
    upload = tmp_path / "pilot.fountain"  # type: ignore[operator]
    upload.write_text(
        "Title: The Pilot\n\nINT. CABIN - NIGHT\n\nWind.\n\nMARA\nHold on.\n\n"
        "EXT. DECK - NIGHT\n\nWaves.\n",
        encoding="utf-8",
    )
    import discord.ext.test as dpytest

    await dpytest.message(
        "!import", channel=h.channel, member=h.member("ana"), attachments=[str(upload)]
    )
    await settle()
    assert h.sent.sends()[-1].content == (
        "Imported pilot.fountain: 6 lines are now the room's script."
    )
    room = await h.room.room(h.room_id)
    assert room.project.title == "The Pilot"
    assert len(room.script) == 6
    await dpytest.message(
        "!import", channel=h.channel, member=h.member("ana"), attachments=[str(upload)]
    )
    assert h.sent.sends()[-1].content.startswith("This room already has a script")


async def test_status_and_help(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!status")
    description = h.sent.sends()[-1].payload["embeds"][0]["description"]
    assert description.startswith("The model's status is not available.")
    assert "This room: 0 proposal(s) pending." in description
    await h.say("!help")
    embeds = h.sent.sends()[-1].payload["embeds"]
    help_text = "\n".join(embed["description"] for embed in embeds)
    assert sum(len(e["description"]) + len(e.get("title", "")) for e in embeds) <= 6000
    for usage in ("/premise <idea>", "/dialogue <situation>", "/room settings", "/export"):
        assert usage in help_text
    # every cog's commands, not only the room's: the bible's and the revision commands too
    for usage in ("/bible edit", "/location add", "/revise", "/history", "/draft save"):
        assert usage in help_text


async def test_slash_commands_have_descriptions_choices_and_autocomplete(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    tree: dict[str, Any] = {c.name: c for c in h.bot.tree.get_commands()}
    expected = {"premise", "character", "scene", "dialogue", "beat", "continue", "write"}
    expected |= {"show", "cast", "outline", "undo", "redo", "pick", "export", "import"}
    expected |= {"room", "status", "help", "bible", "location", "vary", "stats"}
    expected |= {"revise", "delete", "move", "insert", "history", "draft"}
    assert set(tree) == expected
    revise = {p.name for p in tree["revise"].parameters}
    assert revise == {"file", "line", "scene", "text"}
    assert {p.name for p in tree["undo"].parameters} == {"to"}
    assert "changes_since" in {p.name for p in tree["export"].parameters}
    export = {p.name: p for p in tree["export"].parameters}
    assert [c.value for c in export["format"].choices] == [
        "fountain",
        "fdx",
        "pdf",
        "html",
        "zh",
        "docx",
    ]
    assert (
        export["format"].description
        == "fountain, fdx (Final Draft), pdf, html, docx (Word) or zh (中文剧本 .txt)"
    )
    dialogue = {p.name: p for p in tree["dialogue"].parameters}
    assert dialogue["characters"].autocomplete
    settings = next(c for c in tree["room"].commands if c.name == "settings")
    options = {p.name: p for p in settings.parameters}
    assert [c.value for c in options["pick_rule"].choices] == ["first", "majority", "showrunner"]
    assert all(p.description and p.description != "…" for p in options.values())
    assert isinstance(h.bot, commands.AutoShardedBot)
    # What a sync would send Discord is well formed (names, option types, limits).
    payload = [c.to_dict(h.bot.tree) for c in h.bot.tree.get_commands()]
    attachment = next(p for p in payload if p["name"] == "import")["options"][0]
    assert (attachment["name"], attachment["type"]) == ("file", 11)


async def test_slash_write_without_text_opens_a_form_whose_lines_go_in(
    make_bot: BotFactory,
) -> None:
    from cogs.views import WriteModal

    h = await make_bot()
    modal = WriteModal()
    modal.text._value = "INT. KITCHEN - NIGHT\n\nMara pours two cups."
    submit = FakeInteraction(h.bot, h.member("ana"), h.channel)
    await modal.on_submit(submit.as_interaction())
    assert submit.answers[0].text == "Wrote 2 lines into the script (lines 1–2)."
    assert len(await h.room.show(h.room_id)) == 2


async def test_branch_starts_a_thread_that_carries_the_story(
    make_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import discord

    h = await make_bot()
    await h.say("!write INT. KITCHEN - NIGHT\n\nMara pours two cups.")
    threads: list[tuple[str, discord.ChannelType]] = []

    class Thread:  # dpytest has no threads: the one Discord call is stood in for
        id = 4242
        mention = "<#4242>"

    async def create_thread(self: discord.TextChannel, *, name: str, type: discord.ChannelType):
        threads.append((name, type))
        return Thread()

    monkeypatch.setattr(discord.TextChannel, "create_thread", create_thread)
    await h.say("!room branch Ferry, darker")
    assert threads == [("Ferry, darker", discord.ChannelType.public_thread)]
    assert h.sent.sends()[-1].content == "Branched into <#4242>."
    assert len(await h.room.show(4242)) == 2


async def test_a_broken_cog_is_logged_and_the_others_still_load(
    make_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="cogs.client"):
        h = await make_bot(extensions=("cogs.errors", "cogs.no_such_cog", "cogs.room"))
    assert h.bot.failed_extensions == ["cogs.no_such_cog"]
    assert "the cog cogs.no_such_cog failed to load" in caplog.text
    await h.say("!cast")
    assert h.sent.sends()[-1].payload["embeds"][0]["title"] == "Cast"
