"""Posting proposals and counting their votes in Discord: the ballot, its buttons and modals.

A proposal's takes go out as screenplay-formatted code blocks (several messages when a take is
long), followed by its ballot: an embed with the tally and a persistent view — buttons 1..N
(a vote), Edit 1..N (a modal prefilled with the take) and Reroll — plus number reactions.
The buttons are `DynamicItem`s with stable custom ids (`wr:take:<proposal>:<n>`,
`wr:edit:<proposal>:<n>`, `wr:reroll:<proposal>`), registered once at start, so a ballot posted
before a restart keeps working after it. Where each ballot was posted (channel and message) is
recorded with its proposal in the room's store (`RoomService.record_ballot`), so a restarted bot
still edits that very message when the vote is decided — by a vote, a showrunner's pick or the
deadline — counts reactions on it, and does not post it a second time. The ballot's footer names
its proposal, which is how ballots posted before they were recorded are recognised.

`cogs.board.Board` is the one place that posts takes, shows generation progress (editing the
waiting message at most once per interval), casts votes and refreshes ballots; the commands, the
buttons, the reactions and the deadline loop all go through it. The waiting message is recorded
with its proposal too (`RoomService.record_progress`): a bot restarted while the model wrote writes
the takes again under a new one, and first edits the old one to say so. A reset closes the ballots
of the proposals it cancelled, and an undo or redo of a pick shows on its ballot. An edit of a take
shows on its ballot too: the tally without the votes the edit cleared, the sentence that says so,
and the cleared voters' number reactions taken off (they no longer count). Every click takes its
turn from the writer's cooldown (`cogs.cooldown`), as commands and reactions do; a refused click is
answered ephemerally on one line. Only the writer who asked for a proposal, or a showrunner, may
edit its takes or reroll it (the room says so when someone else tries). It knows Discord and the
room service's public methods; the rules of voting are the room's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import discord

from bot.domain import Proposal, ProposalStatus
from bot.errors import BadInput
from bot.messages import ENGLISH, Lang, counted, text
from bot.room import RoomService, take_text
from cogs.cooldown import WriterCooldown
from cogs.embeds import (
    progress_text,
    take_messages,
    who,
)
from cogs.errors import NO_MENTIONS, answer_interaction
from cogs.locale import interaction_lang
from model.tasks import Progress

if TYPE_CHECKING:
    from cogs.board import Board

_log = logging.getLogger(__name__)

#: What sends a message and returns it: `ctx.send`, a followup with `wait=True`, `channel.send`.
Send = Callable[..., Awaitable[discord.Message]]

#: The longest text a modal's text input holds (Discord's limit).
MODAL_TEXT_LIMIT = 4000


class RoomClient(Protocol):
    """What the buttons and modals need from the client they run in (`cogs.client`)."""

    room: RoomService
    board: Board
    cooldown: WriterCooldown


def room_client(interaction: discord.Interaction) -> RoomClient:
    return cast(RoomClient, interaction.client)


@dataclass(frozen=True, slots=True)
class Writer:
    """The acting user as the room sees them: Discord's Manage Channels or Manage Messages
    permission in the channel makes them a showrunner; their roles may be showrunner roles."""

    user_id: int
    is_showrunner: bool = False
    roles: tuple[int, ...] = ()

    @classmethod
    def of(cls, user: discord.abc.User, channel: object) -> Writer:
        if not isinstance(user, discord.Member):
            return cls(user.id)
        permissions_for = getattr(channel, "permissions_for", None)
        perms = permissions_for(user) if permissions_for else user.guild_permissions
        return cls(
            user.id,
            bool(perms.manage_channels or perms.manage_messages),
            tuple(role.id for role in user.roles),
        )

    @property
    def rights(self) -> dict[str, Any]:
        """The keyword arguments of the room's methods that check a showrunner."""
        return {"is_showrunner": self.is_showrunner, "roles": self.roles}


# --- progress -------------------------------------------------------------------------------


class ProgressReporter:
    """Shows a proposal's progress by editing one message, at most once per `interval` seconds
    (Discord rate-limits edits; the writer only needs a sign of life)."""

    def __init__(
        self, message: discord.Message, proposal: Proposal, interval: float, lang: Lang = ENGLISH
    ) -> None:
        self.message = message
        self.lang = lang
        self.proposal = proposal
        self.interval = interval
        self.edits = 0
        self._latest: Progress | None = None
        self._changed = asyncio.Event()
        self._shown = ""
        self._task: asyncio.Task[None] | None = None

    def update(self, progress: Progress) -> None:
        """The generator's progress callback (runs on the event loop)."""
        self._latest = progress
        self._changed.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"progress-{self.proposal.id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            said = progress_text(self.proposal, self._latest, self.lang)
            if said != self._shown:
                try:
                    await self.message.edit(content=said, allowed_mentions=NO_MENTIONS)
                    self._shown = said
                    self.edits += 1
                except discord.HTTPException:
                    _log.debug("could not show progress of proposal %s", self.proposal.id)
            await asyncio.sleep(self.interval)


# --- the buttons ----------------------------------------------------------------------------


class TakeButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"wr:take:(?P<proposal>[0-9]+):(?P<take>[0-9]+)",
):
    """A vote for one take."""

    def __init__(self, proposal_id: int, take: int, *, disabled: bool = False, won: bool = False):
        style = discord.ButtonStyle.success if won else discord.ButtonStyle.primary
        super().__init__(
            discord.ui.Button(
                label=str(take),
                style=style,
                custom_id=f"wr:take:{proposal_id}:{take}",
                disabled=disabled,
                row=0,
            )
        )
        self.proposal_id = proposal_id
        self.take = take

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> TakeButton:
        return cls(int(match["proposal"]), int(match["take"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await room_client(interaction).board.click_vote(interaction, self.proposal_id, self.take)


class EditButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"wr:edit:(?P<proposal>[0-9]+):(?P<take>[0-9]+)",
):
    """Opens a modal prefilled with one take, to replace it by the writer's version."""

    def __init__(
        self, proposal_id: int, take: int, *, disabled: bool = False, lang: Lang = ENGLISH
    ):
        super().__init__(
            discord.ui.Button(
                label=text("button.edit", lang, take=take),
                style=discord.ButtonStyle.secondary,
                custom_id=f"wr:edit:{proposal_id}:{take}",
                disabled=disabled,
                row=1,
            )
        )
        self.proposal_id = proposal_id
        self.take = take

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> EditButton:
        return cls(int(match["proposal"]), int(match["take"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        client = room_client(interaction)
        try:
            client.cooldown.take(interaction.user.id)
            writer = Writer.of(interaction.user, interaction.channel)
            # Asked before the form opens, so nobody writes a version that would be refused.
            proposal, take = await client.room.take_to_edit(
                room_of_interaction(interaction),
                writer.user_id,
                self.proposal_id,
                self.take,
                **writer.rights,
            )
            current = take_text(proposal.kind, take, interaction_lang(interaction))
            if len(current) > MODAL_TEXT_LIMIT:
                raise BadInput(
                    "reply.take_too_long_for_form",
                    take=self.take,
                    length=len(current),
                    limit=MODAL_TEXT_LIMIT,
                )
            lang = interaction_lang(interaction)
            await interaction.response.send_modal(EditModal(proposal.id, self.take, current, lang))
        except Exception as err:
            await answer_interaction(interaction, err)


class RerollButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"wr:reroll:(?P<proposal>[0-9]+)",
):
    """Withdraws the takes and asks the model again."""

    def __init__(self, proposal_id: int, *, disabled: bool = False, lang: Lang = ENGLISH):
        super().__init__(
            discord.ui.Button(
                label=text("button.reroll", lang),
                emoji="\N{CLOCKWISE RIGHTWARDS AND LEFTWARDS OPEN CIRCLE ARROWS}",
                style=discord.ButtonStyle.secondary,
                custom_id=f"wr:reroll:{proposal_id}",
                disabled=disabled,
                row=2,
            )
        )
        self.proposal_id = proposal_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RerollButton:
        return cls(int(match["proposal"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await room_client(interaction).board.click_reroll(interaction, self.proposal_id)


#: The dynamic items the client registers at start.
DYNAMIC_ITEMS = (TakeButton, EditButton, RerollButton)


def ballot_view(proposal: Proposal, lang: Lang = ENGLISH) -> discord.ui.View:
    """The buttons of a proposal's ballot, labelled in `lang`; all disabled once it is closed,
    the winner green."""
    closed = proposal.status is not ProposalStatus.OPEN
    view = discord.ui.View(timeout=None)
    for take in proposal.takes[:5]:
        won = take.number == proposal.decided_take
        view.add_item(TakeButton(proposal.id, take.number, disabled=closed, won=won))
    for take in proposal.takes[:5]:
        view.add_item(EditButton(proposal.id, take.number, disabled=closed, lang=lang))
    view.add_item(RerollButton(proposal.id, disabled=closed, lang=lang))
    return view


# --- modals ---------------------------------------------------------------------------------


class EditModal(discord.ui.Modal):
    """The writer's version of a take, prefilled with the take."""

    def __init__(self, proposal_id: int, take: int, current: str, lang: Lang = ENGLISH) -> None:
        super().__init__(
            title=text("modal.edit_title", lang, take=take, proposal=proposal_id),
            custom_id=f"wr:editmodal:{proposal_id}:{take}",
            timeout=None,
        )
        self.proposal_id = proposal_id
        self.take = take
        self.text: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label=text("modal.edit_label", lang),
            style=discord.TextStyle.paragraph,
            default=current,
            max_length=MODAL_TEXT_LIMIT,
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        client = room_client(interaction)
        writer = Writer.of(interaction.user, interaction.channel)
        edit = await client.room.edit_take(
            room_of_interaction(interaction),
            writer.user_id,
            self.proposal_id,
            self.take,
            self.text.value,
            **writer.rights,
        )
        if not edit.changed:
            said = edit.naming(who(writer.user_id)).render(interaction_lang(interaction))
            await interaction.response.send_message(
                said, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        # The room sees the new text and, after it, that the votes for the old one are gone.
        lang = client.board.room_lang(edit.proposal.room_id)
        said = edit.naming(who(writer.user_id, lang)).render(lang)
        pieces = take_messages(edit.proposal, edit.take, lang=lang)
        await interaction.response.send_message(pieces[0], allowed_mentions=NO_MENTIONS)
        for piece in [*pieces[1:], said]:
            await interaction.followup.send(piece, allowed_mentions=NO_MENTIONS)
        await client.board.show_edit(edit)

    async def on_error(  # type: ignore[override]  # Modal's own signature has no item
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await answer_interaction(interaction, error)


class WriteModal(discord.ui.Modal):
    """The writer's own Fountain lines (a slash option cannot hold line breaks)."""

    def __init__(self, lang: Lang = ENGLISH) -> None:
        super().__init__(title=text("modal.write_title", lang), timeout=None)
        self.text: discord.ui.TextInput[WriteModal] = discord.ui.TextInput(
            label=text("modal.write_label", lang),
            style=discord.TextStyle.paragraph,
            placeholder=text("modal.write_placeholder", lang),
            max_length=MODAL_TEXT_LIMIT,
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        lines = await room_client(interaction).room.write(
            room_of_interaction(interaction), interaction.user.id, self.text.value
        )
        said = wrote_sentence(lines, interaction_lang(interaction))
        await interaction.response.send_message(said, allowed_mentions=NO_MENTIONS)

    async def on_error(  # type: ignore[override]  # Modal's own signature has no item
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await answer_interaction(interaction, error)


def wrote_sentence(lines: Sequence[Any], lang: Lang = ENGLISH) -> str:
    """What a writer is told of lines that went into the script, in `lang`."""
    if not lines:
        return text("reply.wrote_nothing", lang)
    first, last = lines[0].number, lines[-1].number
    if first == last:
        where = text("reply.where_line", lang, line=first)
    else:
        where = text("reply.where_lines", lang, first=first, last=last)
    wrote = counted("line", len(lines)).render(lang)
    return text("reply.wrote", lang, lines=wrote, where=where)


def room_of_interaction(interaction: discord.Interaction) -> int:
    if interaction.channel_id is None:
        raise BadInput("reply.channels_only")
    return interaction.channel_id
