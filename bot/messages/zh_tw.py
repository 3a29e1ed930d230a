"""Traditional Chinese (zh-TW) where OpenCC's `s2twp` conversion of the simplified text is right in
characters but not the word Discord's own Taiwanese interface uses: applied to every converted
text, messages and slash commands alike (`bot.messages`)."""

from __future__ import annotations

#: Converted phrase -> the word a Taiwanese writer reads in Discord.
PHRASES: dict[str, str] = {
    "子區": "討論串",  # a thread
    "身份組": "身分組",  # a role
    "私信": "私人訊息",  # a direct message
    "命令": "指令",  # a (slash) command
    "介面卡": "適配器",  # a LoRA adapter (OpenCC reads 适配器 as a hardware card)
    "億引數": "億參數",  # a model's parameters (OpenCC reads 参数 as a function's arguments)
}
