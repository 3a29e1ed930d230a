"""What the bot tells a room about the model that writes for it, beyond the takes themselves:
the built-in model's Chinese (`language_notice`) and a room that a request made Chinese
(`chinese_room_news`). Worded by the message catalogue, for either front end; no torch here, so
the cogs and the console load without it."""

from __future__ import annotations

from bot.messages import Message, message
from bot.settings import Settings
from model.tasks import is_chinese


def language_notice(settings: Settings, language: str) -> Message | None:
    """What a room that writes in `language` should know of the model `settings` run, or None:
    most of the built-in model's Chinese takes do not read as sentences
    (`Settings.built_in_model`), and a larger model served elsewhere mends that."""
    if settings.built_in_model and is_chinese(language):
        return message("reply.chinese_small_model")
    return None


def chinese_room_news(settings: Settings) -> list[Message]:
    """What to tell a room that a request written in Chinese made a Chinese room
    (`RoomService.propose_noting_language`): that it writes in Chinese now and how to undo it,
    and what the model makes of Chinese (`language_notice`)."""
    notice = language_notice(settings, "Chinese")
    return [message("reply.room_now_chinese"), *([notice] if notice else [])]
