"""The reader's language on Discord, and the slash commands in Chinese.

A reply to a command, button or modal is in the language of whoever acted: the interaction's
`locale` (the user's Discord language), else the guild's preferred locale, else English. A `!`
command carries no user locale, so it is answered in the guild's; ballots and progress posted
to a channel for everyone are in the guild's too. `RoomTranslator` is discord.py's
`app_commands.Translator` over `bot.messages.command_text`: command, option and choice names and
descriptions in simplified (zh-CN) and traditional (zh-TW) Chinese, None (the English the cogs
declare) for any other locale. This module knows Discord's locales and its command tree; the
words are `bot.messages`'.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where
from discord.ext import commands

from bot.messages import ENGLISH, CommandTable, Lang, command_text, first_lang, lang_of

#: The Discord locales the bot speaks besides English.
CHINESE_LOCALES = {discord.Locale.chinese: "zh-CN", discord.Locale.taiwan_chinese: "zh-TW"}


def guild_lang(guild: discord.Guild | None) -> Lang:
    """The language of what the bot posts for a whole guild (ballots, progress, `!` replies)."""
    return first_lang(getattr(guild, "preferred_locale", None)) if guild else ENGLISH


def interaction_lang(interaction: discord.Interaction) -> Lang:
    """The language of a reply to `interaction`: the user's, else the guild's, else English."""
    return first_lang(
        getattr(interaction, "locale", None),
        getattr(interaction, "guild_locale", None),
        getattr(getattr(interaction, "guild", None), "preferred_locale", None),
    )


def ctx_lang(ctx: commands.Context[Any]) -> Lang:
    """The language of a reply to a command: a slash command's user, a `!` command's guild."""
    if ctx.interaction is not None:
        return interaction_lang(ctx.interaction)
    return guild_lang(ctx.guild)


def _command_path(command: Any) -> str:
    return str(getattr(command, "qualified_name", getattr(command, "name", "")))


def _translation_key(
    context: app_commands.TranslationContextTypes,
) -> tuple[CommandTable, str] | None:
    """Which table of `bot.messages.commands_zh`, and which key, a string of the tree is."""
    data: Any = context.data
    where = context.location
    if where in (Where.command_name, Where.group_name):
        return "command", _command_path(data)
    if where in (Where.command_description, Where.group_description):
        return "description", _command_path(data)
    if where is Where.parameter_name:
        return "option", str(data.name)
    if where is Where.parameter_description:
        return "description", f"{_command_path(data.command)}.{data.name}"
    if where is Where.choice_name:
        return "choice", str(data.value)
    return None


class RoomTranslator(app_commands.Translator):
    """The slash commands' names, descriptions and choices in Chinese."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        lang = lang_of(CHINESE_LOCALES.get(locale))
        if lang is None:
            return None
        found = _translation_key(context)
        if found is None:
            return None
        return command_text(found[0], found[1], lang)


def _signature(command: commands.Command[Any, ..., Any], lang: Lang) -> str:
    """The command's options as a writer in `lang` types them: `<想法>` for one they must
    give, `[署名]` for one they may, and each option of a form of options (`/编剧室 设置`) as
    `[选稿规则:…]`, the names the slash command has in `lang`."""

    def named(name: str, attribute: str = "") -> str:
        return command_text("option", attribute or name, lang) or name

    words = []
    for name, param in command.clean_params.items():
        converter = param.converter
        if isinstance(converter, type) and issubclass(converter, commands.FlagConverter):
            flags = converter.get_flags().values()
            words += [f"[{named(flag.name, flag.attribute)}:…]" for flag in flags]
        elif param.required:
            words.append(f"<{named(name)}>")
        else:
            words.append(f"[{named(name)}]")
    return " ".join(words)


def help_entry(command: commands.Command[Any, ..., Any], lang: Lang) -> tuple[str, str]:
    """A command's usage and description as `/help` lists them, in `lang`: the names the slash
    command has in that language (a `!` command still answers to its English name)."""
    description = command.description or command.short_doc
    if lang == ENGLISH:
        return f"/{command.qualified_name} {command.signature}".strip(), description
    path, words = "", []
    for word in command.qualified_name.split():
        path = f"{path} {word}".strip()
        words.append(command_text("command", path, lang) or word)
    usage = f"/{' '.join(words)} {_signature(command, lang)}".strip()
    return usage, command_text("description", command.qualified_name, lang) or description
