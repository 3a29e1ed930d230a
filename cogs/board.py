"""The board: every proposal's life in a channel — the progress message while the model writes,
the takes and their ballot, votes by button and reaction, the decision shown on the ballot, and
ballots found and brought up to date after a restart.

The buttons and modals (`cogs.views`) call it; the rules are `bot.room`'s. Knows Discord
messages; nothing of how a vote is decided.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import discord

from bot.domain import Ballot, Proposal, ProposalStatus, VoteOutcome, VoteResult
from bot.errors import ProposalCancelled, RoomError
from bot.messages import Lang, text
from bot.room import RoomService, TakeEdit
from cogs.embeds import (
    ballot_embed,
    number_emoji,
    progress_text,
    proposal_header,
    restarted_text,
    take_messages,
    take_of_emoji,
    who,
)
from cogs.errors import NO_MENTIONS, answer_interaction, one_line
from cogs.locale import guild_lang, interaction_lang
from cogs.views import (
    ProgressReporter,
    Send,
    Writer,
    ballot_view,
    room_client,
    room_of_interaction,
)

_log = logging.getLogger(__name__)

_FOOTER = re.compile(r"^proposal (\d+)$")

#: How many reactions the bot took off it remembers until their removal events arrive.
_TAKEN_BACK_KEPT = 1000


class Board:
    """Posts proposals, shows their progress, counts their votes and keeps their ballots true."""

    def __init__(
        self, client: discord.Client, room: RoomService, progress_interval: float = 1.0
    ) -> None:
        self.client = client
        self.room = room
        self.progress_interval = progress_interval
        # Number reactions the bot took off, as (ballot, writer, take): the removal event each
        # causes is not the writer taking back a vote.
        self._taken_back: dict[tuple[int, int, int], None] = {}

    # --- generating and posting

    async def run(self, send: Send, proposal: Proposal, requester: str) -> Proposal | None:
        """Generate a pending proposal's takes while showing progress, then post them with
        their ballot. A generation failure, or a reset that cancelled the proposal meanwhile, is
        shown in the waiting message (None returned)."""
        lang = self.room_lang(proposal.room_id)
        waiting = await send(
            content=progress_text(proposal, None, lang), allowed_mentions=NO_MENTIONS
        )
        await self.room.record_progress(
            proposal.room_id, proposal.id, waiting.channel.id, waiting.id
        )
        reporter = ProgressReporter(waiting, proposal, self.progress_interval, lang)
        reporter.start()
        try:
            try:
                proposal = await self.room.generate(
                    proposal.room_id, proposal.id, progress=reporter.update
                )
            finally:
                await reporter.stop()
        except ProposalCancelled as err:
            by = None if err.cancelled_by is None else who(err.cancelled_by, lang)
            await waiting.edit(
                content=err.naming(by).render(lang),
                allowed_mentions=NO_MENTIONS,
            )
            return None
        except RoomError as err:
            why = one_line(err.render(lang))
            await waiting.edit(
                content=text("reply.proposal_failed", lang, proposal=proposal.id, why=why),
                allowed_mentions=NO_MENTIONS,
            )
            return None
        await waiting.edit(
            content=proposal_header(proposal, requester, lang), allowed_mentions=NO_MENTIONS
        )
        await self.post(send, proposal)
        return proposal

    async def post(self, send: Send, proposal: Proposal) -> discord.Message:
        """The takes as code blocks, then the ballot with its buttons and number reactions."""
        lang = self.room_lang(proposal.room_id)
        for take in proposal.takes:
            for piece in take_messages(proposal, take, lang=lang):
                await send(content=piece, allowed_mentions=NO_MENTIONS)
        settings = await self.room.settings(proposal.room_id)
        ballot = await send(
            embed=ballot_embed(proposal, settings, lang=lang),
            view=ballot_view(proposal, lang),
            allowed_mentions=NO_MENTIONS,
        )
        await self.remember(proposal, ballot)
        for take in proposal.takes[:5]:
            await ballot.add_reaction(number_emoji(take.number))
        return ballot

    def room_lang(self, room_id: int) -> Lang:
        """The language of what is posted in a room for everyone: its guild's."""
        channel = self.client.get_channel(room_id)
        return guild_lang(getattr(channel, "guild", None))

    # --- finding ballots

    async def remember(self, proposal: Proposal, message: discord.Message) -> None:
        """Record `message` as the ballot of `proposal`, unless the store has it already."""
        if proposal.ballot != Ballot(message.channel.id, message.id):
            await self.room.record_ballot(
                proposal.room_id, proposal.id, message.channel.id, message.id
            )

    async def proposal_of(self, message: discord.Message) -> int | None:
        """The proposal whose ballot `message` is (None for any other message): as the store
        records it, or as the footer of a ballot posted before ballots were recorded says."""
        recorded = await self.room.ballot_proposal(message.id)
        if recorded is not None:
            return recorded.id
        named = self._named_proposal(message)
        if named is None:
            return None
        try:
            proposal = await self.room.proposal(message.channel.id, named)
        except RoomError:
            return None  # a proposal of another room
        if proposal.ballot is not None:
            return None  # its ballot is another message; this one only announced the result
        await self.remember(proposal, message)
        return proposal.id

    def _named_proposal(self, message: discord.Message) -> int | None:
        """The proposal a message of this bot names in an embed's footer."""
        if self.client.user is None or message.author.id != self.client.user.id:
            return None
        for embed in message.embeds:
            match = _FOOTER.match(embed.footer.text or "")
            if match:
                return int(match[1])
        return None

    async def find_message(self, channel_id: int, message_id: int) -> discord.Message | None:
        cached = next((m for m in self.client.cached_messages if m.id == message_id), None)
        if cached is not None:
            return cached
        channel = self.client.get_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return None
        try:
            return await channel.fetch_message(message_id)
        except discord.HTTPException:
            return None

    async def find_ballot(self, proposal: Proposal) -> discord.Message | None:
        """The ballot message of `proposal` where the store says it was posted (None when it
        is gone); a ballot posted before ballots were recorded is looked for in the room's
        recent history, and recorded when found."""
        if proposal.ballot is not None:
            return await self.find_message(proposal.ballot.channel_id, proposal.ballot.message_id)
        channel = self.client.get_channel(proposal.room_id)
        if not isinstance(channel, discord.abc.Messageable):
            return None
        try:
            async for message in channel.history(limit=100):
                if self._named_proposal(message) == proposal.id:
                    await self.remember(proposal, message)
                    return message
        except discord.HTTPException:
            _log.debug("could not read the history of room %s", proposal.room_id)
        return None

    # --- votes

    async def vote(self, room_id: int, writer: Writer, proposal_id: int, take: int) -> VoteResult:
        return await self.room.vote(room_id, writer.user_id, proposal_id, take, **writer.rights)

    async def withdraw(self, room_id: int, user_id: int, proposal_id: int, take: int) -> VoteResult:
        return await self.room.withdraw_vote(room_id, user_id, proposal_id, take)

    async def refresh(
        self,
        proposal: Proposal,
        message: discord.Message | None = None,
        *,
        edit: TakeEdit | None = None,
    ) -> None:
        """Make the ballot show the proposal as it is now (tally, or winner and disabled
        buttons; with `edit`, what that edit cleared). A closed proposal whose ballot cannot be
        found is announced in its room."""
        message = message or await self.find_ballot(proposal)
        settings = await self.room.settings(proposal.room_id)
        lang = self.room_lang(proposal.room_id)
        embed = ballot_embed(proposal, settings, edit=edit, lang=lang)
        if message is not None:
            await self.remember(proposal, message)
            await message.edit(
                embed=embed, view=ballot_view(proposal, lang), allowed_mentions=NO_MENTIONS
            )
            return
        channel = self.client.get_channel(proposal.room_id)
        if proposal.status.closed and isinstance(channel, discord.abc.Messageable):
            await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)

    async def update_ballots(self, proposals: Iterable[Proposal]) -> None:
        """Make the ballots of `proposals` show them as they are now after a change whose
        maker was answered already (a reset, an undo): a ballot that cannot be found is not
        announced again, and one that cannot be edited is logged."""
        for proposal in proposals:
            if not proposal.takes:
                continue  # never put to the vote: it has no ballot
            try:
                message = await self.find_ballot(proposal)
                if message is not None:
                    await self.refresh(proposal, message)
            except discord.HTTPException:
                _log.warning("could not update the ballot of proposal %s", proposal.id)

    async def show_edit(self, edit: TakeEdit) -> None:
        """Make the ballot show an edit of one of its takes: the tally without the votes it
        cleared, the sentence that says so, and the cleared voters' number reactions taken off
        (they no longer count; a writer votes again by adding theirs back)."""
        try:
            message = await self.find_ballot(edit.proposal)
            if message is None:
                return
            await self.refresh(edit.proposal, message, edit=edit)
        except discord.HTTPException:
            _log.warning("could not show the edit on the ballot of proposal %s", edit.proposal.id)
            return
        emoji = number_emoji(edit.take.number)
        for vote in edit.cleared:
            await self.take_back(message, emoji, discord.Object(vote.user_id))

    async def take_back(
        self,
        message: discord.Message,
        emoji: str | discord.PartialEmoji,
        user: discord.abc.Snowflake,
    ) -> None:
        """Take a writer's number reaction off a ballot (refused, or no longer a vote), so that
        what the ballot shows is what counts. The removal event this causes is remembered as
        the bot's doing (`took_back`), not the writer withdrawing a vote."""
        take = take_of_emoji(str(emoji))
        key = (message.id, user.id, take or 0)
        self._taken_back[key] = None
        while len(self._taken_back) > _TAKEN_BACK_KEPT:
            del self._taken_back[next(iter(self._taken_back))]
        try:
            await message.remove_reaction(emoji, user)
        except discord.HTTPException:
            self._taken_back.pop(key, None)
            _log.debug("could not take back a number reaction", exc_info=True)

    def took_back(self, message_id: int, user_id: int, take: int) -> bool:
        """Whether the bot itself took that reaction off (asked once per removal event)."""
        try:
            del self._taken_back[(message_id, user_id, take)]
        except KeyError:
            return False
        return True

    async def click_vote(
        self, interaction: discord.Interaction, proposal_id: int, take: int
    ) -> None:
        """A vote button: vote, then show the ballot as it now stands."""
        try:
            room_client(interaction).cooldown.take(interaction.user.id)
            room_id = room_of_interaction(interaction)
            writer = Writer.of(interaction.user, interaction.channel)
            result = await self.vote(room_id, writer, proposal_id, take)
            settings = await self.room.settings(room_id)
            if interaction.message is not None:
                await self.remember(result.proposal, interaction.message)
            lang = self.room_lang(room_id)
            await interaction.response.edit_message(
                embed=ballot_embed(result.proposal, settings, lang=lang),
                view=ballot_view(result.proposal, lang),
                allowed_mentions=NO_MENTIONS,
            )
            said = _vote_sentence(result, take, interaction_lang(interaction))
            await interaction.followup.send(said, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except Exception as err:
            await answer_interaction(interaction, err)

    async def click_reroll(self, interaction: discord.Interaction, proposal_id: int) -> None:
        """The Reroll button: close this ballot, generate new takes, post them (the writer who
        asked for the proposal, or a showrunner)."""
        try:
            room_client(interaction).cooldown.take(interaction.user.id)
            room_id = room_of_interaction(interaction)
            writer = Writer.of(interaction.user, interaction.channel)
            new = await self.room.reroll(room_id, writer.user_id, proposal_id, **writer.rights)
            old = await self.room.proposal(room_id, proposal_id)
            settings = await self.room.settings(room_id)
            lang = self.room_lang(room_id)
            await interaction.response.edit_message(
                embed=ballot_embed(old, settings, lang=lang),
                view=ballot_view(old, lang),
                allowed_mentions=NO_MENTIONS,
            )

            async def send(**kwargs: Any) -> discord.Message:
                return await interaction.followup.send(wait=True, **kwargs)

            await self.run(send, new, interaction.user.mention)
        except Exception as err:
            await answer_interaction(interaction, err)

    async def resume(self) -> None:
        """After a start: generate the takes of proposals left generating by the last run, and
        post again the takes of open proposals whose ballot is not in their room. Rooms this
        client cannot see (the console's, another bot's) are left alone."""
        for proposal in await self.room.pending_proposals():
            channel = self.client.get_channel(proposal.room_id)
            if not isinstance(channel, discord.abc.Messageable):
                continue
            try:
                if proposal.status is ProposalStatus.GENERATING:
                    _log.info("generating the takes of proposal %s again", proposal.id)
                    await self._point_below(proposal)
                    await self.run(channel.send, proposal, f"<@{proposal.requested_by}>")
                elif await self.find_ballot(proposal) is None:
                    _log.info("posting the ballot of proposal %s again", proposal.id)
                    await self.post(channel.send, proposal)
            except (RoomError, discord.HTTPException):
                _log.warning("could not resume proposal %s", proposal.id, exc_info=True)

    async def _point_below(self, proposal: Proposal) -> None:
        """Say in the progress message the last run left at "writing…" that the takes are
        written again below (a message that is gone, or was never recorded, is left alone)."""
        if proposal.progress is None:
            return
        where = proposal.progress
        message = await self.find_message(where.channel_id, where.message_id)
        if message is None:
            return
        try:
            said = restarted_text(proposal, self.room_lang(proposal.room_id))
            await message.edit(content=said, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            _log.debug("could not update the old progress message of proposal %s", proposal.id)

    async def close_due(self) -> list[Proposal]:
        """Decide the proposals whose deadline passed and update their ballots."""
        closed = await self.room.close_due()
        for proposal in closed:
            try:
                await self.refresh(proposal)
            except discord.HTTPException:
                _log.warning("could not update the ballot of proposal %s", proposal.id)
        return closed


def _vote_sentence(result: VoteResult, take: int, lang: Lang) -> str:
    proposal = result.proposal
    if proposal.status is ProposalStatus.DECIDED:
        return text("reply.went_in", lang, take=proposal.decided_take, proposal=proposal.id)
    if result.outcome is VoteOutcome.UNCHANGED:
        return text("reply.vote_unchanged", lang, take=take)
    if result.outcome is VoteOutcome.CHANGED:
        return text("reply.vote_moved", lang, take=take)
    return text("reply.vote_counts", lang, take=take)
