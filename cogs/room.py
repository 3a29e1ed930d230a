"""The writers' room commands, slash and `!` prefix alike (hybrid commands).

Each command validates what Discord cannot, calls the room service with plain data (the room is
the channel or thread; the writer is the user, a showrunner by Discord permission or role) and
replies. Generating commands defer at once, then hand the pending proposal to the `Board`, which
shows progress and posts the takes with their ballot. Every reply that carries user or model
text is sent with `AllowedMentions.none()`. Setting a long script as messages runs off the event
loop. `/room branch` asks the room first (showrunners only: see `bot.room.admin`) and only then
opens the thread, which it deletes again should the branch still fail. The rules of the room live
in `bot.room`; this module only speaks Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.domain import SETTING_FIELDS, Event, ProposalStatus, ScriptLine, parse_duration
from bot.errors import BadInput, NotFound, RoomError
from bot.notices import chinese_room_news, language_notice
from bot.room import IMPORT_LIMIT, RoomService, format_lines, scene_lines
from bot.settings import Settings
from cogs.board import Board
from cogs.commands import (
    Ctx,
    hybrid_command,
    hybrid_group,
    room_of,
    sender_of,
    subcommand,
    writer_of,
)
from cogs.embeds import (
    cast_embed,
    character_embed,
    help_embeds,
    script_messages,
    settings_embed,
    status_embed,
    style_embed,
)
from cogs.errors import NO_MENTIONS
from cogs.locale import ctx_lang, help_entry
from cogs.views import WriteModal, wrote_sentence
from screenplay.render import EXTENSIONS

if TYPE_CHECKING:
    from cogs.client import WritersRoomBot

_log = logging.getLogger(__name__)

#: The most messages `/show` posts; the rest is one `/export` away.
SHOW_MESSAGES = 5

_MENTION = re.compile(r"<@(&?)!?([0-9]+)>|\b([0-9]{15,21})\b")

ExportFormat = Literal["fountain", "fdx", "pdf", "html", "zh", "docx"]
PickRuleName = Literal["first", "majority", "showrunner"]


class SettingsFlags(commands.FlagConverter, delimiter=":", prefix=""):
    """`/room settings` options; in a message: `!room settings takes:3 pick_rule:majority`."""

    takes: int | None = commands.flag(default=None, description="Takes per request (1 to 5)")
    pick_rule: PickRuleName | None = commands.flag(
        default=None, description="How a take is picked: first vote, majority, or showrunner"
    )
    quorum: int | None = commands.flag(
        default=None, description="Votes a take needs under the majority rule"
    )
    deadline: str | None = commands.flag(
        default=None, description="How long votes stay open: 90s, 10m, 2h, 1d"
    )
    temperature: float | None = commands.flag(
        default=None, description="Sampling temperature (0 to 2; higher is wilder)"
    )
    length: int | None = commands.flag(default=None, description="Most tokens per take")
    top_p: float | None = commands.flag(
        default=None, description="Nucleus sampling: above 0, at most 1 (lower is safer)"
    )
    top_k: int | None = commands.flag(
        default=None, description="Sample from the k likeliest tokens (0 to 1000; 0 is off)"
    )
    repetition_penalty: float | None = commands.flag(
        default=None, description="Penalty on repeated words (1 to 2; 1 is off)"
    )
    showrunners: str | None = commands.flag(
        default=None, description="Users and roles who run the room (mentions or ids)"
    )


class StyleFlags(commands.FlagConverter, delimiter=":", prefix=""):
    """`/room style` options; in a message: `!room style genre:noir paper:a4`."""

    genre: str | None = commands.flag(default=None, description="The genre")
    tone: str | None = commands.flag(default=None, description="The tone")
    language: str | None = commands.flag(default=None, description="The language to write in")
    style_notes: str | None = commands.flag(
        name="notes", default=None, description="Standing instructions to the model"
    )
    page_size: Literal["letter", "a4"] | None = commands.flag(
        name="paper", default=None, description="The page: letter or a4"
    )


_STYLE = ("genre", "tone", "language", "style_notes", "page_size")


class RoomCommands(commands.Cog, name="Room"):
    """The commands writers type."""

    def __init__(
        self,
        room: RoomService,
        board: Board,
        status: Callable[[messages.Lang], str],
        settings: Settings,
    ) -> None:
        self.room = room
        self.board = board
        self.status_source = status
        self.settings = settings

    # --- asking the model

    async def _ask(self, ctx: Ctx, kind: str, prompt: str = "", characters: str = "") -> None:
        cues = [c.strip() for c in characters.split(",") if c.strip()]
        # The proposal is made before deferring, so a refusal is still answered ephemerally;
        # making it is one quick transaction, well within Discord's 3 seconds.
        proposal, became_chinese = await self.room.propose_noting_language(
            room_of(ctx), ctx.author.id, kind, prompt, cues
        )
        await ctx.defer()
        await self.board.run(sender_of(ctx), proposal, ctx.author.mention)
        if became_chinese:  # beneath the takes, the first the room writes in Chinese
            lang = ctx_lang(ctx)
            told = "\n".join(said.render(lang) for said in chinese_room_news(self.settings))
            await ctx.send(told, allowed_mentions=NO_MENTIONS)

    @hybrid_command(description="Ask the model for a title and logline")
    @app_commands.describe(idea="The story idea, in a sentence or two")
    async def premise(self, ctx: Ctx, *, idea: str) -> None:
        """Ask the model for a title and logline from an idea."""
        await self._ask(ctx, "premise", idea)

    @hybrid_command(description="Show the bible, a character, or ask for a new sheet")
    @app_commands.describe(
        name="The character's name (shows their sheet when they are in the bible)",
        description="Who they are; the model writes takes of their sheet",
    )
    async def character(
        self, ctx: Ctx, name: str | None = None, *, description: str | None = None
    ) -> None:
        """Without options: the cast. With a name in the bible: the sheet. Otherwise the
        model writes takes of a character sheet."""
        if name is None:
            cast = await self.room.characters(room_of(ctx))
            await ctx.send(embed=cast_embed(cast, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)
            return
        if description is None:
            wanted = name.strip().upper()
            cast = await self.room.characters(room_of(ctx))
            entry = next((c for c in cast if c.name == wanted), None)
            if entry is not None:
                embed = character_embed(entry, ctx_lang(ctx))
                await ctx.send(embed=embed, allowed_mentions=NO_MENTIONS)
                return
        idea = f"{name}: {description}" if description else name
        # The name the writer gave is the cue, whatever the model's sheet calls them.
        await self._ask(ctx, "character", idea, name.replace(",", " "))

    @hybrid_command(description="Ask the model for a scene")
    @app_commands.describe(
        description="What happens; a heading first sets the place: INT. DINER - NIGHT — Maya waits"
    )
    async def scene(self, ctx: Ctx, *, description: str) -> None:
        """Ask the model for a scene (heading and action)."""
        await self._ask(ctx, "scene", description)

    @hybrid_command(description="Ask the model for dialogue")
    @app_commands.describe(
        situation="What the characters talk about",
        characters="Who speaks, separated by commas (from the bible)",
    )
    async def dialogue(self, ctx: Ctx, situation: str, *, characters: str = "") -> None:
        """Ask the model for dialogue between characters."""
        await self._ask(ctx, "dialogue", situation, characters)

    @hybrid_command(description="Ask the model for the next plot beat or a twist")
    @app_commands.describe(hint="Where the story could go (optional)")
    async def beat(self, ctx: Ctx, *, hint: str = "") -> None:
        """Ask the model for the next beat of the outline."""
        await self._ask(ctx, "beat", hint)

    @hybrid_command(name="continue", description="Ask the model to continue the script")
    @app_commands.describe(
        direction="Where the next stretch goes (optional); a heading first starts a new scene there"
    )
    async def continue_(self, ctx: Ctx, *, direction: str = "") -> None:
        """Ask the model for the next stretch of the script, steered by a direction."""
        await self._ask(ctx, "continue", direction)

    @character.autocomplete("name")
    async def _name_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._character_choices(interaction, current, several=False)

    @dialogue.autocomplete("characters")
    async def _cast_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._character_choices(interaction, current, several=True)

    async def _character_choices(
        self, interaction: discord.Interaction, current: str, *, several: bool
    ) -> list[app_commands.Choice[str]]:
        """Names from the room's bible that start like what is being typed; with `several`,
        the last of a comma-separated list is completed and the earlier ones kept."""
        if interaction.channel_id is None:
            return []
        # Every keystroke asks: the bible alone, never the whole script.
        cast = await self.room.characters(interaction.channel_id)
        done, _, typing = current.rpartition(",") if several else ("", "", current)
        chosen = {c.strip().upper() for c in done.split(",") if c.strip()}
        prefix = f"{done}, " if done.strip() else ""
        names = [
            c.name
            for c in cast
            if c.name.startswith(typing.strip().upper()) and c.name not in chosen
        ]
        return [
            app_commands.Choice(name=f"{prefix}{n}"[:100], value=f"{prefix}{n}"[:100])
            for n in names[:25]
        ]

    # --- the script

    @hybrid_command(description="Put your own Fountain lines into the script")
    @app_commands.describe(text="Fountain lines (leave empty to open a form with line breaks)")
    async def write(self, ctx: Ctx, *, text: str | None = None) -> None:
        """Write your own lines (Fountain) at the end of the script."""
        if text is None:
            if ctx.interaction is None:
                raise BadInput("reply.write_after_command")
            await ctx.interaction.response.send_modal(WriteModal(ctx_lang(ctx)))
            return
        lines = await self.room.write(room_of(ctx), ctx.author.id, text)
        await ctx.send(wrote_sentence(lines, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)

    @hybrid_command(description="Show the script, or one scene of it")
    @app_commands.describe(
        scene="The scene's number (from 1); leave empty for the whole script",
        attribution="Add notes saying who wrote or picked each passage",
    )
    async def show(self, ctx: Ctx, scene: int | None = None, attribution: bool = False) -> None:
        """Show the script (or scene N) formatted as a screenplay, with who wrote what."""
        lines = await self.room.show(room_of(ctx))
        if not lines:
            raise NotFound("reply.script_empty")
        if attribution:
            text = await self.room.script_text(
                room_of(ctx), scene=scene, attribution=True, names=_names(ctx, lines)
            )
            pieces = await asyncio.to_thread(script_messages, text)
        else:
            if scene is not None:
                lines = tuple(scene_lines(lines, scene))
            # Writing out and splitting the whole script is CPU work: off the event loop.
            pieces = await asyncio.to_thread(_script_pieces, lines)
        for piece in pieces[:SHOW_MESSAGES]:
            await ctx.send(piece, allowed_mentions=NO_MENTIONS)
        if len(pieces) > SHOW_MESSAGES:
            more = len(pieces) - SHOW_MESSAGES
            await ctx.send(
                messages.text("reply.show_more", ctx_lang(ctx), count=more),
                allowed_mentions=NO_MENTIONS,
            )

    @hybrid_command(description="The characters of the bible")
    async def cast(self, ctx: Ctx) -> None:
        """List the characters in the bible."""
        cast = await self.room.characters(room_of(ctx))
        await ctx.send(embed=cast_embed(cast, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)

    @hybrid_command(description="Undo the room's latest change to the story")
    @app_commands.describe(to="Undo every change after this one (its number in /history)")
    async def undo(self, ctx: Ctx, to: int | None = None) -> None:
        """Undo the latest story change (a showrunner may undo anyone's), or with `to` every
        change after change N, as one change."""
        writer = writer_of(ctx)
        if to is not None:
            event = await self.room.undo_to(room_of(ctx), ctx.author.id, to, **writer.rights)
            await ctx.send(_sentence(event.summary, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)
            return
        event = await self.room.undo(room_of(ctx), ctx.author.id, **writer.rights)
        await ctx.send(_sentence(event.summary, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)
        await self._show_on_ballot(event)

    @hybrid_command(description="Redo the change undone last")
    async def redo(self, ctx: Ctx) -> None:
        """Redo the change undone last."""
        writer = writer_of(ctx)
        event = await self.room.redo(room_of(ctx), ctx.author.id, **writer.rights)
        await ctx.send(_sentence(event.summary, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)
        await self._show_on_ballot(event)

    async def _show_on_ballot(self, event: Event) -> None:
        """An undone or redone pick shows on its proposal's ballot."""
        if event.target is None:
            return
        proposal = await self.room.picked_proposal(event.room_id, event.target)
        if proposal is not None:
            await self.board.update_ballots([proposal])

    @hybrid_command(description="Showrunners: put a take in now, whatever the votes")
    @app_commands.describe(
        take="The take's number", proposal="The proposal's number (default: the latest open one)"
    )
    async def pick(self, ctx: Ctx, take: int, proposal: int | None = None) -> None:
        """A showrunner picks a take of the latest (or the given) open proposal."""
        room_id = room_of(ctx)
        if proposal is None:
            proposal = await self._latest_open(room_id)
        writer = writer_of(ctx)
        result = await self.room.pick(room_id, ctx.author.id, proposal, take, **writer.rights)
        await self.board.refresh(result.proposal)
        lang = ctx_lang(ctx)
        wrote = wrote_sentence(result.lines, lang)
        await ctx.send(
            messages.text("reply.picked", lang, take=take, proposal=proposal, wrote=wrote),
            allowed_mentions=NO_MENTIONS,
        )

    async def _latest_open(self, room_id: int) -> int:
        pending = await self.room.pending_proposals(room_id)
        open_ids = [p.id for p in pending if p.status is ProposalStatus.OPEN]
        if not open_ids:
            raise NotFound("reply.no_open_proposal")
        return max(open_ids)

    @hybrid_command(description="The script as a file")
    @app_commands.describe(
        format="fountain, fdx (Final Draft), pdf, html, docx (Word) or zh (中文剧本 .txt)",
        attribution="Add notes saying who wrote or picked each passage",
        changes_since="A draft's name: lines changed since it get a revision mark (PDF)",
    )
    async def export(
        self,
        ctx: Ctx,
        format: ExportFormat = "fountain",
        attribution: bool = False,
        changes_since: str | None = None,
    ) -> None:
        """Export the script as Fountain, Final Draft, PDF, HTML, Word or a Chinese-convention
        text file."""
        room_id = room_of(ctx)
        # One line says whether there is a script: refused before deferring, so ephemerally.
        if not await self.room.show(room_id, 1, 1):
            raise BadInput("error.nothing_to_export")
        await ctx.defer()  # a long script takes a while to lay out as a PDF
        # The title page credits the room's writers by name, with or without attribution.
        names = _names(ctx, await self.room.show(room_id))
        data = await self.room.export(
            room_id, format, attribution=attribution, names=names, changes_since=changes_since
        )
        stem = _slug((await self.room.project(room_id)).title) or "script"
        await ctx.send(
            messages.text("reply.exported", ctx_lang(ctx), format=format.upper()),
            file=discord.File(io.BytesIO(data), filename=f"{stem}{EXTENSIONS[format]}"),
            allowed_mentions=NO_MENTIONS,
        )

    @hybrid_command(name="import", description="A .fountain or .fdx file becomes the script")
    @app_commands.describe(file="The screenplay, as Fountain (.fountain) or Final Draft (.fdx)")
    async def import_(self, ctx: Ctx, file: discord.Attachment) -> None:
        """Make an attached .fountain or .fdx file the room's script (the room's script must
        be empty: reset it or branch first)."""
        room_id = room_of(ctx)
        if file.size > IMPORT_LIMIT:
            raise BadInput("reply.file_too_large", limit=IMPORT_LIMIT)
        await ctx.defer()
        lines = await self.room.import_script(
            room_id, ctx.author.id, file.filename, await file.read()
        )
        written = len(lines)
        _log.info("imported %s into room %s: %d lines", file.filename, room_id, written)
        await ctx.send(
            messages.text("reply.imported", ctx_lang(ctx), file=file.filename, lines=written),
            allowed_mentions=NO_MENTIONS,
        )

    # --- the room

    @hybrid_group(
        name="room",
        description="The room's settings, branches and reset",
        invoke_without_command=True,
    )
    async def room_group(self, ctx: Ctx) -> None:
        """The room's settings, branches and reset."""
        settings = await self.room.settings(room_of(ctx))
        await ctx.send(embed=settings_embed(settings, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)

    @subcommand(room_group, name="settings", description="Show or change the room's settings")
    async def room_settings(self, ctx: Ctx, *, options: SettingsFlags) -> None:
        """Show the room's settings, or change them (showrunners)."""
        changes = _settings_changes(options)
        room_id = room_of(ctx)
        if not changes:
            settings = await self.room.settings(room_id)
        else:
            writer = writer_of(ctx)
            settings = await self.room.update_settings(
                room_id, ctx.author.id, **writer.rights, **changes
            )
        await ctx.send(embed=settings_embed(settings, ctx_lang(ctx)), allowed_mentions=NO_MENTIONS)

    @subcommand(room_group, name="style", description="The project's genre, tone and style")
    async def room_style(self, ctx: Ctx, *, options: StyleFlags) -> None:
        """Set the project's genre, tone, language, style notes and page size."""
        changes = {f: v for f in _STYLE if (v := getattr(options, f)) is not None}
        project = await self.room.set_premise(room_of(ctx), ctx.author.id, **changes)
        lang = ctx_lang(ctx)
        # A room that has just chosen its language hears what the model makes of it.
        notice = language_notice(self.settings, project.language) if "language" in changes else None
        await ctx.send(
            notice.render(lang) if notice else None,
            embed=style_embed(project, lang),
            allowed_mentions=NO_MENTIONS,
        )

    @subcommand(room_group, name="branch", description="Continue this story in a new thread")
    @app_commands.describe(name="The new thread's name")
    async def room_branch(self, ctx: Ctx, *, name: str = "") -> None:
        """Start a new thread from here that carries on this room's story."""
        parent = ctx.channel.parent if isinstance(ctx.channel, discord.Thread) else ctx.channel
        if not isinstance(parent, discord.TextChannel):
            raise BadInput("reply.branch_where")
        room_id = room_of(ctx)
        writer = writer_of(ctx)
        # Asked before the thread is made, so a refused branch leaves no empty thread behind.
        project = await self.room.check_branch(room_id, ctx.author.id, **writer.rights)
        lang = ctx_lang(ctx)
        named = project.title or messages.text("reply.branch", lang)
        title = name.strip() or messages.text("reply.branch_title", lang, title=named)
        thread = await parent.create_thread(
            name=title[:100], type=discord.ChannelType.public_thread
        )
        try:
            await self.room.branch(room_id, ctx.author.id, thread.id, **writer.rights)
        except RoomError:
            with contextlib.suppress(discord.HTTPException):
                await thread.delete()
            raise
        await ctx.send(
            messages.text("reply.branched", lang, thread=thread.mention),
            allowed_mentions=NO_MENTIONS,
        )

    @subcommand(room_group, name="reset", description="Showrunners: empty the room's story")
    @app_commands.describe(confirm="Set to True: the reset cannot be undone")
    async def room_reset(self, ctx: Ctx, confirm: bool = False) -> None:
        """Empty the room's story (showrunners; cannot be undone)."""
        if not confirm:
            raise BadInput("reply.reset_confirm")
        writer = writer_of(ctx)
        cancelled = await self.room.reset(room_of(ctx), ctx.author.id, **writer.rights)
        await ctx.send(
            messages.text("reply.reset_done", ctx_lang(ctx)), allowed_mentions=NO_MENTIONS
        )
        await self.board.update_ballots(cancelled)

    # --- about

    @hybrid_command(description="The generation queue and the model")
    async def status(self, ctx: Ctx) -> None:
        """The generation queue and the model."""
        pending = await self.room.pending_proposals(room_of(ctx))
        lang = ctx_lang(ctx)
        pending_line = messages.text("reply.room_pending", lang, count=len(pending))
        said = f"{self.status_source(lang)}\n{pending_line}"
        await ctx.send(embed=status_embed(said, lang), allowed_mentions=NO_MENTIONS)

    @hybrid_command(name="help", description="What the writers' room can do")
    async def help_(self, ctx: Ctx) -> None:
        """What the writers' room can do."""
        lang = ctx_lang(ctx)
        entries = []
        for command in ctx.bot.walk_commands():  # every cog's: the room, the bible, revision
            if isinstance(command, commands.Group) and command.invoke_without_command is False:
                continue
            entries.append(help_entry(command, lang))
        await ctx.send(
            embeds=help_embeds(entries, lang), ephemeral=True, allowed_mentions=NO_MENTIONS
        )


# --- helpers --------------------------------------------------------------------------------


def _names(ctx: Ctx, lines: Sequence[ScriptLine]) -> dict[int, str]:
    """Display names of the writers the script's attribution mentions."""
    if ctx.guild is None:
        return {}
    ids = {
        user_id
        for line in lines
        for user_id in (
            line.attribution.written_by,
            line.attribution.picked_by,
            line.attribution.edited_by,
        )
        if user_id
    }
    return {i: m.display_name for i in ids if (m := ctx.guild.get_member(i)) is not None}


def _script_pieces(lines: Sequence[ScriptLine]) -> list[str]:
    """Script lines as the code-block messages `/show` posts."""
    return script_messages(format_lines(lines))


def _sentence(summary: messages.Message, lang: messages.Lang) -> str:
    """A change's summary as a reply: "Undid: wrote 2 lines.", "撤销了：写了 2 行。"."""
    text = summary.render(lang).strip()
    stop = "." if lang == messages.ENGLISH else "。"
    return (text[:1].upper() + text[1:]).rstrip(".。") + stop


def _settings_changes(options: SettingsFlags) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for flag, setting in SETTING_FIELDS.items():
        value = getattr(options, flag)
        if value is not None:
            changes[setting] = value
    if options.deadline is not None:
        changes["vote_deadline_s"] = parse_duration(options.deadline)
    if options.showrunners is not None:
        users, roles = _mentions(options.showrunners)
        changes["showrunners"] = users
        changes["showrunner_roles"] = roles
    return changes


def _mentions(text: str) -> tuple[list[int], list[int]]:
    users: list[int] = []
    roles: list[int] = []
    for match in _MENTION.finditer(text):
        if match[2]:
            (roles if match[1] else users).append(int(match[2]))
        else:
            users.append(int(match[3]))
    if not users and not roles:
        raise BadInput("reply.name_showrunners")
    return users, roles


def _slug(title: str) -> str:
    """A file name's stem for the title: its letters and digits in any script (雨夜, THE_FERRY),
    every other run of characters one underscore, so no path, dot or control character."""
    return re.sub(r"[\W_]+", "_", title).strip("_")[:60]


async def setup(bot: WritersRoomBot) -> None:
    await bot.add_cog(RoomCommands(bot.room, bot.board, bot.status_text, bot.settings))
