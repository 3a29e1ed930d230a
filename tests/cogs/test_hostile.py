"""The Discord side against writers (and bots) who would undo others' work, spam the room or type
numbers no room has: an edit clears its take's votes on the ballot and says so; only the asker or
a showrunner edits or rerolls; only a showrunner branches, and a refused branch leaves no thread;
bots' reactions never count; commands, clicks and reactions share one cooldown per writer; huge
ids are answered "not found" on one line."""

from __future__ import annotations

import types
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext import commands
from discord.ext.test import backend as dpytest_backend
from discord.ext.test import factories as dpytest_facts

from bot.domain import ProposalStatus
from bot.errors import BadInput
from cogs.embeds import number_emoji
from cogs.views import EditButton, EditModal
from tests.cogs.conftest import BotFactory, FakeInteraction, Harness, settle

HUGE = 99999999999999999999  # beyond SQLite's signed 64-bit integers
COOLDOWN = "Easy there — one command every 30 s per writer; try again in"


def interaction(h: Harness, member: str, message: discord.Message | None = None) -> FakeInteraction:
    return FakeInteraction(h.bot, h.member(member), h.channel, message or h.last_ballot())


async def open_edit(h: Harness, member: str, take: int) -> FakeInteraction:
    """Click Edit on take `take` of proposal #1 as `member`."""
    clicked = interaction(h, member)
    await EditButton(1, take).callback(clicked.as_interaction())
    await settle()
    return clicked


async def submit_edit(h: Harness, member: str, modal: EditModal, text: str) -> FakeInteraction:
    """Submit the edit form as discord.py does: a failure goes to the modal's `on_error`."""
    modal.text._value = text
    submitted = FakeInteraction(h.bot, h.member(member), h.channel)
    try:
        await modal.on_submit(submitted.as_interaction())
    except Exception as err:
        await modal.on_error(submitted.as_interaction(), err)
    await settle()
    return submitted


def reaction_count(message: discord.Message, take: int) -> int:
    return next((r.count for r in message.reactions if str(r.emoji) == number_emoji(take)), 0)


def _member_who_is_a_bot(h: Harness, name: str) -> discord.Member:
    data = dpytest_facts.make_user_dict(name, 9, None, bot=True)
    user = dpytest_backend.get_state().store_user(data)  # type: ignore[arg-type]
    member = dpytest_backend.make_member(user, h.channel.guild)
    assert member.bot
    return member


# --- edits and rerolls ------------------------------------------------------------------------


async def test_an_edit_clears_its_takes_votes_on_the_ballot_and_says_so(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!room settings quorum:4", "ana")  # ana runs the room; nothing decides early
    await h.say("!scene The pier at dawn", "ben")
    ballot = h.last_ballot()
    await h.react("ana", ballot, number_emoji(2))
    await h.react("cy", ballot, number_emoji(2))
    await h.react("ben", ballot, number_emoji(1))
    opened = await open_edit(h, "ben", 2)
    modal = opened.answers[0].args[0]
    assert isinstance(modal, EditModal)
    submitted = await submit_edit(h, "ben", modal, "INT. PIER - DAWN\n\nBen's version: calm.")

    ben = h.member("ben").id
    said = f"Take 2 was edited by <@{ben}>; its 2 votes were cleared — vote again."
    assert submitted.answers[0].text.startswith("**Take 2** of proposal #1 (edited)")
    assert submitted.answers[-1].text == said
    assert not submitted.answers[-1].kwargs.get("ephemeral")  # the room hears it
    description = h.sent.last_ballot_edit()["embeds"][0]["description"]
    assert "Tally: 1️⃣ 1  2️⃣ 0  3️⃣ 0" in description
    assert said in description
    proposal = await h.room.proposal(h.room_id, 1)
    assert [(v.user_id, v.take) for v in proposal.votes] == [(ben, 1)]  # other takes' votes stay
    assert reaction_count(ballot, 2) == 1  # ana's and cy's numbers came off; the bot's is left
    assert reaction_count(ballot, 1) == 2
    # A voter votes again, for the text they now see.
    await h.react("ana", ballot, number_emoji(2))
    proposal = await h.room.proposal(h.room_id, 1)
    assert sorted(v.take for v in proposal.votes) == [1, 2]


async def test_a_third_writer_cannot_edit_or_reroll_anothers_takes(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn", "ana")  # ana asked, and she runs the room
    refusal = (
        "Only the writer who asked for proposal #1, or a showrunner, can {}; vote for the take "
        "you like instead."
    )
    opened = await open_edit(h, "cy", 1)
    (answer,) = opened.answers
    assert (answer.kind, answer.kwargs["ephemeral"]) == ("send_message", True)
    assert answer.text == refusal.format("edit its takes")  # refused before the form opens
    # A form opened before (say, when cy still ran the room) is refused on submission too.
    late = await submit_edit(h, "cy", EditModal(1, 1, "x"), "INT. PIER - DAWN\n\nCy's version.")
    assert late.answers[0].text == refusal.format("edit its takes")
    rerolled = interaction(h, "cy")
    await h.bot.board.click_reroll(rerolled.as_interaction(), 1)
    assert rerolled.answers[0].text == refusal.format("reroll it")
    assert rerolled.answers[0].kwargs["ephemeral"] is True
    proposal = await h.room.proposal(h.room_id, 1)
    assert proposal.status is ProposalStatus.OPEN
    assert all(t.edited_by is None for t in proposal.takes)
    assert len(h.generator.requests) == 1  # nothing was asked again


# --- branches ---------------------------------------------------------------------------------


class _Threads:
    """Stands in for Discord's thread creation (dpytest has no threads)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[str] = []
        self.deleted: list[int] = []
        threads = self

        class Thread:
            def __init__(self, number: int) -> None:
                self.id = 4242 + number
                self.mention = f"<#{self.id}>"

            async def delete(self) -> None:
                threads.deleted.append(self.id)

        async def create_thread(
            channel: discord.TextChannel, *, name: str, type: discord.ChannelType
        ) -> Thread:
            self.made.append(name)
            return Thread(len(self.made))

        monkeypatch.setattr(discord.TextChannel, "create_thread", create_thread)


async def test_only_a_showrunner_branches_and_not_faster_than_the_cooldown(
    make_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _Threads(monkeypatch)
    h = await make_bot(cooldown_s=30)
    await h.room.write(h.room_id, h.member("ana").id, "INT. KITCHEN - NIGHT\n\nMara pours.")
    await h.say("!room branch Ben's idea", "ben")
    assert h.sent.sends()[-1].content == (
        "Only a showrunner can branch this room, since a branch opens a new thread; ask a "
        "showrunner to branch it."
    )
    assert threads.made == []  # refused before any thread was made
    await h.say("!room branch Darker", "ana")
    assert h.sent.sends()[-1].content == "Branched into <#4243>."
    await h.say("!room branch Darker still", "ana")
    assert h.sent.sends()[-1].content.startswith(COOLDOWN)
    assert threads.made == ["Darker"]


async def test_a_branch_that_fails_after_its_thread_was_made_deletes_the_thread(
    make_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _Threads(monkeypatch)
    h = await make_bot()
    await h.say("!write INT. KITCHEN - NIGHT\n\nMara pours.", "ana")

    async def taken(*args: Any, **kwargs: Any) -> None:
        raise BadInput("That room already has a story of its own; branch into a new one.")

    monkeypatch.setattr(h.room, "branch", taken)
    await h.say("!room branch Darker", "ana")
    assert h.sent.sends()[-1].content.startswith("That room already has a story of its own")
    assert (threads.made, threads.deleted) == (["Darker"], [4243])


# --- reactions of bots, one cooldown for everything -------------------------------------------


async def test_reactions_of_other_bots_never_count(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!room settings pick_rule:first")  # one writer's vote would decide
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    robot = _member_who_is_a_bot(h, "robot")
    await dpytest.add_reaction(robot, ballot, number_emoji(2))
    await settle()
    proposal = await h.room.proposal(h.room_id, 1)
    assert (proposal.status, proposal.votes) == (ProposalStatus.OPEN, ())
    await dpytest.remove_reaction(robot, ballot, number_emoji(2))
    await settle()
    await h.react("cy", ballot, number_emoji(3))
    assert (await h.room.proposal(h.room_id, 1)).decided_take == 3


async def test_commands_clicks_and_reactions_share_one_cooldown_per_writer(
    make_bot: BotFactory,
) -> None:
    h = await make_bot(cooldown_s=30)
    await h.say("!scene The pier at dawn", "ana")
    ballot = h.last_ballot()
    ana, ben, cy = (h.member(n).id for n in ("ana", "ben", "cy"))

    # A click right after a command is refused, ephemerally, on one line.
    clicked = interaction(h, "ana")
    await h.bot.board.click_vote(clicked.as_interaction(), 1, 2)
    (answer,) = clicked.answers
    assert (answer.kind, answer.kwargs["ephemeral"]) == ("send_message", True)
    assert answer.text.startswith(COOLDOWN) and "\n" not in answer.text
    for button in ("edit", "reroll"):
        again = interaction(h, "ana")
        if button == "edit":
            await EditButton(1, 1).callback(again.as_interaction())
        else:
            await h.bot.board.click_reroll(again.as_interaction(), 1)
        assert again.answers[0].text.startswith(COOLDOWN)

    # A reaction right after a click is refused and taken off; the click's vote stays.
    clicked = interaction(h, "ben")
    await h.bot.board.click_vote(clicked.as_interaction(), 1, 2)
    assert clicked.answers[-1].text == "Your vote for take 2 counts."
    await h.react("ben", ballot, number_emoji(2))
    assert reaction_count(ballot, 2) == 1  # only the bot's own

    # A command right after a reaction is refused.
    await h.react("cy", ballot, number_emoji(1))
    await h.say("!cast", "cy")
    assert h.sent.sends()[-1].content.startswith(COOLDOWN)

    votes = (await h.room.proposal(h.room_id, 1)).votes
    assert sorted((v.user_id, v.take) for v in votes) == sorted([(ben, 2), (cy, 1)])
    assert ana not in {v.user_id for v in votes}


async def test_the_cooldown_also_limits_slash_commands_and_their_subcommands(
    make_bot: BotFactory,
) -> None:
    """A slash command's checks run in its hybrid app command (`_check_can_run`, which
    discord.py calls from `prepare`); the cooldown, a global check, runs there as well."""
    h = await make_bot(cooldown_s=30)
    for name in ("room branch", "room settings", "cast"):
        command = h.bot.get_command(name)
        assert isinstance(command, commands.HybridCommand) and command.app_command is not None
    branch, settings, cast = (
        h.bot.get_command(n) for n in ("room branch", "room settings", "cast")
    )

    async def slash(command: Any, member: str) -> bool:
        message = await h.say("typing…", member)  # what the context is built around
        ctx = await h.bot.get_context(message)
        invoked = types.SimpleNamespace(client=h.bot, _baton=ctx)
        return bool(await command.app_command._check_can_run(invoked))

    assert await slash(branch, "ana")
    with pytest.raises(commands.CommandOnCooldown):
        await slash(settings, "ana")
    assert await slash(settings, "ben")
    with pytest.raises(commands.CommandOnCooldown):
        await slash(cast, "ben")


# --- numbers beyond SQLite --------------------------------------------------------------------


async def test_huge_numbers_are_answered_not_found_on_one_line(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!write INT. KITCHEN - NIGHT\n\nMara pours two cups.")
    await h.say("!scene The pier at dawn")
    for line, answer in (
        (f"!pick 1 {HUGE}", f"There is no proposal #{HUGE} in this room."),
        (f"!pick 1 -{HUGE}", f"There is no proposal #-{HUGE} in this room."),
        (f"!pick {HUGE}", f"Proposal #1 has no take {HUGE}; its takes are 1 to 3."),
        (f"!show {HUGE}", f"There is no scene {HUGE}; the script has 1 scene."),
    ):
        await h.say(line)
        assert h.sent.sends()[-1].content == answer, line
    clicked = interaction(h, "ana")
    await h.bot.board.click_vote(clicked.as_interaction(), HUGE, 1)
    assert clicked.answers[0].text == f"There is no proposal #{HUGE} in this room."
