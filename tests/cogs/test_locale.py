"""The bot in Chinese on Discord: the slash commands' Chinese names, replies in the reader's
language (the user's locale on an interaction, the guild's for `!` commands and for what is
posted to everyone), and `/help` listing the commands by their Chinese names.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands

from bot.errors import NotFound
from bot.messages import commands_zh
from cogs.errors import answer_interaction
from cogs.locale import RoomTranslator, ctx_lang, help_entry
from cogs.views import WriteModal
from tests.cogs.conftest import BotFactory, FakeInteraction, Harness, settle

#: Discord's rule for command and option names (Unicode word characters, so CJK is allowed).
_NAME = re.compile(r"^[-_\w]{1,32}$")
_CHINESE = (discord.Locale.chinese, discord.Locale.taiwan_chinese)


def _walk(commands: list[Any]) -> list[Any]:
    found = []
    for command in commands:
        found.append(command)
        if isinstance(command, app_commands.Group):
            found += _walk(list(command.commands))
    return found


async def _payloads(h: Harness) -> list[dict[str, Any]]:
    """What a sync would send Discord, translations included."""
    tree = h.bot.tree
    assert isinstance(tree.translator, RoomTranslator)
    return [await c.get_translated_payload(tree, tree.translator) for c in tree.get_commands()]


def _check_names(payloads: list[dict[str, Any]], locale: str) -> None:
    names = [p["name_localizations"][locale] for p in payloads]
    assert len(set(names)) == len(names), names
    for payload, name in zip(payloads, names, strict=True):
        assert _NAME.match(name) and name == name.lower(), name
        assert 1 <= len(payload["description_localizations"][locale]) <= 100
        options = payload.get("options", [])
        subcommands = [o for o in options if o["type"] in (1, 2)]
        _check_names(subcommands, locale)
        parameters = [o for o in options if o["type"] not in (1, 2)]
        option_names = [o["name_localizations"][locale] for o in parameters]
        assert len(set(option_names)) == len(option_names), (payload["name"], option_names)
        for option in parameters:
            assert _NAME.match(option["name_localizations"][locale]), option["name"]
            assert 1 <= len(option["description_localizations"][locale]) <= 100
            for choice in option.get("choices", []):
                assert 1 <= len(choice["name_localizations"][locale]) <= 100


async def test_every_slash_command_option_and_choice_has_a_valid_unique_chinese_name(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    payloads = await _payloads(h)
    for locale in ("zh-CN", "zh-TW"):
        _check_names(payloads, locale)
    by_name = {p["name"]: p for p in payloads}
    assert by_name["premise"]["name_localizations"] == {"zh-CN": "故事梗概", "zh-TW": "故事梗概"}
    assert by_name["export"]["name_localizations"] == {"zh-CN": "导出", "zh-TW": "匯出"}
    room = {o["name"]: o for o in by_name["room"]["options"]}
    assert room["settings"]["name_localizations"] == {"zh-CN": "设置", "zh-TW": "設定"}
    pick_rule = next(o for o in room["settings"]["options"] if o["name"] == "pick_rule")
    assert pick_rule["name_localizations"]["zh-CN"] == "选稿规则"
    assert pick_rule["choices"][0]["name_localizations"]["zh-TW"] == "第一票決定"


async def test_the_translator_speaks_chinese_only_to_chinese_locales(make_bot: BotFactory) -> None:
    h = await make_bot()
    translator = RoomTranslator()
    premise = h.bot.tree.get_command("premise")
    assert isinstance(premise, app_commands.Command)
    context = app_commands.TranslationContext(
        app_commands.TranslationContextLocation.command_name, premise
    )
    name = app_commands.locale_str("premise")
    said = {locale: await translator.translate(name, locale, context) for locale in discord.Locale}
    assert said.pop(discord.Locale.chinese) == "故事梗概"
    assert said.pop(discord.Locale.taiwan_chinese) == "故事梗概"
    assert set(said.values()) == {None}  # English, French, Japanese...: the declared English
    describe = app_commands.TranslationContext(
        app_commands.TranslationContextLocation.parameter_description, premise.parameters[0]
    )
    assert await translator.translate(name, discord.Locale.chinese, describe) == (
        "故事的想法，一两句话"
    )


async def test_the_chinese_command_table_names_only_commands_that_exist(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    commands = _walk(list(h.bot.tree.get_commands()))
    paths = {c.qualified_name for c in commands}
    options = {
        f"{c.qualified_name}.{p.name}"
        for c in commands
        if isinstance(c, app_commands.Command)
        for p in c.parameters
    }
    # `draft list` is a console command and the `!draft` group's own answer.
    assert set(commands_zh.COMMAND_NAMES) - paths <= {"draft list"}
    assert set(commands_zh.DESCRIPTIONS) - paths - options <= {"draft list"}
    words = {p.split(".")[1] for p in options}
    assert set(commands_zh.OPTION_NAMES) == words


async def test_a_member_with_a_chinese_locale_gets_chinese_replies(make_bot: BotFactory) -> None:
    h = await make_bot()
    modal = WriteModal()
    modal.text._value = "INT. KITCHEN - NIGHT\n\nMara pours two cups."
    submit = FakeInteraction(h.bot, h.member("ana"), h.channel, locale=discord.Locale.chinese)
    await modal.on_submit(submit.as_interaction())
    assert submit.answers[0].text == "已写入剧本 2 行（第 1–2 行）。"
    refused = FakeInteraction(h.bot, h.member("ana"), h.channel, locale=discord.Locale.chinese)
    await answer_interaction(refused.as_interaction(), NotFound("error.no_proposal", proposal=9))
    assert refused.answers[0].text == "本编剧室没有第 9 号提案。"
    assert refused.answers[0].kwargs["ephemeral"] is True
    taiwan = FakeInteraction(
        h.bot, h.member("ben"), h.channel, locale=discord.Locale.taiwan_chinese
    )
    await answer_interaction(taiwan.as_interaction(), NotFound("error.no_proposal", proposal=9))
    assert taiwan.answers[0].text == "本編劇室沒有第 9 號提案。"
    # The English form that the same member would see in an English locale:
    english = FakeInteraction(h.bot, h.member("cy"), h.channel)
    await answer_interaction(english.as_interaction(), NotFound("error.no_proposal", proposal=9))
    assert english.answers[0].text == "There is no proposal #9 in this room."


async def _in_a_chinese_guild(make_bot: BotFactory) -> Harness:
    """A bot in a guild whose preferred language is simplified Chinese."""
    h = await make_bot()
    h.channel.guild.preferred_locale = discord.Locale.chinese
    return h


async def test_a_chinese_guild_answers_prefix_commands_and_posts_ballots_in_chinese(
    make_bot: BotFactory,
) -> None:
    h = await _in_a_chinese_guild(make_bot)
    await h.say("!pick 1")
    assert h.sent.sends()[-1].content == "本编剧室没有正在投票的提案。"
    await h.say("!write INT. CABIN - NIGHT\n\nThe lamp swings.")
    assert h.sent.sends()[-1].content == "已写入剧本 2 行（第 1–2 行）。"
    await h.say("!scene The storm hits")
    await settle()
    ballot = h.last_ballot().embeds[0]
    assert ballot.title == "第 1 号提案：选一份候选稿"
    rule = "用按钮或数字表情投票：得到 2 票的候选稿写入剧本；截止时票数最多者胜。"
    assert (ballot.description or "").startswith(rule)
    # The footer that finds the ballot again stays the same in every language.
    assert (ballot.footer.text or "").startswith("proposal ")
    from tests.cogs.test_ballots import click

    await click(h, h, "wr:take:1:2", "ana")
    deciding = await click(h, h, "wr:take:1:2", "ben")
    decided = deciding.answers[0].kwargs["embed"]  # the ballot as the deciding click edits it
    assert decided.title == "第 1 号提案：候选稿 2 已写入剧本"
    assert "（2 票达到法定票数 2）；得 2 票。" in (decided.description or "")


async def test_a_chinese_guilds_fresh_room_is_told_in_chinese_that_it_writes_in_chinese(
    make_bot: BotFactory,
) -> None:
    h = await _in_a_chinese_guild(make_bot)
    await h.say("!premise 一个茶馆老板在拆迁前的最后一夜")
    told = h.sent.sends()[-1].content.splitlines()
    assert told[0].startswith("本编剧室从现在起用中文写作") and "/撤销" in told[0]  # its own name
    assert told[1].startswith("提示：内置模型很小") and "docs/DEPLOY.md" in told[1]
    await h.say("!room style language:中文")
    assert h.sent.sends()[-1].content.startswith("提示：内置模型很小")


async def test_undo_redo_and_history_speak_the_readers_language(make_bot: BotFactory) -> None:
    """What each change was is kept as a message, not English text: a Chinese guild reads its
    history in Chinese, and the same room read from an English guild in English."""
    h = await _in_a_chinese_guild(make_bot)
    await h.say("!write INT. CABIN - NIGHT\n\nThe lamp swings.")
    await h.say("!undo")
    assert h.sent.sends()[-1].content == "撤销了：写了 2 行。"
    await h.say("!redo")
    assert h.sent.sends()[-1].content == "重做了：写了 2 行。"
    await h.say("!delete lines:2")
    await h.say("!undo")
    assert h.sent.sends()[-1].content == "撤销了：删除了第 2 行。"
    await h.say("!history")
    history = h.sent.sends()[-1].content
    for change in ("删除了第 2 行 *(已撤销)*", "重做了：写了 2 行", "撤销了：写了 2 行"):
        assert change in history, change
    h.channel.guild.preferred_locale = discord.Locale.american_english
    await h.say("!history")
    history = h.sent.sends()[-1].content
    for change in ("deleted line 2 *(undone)*", "redid: wrote 2 lines", "undid: deleted line 2"):
        assert change in history, change


async def test_a_chinese_voter_is_answered_in_chinese_on_an_english_ballot(
    make_bot: BotFactory,
) -> None:
    from tests.cogs.test_ballots import click

    h = await make_bot()
    await h.say("!scene The storm hits")
    await settle()
    ballot = h.last_ballot()
    clicked = await click(h, h, "wr:take:1:1", "ben", locale=discord.Locale.chinese)
    assert clicked.answers[-1].text == "你投给候选稿 1 的票已计入。"
    edited = clicked.answers[0].kwargs["embed"]
    assert edited.title == "Proposal #1: pick a take"  # the ballot is the guild's, in English
    assert ballot.id == h.last_ballot().id


async def test_help_lists_the_commands_by_their_chinese_names(make_bot: BotFactory) -> None:
    h = await _in_a_chinese_guild(make_bot)
    await h.say("!help")
    embeds = h.sent.sends()[-1].payload["embeds"]
    help_text = "\n".join(embed["description"] for embed in embeds)
    assert embeds[0]["title"] == "编剧室"
    for usage in ("/故事梗概 <想法>", "/对白 <情境>", "/编剧室 设置", "/设定集 修改", "/导出"):
        assert usage in help_text, usage
    assert "请模型写一个标题和一句话梗概" in help_text
    # Options are named as a Chinese writer types them, a form of options option by option.
    assert "[选稿规则:…]" in help_text and "/导出 [格式] " in help_text
    assert "/编剧室 风格 [类型:…] [基调:…] [语言:…] [风格说明:…] [纸张:…]" in help_text
    assert "<options>" not in help_text and "upload" not in help_text
    await h.say("!status")
    status = h.sent.sends()[-1].payload["embeds"][0]
    assert status["title"] == "编剧室状态"
    assert status["description"] == "模型的状态暂时无法获取。\n本编剧室：0 个提案待处理。"
    assert sum(len(e["description"]) + len(e.get("title", "")) for e in embeds) <= 6000
    await h.say("!room settings")
    settings = h.sent.sends()[-1].payload["embeds"][0]["description"]
    assert "多数票决定" in settings and "majority" not in settings
    await h.say("!room style")
    assert "美式 Letter" in h.sent.sends()[-1].payload["embeds"][0]["description"]


async def test_a_slash_command_is_answered_in_its_users_language(make_bot: BotFactory) -> None:
    """A slash command's context carries the user's locale; a `!` command the guild's."""
    h = await make_bot()
    command = h.bot.get_command("premise")
    assert command is not None

    class SlashContext:
        interaction = FakeInteraction(
            h.bot, h.member("ana"), h.channel, locale=discord.Locale.taiwan_chinese
        )
        guild = h.channel.guild

    assert ctx_lang(SlashContext()) == "zh-TW"  # type: ignore[arg-type]
    usage, description = help_entry(command, "zh-TW")
    assert (usage, description) == ("/故事梗概 <想法>", "請模型寫一個標題和一句話梗概")
    assert help_entry(command, "en") == ("/premise <idea>", "Ask the model for a title and logline")
