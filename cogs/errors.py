"""The one error handler of the Discord front end.

A `RoomError` is something the writer asked for that cannot be done: its message is the sentence
to show, worded in the reader's language (`cogs.locale`), answered on one line and ephemerally.
Discord's own refusals (a missing option, a value that is not a number, the per-user cooldown)
are answered the same way in words. Anything else is a bug: logged with its traceback and
answered with a short apology, so nothing fails silently. Commands, buttons, modals and reactions
all come through here. This module knows nothing of the room's rules; it only turns exceptions
into replies.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import RoomError
from bot.messages import ENGLISH, Lang, text
from cogs.locale import ctx_lang, interaction_lang

_log = logging.getLogger(__name__)

#: The short apology for a bug, in English (`describe` words it in the reader's language).
APOLOGY = text("reply.apology")
NO_MENTIONS = discord.AllowedMentions.none()


def one_line(text: str) -> str:
    """`text` on one line (an answer never spans several)."""
    return " ".join(text.split())


def unwrap(error: BaseException) -> BaseException:
    """The exception a command, hybrid command or app command actually raised."""
    while isinstance(
        error,
        (
            commands.CommandInvokeError,
            commands.HybridCommandError,
            app_commands.CommandInvokeError,
        ),
    ):
        inner = getattr(error, "original", None)
        if inner is None:
            break
        error = inner
    return error


def describe(error: BaseException, where: str = "a command", lang: Lang = ENGLISH) -> str:
    """The one-line answer to `error` in `lang`; unexpected errors are logged here with their
    traceback."""
    error = unwrap(error)
    if isinstance(error, RoomError):
        return one_line(error.render(lang))
    if isinstance(error, commands.CommandOnCooldown):
        per, wait = f"{error.cooldown.per:g}", f"{error.retry_after:.1f}"
        return text("reply.cooldown", lang, per=per, wait=wait)
    if isinstance(error, commands.MissingRequiredArgument | commands.MissingRequiredAttachment):
        return text("reply.missing_option", lang, option=error.param.name)
    if isinstance(error, commands.UserInputError | app_commands.TransformerError):
        # discord.py's own sentence of what did not convert, in English only.
        return one_line(text("reply.option_does_not_fit", lang, error=error))
    if isinstance(error, commands.NoPrivateMessage):
        return text("reply.no_private_message", lang)
    if isinstance(error, commands.CheckFailure | app_commands.CheckFailure):
        return text("reply.check_failed", lang)
    _log.error("unexpected error in %s", where, exc_info=error)
    return text("reply.apology", lang)


async def reply_error(ctx: commands.Context[commands.Bot], error: BaseException) -> None:
    """Answer a failed command (slash or `!`) with its one line, ephemerally where possible."""
    where = f"command {ctx.command.qualified_name}" if ctx.command else "a command"
    said = describe(error, where, ctx_lang(ctx))
    try:
        await ctx.send(said, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException:
        _log.warning("could not answer an error in %s", where, exc_info=True)


async def answer_interaction(interaction: discord.Interaction, error: BaseException) -> None:
    """Answer a failed button, modal or app command with its one line, ephemerally."""
    said = describe(error, f"interaction {interaction.data!r}"[:200], interaction_lang(interaction))
    try:
        if interaction.response.is_done():
            await interaction.followup.send(said, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(
                said, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
    except discord.HTTPException:
        _log.warning("could not answer an interaction error", exc_info=True)


class Errors(commands.Cog):
    """Routes every command error to `reply_error`."""

    @commands.Cog.listener()
    async def on_command_error(
        self, ctx: commands.Context[commands.Bot], error: commands.CommandError
    ) -> None:
        if isinstance(unwrap(error), commands.CommandNotFound):
            return  # a `!` message for another bot, or a typo: not ours to answer
        await reply_error(ctx, error)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Errors())
    bot.tree.on_error = answer_interaction  # type: ignore[method-assign]
