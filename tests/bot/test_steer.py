"""Revising together through the room service: the bible and the project's style, sampling per
room, directions and variations, takes with problems, the context a take was written from, and
reading the script like a script (attribution, figures, the title page, an import's cast)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.domain import CharacterEntry, ProposalStatus, RoomSettings, VoteOutcome
from bot.errors import BadInput, NotAllowed
from bot.room import RoomService
from bot.store import Store
from model.prompts import build_messages
from model.tasks import GeneratedTake, TaskKind, TaskRequest
from tests.bot.conftest import ANA, BEN, ROOM, FakeClock
from tests.fakes import Call, FakeGenerator, canned_take


async def reopen(service: RoomService, generator: FakeGenerator, clock: FakeClock) -> RoomService:
    """The bot restarts: the store closed and opened again on the same file."""
    path = service.store.path
    await service.store.close()
    return RoomService(await Store.open(path), generator, clock=clock)


async def test_bible_edits_survive_a_restart_and_each_undoes(
    service: RoomService, generator: FakeGenerator, clock: FakeClock
) -> None:
    await service.add_character(ROOM, ANA, "Mara", role="pilot")
    await service.add_character(ROOM, ANA, "Tom")
    await service.edit_character(ROOM, ANA, "mara", voice="clipped", new_name="Mara Vance")
    await service.add_location(ROOM, ANA, "ferry deck", "wet steel")
    await service.edit_location(ROOM, ANA, "FERRY DECK", description="rusted steel")
    service = await reopen(service, generator, clock)
    await service.remove_character(ROOM, ANA, "tom")
    await service.remove_location(ROOM, ANA, "ferry deck")
    bible = await service.bible(ROOM)
    assert [c.name for c in bible.characters] == ["MARA VANCE"]
    assert bible.characters[0].voice == "clipped" and bible.locations == ()
    await service.undo(ROOM, ANA)
    await service.undo(ROOM, ANA)
    bible = await service.bible(ROOM)
    assert [c.name for c in bible.characters] == ["MARA VANCE", "TOM"]
    assert bible.locations[0].description == "rusted steel"
    await service.undo(ROOM, ANA)
    assert (await service.bible(ROOM)).locations[0].description == "wet steel"
    await service.store.close()


async def test_the_style_is_one_undoable_change(service: RoomService) -> None:
    await service.set_premise(
        ROOM, ANA, genre="noir", tone="wry", language="French", style_notes="short", page_size="a4"
    )
    project = await service.project(ROOM)
    assert (project.genre, project.language, project.page_size.value) == ("noir", "French", "a4")
    with pytest.raises(BadInput, match="letter or a4"):
        await service.set_premise(ROOM, ANA, page_size="legal")
    await service.undo(ROOM, ANA)
    assert (await service.project(ROOM)).genre == ""


async def test_sampling_settings_are_checked_and_reach_the_request(
    service: RoomService, generator: FakeGenerator, clock: FakeClock
) -> None:
    await service.update_settings(
        ROOM, ANA, temperature=1.2, top_p=0.9, top_k=20, repetition_penalty=1.3, length=200
    )
    for bad, sentence in (
        ({"top_p": 0}, "Top-p"),
        ({"top_k": -1}, "Top-k"),
        ({"repetition_penalty": 5}, "repetition penalty"),
        ({"top_p": float("nan")}, "Top-p"),
    ):
        with pytest.raises(BadInput, match=sentence):
            await service.update_settings(ROOM, ANA, **bad)
    service = await reopen(service, generator, clock)
    await service.ask(ROOM, ANA, "scene", "The deck")
    sampling = generator.calls[-1].sampling
    assert (sampling.temperature, sampling.top_p, sampling.top_k) == (1.2, 0.9, 20)
    assert (sampling.repetition_penalty, sampling.max_new_tokens) == (1.3, 200)
    await service.store.close()


def test_settings_stored_before_sampling_fields_still_read() -> None:
    from bot.store.story import settings_from_json

    old = (
        '{"takes_per_request": 2, "pick_rule": "first", "quorum": 2, "vote_deadline_s": 60,'
        ' "temperature": 0.5, "length": 100, "showrunners": [11], "showrunner_roles": []}'
    )
    settings = settings_from_json(old)
    assert settings.temperature == 0.5 and settings.top_p == RoomSettings().top_p


async def test_a_direction_reaches_the_continue_prompt(
    service: RoomService, generator: FakeGenerator
) -> None:
    await service.ask(ROOM, ANA, "continue", "Mara finally snaps")
    request = generator.requests[-1]
    assert request.prompt == "Mara finally snaps"
    assert "Direction: Mara finally snaps" in build_messages(request)[1]["content"]


async def test_vary_asks_for_the_same_request_keeping_the_takes_gist(
    service: RoomService, generator: FakeGenerator, clock: FakeClock
) -> None:
    first = await service.ask(ROOM, ANA, "dialogue", "Mara argues with Tom", ["MARA"])
    varied = await service.vary(ROOM, BEN, first.id, 2)
    service = await reopen(service, generator, clock)  # the variation is kept with the proposal
    await service.generate(ROOM, varied.id)
    request = generator.requests[-1]
    assert (request.kind, request.prompt, request.characters) == (
        TaskKind.DIALOGUE,
        "Mara argues with Tom",
        ("MARA",),
    )
    assert "Take 2 of the scene." in request.variation
    assert "Take 2 of the scene." in build_messages(request)[1]["content"]
    rerolled = await service.reroll(ROOM, BEN, varied.id)
    await service.generate(ROOM, rerolled.id)
    assert generator.requests[-1].variation == request.variation
    await service.store.close()


def test_prompts_without_a_variation_are_unchanged() -> None:
    request = TaskRequest(TaskKind.SCENE, "The deck")
    varied = dataclasses.replace(request, variation="INT. DECK - NIGHT")
    plain, other = build_messages(request)[1]["content"], build_messages(varied)[1]["content"]
    assert "vary" not in plain and other.endswith(plain.split("\n\n")[-1])
    assert other.replace(plain, "") != ""


def _with_problem(call: Call, number: int) -> GeneratedTake:
    take = canned_take(call, number)
    if number == 2:
        return dataclasses.replace(take, problems=("MARA's speech has no words.",))
    return take


async def test_a_take_with_problems_goes_in_only_by_a_pick(
    service: RoomService, generator: FakeGenerator
) -> None:
    generator.write = _with_problem
    await service.update_settings(ROOM, ANA, pick_rule="first")
    proposal = await service.ask(ROOM, ANA, "scene", "The deck")
    with pytest.raises(NotAllowed, match=r"still has problems .* a showrunner can /pick"):
        await service.vote(ROOM, BEN, proposal.id, 2)
    assert (await service.proposal(ROOM, proposal.id)).status is ProposalStatus.OPEN
    edit = await service.edit_take(ROOM, ANA, proposal.id, 2, "INT. DECK - DAY\n\nFixed.")
    assert edit.take.problems == ()
    result = await service.vote(ROOM, BEN, proposal.id, 2)
    assert result.outcome is VoteOutcome.DECIDED


async def test_the_take_says_what_its_prompt_left_out(
    store: Store, generator: FakeGenerator, clock: FakeClock
) -> None:
    service = RoomService(store, generator, clock=clock, context_budget=60)
    await service.add_character(ROOM, ANA, "Mara", description="a ferry pilot " * 30)
    await service.add_character(ROOM, ANA, "Tom", role="deckhand")
    proposal = await service.ask(ROOM, ANA, "scene", "Mara tells Tom the ferry sails")
    assert generator.requests[-1].context.characters[0].name == "TOM"
    assert proposal.takes[0].omitted == ("the sheet of MARA",)


async def test_stats_attribution_and_the_written_by_page(service: RoomService) -> None:
    await service.write(ROOM, ANA, "INT. DECK - NIGHT\n\nRain.\n\nMARA\nGo.\n\nTOM\nNo.")
    proposal = await service.ask(ROOM, BEN, "dialogue", "Tom answers", ["TOM"])
    await service.pick(ROOM, ANA, proposal.id, 1)
    figures = await service.stats(ROOM)
    assert figures.scenes == 2 and figures.pages == 1
    assert {c.name: c.lines for c in figures.characters}["MARA"] == 2
    text = await service.script_text(ROOM, attribution=True, names={ANA: "Ana"})
    assert "[[written by Ana]]" in text and "picked by Ana" in text
    fountain = (await service.export(ROOM, "fountain", names={ANA: "Ana", BEN: "Ben"})).decode()
    assert "Credit: Written by" in fountain and "Author: Ana" in fountain
    # A Chinese script credits its writers the Chinese way: 编剧：…, no "Written by".
    await service.set_premise(ROOM, ANA, language="中文")
    zh = (await service.export(ROOM, "zh", names={ANA: "Ana", BEN: "Ben"})).decode()
    assert "\n编剧：Ana\n" in zh and "Written by" not in zh and "署名" not in zh


async def test_an_import_fills_the_bible_in_the_same_undo(service: RoomService) -> None:
    await service.add_character(ROOM, ANA, "Mara", role="pilot")
    data = b"INT. DECK - NIGHT\n\nMARA\nGo.\n\nTOM\nNo.\n\n@\xe6\x9e\x97\nHi.\n"
    await service.import_script(ROOM, ANA, "deck.fountain", data)
    cast = await service.characters(ROOM)
    assert cast == (
        CharacterEntry("MARA", role="pilot"),
        CharacterEntry("TOM"),
        CharacterEntry("林"),
    )
    await service.undo(ROOM, ANA)
    assert [c.name for c in await service.characters(ROOM)] == ["MARA"]
    assert not (await service.room(ROOM)).script
