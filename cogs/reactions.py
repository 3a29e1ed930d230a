"""Number reactions on a ballot are votes: 1️⃣ votes for take 1, and so on up to 5️⃣.

Raw reaction events are used, so a ballot posted before a restart (no longer in the message
cache) still counts: the room's store records which message is which proposal's ballot.
Reactions of bots never count: not the bot's own — it adds the numbers to every ballot so
writers can click them — nor any other bot's. A vote by reaction takes its turn from the writer's
cooldown, like a command or a click (`cogs.cooldown`). A reaction the room refuses (the proposal
is decided, the take does not exist, the writer acted a moment ago) is taken off again, so what a
writer sees on the ballot is what counted. Removing a number takes that vote back while the
proposal is open; a writer who has since voted for another take (by another number, or a button)
keeps that vote, and the bot taking a refused reaction off withdraws nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.domain import VoteOutcome
from bot.errors import RoomError
from cogs.board import Board
from cogs.cooldown import WriterCooldown
from cogs.embeds import take_of_emoji
from cogs.views import Writer

if TYPE_CHECKING:
    from cogs.client import WritersRoomBot

_log = logging.getLogger(__name__)


class Reactions(commands.Cog):
    def __init__(self, client: discord.Client, board: Board, cooldown: WriterCooldown) -> None:
        self.client = client
        self.board = board
        self.cooldown = cooldown

    async def _ballot_vote(
        self, payload: discord.RawReactionActionEvent
    ) -> tuple[discord.Message, int, int] | None:
        """The ballot, proposal and take a writer's number reaction is about; None for the
        bot's own reactions, other emoji and messages that are not ballots."""
        me = self.client.user
        if me is None or payload.user_id == me.id or payload.guild_id is None:
            return None
        take = take_of_emoji(str(payload.emoji))
        if take is None:
            return None
        message = await self.board.find_message(payload.channel_id, payload.message_id)
        proposal_id = await self.board.proposal_of(message) if message is not None else None
        if message is None or proposal_id is None:
            return None
        return message, proposal_id, take

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.member is not None and payload.member.bot:
            return  # a bot's reaction is never a vote (checked before the ballot is looked up)
        found = await self._ballot_vote(payload)
        if found is None or payload.guild_id is None:
            return
        message, proposal_id, take = found
        member = payload.member or _member(self.client, payload.guild_id, payload.user_id)
        if member is None or member.bot:
            return
        writer = Writer.of(member, message.channel)
        try:
            self.cooldown.take(member.id)
            result = await self.board.vote(payload.channel_id, writer, proposal_id, take)
        except (RoomError, commands.CommandOnCooldown) as err:
            _log.info("reaction vote refused on proposal %s: %s", proposal_id, err)
            await self.board.take_back(message, payload.emoji, member)
            return
        if result.outcome is not VoteOutcome.UNCHANGED:
            try:
                await self.board.refresh(result.proposal, message)
            except discord.HTTPException:
                _log.warning("could not update the ballot of proposal %s", proposal_id)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        take_off = take_of_emoji(str(payload.emoji))
        if take_off is not None and self.board.took_back(
            payload.message_id, payload.user_id, take_off
        ):
            return  # the bot took a refused reaction off: no writer withdrew anything
        user = self.client.get_user(payload.user_id)
        if user is not None and user.bot:
            return
        found = await self._ballot_vote(payload)
        if found is None:
            return
        message, proposal_id, take = found
        try:
            result = await self.board.withdraw(
                payload.channel_id, payload.user_id, proposal_id, take
            )
        except RoomError as err:
            _log.info("withdrawing a vote on proposal %s: %s", proposal_id, err)
            return
        if result.outcome is VoteOutcome.WITHDRAWN:
            try:
                await self.board.refresh(result.proposal, message)
            except discord.HTTPException:
                _log.warning("could not update the ballot of proposal %s", proposal_id)


def _member(client: discord.Client, guild_id: int, user_id: int) -> discord.Member | None:
    guild = client.get_guild(guild_id)
    return guild.get_member(user_id) if guild is not None else None


async def setup(bot: WritersRoomBot) -> None:
    await bot.add_cog(Reactions(bot, bot.board, bot.cooldown))
