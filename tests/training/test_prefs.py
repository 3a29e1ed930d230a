"""The room's votes as preference data: a real room database, decided by votes, exported, and a
few DPO steps on the tiny model that learn the room's taste."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.room import RoomService
from bot.store import Store
from model.prompts import build_messages
from model.tasks import GeneratedTake
from tests.fakes import Call, FakeGenerator
from training import finetune
from training.data import load_preferences
from training.prefs import export_preferences, main

ROOM = 7
ANA, BEN, CY = 1, 2, 3


def terse_or_chatty(call: Call, number: int) -> GeneratedTake:
    """Take 1 is a clean, terse exchange; the others wrap one in the chatter a small model adds
    ("Sure! Here is...")."""
    a, b = call.request.characters
    text = f"{a}\nThe tide turns at {call.number}.\n\n{b}\nThen we row now."
    if number > 1:
        text = (
            f"Sure! Here is your dialogue number {call.number}:\n\n{a}\nUm, I think, like, "
            f"maybe the tide is, you know, turning?\n\n{b}\nI guess so, um, maybe. I hope this "
            "helps!" + " Let me know if you want changes." * (number - 1)
        )
    return GeneratedTake(text=text, model="fake", fountain=text)


async def _room_database(path: Path) -> FakeGenerator:
    """A room that asks for dialogue three times: the first proposal is decided by two votes;
    then a writer adds lines (undone and redone); the second proposal is rerolled and its
    replacement decided; the last stays open. The generator remembers every request, so the
    test knows exactly what the model was asked."""
    generator = FakeGenerator(write=terse_or_chatty)
    store = await Store.open(path)
    try:
        room = RoomService(store, generator)
        await room.set_premise(ROOM, ANA, title="Low Tide", logline="Two rowers race the tide.")
        await room.add_character(ROOM, ANA, "MARA", role="rower", voice="curt")
        await room.add_character(ROOM, ANA, "TOM", role="her brother", voice="rambling")
        first = await room.ask(ROOM, ANA, "dialogue", "On the slipway", ["MARA", "TOM"])
        await room.vote(ROOM, BEN, first.id, 1)
        await room.vote(ROOM, CY, first.id, 1)
        await room.write(ROOM, ANA, "EXT. ESTUARY - DAWN\n\nFog on the water.")
        await room.undo(ROOM, ANA)
        await room.redo(ROOM, ANA)
        second = await room.ask(ROOM, BEN, "dialogue", "Mid-channel", ["TOM", "MARA"])
        again = await room.generate(ROOM, (await room.reroll(ROOM, BEN, second.id)).id)
        await room.vote(ROOM, ANA, again.id, 1)
        await room.vote(ROOM, CY, again.id, 1)
        await room.ask(ROOM, CY, "dialogue", "Landfall", ["MARA", "TOM"])
    finally:
        await store.close()
    return generator


@pytest.fixture
async def room_db(tmp_path: Path) -> tuple[Path, FakeGenerator]:
    path = tmp_path / "rooms.sqlite3"
    return path, await _room_database(path)


async def test_decided_proposals_become_records_with_the_prompt_the_model_saw(
    room_db: tuple[Path, FakeGenerator],
) -> None:
    path, generator = room_db
    records = await export_preferences(path)
    assert [r.proposal for r in records] == [1, 3]  # #2 was rerolled, #4 is still open
    first, second = records
    # The story has changed since (a scene heading, another pick), yet each prompt is the one
    # the model was given when the proposal was made.
    assert first.messages == build_messages(generator.requests[0])
    assert second.messages == build_messages(generator.requests[2])
    assert "Fog on the water." not in first.messages[1]["content"]
    assert "Fog on the water." in second.messages[1]["content"]
    assert first.chosen.startswith("MARA\nThe tide turns at 1.")
    assert len(first.rejected) == 2 and all("Sure!" in r for r in first.rejected)
    # The rerolled proposal's takes were passed up too.
    assert len(second.rejected) == 2 + 3
    assert first.votes == {"1": 2, "2": 0, "3": 0}


async def test_proposals_before_a_reset_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "rooms.sqlite3"
    generator = FakeGenerator(write=terse_or_chatty)
    store = await Store.open(path)
    try:
        room = RoomService(store, generator)
        await room.add_character(ROOM, ANA, "MARA")
        await room.add_character(ROOM, ANA, "TOM")
        before = await room.ask(ROOM, ANA, "dialogue", "At the quay", ["MARA", "TOM"])
        await room.pick(ROOM, ANA, before.id, 2)
        await room.reset(ROOM, ANA)
        await room.add_character(ROOM, ANA, "MARA", role="skipper")
        await room.add_character(ROOM, ANA, "TOM")
        after = await room.ask(ROOM, ANA, "dialogue", "A new start", ["MARA", "TOM"])
        await room.pick(ROOM, ANA, after.id, 1)
    finally:
        await store.close()
    records = await export_preferences(path)
    assert [r.proposal for r in records] == [after.id]
    assert records[0].messages == build_messages(generator.requests[1])
    assert "skipper" in records[0].messages[1]["content"]


async def test_the_command_writes_what_load_preferences_reads(
    room_db: tuple[Path, FakeGenerator], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = room_db
    before = path.read_bytes()
    out = tmp_path / "prefs.jsonl"
    assert await _run_main(["--db", str(path), "-o", str(out)]) == 0
    assert "2 decided proposals, 7 preference pairs" in capsys.readouterr().out
    assert len(load_preferences(out)) == 7
    assert path.read_bytes() == before  # the source database is never changed
    assert await _run_main(["--db", str(tmp_path / "missing.sqlite3"), "-o", str(out)]) == 1


async def _run_main(argv: list[str]) -> int:
    import asyncio

    # main() runs its own event loop; a test's loop is already running here.
    return await asyncio.to_thread(main, argv)


def test_dpo_on_the_rooms_votes_learns_its_preference(
    tmp_path: Path, tiny_model_dir: Path, small_corpus: Path
) -> None:
    import asyncio

    path = tmp_path / "rooms.sqlite3"
    asyncio.run(_room_database(path))
    prefs = tmp_path / "prefs.jsonl"
    assert main(["--db", str(path), "-o", str(prefs)]) == 0
    rows = [json.loads(line) for line in prefs.read_text().splitlines()]
    assert rows and all(set(r) >= {"messages", "chosen", "rejected"} for r in rows)
    metrics = finetune.main(
        [
            "--model",
            str(tiny_model_dir),
            "--data",
            str(small_corpus),
            "--dpo",
            str(prefs),
            "--out",
            str(tmp_path / "dpo"),
            "--max-steps",
            "4",
            "--batch-size",
            "4",
            "--max-len",
            "384",
            "--lr",
            "1e-2",
            "--warmup-steps",
            "1",
            "--lora-dropout",
            "0",
            "--dpo-beta",
            "0.5",
            "--eval-every",
            "100",
        ]
    )
    trained = [h for h in metrics["history"] if "train_loss" in h]
    assert trained[0]["train_loss"] == pytest.approx(0.6931, abs=0.01)  # policy == reference
    assert trained[-1]["train_loss"] < trained[0]["train_loss"] - 0.1
    assert trained[-1]["dpo_margin"] > trained[0]["dpo_margin"] + 0.2
    assert (tmp_path / "dpo" / "adapter" / "adapter_config.json").is_file()
