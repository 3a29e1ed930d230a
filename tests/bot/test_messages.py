"""The message catalogues: every key in every language with the same fields, every key the code
names is in them, and the language of a locale tag.

The source is read for the keys it names (a `RoomError`'s first argument, `message(...)`,
`text(...)`), so a sentence added in English only, or a key misspelt, fails here rather than
showing a raw key to a writer.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from bot.errors import BadInput, NotFound, ProposalCancelled
from bot.messages import (
    ENGLISH,
    LANGS,
    SIMPLIFIED,
    TRADITIONAL,
    Message,
    catalogue,
    command_name,
    command_text,
    counted,
    en,
    english_command,
    english_option,
    fields_of,
    first_lang,
    lang_of,
    message,
    option_name,
    text,
    zh_cn,
)

REPO = Path(__file__).resolve().parents[2]
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_is_in_every_language_with_the_same_fields(lang: str) -> None:
    found = catalogue(lang)  # type: ignore[arg-type]
    assert set(found) == set(en.MESSAGES)
    for key, english in en.MESSAGES.items():
        if english == "{reason}" and key.startswith("error.model_"):
            # English passes the generation side's sentence on; Chinese words it itself.
            assert fields_of(found[key]) <= {"reason"}, key
            continue
        if key.startswith(("screenplay.", "model_load.")):
            # A library's English (screenplay, model loader), passed on; Chinese words it from
            # the error's fields (tests/bot/test_screenplay_errors_lang.py fills them in).
            assert english == "{reason}", key
            continue
        assert fields_of(found[key]) == fields_of(english), key


@pytest.mark.parametrize("lang", [SIMPLIFIED, TRADITIONAL])
def test_chinese_messages_are_chinese(lang: str) -> None:
    """Every sentence is written in Chinese (a key copied from English would pass the key test
    but show English); only a text that is all fields, format names or numbers may have no CJK
    letter (`{reason}`, `top_p`, `Fountain`)."""
    for key, said in catalogue(lang).items():  # type: ignore[arg-type]
        words = re.sub(r"\{[^}]*\}", "", said)
        if re.search(r"[A-Za-z]{4,}", words) and " " in words.strip():
            assert _CJK.search(words), (key, said)


def test_traditional_is_derived_from_simplified() -> None:
    assert text("error.no_proposal", TRADITIONAL, proposal=3) == "本編劇室沒有第 3 號提案。"
    assert text("error.no_proposal", SIMPLIFIED, proposal=3) == "本编剧室没有第 3 号提案。"
    assert text("error.no_proposal", ENGLISH, proposal=3) == "There is no proposal #3 in this room."


def test_a_message_is_worded_when_read_with_its_nested_counts() -> None:
    said = message("error.no_scene", scene=9, scenes=counted("scene", 1))
    assert said.render(ENGLISH) == "There is no scene 9; the script has 1 scene."
    assert said.render(SIMPLIFIED) == "没有第 9 场；剧本共有 1 场。"
    assert str(message("error.no_scene", scene=9, scenes=counted("scene", 2))).endswith("2 scenes.")


def test_a_message_kept_as_json_reads_back_whole_with_its_nested_messages_and_lists() -> None:
    """The room's log stores each change's message as JSON and words it when someone reads
    /history: nested counts and lists of messages come back, and a list is joined the reader's
    way."""
    import json

    said = message(
        "event.revised_scene",
        scene="4A",
        diff=[
            message("event.diff.revised", lines=counted("line", 1)),
            message("event.diff.added", lines=counted("line", 3)),
        ],
    )
    back = Message.from_json(json.loads(json.dumps(said.to_json(), ensure_ascii=False)))
    assert back == message("event.revised_scene", scene="4A", diff=tuple(said.fields["diff"]))
    assert str(back) == "revised scene 4A (1 line revised, 3 lines added)"
    assert back.render(SIMPLIFIED) == "修改了第 4A 场（改了 1 行、加了 3 行）"
    assert back.render(TRADITIONAL) == "修改了第 4A 場（改了 1 行、加了 3 行）"
    undone = message("event.undid", summary=back)
    assert Message.from_json(undone.to_json()).render(SIMPLIFIED).startswith("撤销了：修改了")


def test_the_generation_sides_errors_are_worded_for_the_reader() -> None:
    from bot.room.proposals import model_error_key
    from model import errors as model_errors

    busy = model_errors.QueueFull(7)
    err = BadInput(model_error_key(busy), reason=str(busy))
    assert str(err) == str(busy)  # English: the generation side's own sentence
    assert err.render(SIMPLIFIED) == "模型正忙于其他编剧室排队的请求；请一分钟后再试。"
    waited = model_errors.QueueTimeout(30)
    assert model_error_key(waited) == "error.model_queue_timeout"  # not the plain timeout's
    assert model_error_key(model_errors.BackendError("server down")) == "error.model"


def test_errors_carry_their_key_and_say_english_by_default() -> None:
    err = NotFound("error.no_proposal", proposal=7)
    assert str(err) == "There is no proposal #7 in this room."
    assert err.render(SIMPLIFIED) == "本编剧室没有第 7 号提案。"
    cancelled = ProposalCancelled(4, cancelled_by=1)
    assert cancelled.naming("ana").render(SIMPLIFIED) == (
        "第 4 号提案在 ana 重置编剧室时已取消；它的候选稿没有保留。"
    )
    with pytest.raises(BadInput, match="Ask for 1 to 5 takes"):
        raise BadInput("error.takes_range")


def test_a_key_missing_in_chinese_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(zh_cn.MESSAGES, "error.takes_range")
    assert text("error.takes_range", SIMPLIFIED) == "Ask for 1 to 5 takes."


@pytest.mark.parametrize(
    ("tag", "lang"),
    [
        ("zh-CN", SIMPLIFIED),
        ("zh_CN", SIMPLIFIED),
        ("zh", SIMPLIFIED),
        ("zh-Hans", SIMPLIFIED),
        ("zh-TW", TRADITIONAL),
        ("zh-HK", TRADITIONAL),
        ("zh-Hant-TW", TRADITIONAL),
        ("en-US", ENGLISH),
        ("fr", ENGLISH),
        ("", None),
        (None, None),
    ],
)
def test_the_language_of_a_locale_tag(tag: str | None, lang: str | None) -> None:
    assert lang_of(tag) == lang


def test_the_first_tag_that_names_a_language_wins() -> None:
    assert first_lang(None, "zh-TW", "en-US") == TRADITIONAL
    assert first_lang(None, None) == ENGLISH


def _named_keys() -> set[str]:
    """The catalogue keys the code names as plain strings: what errors are raised with and what
    `message`, `text` and `counted` are called with (keys built at run time are checked by the
    tests of what builds them)."""
    keys: set[str] = set()
    calls = {"message", "text", "Message", "counted"}
    errors = {"BadInput", "NotFound", "NotAllowed", "NotReady", "AlreadyDecided", "NothingToUndo"}
    errors |= {"GenerationFailed", "QueueFull", "DatabaseFailed", "RoomError"}
    for path in [*REPO.glob("bot/**/*.py"), *REPO.glob("cogs/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name in calls | errors and isinstance(first, ast.Constant):
                value = first.value
                if name == "counted":
                    keys |= {f"count.{value}.one", f"count.{value}.many"}
                elif isinstance(value, str):
                    keys.add(value)
            elif name in errors and not isinstance(first, ast.Constant | ast.Name | ast.Call):
                if not isinstance(first, ast.JoinedStr):
                    continue
                # An f-string key must start with a catalogue prefix: no sentence in code.
                head = first.values[0]
                assert isinstance(head, ast.Constant) and "." in str(head.value), (path, name)
    return keys


def test_every_key_the_code_names_is_in_the_catalogue() -> None:
    named = _named_keys()
    assert len(named) > 200
    missing = sorted(k for k in named if k not in en.MESSAGES)
    assert not missing


def test_no_room_error_is_raised_with_a_sentence() -> None:
    """A `RoomError` raised with an English sentence instead of a key could not be translated."""
    for key in _named_keys():
        assert " " not in key, key


def test_keys_built_at_run_time_are_in_the_catalogue() -> None:
    """Keys made from an enum's value or a command's name, one for each value there is."""
    from bot.commandline import COMMANDS
    from bot.domain import (
        SETTING_OPTIONS,
        BeatStatus,
        PageSize,
        PickRule,
        ProposalStatus,
        RoomSettings,
        VoteOutcome,
    )
    from model.tasks import SHEET_FIELDS, TaskKind

    built = {f"kind.{k.value}" for k in TaskKind} | {f"beat.{s.value}" for s in BeatStatus}
    built |= {f"embed.status.{s.value}" for s in ProposalStatus}
    built |= {f"embed.rule.{r.value}" for r in PickRule}
    built |= {f"choice.pick_rule.{r.value}" for r in PickRule}
    built |= {f"console.vote_{o.value}" for o in VoteOutcome}
    built |= {f"field.{f}" for f in SHEET_FIELDS}
    closed = set(ProposalStatus) - {ProposalStatus.GENERATING, ProposalStatus.OPEN}
    built |= {f"error.closed_{s.value}" for s in closed - {ProposalStatus.REROLLED}}
    built |= {f"error.owner_or_showrunner.{doing}" for doing in ("reroll", "edit")}
    built |= {f"error.other_writers_{verb}" for verb in ("undo", "redo")}
    built |= {f"error.nothing_to_{verb}" for verb in ("undo", "redo")}
    built |= {command.summary.key for command in COMMANDS}
    built |= {f"setting.{option}" for option in SETTING_OPTIONS.values()}
    choices = {*PickRule, *PageSize}  # shown by the names of their slash command choices
    assert not [c for c in choices if command_text("choice", c.value, SIMPLIFIED) is None]
    assert set(SETTING_OPTIONS) == {f.name for f in dataclasses.fields(RoomSettings)}
    assert not sorted(built - set(en.MESSAGES))


def test_every_field_a_writer_fills_in_is_named_in_the_catalogue() -> None:
    """`clean_text(text, what, ...)` names the field in its error: each `what` the code passes."""
    whats: set[str] = set()
    for path in REPO.glob("bot/**/*.py"):
        whats |= set(re.findall(r"clean_text\([^,]+, \"([a-z ]+)\"", path.read_text("utf-8")))
    whats |= {"title", "logline", "genre", "tone", "style notes", "language"}  # set_premise
    assert whats
    assert not sorted(f for f in whats if f"field.{f.replace(' ', '_')}" not in en.MESSAGES)


def test_every_stored_reason_is_read_back_and_shown_in_chinese() -> None:
    """Why a vote decided is stored in English; each reason the pick rules make reads back as
    its message, whatever its numbers, and an unknown text stays as it is."""
    from bot.picking import REASONS, reason_message

    for key in REASONS:
        made = message(key, count=3, quorum=2)
        stored = str(made)
        read = reason_message(stored)
        assert read is not None and read.key == key, stored
        assert str(read) == stored
        assert _CJK.search(read.render(SIMPLIFIED)), key
    assert reason_message("The model could not write takes for this request.") is None
    read = reason_message("2 votes reached the quorum of 2")
    assert read is not None and read.render(TRADITIONAL) == "2 票達到法定票數 2"


def test_traditional_chinese_uses_discords_taiwanese_words() -> None:
    said = text("reply.no_private_message", TRADITIONAL)
    assert said == "編劇室在伺服器的頻道和討論串裡工作，不在私人訊息裡。"
    assert "子區" not in "".join(catalogue(TRADITIONAL).values())


@pytest.mark.parametrize("lang", [SIMPLIFIED, TRADITIONAL])
def test_chinese_messages_call_commands_and_options_by_their_chinese_names(lang: str) -> None:
    """A Chinese Discord client shows `/选定 候选稿:` where English has `/pick take:`; a message
    that told a Chinese writer to type `/pick take:2` would name a command they cannot see."""
    from bot.commandline import COMMANDS

    english = sorted({c.name.partition(" ")[0] for c in COMMANDS}, key=len, reverse=True)
    named = re.compile(r"(?<![\w/])/(" + "|".join(english) + r")\b")
    options = sorted({o for c in COMMANDS for o in c.options}, key=len, reverse=True)
    option = re.compile(r"(?<![\w:/.])(" + "|".join(options) + r"):(?=\S)")
    for key, said in catalogue(lang).items():  # type: ignore[arg-type]
        assert not named.search(said), (key, said)
        assert not option.search(said), (key, said)
    assert text("help.pick", lang).endswith(  # type: ignore[arg-type]
        "/选定 候选稿:1" if lang == SIMPLIFIED else "/選定 候選稿:1"
    )


def test_every_command_and_option_named_in_chinese_reads_back_in_either_script() -> None:
    from bot.commandline import COMMANDS

    for command in COMMANDS:
        for lang in (SIMPLIFIED, TRADITIONAL):
            chinese = command_name(command.name, lang)
            assert _CJK.search(chinese), command.name
            assert english_command(chinese) == command.name
            for name in command.options:
                assert english_option(option_name(name, lang)) == name
        assert command_name(command.name, ENGLISH) == command.name
    # Taiwan wording as shown, or the same characters written traditional, as a writer may type.
    assert english_command("匯出") == english_command("導出") == "export"
    assert english_command("编剧室 设置") == english_command("編劇室 設定") == "room settings"
    assert english_option("候選稿") == "take"
    assert english_command("frobnicate") == "frobnicate"
    assert english_option("陈伯") == "陈伯"


def test_every_model_load_error_has_a_chinese_sentence() -> None:
    source = (REPO / "model" / "loading.py").read_text(encoding="utf-8")
    kinds = set(re.findall(r'kind="(\w+)"', source))
    assert {"not_installed", "not_found", "no_adapter"} <= kinds
    for kind in kinds:
        assert en.MESSAGES[f"model_load.{kind}"] == "{reason}", kind
        assert _CJK.search(zh_cn.MESSAGES[f"model_load.{kind}"]), kind
