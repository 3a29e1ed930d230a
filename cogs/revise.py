"""Revising the script in Discord: revise a line or a scene (a form prefilled with the scene's
Fountain, over several fields when it is long, or the scene as a .fountain file to upload again
when it is longer than a form holds), delete lines or a scene, move or insert a scene, the
room's history, and named drafts. Each command calls one room-service method and replies; the
rules are `bot.room`'s (see `bot.room.script` and `bot.room.drafts`).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.errors import BadInput
from bot.room import RoomService, SceneView, line_range, numbered_text
from cogs.commands import Ctx, hybrid_command, hybrid_group, room_of, subcommand
from cogs.errors import NO_MENTIONS, answer_interaction
from cogs.locale import ctx_lang, interaction_lang
from cogs.split import split_text
from cogs.views import room_client

if TYPE_CHECKING:
    from cogs.client import WritersRoomBot

#: What one field of a Discord form holds, and how many fields a form has.
FIELD_LIMIT = 4000
FIELDS = 5


class ReviseFlags(commands.FlagConverter, delimiter=":", prefix=""):
    """`/revise` options; in a message: `!revise line:12 text:"We're late."`."""

    line: int | None = commands.flag(default=None, description="The line's number (see /show)")
    scene: str | None = commands.flag(
        default=None, description="The scene's number (3, or 3A); without text, opens a form"
    )
    text: str | None = commands.flag(default=None, description="The new text (Fountain)")


class DeleteFlags(commands.FlagConverter, delimiter=":", prefix=""):
    lines: str | None = commands.flag(default=None, description="A line or a range: 12 or 12-15")
    scene: str | None = commands.flag(default=None, description="The scene's number (3, or 3A)")


def form_fields(text: str) -> list[str] | None:
    """The scene's Fountain cut at blank lines into at most `FIELDS` pieces of at most
    `FIELD_LIMIT` characters (joined again with a blank line); None when no form holds it."""
    pieces: list[str] = []
    for paragraph in text.strip("\n").split("\n\n"):
        if len(paragraph) > FIELD_LIMIT:
            return None
        if pieces and len(pieces[-1]) + 2 + len(paragraph) <= FIELD_LIMIT:
            pieces[-1] += "\n\n" + paragraph
        else:
            pieces.append(paragraph)
    return pieces if len(pieces) <= FIELDS else None


class ReviseSceneModal(discord.ui.Modal):
    """A scene's Fountain over one to five fields; what is sent back replaces the scene (only
    the lines that differ change), unless someone changed the scene meanwhile."""

    def __init__(self, view: SceneView, lang: messages.Lang = messages.ENGLISH) -> None:
        title = messages.text("modal.revise_title", lang, scene=view.label)[:45]
        super().__init__(title=title, timeout=None)
        self.label = view.label
        self.original = view.fountain
        self.fields: list[discord.ui.TextInput[ReviseSceneModal]] = []
        pieces = form_fields(view.fountain) or []
        for k, piece in enumerate(pieces, 1):
            field: discord.ui.TextInput[ReviseSceneModal] = discord.ui.TextInput(
                label=messages.text("modal.revise_part", lang, scene=view.label, part=k)
                if len(pieces) > 1
                else messages.text("modal.revise_label", lang, scene=view.label),
                style=discord.TextStyle.paragraph,
                default=piece,
                max_length=FIELD_LIMIT,
                required=k == 1,
            )
            self.fields.append(field)
            self.add_item(field)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        fountain = "\n\n".join(f.value.strip("\n") for f in self.fields if f.value.strip())
        if interaction.channel_id is None:
            raise BadInput("reply.channels_only")
        view = await room_client(interaction).room.revise_scene(
            interaction.channel_id,
            interaction.user.id,
            self.label,
            fountain,
            expected=self.original,
        )
        lang = interaction_lang(interaction)
        title = messages.text("reply.scene_now_reads", lang, scene=view.label)
        await interaction.response.send_message(
            _numbered_block(title, view, lang), allowed_mentions=NO_MENTIONS
        )

    async def on_error(  # type: ignore[override]  # Modal's own signature has no item
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await answer_interaction(interaction, error)


class ReviseCommands(commands.Cog, name="Revise"):
    """The commands that reshape the script already written."""

    def __init__(self, room: RoomService) -> None:
        self.room = room

    @hybrid_command(description="Rewrite a line, or a whole scene (a form)")
    async def revise(
        self, ctx: Ctx, file: discord.Attachment | None = None, *, options: ReviseFlags
    ) -> None:
        """`line:12 text:"…"` rewrites a line; `scene:3` opens the scene in a form (or sends it
        as a file to upload again with `file:` when it is longer than a form holds)."""
        room_id, lang = room_of(ctx), ctx_lang(ctx)
        if (options.line is None) == (options.scene is None):
            raise BadInput("reply.revise_what")
        if options.line is not None:
            if not options.text:
                raise BadInput("reply.revise_line_text", line=options.line)
            line = await self.room.revise_line(room_id, ctx.author.id, options.line, options.text)
            title = messages.text("reply.line_now_reads", lang, line=line.number)
            await ctx.send(
                f"{title}\n```\n{numbered_text([line])}\n```", allowed_mentions=NO_MENTIONS
            )
            return
        scene = options.scene or ""
        text = options.text
        if file is not None:
            text = (await file.read()).decode("utf-8-sig", errors="replace")
        if text is not None:
            view = await self.room.revise_scene(room_id, ctx.author.id, scene, text)
            title = messages.text("reply.scene_now_reads", lang, scene=view.label)
            await ctx.send(_numbered_block(title, view, lang), allowed_mentions=NO_MENTIONS)
            return
        view = await self.room.scene(room_id, scene)
        if ctx.interaction is not None and form_fields(view.fountain) is not None:
            await ctx.interaction.response.send_modal(ReviseSceneModal(view, lang))
            return
        await ctx.send(
            messages.text("reply.scene_as_file", lang, scene=view.label),
            file=discord.File(
                io.BytesIO(view.fountain.encode()), filename=f"scene-{view.label}.fountain"
            ),
            allowed_mentions=NO_MENTIONS,
        )

    @hybrid_command(name="delete", description="Remove lines or a whole scene")
    async def delete(self, ctx: Ctx, *, options: DeleteFlags) -> None:
        """`lines:12-15` or `scene:3`; /undo puts them back."""
        room_id, lang = room_of(ctx), ctx_lang(ctx)
        if (options.lines is None) == (options.scene is None):
            raise BadInput("reply.delete_what")
        if options.lines is not None:
            first, last = line_range(options.lines)
            gone = await self.room.delete_lines(room_id, ctx.author.id, first, last)
            lines = messages.counted("line", gone).render(lang)
            said = messages.text("reply.deleted_lines", lang, lines=lines)
        else:
            view = await self.room.delete_scene(room_id, ctx.author.id, options.scene or "")
            said = messages.text(
                "reply.deleted_scene", lang, scene=view.label, count=len(view.lines)
            )
        await ctx.send(said, allowed_mentions=NO_MENTIONS)

    @hybrid_command(description="Move a scene after another (after 0: to the start)")
    @app_commands.describe(scene="The scene to move (3, or 3A)", after="The scene it goes after")
    async def move(self, ctx: Ctx, scene: str, after: str) -> None:
        """Move a scene; its lines, who wrote them and its number go with it."""
        view = await self.room.move_scene(room_of(ctx), ctx.author.id, scene, after)
        await ctx.send(
            messages.text(
                "reply.moved", ctx_lang(ctx), scene=view.label, line=view.lines[0].number
            ),
            allowed_mentions=NO_MENTIONS,
        )

    @hybrid_command(description="Insert a new scene before another")
    @app_commands.describe(
        before_scene="The scene it goes before", text="The new scene, starting with its heading"
    )
    async def insert(self, ctx: Ctx, before_scene: str, *, text: str) -> None:
        """Insert a new scene (Fountain starting with its heading) before scene N."""
        lines = await self.room.insert_scene(room_of(ctx), ctx.author.id, text, before_scene)
        body = numbered_text(lines)
        await ctx.send(
            f"{messages.text('reply.inserted', ctx_lang(ctx), count=len(lines))}\n```\n{body}\n```"[
                :2000
            ],
            allowed_mentions=NO_MENTIONS,
        )

    @hybrid_command(description="The room's changes: who, what, when; numbered")
    @app_commands.describe(page="Page 1 is the newest changes")
    async def history(self, ctx: Ctx, page: int = 1) -> None:
        """The room's changes, newest first; /undo to:N goes back to change N."""
        found = await self.room.history(room_of(ctx), page)
        lang = ctx_lang(ctx)
        if not found.entries:
            await ctx.send(messages.text("reply.history_empty", lang), allowed_mentions=NO_MENTIONS)
            return
        rows = [messages.text("reply.history_page", lang, page=found.page, pages=found.pages)]
        undone_mark = f" *({messages.text('reply.undone_word', lang)})*"
        for entry in found.entries:
            event = entry.event
            when = f"<t:{int(event.at)}:R>"
            undone = undone_mark if entry.undone else ""
            said = event.summary.render(lang)
            rows.append(f"**#{entry.number}** {when} <@{event.user_id}>: {said}{undone}")
        if found.page < found.pages:
            rows.append(messages.text("reply.history_older", lang, page=found.page + 1))
        for piece in split_text("\n".join(rows)):
            await ctx.send(piece, allowed_mentions=NO_MENTIONS)

    @hybrid_group(name="draft", description="Named drafts", invoke_without_command=True)
    async def draft(self, ctx: Ctx) -> None:
        """The room's drafts."""
        drafts = await self.room.drafts(room_of(ctx))
        lang = ctx_lang(ctx)
        if not drafts:
            await ctx.send(messages.text("console.no_drafts", lang), allowed_mentions=NO_MENTIONS)
            return
        rows = [
            messages.text(
                "reply.draft_row",
                lang,
                name=d.name,
                at=int(d.at),
                by=d.saved_by,
                scenes=messages.counted("scene", d.scenes).render(lang),
            )
            for d in drafts
        ]
        await ctx.send("\n".join(rows)[:2000], allowed_mentions=NO_MENTIONS)

    @subcommand(
        draft, name="save", description="Save the script as a named draft; locks scene numbers"
    )
    @app_commands.describe(name="The draft's name, like blue draft")
    async def draft_save(self, ctx: Ctx, *, name: str) -> None:
        """Record a named draft; from now on scene numbers stay put (3A, OMITTED)."""
        draft = await self.room.save_draft(room_of(ctx), ctx.author.id, name)
        lang = ctx_lang(ctx)
        scenes = messages.counted("scene", draft.scenes).render(lang)
        await ctx.send(
            messages.text("console.draft_saved", lang, name=draft.name, scenes=scenes),
            allowed_mentions=NO_MENTIONS,
        )


def _numbered_block(title: str, view: SceneView, lang: messages.Lang) -> str:
    block = f"{title}\n```\n{numbered_text(view.lines)}\n```"
    if len(block) <= 2000:
        return block
    return messages.text("reply.too_long_to_show", lang, title=title, count=len(view.lines))


async def setup(bot: WritersRoomBot) -> None:
    await bot.add_cog(ReviseCommands(bot.room))
