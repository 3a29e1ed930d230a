"""The Discord client of the writers' room: intents, cogs, persistent buttons, the deadline loop.

`WritersRoomBot` is handed a running `RoomService` (`run_discord` opens the app — store, model,
room service — and closes it after); it owns only the Discord side. `setup_hook` registers the
ballot buttons (dynamic items, so ballots posted before a restart keep working), loads the cogs
— a cog that fails to load is logged and the others still load — and syncs the slash commands,
to `GUILD_ID` when set (instant, for development) or globally. Once connected, proposals the
last run left generating are generated again and open proposals whose ballot is missing are
posted again. A background task decides proposals whose vote deadline passed and updates their
ballots. No message of the bot can ping anyone unless a send asks for it
(`AllowedMentions.none()` is the client default), writers are limited to one action per
`command_cooldown_s` — a command, a button click and a vote by reaction all take their turn from
the same bucket (`cogs.cooldown`) — and the token is never logged: it goes from `Settings` to
discord.py alone.

The cooldown is a global check run once per invocation (`call_once=True`): discord.py runs those
in `Bot.invoke` for a `!` command (once for a group and its subcommand, as in `!room branch`) and
in the hybrid app command's own check for a slash command, subcommands of `/room` included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.app import cancel_on_signals, open_app
from bot.messages import ENGLISH, Lang, text
from bot.room import RoomService
from bot.settings import Settings, SettingsError
from cogs.board import Board
from cogs.cooldown import WriterCooldown
from cogs.locale import RoomTranslator
from cogs.views import DYNAMIC_ITEMS
from model.loading import ModelLoadError

_log = logging.getLogger(__name__)

#: The cogs loaded at start, in order (errors first, so it handles the others' failures).
EXTENSIONS = ("cogs.errors", "cogs.room", "cogs.bible", "cogs.revise", "cogs.reactions")

StatusSource = Callable[[Lang], str]


def default_intents() -> discord.Intents:
    """Guilds and reactions (default intents) plus message content, which `!` commands need."""
    wanted = discord.Intents.default()
    wanted.message_content = True
    wanted.reactions = True
    wanted.guilds = True
    return wanted


class WritersRoomBot(commands.AutoShardedBot):
    """The bot. `status` returns the queue and model lines `/status` shows."""

    def __init__(
        self,
        room: RoomService,
        settings: Settings,
        *,
        status: StatusSource | None = None,
        extensions: Sequence[str] = EXTENSIONS,
        sync_commands: bool = True,
        close_interval_s: float = 5.0,
        progress_interval_s: float = 1.0,
        intents: discord.Intents | None = None,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned_or("!"),
            intents=intents or default_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.room = room
        self.settings = settings
        self.board = Board(self, room, progress_interval_s)
        self._status = status
        self._extensions = tuple(extensions)
        self._sync_commands = sync_commands
        self._close_interval_s = close_interval_s
        self._closer: asyncio.Task[None] | None = None
        self._resumer: asyncio.Task[None] | None = None
        self.cooldown = WriterCooldown(settings.command_cooldown_s)
        self.add_check(self._cooldown, call_once=True)
        self.failed_extensions: list[str] = []

    def status_text(self, lang: Lang = ENGLISH) -> str:
        """The queue's and the model's lines for `/status` (their figures as the model side
        writes them), or in `lang` that there are none."""
        if self._status is None:
            return text("reply.status_unavailable", lang)
        return self._status(lang)

    async def setup_hook(self) -> None:
        # Before the cogs load, so their commands are synced with their Chinese names.
        await self.tree.set_translator(RoomTranslator())
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        pending = await self.room.pending_proposals()
        _log.info("ballot buttons registered; %d proposal(s) pending", len(pending))
        for name in self._extensions:
            try:
                await self.load_extension(name)
            except Exception:
                self.failed_extensions.append(name)
                _log.exception("the cog %s failed to load; the bot runs without it", name)
        if self._sync_commands:
            await self._sync()
        self._closer = asyncio.create_task(self._close_due_forever(), name="close-due")

    async def on_ready(self) -> None:
        # Once per process (on_ready also follows a reconnect): the channels are known now.
        if self._resumer is None:
            self._resumer = asyncio.create_task(self.board.resume(), name="resume-proposals")
        _log.info("connected as %s to %d guild(s)", self.user, len(self.guilds))

    async def _sync(self) -> None:
        try:
            if self.settings.guild_id is not None:
                guild = discord.Object(self.settings.guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                _log.info("synced %d commands to guild %s", len(synced), guild.id)
            else:
                synced = await self.tree.sync()
                _log.info("synced %d commands globally (may take up to an hour)", len(synced))
        except discord.HTTPException:
            _log.exception("syncing the slash commands failed; `!` commands still work")

    async def _close_due_forever(self) -> None:
        while True:
            await asyncio.sleep(self._close_interval_s)
            try:
                closed = await self.board.close_due()
                if closed:
                    _log.info("closed %d proposal(s) at their deadline", len(closed))
            except Exception:
                _log.exception("closing proposals at their deadline failed")

    async def _cooldown(self, ctx: commands.Context[Any]) -> bool:
        self.cooldown.take(ctx.author.id)
        return True

    async def close(self) -> None:
        for task in (self._closer, self._resumer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await super().close()


def run_discord(settings: Settings) -> int:
    """Run the bot for `settings` until SIGINT or SIGTERM (exit status 0), or until it cannot
    start (1, with the reason on standard error). Stopping drains the generation queue and
    closes the database (`bot.app.open_app`)."""
    return asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> int:
    if not settings.has_token:
        print("error: DISCORD_TOKEN is not set.", file=sys.stderr)
        return 1
    with cancel_on_signals() as signals:
        try:
            async with (
                open_app(settings) as app,
                WritersRoomBot(app.rooms, settings, status=app.status) as bot,
            ):
                await bot.start(settings.discord_token.get_secret_value().strip())
        except asyncio.CancelledError:
            if not signals:
                raise
            _log.info("stopped by signal %s", signals[0])
        except discord.LoginFailure:
            print("error: Discord refused the token; check DISCORD_TOKEN in .env.", file=sys.stderr)
            return 1
        except discord.PrivilegedIntentsRequired:
            print(
                "error: enable the Message Content intent for the bot in the Discord developer "
                "portal (Bot > Privileged Gateway Intents).",
                file=sys.stderr,
            )
            return 1
        except (ModelLoadError, SettingsError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except aiohttp.ClientConnectionError as err:
            # No network or Discord unreachable: one line, not an aiohttp traceback.
            print(
                f"error: cannot reach Discord ({err.__class__.__name__}: {err}).", file=sys.stderr
            )
            return 1
    return 0
