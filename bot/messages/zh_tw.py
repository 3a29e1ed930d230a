"""Traditional Chinese (zh-TW) where OpenCC's conversion of the simplified catalogue is not the
word a Taiwanese writer would use. Everything else in zh-TW is derived (`bot.messages`)."""

from __future__ import annotations

MESSAGES: dict[str, str] = {}
