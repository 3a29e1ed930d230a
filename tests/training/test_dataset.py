"""The dataset: examples in the bot's own prompt format, split by script, loss on answers only."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from model.generator import chat_prompt_ids
from model.prompts import build_messages
from model.tasks import TaskKind
from training.data import (
    Script,
    Splits,
    build_splits,
    examples_for,
    fountain_of,
    load_preferences,
    load_source,
    scenes_of,
    split_scripts,
)
from training.finetune import IGNORE, Config, encode, get_lr


def test_no_scene_of_a_held_out_script_is_trained_on(corpus: list[Script], splits: Splits) -> None:
    held_out = set(splits.scripts["test"]) | set(splits.scripts["val"])
    assert splits.scripts["test"] and splits.scripts["val"]
    assert held_out.isdisjoint(splits.scripts["train"])
    assert {e.script for e in splits.train} == set(splits.scripts["train"])
    trained_text = "\n".join(e.answer for e in splits.train)
    for script in corpus:
        if script.name not in held_out:
            continue
        for heading, body in scenes_of(script.document):
            scene = fountain_of([heading, *body])
            assert scene[:400] not in trained_text, f"{script.name}: {heading.text} is trained on"


def test_the_split_does_not_depend_on_the_training_seed(splits: Splits) -> None:
    # finetune.py and evaluate.py both call build_splits() with its default seed, so a run
    # with another --seed still holds out the scripts the evaluation tests on.
    assert build_splits().scripts == splits.scripts


def test_every_language_with_three_scripts_is_held_out_too(corpus: list[Script]) -> None:
    english = [s for s in corpus if s.language == "English"][:6]
    chinese = next(s for s in corpus if s.language == "Chinese")
    zh = [Script(f"zh-{i}", chinese.document, chinese.cast) for i in range(3)]
    groups = split_scripts([*english, *zh[:2]])
    assert {s.name for s in groups["train"]} >= {"zh-0", "zh-1"}  # too few to hold one out
    groups = split_scripts([*english, *zh])
    for split in ("test", "val"):
        assert {s.language for s in groups[split]} == {"English", "Chinese"}
    assert sorted(s.name for g in groups.values() for s in g) == sorted(
        s.name for s in [*english, *zh]
    )


def test_every_task_kind_is_trained(splits: Splits) -> None:
    assert {e.kind for e in splits.train} == set(TaskKind)
    assert {e.kind for e in splits.test} >= {TaskKind.DIALOGUE, TaskKind.SCENE}


def test_examples_ask_exactly_what_the_bot_asks(corpus: list[Script]) -> None:
    for script in corpus[:6]:
        for example in examples_for(script):
            assert example.request is not None
            assert example.messages == build_messages(example.request)
            assert example.answer.strip() == example.answer and example.answer


def test_dialogue_examples_name_who_speaks_and_give_their_sheets(corpus: list[Script]) -> None:
    script = next(s for s in corpus if s.cast)
    dialogue = [e for e in examples_for(script) if e.kind is TaskKind.DIALOGUE]
    assert dialogue
    for example in dialogue:
        assert example.request is not None
        for name in example.request.characters:
            assert name in example.answer  # everyone in play speaks in the answer
        sheets = {s.name for s in example.request.context.characters}
        assert sheets <= set(example.request.characters)


def test_an_example_knows_the_whole_bible_as_a_room_does_without_a_word_more_of_prompt(
    corpus: list[Script],
) -> None:
    """A room's request names its whole bible (`bot.context`), so a take's speakers are checked
    against everyone the room made, whether or not their sheets are in play; the prompt the
    model reads, and so what it was trained on, is the same with or without the names."""
    script = next(s for s in corpus if s.name == "mockumentary-roundabout-of-the-year")
    bible = tuple(sheet.name for sheet in script.cast)
    assert "DUTTA" in bible
    examples = [e for e in examples_for(script) if e.kind is not TaskKind.PREMISE]
    assert examples
    for example in examples:
        assert example.request is not None
        assert example.request.context.cast == bible
        without = dataclasses.replace(
            example.request, context=dataclasses.replace(example.request.context, cast=())
        )
        assert build_messages(without) == example.messages


def test_a_sheet_the_bot_begins_is_how_the_corpus_answers(corpus: list[Script]) -> None:
    """The lines a character sheet's take is begun with (`answer_start`: the name, the role as
    asked, the role's age) are how the corpus's own sheets open: all but one, whose description
    gives her age on two time lines (`二〇二四年33岁 … 二〇〇九年18岁`)."""
    from model.prompts import answer_start

    sheets = [e for script in corpus for e in examples_for(script) if e.kind is TaskKind.CHARACTER]
    assert len(sheets) >= 400
    others = []
    for example in sheets:
        assert example.request is not None
        start = answer_start(example.request)
        assert start.count("\n") == 2  # the name and the role lines, then the description
        if not example.answer.startswith(start):
            others.append(example.answer.splitlines()[0])
    assert others == ["姓名：林未"]


def test_loss_is_on_the_answer_tokens_only(tokenizer: Any, splits: Splits) -> None:
    example = next(e for e in splits.train if e.kind is TaskKind.DIALOGUE)
    ids, labels = encode(tokenizer, example, 100_000)
    prompt = chat_prompt_ids(tokenizer, example.messages)
    assert ids[: len(prompt)] == prompt  # the very tokens the bot's queue prefills
    assert labels[: len(prompt)] == [IGNORE] * len(prompt)
    answer = labels[len(prompt) :]
    assert answer == ids[len(prompt) :]
    assert tokenizer.decode(answer) == example.answer + tokenizer.eos_token


def test_a_long_prompt_keeps_its_head_and_its_task(tokenizer: Any, splits: Splits) -> None:
    example = max(splits.train, key=lambda e: len(e.messages[1]["content"]))
    prompt = chat_prompt_ids(tokenizer, example.messages)
    ids, labels = encode(tokenizer, example, 256)
    kept = labels.count(IGNORE)
    assert len(ids) <= 256 < len(prompt)
    assert ids[:10] == prompt[:10]  # the chat template and the system message start it
    assert ids[kept - 20 : kept] == prompt[-20:]  # the task and the open assistant turn end it
    assert all(label != IGNORE for label in labels[kept:])


def test_learning_rate_warms_up_then_decays_to_its_floor() -> None:
    cfg = Config(lr=1e-3, warmup_steps=10, max_steps=110, min_lr_ratio=0.1)
    rates = [get_lr(step, cfg) for step in range(cfg.max_steps + 1)]
    assert rates[0] == pytest.approx(1e-4)
    assert rates[9] == pytest.approx(1e-3)  # the last warmup step reaches the peak
    assert all(a < b for a, b in itertools.pairwise(rates[:10]))
    assert all(a >= b for a, b in itertools.pairwise(rates[9:]))
    assert rates[60] == pytest.approx(1e-4 + 0.5 * 9e-4)  # half way down the cosine
    assert rates[110] == pytest.approx(1e-4)


def test_preferences_make_one_pair_per_rejected_take(tmp_path: Path) -> None:
    messages = [{"role": "user", "content": "Write the dialogue."}]
    path = tmp_path / "prefs.jsonl"
    rows = [
        {"messages": messages, "chosen": "A\nYes.", "rejected": ["A\nNo.", "A\nMaybe."]},
        {"messages": messages, "chosen": "B\nGo.", "rejected": ["B\nStay."]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    pairs = load_preferences(path)
    assert [(p.chosen, p.rejected) for p in pairs] == [
        ("A\nYes.", "A\nNo."),
        ("A\nYes.", "A\nMaybe."),
        ("B\nGo.", "B\nStay."),
    ]
    path.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"messages": messages}) + "\n")
    with pytest.raises(ValueError, match="line 2"):
        load_preferences(path)


def test_a_hugging_face_source_says_what_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on a machine without the `datasets` package (None in sys.modules makes imports fail).
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(RuntimeError, match="pip install datasets"):
        load_source("hf:someone/screenplays")


def test_a_scene_at_a_place_the_script_has_been_is_asked_with_its_heading(
    corpus: list[Script],
) -> None:
    """A scene example returning to a place its script has been carries the earlier heading
    (`PromptContext.places`), as the bot's context does: its take opens at that place."""
    from model.prompts import answer_start
    from screenplay.stats import split_heading

    returns = 0
    for script in corpus:
        for example in examples_for(script):
            if example.kind is not TaskKind.SCENE or example.request is None:
                continue
            if example.request.context.places:
                returns += 1
                start = answer_start(example.request).strip()
                first = example.answer.splitlines()[0]
                # The place the take opens on is the scene's, or the start of it (a part of
                # the place the scene goes on to: `STARLITE ROLLER RINK`, `..., OFFICE`).
                assert split_heading(first)[1].startswith(split_heading(start)[1]), start
    assert returns >= 100  # a fifth of the corpus's scenes go back to a place


def test_a_synopsis_is_its_scenes_beat_and_what_it_is_asked_for_never_its_text() -> None:
    """What happens in a scene (its synopsis) is the beat that leads into it, and what a writer
    asks for when asking for the scene or its dialogue; it is never in the script's text."""
    from screenplay.fountain import parse_fountain
    from training.data import Script, examples_for

    document = parse_fountain(
        "Title: T\nLanguage: English\n\n"
        "INT. DINER - NIGHT\n\n= Mara hides Tom from the sheriff.\n\nRain on the glass.\n\n"
        "MARA\nGet down.\n\nTOM\nWhy?\n\n"
        "EXT. ROAD - DAWN\n\n= Tom steals Mara's car and leaves her the tip jar.\n\n"
        "Dust. A car door.\n\nTOM\nSorry.\n\nMARA\nTom!\n"
    )
    examples = examples_for(Script("t", document))
    beats = [e.answer for e in examples if e.kind is TaskKind.BEAT]
    assert beats == ["Tom steals Mara's car and leaves her the tip jar."]
    asked = {
        (e.kind, e.request.prompt)
        for e in examples
        if e.request and e.kind in (TaskKind.SCENE, TaskKind.DIALOGUE)
    }
    assert asked == {
        (TaskKind.SCENE, "Diner, with MARA and TOM: Mara hides Tom from the sheriff."),
        (TaskKind.DIALOGUE, "Mara hides Tom from the sheriff."),
        (
            TaskKind.SCENE,
            "Road, with TOM and MARA: Tom steals Mara's car and leaves her the tip jar.",
        ),
        (TaskKind.DIALOGUE, "Tom steals Mara's car and leaves her the tip jar."),
    }
    told = [e.kind for e in examples if "hides Tom" in e.answer + str(e.messages)]
    assert told == [TaskKind.SCENE, TaskKind.DIALOGUE]  # the first scene's own requests alone
    assert all("= " not in e.answer + str(e.messages) for e in examples)


def test_a_script_without_synopses_gives_the_next_scenes_first_action_as_its_beat() -> None:
    from screenplay.fountain import parse_fountain
    from training.data import Script, examples_for

    document = parse_fountain(
        "INT. DINER - NIGHT\n\nRain.\n\nMARA\nGet down.\n\nTOM\nWhy?\n\n"
        "EXT. ROAD - DAWN\n\nTom drives off in Mara's car.\n\nTOM\nSorry.\n\nMARA\nTom!\n"
    )
    examples = examples_for(Script("t", document))
    beats = [e.answer for e in examples if e.kind is TaskKind.BEAT]
    assert beats == ["Tom drives off in Mara's car."]
    # Without a synopsis a scene is asked with its place and people, its dialogue with its
    # opening action.
    asked = [(e.kind, e.request.prompt) for e in examples if e.request and e.kind.value != "beat"]
    assert (TaskKind.SCENE, "Diner, with MARA and TOM") in asked
    assert (TaskKind.DIALOGUE, "Rain.") in asked


def test_a_chinese_scene_is_asked_for_in_chinese_with_what_happens() -> None:
    from screenplay.fountain import parse_fountain
    from training.data import Script, examples_for

    document = parse_fountain(
        "Title: 驾校\nLanguage: Chinese\n\nINT. 驾校 - 日\n\n"
        "= 汤秀芝来驾校报名，熊磊让她先做测试。\n\n"
        "窗口前排着队。\n\n@汤秀芝\n我报名。\n\n@熊磊\n先测试。\n"
    )
    asked = {
        (e.kind, e.request.prompt)
        for e in examples_for(Script("t", document))
        if e.request and e.kind in (TaskKind.SCENE, TaskKind.DIALOGUE)
    }
    assert asked == {
        (TaskKind.SCENE, "驾校，汤秀芝、熊磊在场：汤秀芝来驾校报名，熊磊让她先做测试。"),
        (TaskKind.DIALOGUE, "汤秀芝来驾校报名，熊磊让她先做测试。"),
    }
