"""Ballots: votes by reaction and by button, the bot's own reactions, restarts, rerolls, edits,
deadlines, progress, and what a take can (not) do to the channel — mentions and length."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from typing import Any

import discord

from bot.domain import Ballot, Proposal, ProposalStatus
from bot.messages import SIMPLIFIED
from bot.settings import Settings
from cogs.client import WritersRoomBot
from cogs.embeds import number_emoji, progress_text
from cogs.split import MESSAGE_LIMIT
from cogs.views import DYNAMIC_ITEMS, EditModal
from model.tasks import Progress, TaskKind
from tests.cogs.conftest import BotFactory, CannedGenerator, FakeInteraction, Harness, settle
from tests.conftest import room_events
from tests.fakes import Call, raises


def ballot_payloads(h: Harness) -> list[dict[str, Any]]:
    return [s.payload for s in h.sent.sends() if s.custom_ids]


async def click(h: Harness, bot_h: Harness, custom_id: str, member: str, **kw: Any) -> Any:
    """Click the button `custom_id` the way discord.py's view store does on an interaction:
    find the dynamic item registered for the id, build it from the id, run its callback."""
    store = bot_h.bot._connection._view_store
    factory, match = next(
        (cls, found)
        for pattern, cls in store._dynamic_items.items()
        if (found := pattern.fullmatch(custom_id)) is not None
    )
    interaction = FakeInteraction(bot_h.bot, h.member(member), h.channel, h.last_ballot(), **kw)
    base: discord.ui.Button[discord.ui.View] = discord.ui.Button(custom_id=custom_id)
    item = await factory.from_custom_id(interaction.as_interaction(), base, match)
    await item.callback(interaction.as_interaction())
    await settle()
    return interaction


def last_edit_title(h: Harness, message: discord.Message) -> str:
    """The title the bot's last message operation gave `message` (which must be an edit of it)."""
    edit = h.sent.items[-1]
    assert (edit.kind, edit.message_id) == ("edit", message.id)
    return str(edit.payload["embeds"][0]["title"])


async def bury_and_restart(h: Harness) -> None:
    """A busy room (the ballot is no longer among the latest 100 messages), then a restart with
    nothing sent since."""
    await chatter(h, 120)
    await h.restart()
    h.sent.clear()


async def chatter(h: Harness, messages: int) -> None:
    """The room talks on: `messages` messages that push older ones up the channel."""
    for n in range(messages):
        await h.say(f"what if the ferry sinks, idea {n}", member="cy")


def components(view: discord.ui.View) -> list[tuple[str, bool, discord.ButtonStyle]]:
    return [
        (b.custom_id or "", b.disabled, b.style)
        for b in view.children
        if isinstance(b, discord.ui.Button)
    ]


async def test_two_writers_reactions_pick_a_take_under_the_majority_rule(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    await h.react("ana", ballot, number_emoji(2))
    proposal = await h.room.proposal(h.room_id, 1)
    assert proposal.status is ProposalStatus.OPEN
    assert "Tally: 1️⃣ 0  2️⃣ 1  3️⃣ 0" in h.sent.last_ballot_edit()["embeds"][0]["description"]
    await h.react("ben", ballot, number_emoji(2))
    proposal = await h.room.proposal(h.room_id, 1)
    assert (proposal.status, proposal.decided_take) == (ProposalStatus.DECIDED, 2)
    edit = h.sent.last_ballot_edit()
    assert edit["embeds"][0]["title"] == "Proposal #1: take 2 went in"
    ben = h.member("ben")
    assert edit["embeds"][0]["description"].startswith(f"Picked by <@{ben.id}> (")
    assert "2 votes for it" in edit["embeds"][0]["description"]
    buttons = [c for row in edit["components"] for c in row["components"]]
    assert all(b["disabled"] for b in buttons)
    assert [b["style"] for b in buttons if b["custom_id"] == "wr:take:1:2"] == [3]  # success
    script = await h.room.show(h.room_id)
    assert "Take 2: rain hammers the deck." in str(script[1].element)


async def test_the_bots_own_reactions_never_count(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!room settings pick_rule:first")
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    assert [str(r.emoji) for r in ballot.reactions] == [number_emoji(n) for n in (1, 2, 3)]
    assert all(r.me for r in ballot.reactions)
    await settle()
    proposal = await h.room.proposal(h.room_id, 1)
    assert (proposal.status, proposal.votes) == (ProposalStatus.OPEN, ())
    await h.react("cy", ballot, number_emoji(3))  # under "first", one writer's vote decides
    assert (await h.room.proposal(h.room_id, 1)).decided_take == 3


async def test_removing_a_number_takes_that_vote_back_and_other_emoji_count_for_nothing(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    ana = h.member("ana").id
    await h.react("ana", ballot, "\N{THUMBS UP SIGN}")
    assert (await h.room.proposal(h.room_id, 1)).votes == ()
    await h.react("ana", ballot, number_emoji(1))
    await h.unreact("ana", ballot, number_emoji(1))
    assert (await h.room.proposal(h.room_id, 1)).votes == ()
    assert "Tally: 1️⃣ 0  2️⃣ 0  3️⃣ 0" in h.sent.last_ballot_edit()["embeds"][0]["description"]
    await h.react("ana", ballot, number_emoji(1))
    await h.react("ana", ballot, number_emoji(3))  # another number moves the vote
    # ... and taking the first number off afterwards leaves the moved vote alone.
    await h.unreact("ana", ballot, number_emoji(1))
    votes = (await h.room.proposal(h.room_id, 1)).votes
    assert [(v.user_id, v.take) for v in votes] == [(ana, 3)]
    history = await room_events(h.room, h.room_id)
    assert any("withdrew their vote for take 1 of proposal #1" in str(e.summary) for e in history)


async def test_a_reaction_on_a_decided_ballot_is_taken_back(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    await h.react("ana", ballot, number_emoji(1))
    await h.react("ben", ballot, number_emoji(1))
    await h.react("cy", ballot, number_emoji(2))
    proposal = await h.room.proposal(h.room_id, 1)
    assert [v.user_id for v in proposal.votes if v.user_id == h.member("cy").id] == []
    two = next(r for r in ballot.reactions if str(r.emoji) == number_emoji(2))
    assert two.count == 1  # only the bot's own


async def test_a_pending_proposal_still_picks_after_the_bot_restarts(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say('!dialogue "Mara argues with Tom" MARA, TOM')
    assert ballot_payloads(h)[-1] and "wr:take:1:2" in h.sent.sends()[-1].custom_ids
    await h.store.close()  # the first bot is gone; its ballot stays in the channel

    restarted = await make_bot()
    assert {cls for cls in restarted.bot._connection._view_store._dynamic_items.values()} == set(
        DYNAMIC_ITEMS
    )
    first = await click(h, restarted, "wr:take:1:2", "ana")
    assert first.answers[0].kind == "edit_message"
    assert first.answers[1].text == "Your vote for take 2 counts."
    second = await click(h, restarted, "wr:take:1:2", "ben")
    edit = second.answers[0].kwargs
    assert edit["embed"].title == "Proposal #1: take 2 went in"
    assert all(disabled for _, disabled, _ in components(edit["view"]))
    assert second.answers[1].text == "Take 2 of proposal #1 went in."
    proposal = await restarted.room.proposal(h.room_id, 1)
    assert (proposal.status, proposal.decided_take) == (ProposalStatus.DECIDED, 2)


async def test_a_restarted_bot_counts_reactions_on_an_old_ballot(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    await h.react("ana", ballot, number_emoji(2))
    await h.restart()
    await h.react("ben", ballot, number_emoji(2))
    assert (await h.room.proposal(h.room_id, 1)).decided_take == 2
    assert last_edit_title(h, ballot) == "Proposal #1: take 2 went in"


async def test_a_ballot_posted_before_ballots_were_recorded_still_counts_and_is_recorded(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    async with h.store.write() as db:  # as a database from before migration 2 left it
        await db.execute("UPDATE proposals SET ballot_channel = NULL, ballot_message = NULL")
    await h.restart()
    assert (await h.room.proposal(h.room_id, 1)).ballot is None
    await h.react("ana", ballot, number_emoji(2))  # its footer names the proposal
    proposal = await h.room.proposal(h.room_id, 1)
    assert proposal.ballot == Ballot(h.room_id, ballot.id)
    assert [v.take for v in proposal.votes] == [2]


async def test_a_click_on_a_decided_ballot_is_answered_on_one_line(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    await click(h, h, "wr:take:1:1", "ana")
    await click(h, h, "wr:take:1:1", "ben")
    late = await click(h, h, "wr:take:1:3", "cy")
    answer = late.answers[0]
    assert answer.kind == "send_message" and answer.kwargs["ephemeral"] is True
    assert answer.text == "Proposal #1 is already decided: take 1 went in."


async def test_reroll_closes_the_ballot_and_posts_new_takes(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    interaction = await click(h, h, "wr:reroll:1", "ana")  # she asked for the takes
    edit = interaction.answers[0].kwargs
    assert edit["embed"].title == "Proposal #1: rerolled"
    assert all(disabled for _, disabled, _ in components(edit["view"]))
    assert (await h.room.proposal(h.room_id, 2)).status is ProposalStatus.OPEN
    assert "wr:take:2:1" in ballot_payloads(h)[-1]["components"][0]["components"][0]["custom_id"]
    assert len(h.generator.requests) == 2


async def test_edit_opens_a_prefilled_modal_and_the_edit_counts(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn", "cy")  # the asker (or a showrunner) may edit
    interaction = await click(h, h, "wr:edit:1:2", "cy")
    modal = interaction.answers[0].args[0]
    assert isinstance(modal, EditModal)
    assert modal.text.default == "INT. FERRY DECK - NIGHT\n\nTake 2: rain hammers the deck."
    modal.text._value = "INT. FERRY DECK - NIGHT\n\nCy's version: the rain stops."
    submit = FakeInteraction(h.bot, h.member("cy"), h.channel)
    await modal.on_submit(submit.as_interaction())
    assert submit.answers[0].text.startswith("**Take 2** of proposal #1 (edited)")
    assert submit.answers[0].kwargs["allowed_mentions"].to_dict() == {"parse": []}
    await click(h, h, "wr:take:1:2", "ana")
    await click(h, h, "wr:take:1:2", "ben")
    script = await h.room.show(h.room_id)
    assert "Cy's version: the rain stops." in str(script[1].element)
    assert script[1].attribution.edited_by == h.member("cy").id


async def test_an_edit_that_is_not_a_screenplay_is_refused_on_one_line(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn", "cy")  # the asker (or a showrunner) may edit
    interaction = await click(h, h, "wr:edit:1:1", "cy")
    modal = interaction.answers[0].args[0]
    modal.text._value = "Title: Nope\n\nINT. HOUSE - DAY"
    submit = FakeInteraction(h.bot, h.member("cy"), h.channel)
    try:
        await modal.on_submit(submit.as_interaction())
    except Exception as err:  # discord.py hands a modal's failure to its on_error
        await modal.on_error(submit.as_interaction(), err)
    answer = submit.answers[0]
    assert answer.kwargs["ephemeral"] is True
    assert answer.text.startswith("Title page lines") and "\n" not in answer.text


async def test_everyone_in_a_take_pings_nobody(make_bot: BotFactory) -> None:
    h = await make_bot()
    ben = h.member("ben")
    h.generator.script = f"INT. HALL - DAY\n\n@everyone and @here look, <@{ben.id}>!"
    await h.say("!scene A hall; @everyone should come")
    sent = h.sent.items
    assert any("@everyone and @here look" in s.content for s in sent)
    # The client's default is none too (dpytest replaces the client's state, which holds it,
    # so it is checked on a bot of its own).
    plain = WritersRoomBot(h.room, Settings())
    assert plain.allowed_mentions is not None
    assert plain.allowed_mentions.to_dict() == {"parse": []}
    for item in sent:
        assert item.payload.get("allowed_mentions") == {"parse": []}, item
    header = next(s.content for s in sent if s.content.startswith("Proposal #1 —"))
    assert "@everyone" in header  # the prompt is quoted as typed, and still inert


async def test_a_6000_character_take_is_split_on_line_boundaries(make_bot: BotFactory) -> None:
    lines = ["INT. ENGINE ROOM - NIGHT", ""]
    n = 0
    while len("\n".join(lines)) < 6000:
        n += 1
        lines += [f"Line {n}: the engine coughs and the lights flicker once more.", ""]
    long_take = "\n".join(lines).strip()
    assert len(long_take) >= 6000
    h = await make_bot(generator=CannedGenerator(script=long_take))
    await h.say("!room settings takes:1")
    await h.say("!scene The engine room")
    pieces = [s.content for s in h.sent.sends() if "```" in s.content]
    assert len(pieces) == 4
    assert all(len(p) <= MESSAGE_LIMIT for p in pieces)
    assert pieces[0].startswith("**Take 1** of proposal #1\n```\n")
    bodies = [re.sub(r"^(\*\*Take 1\*\* of proposal #1\n)?```\n|\n```$", "", p) for p in pieces]
    assert "\n\n".join(bodies) == long_take
    assert all(b.startswith(("INT.", "Line ")) for b in bodies)


def test_progress_counts_the_takes_the_room_asked_for_not_the_candidates() -> None:
    """Best of N drafts six candidates for three takes: the room reads of its three, with
    their share of the words."""
    proposal = Proposal(1, 1, TaskKind.SCENE, 7, "the pier", (), 3, ProposalStatus.GENERATING, 0.0)
    drafts = ("one two three four",) * 6
    said = progress_text(proposal, Progress(0, drafts, 40))
    assert said == "Proposal #1 (scene): writing 3 take(s), 12 words so far…"
    # A Chinese take has no spaces: each character is a word, as a Chinese writer counts.
    chinese = ("陈伯：（压低声音）打烊了。",) * 3
    said = progress_text(dataclasses.replace(proposal, n=1), Progress(0, chinese, 40), SIMPLIFIED)
    assert said.endswith("正在写 1 份候选稿，已写 9 字……")


async def test_progress_is_shown_by_editing_the_waiting_message(make_bot: BotFactory) -> None:
    h = await make_bot(generator=CannedGenerator(delay_s=0.05))
    await h.say("!scene The pier at dawn")
    texts = [s.content for s in h.sent.items if s.content.startswith("Proposal #1")]
    assert texts[0] == "Proposal #1 (scene): waiting for the model…"
    assert "Proposal #1 (scene): writing 3 take(s), 6 words so far…" in texts
    assert texts[-1].startswith("Proposal #1 — 3 takes of scene for <@")


async def test_the_deadline_loop_decides_and_updates_the_ballot(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    await h.react("ana", ballot, number_emoji(3))
    closed = await h.bot.board.room.close_due(now=10**12)
    assert [p.decided_take for p in closed] == [3]
    await h.bot.board.refresh(closed[0])
    assert h.sent.last_ballot_edit()["embeds"][0]["title"] == "Proposal #1: take 3 went in"


async def test_a_failed_generation_is_shown_in_the_waiting_message(make_bot: BotFactory) -> None:
    h = await make_bot(generator=CannedGenerator(hook=raises(RuntimeError("the GPU melted"))))
    await h.say("!scene The pier at dawn")
    assert h.sent.items[-1].content == (
        "Proposal #1 failed: The model could not write takes for this request."
    )
    assert (await h.room.proposal(h.room_id, 1)).status is ProposalStatus.FAILED


async def test_a_reset_while_the_model_writes_says_so_in_the_waiting_message(
    make_bot: BotFactory,
) -> None:
    release = asyncio.Event()

    async def stall_until_released(call: Call) -> None:
        """Shows progress, then writes nothing until the test releases it."""
        assert call.on_progress is not None
        call.on_progress(Progress(position=0, texts=("Rain",) * 3, tokens=3))
        await release.wait()

    h = await make_bot(generator=CannedGenerator(hook=stall_until_released))
    ana = h.member("ana").id
    proposal = await h.room.propose(h.room_id, ana, "scene", "The pier at dawn")
    writing = asyncio.create_task(h.bot.board.run(h.channel.send, proposal, f"<@{ana}>"))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if any("writing 3 take(s)" in s.content for s in h.sent.items):
            break
    (waiting,) = h.sent.sends()
    await h.say("!room reset true", "ana")
    release.set()
    assert await writing is None
    assert edits_of(h, waiting.message_id or 0)[-1]["content"] == (
        f"Proposal #1 was cancelled when the room was reset by <@{ana}>; its takes were not kept."
    )
    assert (await h.room.proposal(h.room_id, 1)).status is ProposalStatus.CANCELLED


async def test_after_a_start_lost_proposals_are_generated_and_posted_again(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    ana = h.member("ana").id
    left_generating = await h.room.propose(h.room_id, ana, "scene", "The pier at dawn")
    unposted = await h.room.propose(h.room_id, ana, "beat", "a storm")
    await h.room.generate(h.room_id, unposted.id)
    await h.say("!scene The engine room")  # posted normally: its ballot is in the channel
    h.sent.clear()
    await h.bot.board.resume()
    ballots = [s.custom_ids[0] for s in h.sent.sends() if s.custom_ids]
    assert sorted(ballots) == [f"wr:take:{left_generating.id}:1", f"wr:take:{unposted.id}:1"]
    assert (await h.room.proposal(h.room_id, left_generating.id)).status is ProposalStatus.OPEN


async def test_after_a_restart_the_deadline_updates_a_ballot_far_up_the_channel(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    await h.react("ana", ballot, number_emoji(3))
    await bury_and_restart(h)
    h.room.clock = lambda: 10.0**12  # the vote's deadline has passed
    closed = await h.bot.board.close_due()
    assert [p.decided_take for p in closed] == [3]
    assert h.sent.sends() == []  # the old ballot itself now shows the winner
    (edit,) = h.sent.items
    assert (edit.kind, edit.channel_id, edit.message_id) == ("edit", h.room_id, ballot.id)
    assert edit.payload["embeds"][0]["title"] == "Proposal #1: take 3 went in"
    buttons = [c for row in edit.payload["components"] for c in row["components"]]
    assert buttons and all(b["disabled"] for b in buttons)


async def test_a_restarted_bot_does_not_post_again_a_ballot_far_up_the_channel(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    await bury_and_restart(h)
    await h.bot.board.resume()
    assert h.sent.items == []  # its takes and ballot are where they were; no second ballot
    await h.react("ana", ballot, number_emoji(1))
    await h.react("ben", ballot, number_emoji(1))
    assert (await h.room.proposal(h.room_id, 1)).decided_take == 1
    assert last_edit_title(h, ballot) == "Proposal #1: take 1 went in"


async def test_a_pick_after_a_restart_shows_on_a_ballot_far_up_the_channel(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    await bury_and_restart(h)
    await h.say("!pick 2")  # ana opened the room: she runs it
    edits = [
        (s.message_id, s.payload["embeds"][0]["title"]) for s in h.sent.items if s.kind == "edit"
    ]
    assert edits == [(ballot.id, "Proposal #1: take 2 went in")]
    assert [s.content for s in h.sent.sends()] == [
        "Take 2 of proposal #1 went in (Wrote 2 lines into the script (lines 1–2).)"
    ]


def edits_of(h: Harness, message_id: int) -> list[dict[str, Any]]:
    """What the message `message_id` was edited to show, in order."""
    return [s.payload for s in h.sent.items if s.kind == "edit" and s.message_id == message_id]


def all_disabled(payload: dict[str, Any]) -> bool:
    buttons = [c for row in payload["components"] for c in row["components"]]
    return bool(buttons) and all(b["disabled"] for b in buttons)


async def test_a_reset_closes_the_ballots_of_the_proposals_it_cancelled(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    first = h.last_ballot()
    await h.say("!beat a storm")
    second = h.last_ballot()
    await h.react("ben", first, number_emoji(2))
    await bury_and_restart(h)
    await h.say("!room reset true", "ana")
    assert [s.content for s in h.sent.sends()] == [
        "The room's story is empty; start with /premise."
    ]
    ana = h.member("ana").id
    for number, ballot in ((1, first), (2, second)):
        (edit,) = edits_of(h, ballot.id)
        assert edit["embeds"][0]["title"] == f"Proposal #{number}: cancelled"
        assert edit["embeds"][0]["description"] == (
            f"Cancelled when the room was reset by <@{ana}>; votes no longer count."
        )
        assert all_disabled(edit)
    await h.react("cy", first, number_emoji(1))  # a late reaction is refused, not counted
    assert [v.take for v in (await h.room.proposal(h.room_id, 1)).votes] == [2]


async def test_undo_and_redo_of_a_pick_show_on_its_ballot(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say("!scene The pier at dawn")
    ballot = h.last_ballot()
    await h.react("ana", ballot, number_emoji(2))
    await h.react("ben", ballot, number_emoji(2))
    await h.restart()  # the ballot is found where the store says it is
    h.sent.clear()
    ana, ben = h.member("ana").id, h.member("ben").id

    await h.say("!undo", "ana")
    assert await h.room.show(h.room_id) == ()
    assert [s.content for s in h.sent.sends()] == [
        "Undid: take 2 of proposal #1 went in (2 votes reached the quorum of 2)."
    ]
    (undone,) = edits_of(h, ballot.id)
    embed = undone["embeds"][0]
    assert embed["title"] == "Proposal #1: take 2 went in — undone"
    assert embed["description"].splitlines()[:2] == [
        f"Undone by <@{ana}>: the take is out again.",
        f"Picked by <@{ben}> (2 votes reached the quorum of 2); 2 votes for it.",
    ]
    assert all_disabled(undone)

    h.sent.clear()
    await h.say("!redo", "ana")
    assert len(await h.room.show(h.room_id)) == 2
    (redone,) = edits_of(h, ballot.id)
    embed = redone["embeds"][0]
    assert embed["title"] == "Proposal #1: take 2 went in"
    assert embed["description"].splitlines()[0] == f"Back in: <@{ana}> redid it."
    assert all_disabled(redone)

    h.sent.clear()
    await h.say("!write INT. HALL - DAY")
    await h.say("!undo")  # lines a writer wrote are no pick: no ballot changes
    assert [s.kind for s in h.sent.items] == ["send", "send"]


async def test_a_restart_while_the_model_writes_says_so_in_the_old_progress_message(
    make_bot: BotFactory,
) -> None:
    async def stall_once(call: Call) -> None:
        """The first request shows progress, then never ends: the process dies under it."""
        if call.number == 1:
            assert call.on_progress is not None
            call.on_progress(Progress(position=0, texts=("Rain",) * 3, tokens=3))
            await asyncio.Event().wait()

    h = await make_bot(generator=CannedGenerator(hook=stall_once))
    ana = h.member("ana").id
    proposal = await h.room.propose(h.room_id, ana, "scene", "The pier at dawn")
    dying = asyncio.create_task(h.bot.board.run(h.channel.send, proposal, f"<@{ana}>"))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if any("writing 3 take(s)" in s.content for s in h.sent.items):
            break
    (waiting,) = h.sent.sends()
    assert edits_of(h, waiting.message_id or 0)[-1]["content"].startswith(
        "Proposal #1 (scene): writing 3 take(s)"
    )
    try:
        await h.restart()
        h.sent.clear()
        await h.bot.board.resume()
    finally:
        dying.cancel()  # what was left of the old process
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await dying
    (pointed,) = edits_of(h, waiting.message_id or 0)
    assert pointed["content"] == (
        "Proposal #1 (scene): the bot restarted while writing, so the takes are written again "
        "below."
    )
    assert h.sent.items[0].kind == "edit"  # before the new waiting message, which is below it
    new_waiting = h.sent.sends()[0]
    assert new_waiting.content == "Proposal #1 (scene): waiting for the model…"
    assert "wr:take:1:1" in ballot_payloads(h)[-1]["components"][0]["components"][0]["custom_id"]
    resumed = await h.room.proposal(h.room_id, 1)
    assert resumed.status is ProposalStatus.OPEN
    assert resumed.progress is not None and resumed.progress.message_id == new_waiting.message_id
