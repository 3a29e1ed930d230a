"""The console in Chinese: `python -m bot --lang zh` answers, errs and explains its commands in
simplified Chinese (`zh-TW` in traditional), on the same room as an English console."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

import bot.__main__ as entry
from bot.app import open_app
from bot.console_session import run_console
from bot.messages import ENGLISH, SIMPLIFIED, TRADITIONAL, Lang
from bot.settings import Settings
from tests.fakes import FakeGenerator


async def _session(db: Path, lines: list[str], lang: Lang) -> str:
    out = io.StringIO()
    async with open_app(Settings(database=db), generator=FakeGenerator()) as app:
        await run_console(app, lines, out, echo=True, lang=lang)
    return out.getvalue()


async def test_the_console_answers_in_chinese(tmp_path: Path) -> None:
    said = await _session(
        tmp_path / "room.db",
        [
            "/help",
            "/vote take:1",
            '/write text:"INT. HALL - DAY\\n\\nA door."',
            "/cast",
            "/frobnicate",
            "/status",
        ],
        SIMPLIFIED,
    )
    assert "模型：FakeGenerator，由调用方提供的生成器运行。\n队列：本进程中没有。\n已运行 " in said
    # Commands by the names a Chinese client shows, summaries in one column on a terminal
    # (a CJK character is two columns wide).
    assert "\n/故事梗概 想法                        请模型写标题和一句话梗概" in said
    assert "\n/选定 候选稿 [提案]                   主编剧：现在就选定一份候选稿" in said
    assert "选项写作 名字:值" in said
    assert "错误：本编剧室没有开放的提案；请先请模型写候选稿。" in said
    assert "已加入剧本 2 行：" in said
    assert '设定集是空的。请用 /人物 名字:"……" 请模型写一个。' in said
    assert "错误：没有 /frobnicate 这个命令；/帮助 会列出所有命令。" in said
    assert "error:" not in said and "There is" not in said


async def test_a_chinese_room_types_its_commands_in_chinese(tmp_path: Path) -> None:
    """The names the help lists are the names the console takes, in either script; a line
    of dialogue in the Chinese convention (`陈伯：打烊了。`) stays text, not an option."""
    said = await _session(
        tmp_path / "room.db",
        [
            '/写入 文本:"外景 码头 晨\\n\\n陈伯:打烊了。"',
            "/写入 人物：陈伯、小梅",
            "/場景 描述:碼頭",
            "/选定 候选稿：2",
            "/幫助 命令:選定",
            "/选定",
            "/改稿 候选稿:1",
        ],
        SIMPLIFIED,
    )
    assert "陈伯\n          打烊了。" in said
    # 人物 names an option of other commands, not of /写入: the convention's cast line is text.
    assert "> /写入 人物：陈伯、小梅\n已加入剧本 1 行：\n人物：陈伯、小梅\n" in said
    assert "第 1 号提案 —— 场景，" in said
    assert "第 1 号提案的候选稿 2 已写入剧本" in said
    assert "> /幫助 命令:選定\n/选定 候选稿 [提案]\n  主编剧：现在就选定一份候选稿" in said
    assert "错误：/选定 需要 候选稿；用法：/选定 候选稿 [提案]" in said
    assert "错误：/改稿 需要 文本；用法：" in said
    assert "error:" not in said


async def test_a_chinese_room_sets_and_reads_its_settings_by_chinese_names(tmp_path: Path) -> None:
    """What the console prints is what a writer types back: option and choice names as a
    Chinese client shows them, and the choice names are taken as typed, in either script."""
    said = await _session(
        tmp_path / "room.db",
        [
            "/编剧室 设置 选稿规则:主編劇決定 候选稿数:2",
            "/编剧室 风格 纸张:A4 类型:黑色电影",
            "/编剧室 风格 纸张:美式letter",
            "/编剧室 设置 选稿规则:多数",
            '/编剧室 风格 基调:first 风格说明:"说 \\"好\\""',
            '/写入 文本:"外景 码头 晨\\n\\n陈伯：打烊了。"',
            "/统计",
            f"/导出 中文剧本 路径:{tmp_path / 'out.txt'}",
        ],
        SIMPLIFIED,
    )
    assert "\n候选稿数:2 选稿规则:主编剧决定 法定票数:2 截止时间:600 温度:0.8 " in said
    assert "\n类型:黑色电影 基调:- 语言:英语 纸张:A4\n" in said
    assert '纸张:"美式 Letter"' in said
    assert "（选稿规则有 第一票决定、多数票决定、主编剧决定；其他设置填数字）" in said
    assert "\n类型:黑色电影 基调:first 语言:英语" in said  # free text is not a choice
    assert '说明：说 "好"' in said
    assert "\n  码头：1 场\n  陈伯：1 行，3 字\n" in said
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == (
        "《未命名》\n编剧：你\n\n外景 码头 晨\n陈伯：打烊了。\n"
    )
    assert "pick_rule" not in said and "takes:" not in said


async def test_the_consoles_history_undo_and_redo_speak_chinese(tmp_path: Path) -> None:
    said = await _session(
        tmp_path / "room.db",
        [
            '/write text:"INT. HALL - DAY\\n\\nA door.\\n\\nMARA\\nWho?"',
            "/undo",
            "/redo",
            '/revise line:2 text:"A red door."',
            "/undo",
            "/history",
        ],
        SIMPLIFIED,
    )
    assert "已撤销：写了 4 行。" in said
    assert "已重做：写了 4 行。" in said
    assert "已撤销：修改了第 2 行。" in said
    for change in ("撤销了：修改了第 2 行", "修改了第 2 行（已撤销）", "重做了：写了 4 行"):
        assert change in said, change
    assert "wrote" not in said and "undid" not in said


async def test_a_take_and_its_vote_in_traditional_chinese(tmp_path: Path) -> None:
    said = await _session(
        tmp_path / "room.db", ['/scene description:"The pier"', "/vote take:1"], TRADITIONAL
    )
    assert "第 1 號提案 —— 場景，" in said
    assert "你 的票已計入；第 1 號提案目前：候選稿 1：1 票，候選稿 2：0 票" in said


async def test_english_stays_the_default(tmp_path: Path) -> None:
    said = await _session(tmp_path / "room.db", ["/vote take:1"], ENGLISH)
    assert "error: There is no open proposal in this room" in said


@pytest.mark.parametrize(
    ("argv", "lang"),
    [
        ([], ENGLISH),
        (["--lang", "zh"], SIMPLIFIED),
        (["--lang", "zh-TW"], TRADITIONAL),
        (["console", "--lang", "zh"], SIMPLIFIED),
        (["--lang", "en", "console"], ENGLISH),
    ],
)
def test_python_m_bot_lang_opens_the_console_in_that_language(
    argv: list[str],
    lang: Lang,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    opened: list[Any] = []

    async def console_main(settings: Settings, room_id: int, lang: Lang = ENGLISH) -> int:
        opened.append(lang)
        return 0

    monkeypatch.setattr(entry, "console_main", console_main)
    monkeypatch.setattr(entry, "load_settings", lambda: Settings(database=tmp_path / "r.db"))
    assert entry.main(argv) == 0
    assert opened == [lang]
    if "console" not in argv:  # without a subcommand or a token, it says why it is a console
        said = capsys.readouterr().err
        expected = {ENGLISH: "DISCORD_TOKEN is not set", SIMPLIFIED: "没有设置 DISCORD_TOKEN"}
        expected[TRADITIONAL] = "沒有設定 DISCORD_TOKEN"
        assert said.startswith(expected[lang]), said


@pytest.mark.parametrize(
    ("lang_tag", "expected"),
    [
        (
            "zh",
            "错误：无法加载模型 {model}：它既不是本地的模型目录，也不在本地的 Hugging Face 缓存里",
        ),
        ("en", "error: Cannot load the model '{model}': it is neither a local model directory"),
    ],
)
def test_a_model_that_cannot_load_is_said_in_the_consoles_language(
    lang_tag: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "no-such-model"
    monkeypatch.setattr(entry, "configure_logging", lambda *a, **k: None)
    monkeypatch.setattr(entry, "load_settings", lambda: Settings(database=tmp_path / "r.db"))
    argv = ["console", "--lang", lang_tag, "--model", str(missing), "--adapter", "none"]
    assert entry.main(argv) == 1
    said = capsys.readouterr().err.strip().splitlines()
    assert said[-1].startswith(expected.format(model=missing)), said
