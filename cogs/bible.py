"""The commands for revising together: the bible (character sheets and locations), the
outline's beats, variations of a take and the script's figures.

Each command calls one room-service method with plain data and replies; every reply carrying
user text is sent with `AllowedMentions.none()`. Slash and `!` prefix alike (hybrid commands):
`/bible show`, `/bible edit name:TOM voice:gruff`, `/location add name:"FERRY DECK"`,
`/outline edit number:2 text:"…"`, `/vary take:2`, `/stats`. The rules are `bot.room`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.errors import NotFound
from bot.room import RoomService
from cogs.board import Board
from cogs.commands import Ctx, hybrid_command, hybrid_group, room_of, sender_of, subcommand
from cogs.embeds import bible_embed, outline_embed, stats_embed
from cogs.errors import NO_MENTIONS
from cogs.locale import ctx_lang

if TYPE_CHECKING:
    from cogs.client import WritersRoomBot


class SheetFlags(commands.FlagConverter, delimiter=":", prefix=""):
    """`/bible edit` options; in a message: `!bible edit name:TOM voice:gruff`."""

    name: str = commands.flag(description="The character's name in the bible")
    rename: str | None = commands.flag(default=None, description="A new name for them")
    role: str | None = commands.flag(default=None, description="Their part in the story")
    description: str | None = commands.flag(default=None, description="Who they are")
    personality: str | None = commands.flag(default=None, description="How they behave")
    backstory: str | None = commands.flag(default=None, description="What happened before")
    voice: str | None = commands.flag(default=None, description="How they talk")
    relationships: str | None = commands.flag(default=None, description="Who they are to others")

    def sheet(self) -> dict[str, str]:
        fields = ("role", "description", "personality", "backstory", "voice", "relationships")
        return {f: unquoted(value) for f in fields if (value := getattr(self, f)) is not None}


class LocationFlags(commands.FlagConverter, delimiter=":", prefix=""):
    """`/location add|edit` options; in a message: `!location add name:DECK description:wet`."""

    name: str = commands.flag(description="The place, as scene headings name it")
    description: str | None = commands.flag(default=None, description="What it looks like")
    rename: str | None = commands.flag(default=None, description="A new name (edit only)")


class BibleCommands(commands.Cog, name="Bible"):
    """The bible, the outline, variations and figures."""

    def __init__(self, room: RoomService, board: Board) -> None:
        self.room = room
        self.board = board

    @hybrid_group(
        name="bible",
        description="The bible: characters and locations",
        fallback="show",
        invoke_without_command=True,
    )
    async def bible(self, ctx: Ctx) -> None:
        """The characters and locations of the bible."""
        bible = await self.room.bible(room_of(ctx))
        await ctx.send(embed=bible_embed(bible, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)

    @subcommand(bible, name="add", description="Write a character's sheet yourself")
    async def bible_add(self, ctx: Ctx, *, options: SheetFlags) -> None:
        """Put a character in the bible with the sheet you write (no model takes)."""
        entry = await self.room.add_character(
            room_of(ctx), ctx.author.id, unquoted(options.name), **options.sheet()
        )
        said = messages.text("reply.in_bible", ctx_lang(ctx), name=entry.name)
        await ctx.send(said, allowed_mentions=NO_MENTIONS)

    @subcommand(bible, name="edit", description="Change a character's sheet or name")
    async def bible_edit(self, ctx: Ctx, *, options: SheetFlags) -> None:
        """Change fields of a character's sheet (or their name, with rename)."""
        entry = await self.room.edit_character(
            room_of(ctx),
            ctx.author.id,
            unquoted(options.name),
            new_name=None if options.rename is None else unquoted(options.rename),
            **options.sheet(),
        )
        said = messages.text("reply.sheet_updated", ctx_lang(ctx), name=entry.name)
        await ctx.send(said, allowed_mentions=NO_MENTIONS)

    @subcommand(bible, name="remove", description="Take a character out of the bible")
    @app_commands.describe(name="The character's name")
    async def bible_remove(self, ctx: Ctx, *, name: str) -> None:
        """Take a character out of the bible (undoable)."""
        await self.room.remove_character(room_of(ctx), ctx.author.id, name)
        await ctx.send(
            messages.text("reply.character_removed", ctx_lang(ctx), name=name.strip().upper()),
            allowed_mentions=NO_MENTIONS,
        )

    @hybrid_group(
        name="location",
        description="The room's locations",
        fallback="list",
        invoke_without_command=True,
    )
    async def location(self, ctx: Ctx) -> None:
        """The characters and locations of the bible."""
        bible = await self.room.bible(room_of(ctx))
        await ctx.send(embed=bible_embed(bible, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)

    @subcommand(location, name="add", description="Add a location to the bible")
    async def location_add(self, ctx: Ctx, *, options: LocationFlags) -> None:
        """Add a location (its name as scene headings say it)."""
        place = await self.room.add_location(
            room_of(ctx), ctx.author.id, unquoted(options.name), unquoted(options.description)
        )
        said = messages.text("reply.location_added", ctx_lang(ctx), name=place.name)
        await ctx.send(said, allowed_mentions=NO_MENTIONS)

    @subcommand(location, name="edit", description="Change a location's description or name")
    async def location_edit(self, ctx: Ctx, *, options: LocationFlags) -> None:
        """Change a location's description (or name, with rename)."""
        place = await self.room.edit_location(
            room_of(ctx),
            ctx.author.id,
            unquoted(options.name),
            new_name=None if options.rename is None else unquoted(options.rename),
            description=None if options.description is None else unquoted(options.description),
        )
        said = messages.text("reply.location_updated", ctx_lang(ctx), name=place.name)
        await ctx.send(said, allowed_mentions=NO_MENTIONS)

    @subcommand(location, name="remove", description="Take a location out of the bible")
    @app_commands.describe(name="The location's name")
    async def location_remove(self, ctx: Ctx, *, name: str) -> None:
        """Take a location out (undoable)."""
        await self.room.remove_location(room_of(ctx), ctx.author.id, name)
        await ctx.send(
            messages.text("reply.location_removed", ctx_lang(ctx), name=name.strip().upper()),
            allowed_mentions=NO_MENTIONS,
        )

    @hybrid_group(
        name="outline",
        description="The outline's beats",
        fallback="show",
        invoke_without_command=True,
    )
    async def outline(self, ctx: Ctx) -> None:
        """List the outline's beats."""
        beats = await self.room.beats(room_of(ctx))
        await ctx.send(embed=outline_embed(beats, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)

    @subcommand(outline, name="add", description="Plan a beat yourself, at the end")
    @app_commands.describe(text="What happens")
    async def outline_add(self, ctx: Ctx, *, text: str) -> None:
        """Add a planned beat at the end of the outline (undoable)."""
        beat = await self.room.add_beat(room_of(ctx), ctx.author.id, text)
        said = messages.text("console.beat", ctx_lang(ctx), number=beat.number, text=beat.text)
        await ctx.send(said, allowed_mentions=NO_MENTIONS)

    @subcommand(outline, name="edit", description="Change a beat's text")
    @app_commands.describe(number="The beat's number (from 1)", text="The beat's new text")
    async def outline_edit(self, ctx: Ctx, number: int, *, text: str) -> None:
        """Change the text of beat N."""
        beat = await self.room.edit_beat(room_of(ctx), ctx.author.id, number, text=text)
        lang = ctx_lang(ctx)
        status = messages.text(f"beat.{beat.status.value}", lang)
        said = messages.text(
            "reply.beat_status", lang, number=beat.number, status=status, text=beat.text
        )
        await ctx.send(said, allowed_mentions=NO_MENTIONS)

    @subcommand(outline, name="remove", description="Take a beat out of the outline")
    @app_commands.describe(number="The beat's number (from 1)")
    async def outline_remove(self, ctx: Ctx, number: int) -> None:
        """Take beat N out of the outline (undoable)."""
        await self.room.remove_beat(room_of(ctx), ctx.author.id, number)
        await ctx.send(
            messages.text("reply.beat_removed", ctx_lang(ctx), number=number),
            allowed_mentions=NO_MENTIONS,
        )

    @hybrid_command(description="New takes that keep a take's gist")
    @app_commands.describe(
        take="The take to vary", proposal="Its proposal (default: the latest one)"
    )
    async def vary(self, ctx: Ctx, take: int, proposal: int | None = None) -> None:
        """Ask for new takes of the same request that keep take N's gist in other words."""
        room_id = room_of(ctx)
        if proposal is None:
            proposal = await self._latest(room_id)
        fresh = await self.room.vary(room_id, ctx.author.id, proposal, take)
        await ctx.defer()
        await self.board.run(sender_of(ctx), fresh, ctx.author.mention)

    async def _latest(self, room_id: int) -> int:
        pending = await self.room.pending_proposals(room_id)
        if not pending:
            raise NotFound("reply.vary_no_open_proposal")
        return max(p.id for p in pending)

    @hybrid_command(description="The script's pages, runtime, scenes, places and lines")
    async def stats(self, ctx: Ctx) -> None:
        """Pages, runtime, scenes, locations and lines per character."""
        figures = await self.room.stats(room_of(ctx))
        await ctx.send(embed=stats_embed(figures, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)


def unquoted(value: str | None) -> str:
    """A flag's value without the double quotes a `!` message put around it (a slash option
    arrives without them)."""
    text = (value or "").strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


async def setup(bot: WritersRoomBot) -> None:
    await bot.add_cog(BibleCommands(bot.room, bot.board))
