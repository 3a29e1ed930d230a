"""What every command cog shares: typed decorators for hybrid commands and groups, and the room,
the writer and a sender read off a command's context.

Knows discord.py's command machinery; nothing of what the commands do.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

import discord
from discord.ext import commands

from cogs.views import Writer

Ctx = commands.Context[Any]
Callback = Callable[..., Coroutine[Any, Any, None]]


def hybrid_command(**attrs: Any) -> Callable[[Callback], commands.HybridCommand[Any, ..., None]]:
    """`commands.hybrid_command`, typed so mypy can follow it (the library's own overloads
    defeat its inference for cog methods)."""
    return cast(
        Callable[[Callback], commands.HybridCommand[Any, ..., None]],
        commands.hybrid_command(**attrs),
    )


def hybrid_group(**attrs: Any) -> Callable[[Callback], commands.HybridGroup[Any, ..., None]]:
    return cast(
        Callable[[Callback], commands.HybridGroup[Any, ..., None]], commands.hybrid_group(**attrs)
    )


def subcommand(
    group: commands.HybridGroup[Any, ..., None], **attrs: Any
) -> Callable[[Callback], commands.HybridCommand[Any, ..., None]]:
    return cast(
        Callable[[Callback], commands.HybridCommand[Any, ..., None]], group.command(**attrs)
    )


def room_of(ctx: Ctx) -> int:
    """The room a command is given in: its channel or thread (never a private message)."""
    if ctx.guild is None:
        raise commands.NoPrivateMessage()
    return ctx.channel.id


def writer_of(ctx: Ctx) -> Writer:
    return Writer.of(ctx.author, ctx.channel)


def sender_of(ctx: Ctx) -> Callable[..., Any]:
    async def send(**kwargs: Any) -> discord.Message:
        return await ctx.send(**kwargs)

    return send
