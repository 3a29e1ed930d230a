"""Every operation of the room service, as a writer would notice it."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest

from bot.domain import (
    Attribution,
    BeatStatus,
    PageSize,
    PickRule,
    ProposalStatus,
    ScriptLine,
    with_attribution_notes,
)
from bot.errors import (
    AlreadyDecided,
    BadInput,
    GenerationFailed,
    NotAllowed,
    NotFound,
    NothingToUndo,
    QueueFull,
    RoomError,
)
from bot.messages import SIMPLIFIED, TRADITIONAL
from bot.room import RoomService, format_lines, take_text
from model import errors as model_errors
from model.tasks import Sampling, TaskKind
from screenplay.types import (
    Action,
    Character,
    Dialogue,
    Element,
    Note,
    Parenthetical,
    SceneHeading,
    Span,
    Style,
    Text,
)
from tests.bot.conftest import ANA, BEN, CY, ROOM
from tests.conftest import room_events
from tests.fakes import Call, FakeGenerator, raises

SCENE = "INT. KITCHEN - DAY\n\nSteam rises.\n\nMARA\n(quietly)\nWe're late."

_CJK = re.compile(r"[\u4e00-\u9fff]")


# --- project, showrunners, settings ---------------------------------------------------------


async def test_premise_is_cleaned_limited_and_undoable(service: RoomService) -> None:
    project = await service.set_premise(
        ROOM,
        ANA,
        title="  Night\x00 Ferry\x1b[31m ",
        logline="夜渡：一位船长\n**必须**渡海。",
        page_size="A4",
    )
    assert project.title == "Night Ferry[31m"
    assert project.logline == "夜渡：一位船长\n**必须**渡海。"  # Chinese and markdown kept
    assert project.page_size is PageSize.A4
    with pytest.raises(
        BadInput, match=r"The title is too long \(201 characters; the limit is 200\)"
    ):
        await service.set_premise(ROOM, ANA, title="x" * 201)
    with pytest.raises(BadInput, match="letter or a4"):
        await service.set_premise(ROOM, ANA, page_size="legal")
    await service.set_premise(ROOM, ANA, genre="thriller")
    await service.undo(ROOM, ANA)
    assert (await service.room(ROOM)).project == project


async def test_the_first_writer_runs_the_room(service: RoomService) -> None:
    await service.add_beat(ROOM, BEN, "The ferry leaves.")
    settings = await service.settings(ROOM)
    assert settings.showrunners == (BEN,)
    with pytest.raises(NotAllowed, match="Only a showrunner can change"):
        await service.update_settings(ROOM, ANA, quorum=3)
    assert (await service.update_settings(ROOM, ANA, quorum=3, is_showrunner=True)).quorum == 3
    updated = await service.update_settings(
        ROOM, BEN, pick_rule="first", takes_per_request=5, showrunners=[BEN, CY]
    )
    assert updated.pick_rule is PickRule.FIRST and updated.takes_per_request == 5
    assert (await service.update_settings(ROOM, CY, temperature=1.1)).temperature == 1.1
    with pytest.raises(BadInput, match="between 1 and 5"):
        await service.update_settings(ROOM, BEN, takes_per_request=6)
    with pytest.raises(BadInput, match="no setting called colour"):
        await service.update_settings(ROOM, BEN, colour="red")
    with pytest.raises(BadInput, match="at least one showrunner"):
        await service.update_settings(ROOM, BEN, showrunners=[])
    events = await room_events(service, ROOM)
    assert [e.kind for e in events][-1] == "settings"
    # The log names the settings by the options a writer types, in the reader's language.
    changed = next(e.summary for e in events if "pick_rule" in str(e.summary.fields))
    assert str(changed) == "changed the settings (pick rule, showrunners, takes)"
    assert changed.render(SIMPLIFIED) == "修改了设置（选稿规则、主编剧、候选稿数）"


# --- the bible, locations, outline ----------------------------------------------------------


async def test_characters_enter_change_and_leave_the_bible(service: RoomService) -> None:
    mara = await service.add_character(ROOM, ANA, "Mara", role="pilot", voice="clipped")
    assert mara.name == "MARA"
    await service.add_character(ROOM, BEN, "林小雨", description="a stowaway")
    with pytest.raises(BadInput, match="MARA is already in the bible"):
        await service.add_character(ROOM, BEN, "mara")
    with pytest.raises(BadInput, match="no field height"):
        await service.add_character(ROOM, BEN, "Tom", height="tall")
    edited = await service.edit_character(ROOM, BEN, "mara", new_name="Mara Voss", role="captain")
    assert (edited.name, edited.role, edited.voice) == ("MARA VOSS", "captain", "clipped")
    with pytest.raises(NotFound, match="MARA is not in the bible"):
        await service.remove_character(ROOM, BEN, "Mara")
    await service.remove_character(ROOM, BEN, "林小雨")
    room = await service.room(ROOM)
    assert [c.name for c in room.characters] == ["MARA VOSS"]
    await service.undo(ROOM, BEN)
    await service.undo(ROOM, BEN)
    assert {c.name: c.role for c in (await service.room(ROOM)).characters} == {
        "MARA": "pilot",
        "林小雨": "",
    }


async def test_locations(service: RoomService) -> None:
    await service.add_location(ROOM, ANA, "ferry deck", "wet steel")
    await service.edit_location(ROOM, ANA, "Ferry Deck", new_name="upper deck")
    with pytest.raises(BadInput, match="already a location"):
        await service.add_location(ROOM, ANA, "Upper Deck")
    with pytest.raises(NotFound):
        await service.remove_location(ROOM, ANA, "engine room")
    assert [(x.name, x.description) for x in (await service.room(ROOM)).locations] == [
        ("UPPER DECK", "wet steel")
    ]
    await service.remove_location(ROOM, ANA, "upper deck")
    assert (await service.room(ROOM)).locations == ()


async def test_outline_beats(service: RoomService) -> None:
    await service.add_beat(ROOM, ANA, "Mara boards.")
    second = await service.add_beat(ROOM, ANA, "The storm.")
    assert second.number == 2 and second.status is BeatStatus.PLANNED
    done = await service.edit_beat(ROOM, ANA, 1, status="written")
    assert done.status is BeatStatus.WRITTEN
    await service.edit_beat(ROOM, ANA, 2, text="The storm breaks.")
    with pytest.raises(NotFound, match="no beat 3; the outline has 2 beats"):
        await service.remove_beat(ROOM, ANA, 3)
    with pytest.raises(BadInput, match="planned or written"):
        await service.edit_beat(ROOM, ANA, 1, status="maybe")
    await service.remove_beat(ROOM, ANA, 1)
    beats = (await service.room(ROOM)).beats
    assert [(b.number, b.text) for b in beats] == [(1, "The storm breaks.")]


# --- writing, showing, undo -----------------------------------------------------------------


async def test_write_puts_parsed_lines_in_with_attribution(service: RoomService) -> None:
    lines = await service.write(ROOM, ANA, SCENE)
    assert [type(x.element) for x in lines] == [
        SceneHeading,
        Action,
        Character,
        type(lines[3].element),
        Dialogue,
    ]
    assert [x.number for x in lines] == [1, 2, 3, 4, 5]
    assert all(x.attribution.written_by == ANA for x in lines)
    first = await service.write(ROOM, BEN, "FADE IN:\n\nDarkness.", after=0)
    middle = await service.write(ROOM, CY, "The kettle whistles.", after=len(first) + 2)
    script = (await service.room(ROOM)).script
    texts = [str(getattr(x.element, "text", "")) for x in script]
    assert texts[len(first)] == "INT. KITCHEN - DAY"
    assert texts[middle[0].number - 1] == "The kettle whistles."
    assert texts[middle[0].number - 2] == "Steam rises."
    assert [x.number for x in script] == list(range(1, len(script) + 1))
    with pytest.raises(BadInput, match="write after line 0 to"):
        await service.write(ROOM, ANA, "More.", after=99)


async def test_write_refuses_what_is_not_a_screenplay(service: RoomService) -> None:
    with pytest.raises(BadInput, match=r"not a screenplay yet: line \d+: .*parenthe"):
        await service.write(ROOM, ANA, "INT. ROOM - DAY\n\nMARA\n(shouting\nHey.")
    with pytest.raises(BadInput, match="Title page lines"):
        await service.write(ROOM, ANA, "Title: Mine\nAuthor: Ana\n\nINT. ROOM - DAY")
    with pytest.raises(BadInput, match="empty"):
        await service.write(ROOM, ANA, "  \x00 \n ")
    assert (await service.room(ROOM)).script == ()


async def test_show_a_range_with_attribution(service: RoomService) -> None:
    await service.write(ROOM, ANA, SCENE)
    proposal = await service.ask(ROOM, BEN, "dialogue", "Mara answers", ["MARA"])
    # Cy edits Ben's take as a showrunner (only the asker or a showrunner may).
    await service.edit_take(ROOM, CY, proposal.id, 2, "MARA\nNot tonight.", is_showrunner=True)
    await service.pick(ROOM, ANA, proposal.id, 2)
    shown = await service.show(ROOM, 5, 7)
    assert [x.number for x in shown] == [5, 6, 7]
    text = format_lines(shown, attribution=True, names={ANA: "Ana", BEN: "Ben", CY: "Cy"})
    assert "[[written by Ana]]" in text
    assert f"[[take 2 of proposal #{proposal.id} (model fake-model), picked by Ana, " in text
    assert "edited by Cy]]" in text
    assert "Not tonight." in text
    assert await service.show(ROOM, 50) == ()
    with pytest.raises(BadInput, match="numbered from 1"):
        await service.show(ROOM, 0)


async def test_undo_redo_and_whose_line_it_is(service: RoomService) -> None:
    with pytest.raises(NothingToUndo, match="nothing to undo"):
        await service.undo(ROOM, ANA)
    await service.write(ROOM, ANA, SCENE)  # Ana runs the room
    await service.write(ROOM, BEN, "The door slams.")
    with pytest.raises(NotAllowed, match="another writer's; only a showrunner can undo it"):
        await service.undo(ROOM, CY)
    undone = await service.undo(ROOM, BEN)
    assert "undid: wrote 1 line" in str(undone.summary)
    assert len((await service.room(ROOM)).script) == 5
    await service.redo(ROOM, BEN)
    assert len((await service.room(ROOM)).script) == 6
    await service.undo(ROOM, ANA)  # a showrunner may undo anyone's line
    await service.undo(ROOM, ANA)
    assert (await service.room(ROOM)).script == ()
    await service.redo(ROOM, ANA)
    await service.add_beat(ROOM, CY, "New idea.")  # a fresh change ends the redo chain
    with pytest.raises(NothingToUndo, match="nothing to redo"):
        await service.redo(ROOM, ANA)
    assert len((await service.room(ROOM)).script) == 5


# --- proposals ------------------------------------------------------------------------------


async def test_ask_builds_a_request_with_context(
    service: RoomService, generator: FakeGenerator
) -> None:
    await service.set_premise(ROOM, ANA, title="Night Ferry", style_notes="Terse.")
    await service.update_settings(ROOM, ANA, takes_per_request=2, temperature=0.5, length=200)
    await service.add_character(ROOM, ANA, "Mara", voice="clipped")
    await service.add_character(ROOM, ANA, "Tom")
    await service.add_beat(ROOM, ANA, "They reach the island.")
    await service.write(ROOM, ANA, SCENE)
    proposal = await service.ask(ROOM, BEN, "scene", "the island appears")
    last = generator.calls[-1]
    request, n, sampling, room_id = last.request, last.n, last.sampling, last.room_id
    assert (n, room_id) == (2, ROOM)
    assert sampling == Sampling(temperature=0.5, max_new_tokens=200)
    assert request.kind is TaskKind.SCENE and request.prompt == "the island appears"
    assert request.context.title == "Night Ferry" and request.context.style_notes == "Terse."
    assert [c.name for c in request.context.characters] == ["MARA"]  # speaks in this scene
    assert request.context.scene_heading == "INT. KITCHEN - DAY"
    assert request.context.beat == "They reach the island."
    assert "We're late." in request.context.recent_script
    assert proposal.status is ProposalStatus.OPEN and len(proposal.takes) == 2
    assert proposal.deadline is not None
    await service.vote(ROOM, ANA, proposal.id, 1)
    await service.vote(ROOM, BEN, proposal.id, 1)
    assert (await service.room(ROOM)).beats[0].status is BeatStatus.WRITTEN


async def test_propose_checks_its_input(service: RoomService) -> None:
    with pytest.raises(BadInput, match="Ask for one of: premise, character"):
        await service.propose(ROOM, ANA, "poem", "x")
    with pytest.raises(BadInput, match="Say what the dialogue should be about"):
        await service.propose(ROOM, ANA, "dialogue", "   ")
    with pytest.raises(BadInput, match="1 to 5 takes"):
        await service.propose(ROOM, ANA, "scene", "x", n=9)
    proposal = await service.propose(ROOM, ANA, "Dialogue", "talk", ["mara", "Tom", "MARA"])
    assert proposal.characters == ("MARA", "TOM") and proposal.status is ProposalStatus.GENERATING


async def test_picked_premise_character_and_beat_takes(service: RoomService) -> None:
    premise = await service.ask(ROOM, ANA, "premise", "a ferry in a storm")
    await service.pick(ROOM, ANA, premise.id, 2)
    project = (await service.room(ROOM)).project
    assert project.title == "THE FERRY 2"
    assert project.logline == "A pilot must cross the strait, take 2."
    character = await service.ask(ROOM, ANA, "character", "Mara a pilot")
    await service.pick(ROOM, ANA, character.id, 3)
    assert (await service.room(ROOM)).character("mara").voice == "voice of take 3"  # type: ignore[union-attr]
    beat = await service.ask(ROOM, ANA, "beat")
    await service.pick(ROOM, ANA, beat.id, 1)
    assert [b.text for b in (await service.room(ROOM)).beats] == ["Beat take 1"]
    await service.undo(ROOM, ANA)
    await service.undo(ROOM, ANA)
    await service.undo(ROOM, ANA)
    room = await service.room(ROOM)
    assert (room.project.title, room.characters, room.beats) == ("", (), ())
    assert (await service.proposal(ROOM, premise.id)).status is ProposalStatus.DECIDED


async def test_edit_a_take_before_it_goes_in(service: RoomService) -> None:
    # Ana runs the room; Ben edits her takes as a showrunner (only the asker or a showrunner may).
    proposal = await service.ask(ROOM, ANA, "character", "Tom a deckhand")
    shown = take_text(TaskKind.CHARACTER, proposal.takes[0])
    assert shown == "TOM\nRole: lead\nVoice: voice of take 1"
    edited = (
        await service.edit_take(
            ROOM,
            BEN,
            proposal.id,
            1,
            "Tom\nRole: deckhand\nBackstory: grew up\non the docks",
            is_showrunner=True,
        )
    ).take
    assert edited.sheet is not None and edited.sheet.backstory == "grew up\non the docks"
    assert edited.edited_by == BEN
    # A Chinese writer reads the sheet's fields in Chinese and edits it back in that form.
    chinese = take_text(TaskKind.CHARACTER, edited, SIMPLIFIED)
    assert chinese == "TOM\n身份：deckhand\n背景：grew up\non the docks"
    again = await service.edit_take(
        ROOM, BEN, proposal.id, 1, chinese.replace("deckhand", "水手"), is_showrunner=True
    )
    assert again.take.sheet == dataclasses.replace(edited.sheet, role="水手")
    traditional = take_text(TaskKind.CHARACTER, again.take, TRADITIONAL)
    assert traditional.startswith("TOM\n身份：水手\n")
    assert (
        await service.edit_take(ROOM, BEN, proposal.id, 1, traditional, is_showrunner=True)
    ).take.sheet == again.take.sheet
    with pytest.raises(BadInput, match=r"like .Role: \.\.\.."):
        await service.edit_take(ROOM, BEN, proposal.id, 1, "Tom\nhe is nice", is_showrunner=True)
    await service.pick(ROOM, ANA, proposal.id, 1)
    assert (await service.room(ROOM)).character("TOM").role == "水手"  # type: ignore[union-attr]
    with pytest.raises(AlreadyDecided):
        await service.edit_take(ROOM, BEN, proposal.id, 2, "TOM", is_showrunner=True)
    scene = await service.ask(ROOM, ANA, "scene", "x")
    with pytest.raises(BadInput, match="not a screenplay yet"):
        await service.edit_take(
            ROOM, BEN, scene.id, 1, "INT. X - DAY\n\nMARA\n(oops\nHi.", is_showrunner=True
        )
    premise = await service.ask(ROOM, ANA, "premise", "y")
    await service.edit_take(
        ROOM, BEN, premise.id, 1, "Low Tide\nA town waits for the sea.", is_showrunner=True
    )
    await service.pick(ROOM, ANA, premise.id, 1)
    assert (await service.room(ROOM)).project.title == "Low Tide"


async def test_reroll_replaces_the_takes(service: RoomService) -> None:
    proposal = await service.ask(ROOM, ANA, "scene", "the storm")
    await service.vote(ROOM, BEN, proposal.id, 1)
    again = await service.reroll(ROOM, ANA, proposal.id)  # Ana asked for the takes
    assert again.id != proposal.id and again.status is ProposalStatus.GENERATING
    assert (again.kind, again.prompt) == (proposal.kind, proposal.prompt)
    with pytest.raises(AlreadyDecided, match=f"rerolled as #{again.id}"):
        await service.vote(ROOM, CY, proposal.id, 1)
    filled = await service.generate(ROOM, again.id)
    assert filled.status is ProposalStatus.OPEN and filled.votes == ()


@pytest.mark.parametrize(
    "error",
    [
        QueueFull("error.model_busy", reason="The model is busy; try again in a minute."),
        model_errors.TooManyRequests(2),
        model_errors.GenerationTimeout(90),
    ],
)
async def test_a_failed_generation_marks_the_proposal(
    service: RoomService, error: Exception
) -> None:
    service.generator = FakeGenerator(hook=raises(error))
    asked = await service.propose(ROOM, ANA, "scene", "x")
    with pytest.raises(RoomError) as raised:  # the front ends only need to know RoomError
        await service.generate(ROOM, asked.id)
    assert str(raised.value) == str(error)
    busy = not isinstance(error, model_errors.GenerationTimeout)
    assert isinstance(raised.value, QueueFull if busy else GenerationFailed)
    proposal = await service.proposal(ROOM, asked.id)
    assert proposal.status is ProposalStatus.FAILED
    assert proposal.reason == str(error)
    # Kept as the message that says it, so a Chinese room reads why in Chinese.
    assert proposal.reason_said is not None and _CJK.search(proposal.reason_said.render(SIMPLIFIED))
    events = await room_events(service, ROOM)
    assert str(events[-1].summary) == f"proposal #{asked.id} failed: {error}"
    assert events[-1].summary.render(SIMPLIFIED).startswith(f"第 {asked.id} 号提案失败：")
    assert await service.pending_proposals(ROOM) == []
    assert (await service.reroll(ROOM, ANA, asked.id)).status is ProposalStatus.GENERATING


async def test_a_cancelled_generation_marks_the_proposal(service: RoomService) -> None:
    started = asyncio.Event()

    async def slow(call: Call) -> None:
        started.set()
        await asyncio.sleep(3600)

    service.generator = FakeGenerator(hook=slow)
    asked = await service.propose(ROOM, ANA, "scene", "x")
    task = asyncio.create_task(service.generate(ROOM, asked.id))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    proposal = await service.proposal(ROOM, asked.id)
    assert (proposal.status, proposal.reason) == (
        ProposalStatus.FAILED,
        "The request was cancelled.",
    )
    assert proposal.reason_said is not None
    assert proposal.reason_said.render(SIMPLIFIED) == "请求已取消。"


async def test_chinese_and_markdown_stay_the_writers_text(service: RoomService) -> None:
    lines = await service.write(ROOM, ANA, "EXT. 茶馆 - 夜\n\n@林小雨\n**你好**，世界。")
    assert lines[1].element == Character("林小雨")
    assert lines[2].element == Dialogue(Text((Span("你好", Style.BOLD), Span("，世界。"))))
    assert "**你好**，世界。" in format_lines(await service.show(ROOM))


# --- reset, branch, export ------------------------------------------------------------------


async def test_reset_needs_a_showrunner_and_empties_the_story(service: RoomService) -> None:
    await service.set_premise(ROOM, ANA, title="T")
    await service.write(ROOM, ANA, SCENE)
    pending = await service.ask(ROOM, BEN, "scene", "x")
    with pytest.raises(NotAllowed, match="Only a showrunner can reset"):
        await service.reset(ROOM, BEN)
    generating = await service.propose(ROOM, BEN, "beat")
    cancelled = await service.reset(ROOM, ANA)
    room = await service.room(ROOM)
    assert (room.project.title, room.script) == ("", ())
    assert room.settings.showrunners == (ANA,)
    assert cancelled == [
        await service.proposal(ROOM, pending.id),
        await service.proposal(ROOM, generating.id),
    ]
    assert {(p.status, p.decided_by) for p in cancelled} == {(ProposalStatus.CANCELLED, ANA)}
    assert await service.reset(ROOM, ANA) == []  # nothing pending is left to cancel
    with pytest.raises(NothingToUndo):
        await service.undo(ROOM, ANA)


async def test_branch_starts_a_new_room_from_this_one(service: RoomService) -> None:
    await service.set_premise(ROOM, ANA, title="T")
    await service.add_character(ROOM, ANA, "Mara")
    await service.add_beat(ROOM, ANA, "b")
    await service.write(ROOM, ANA, SCENE)
    branch = await service.branch(ROOM, BEN, ROOM + 1, is_showrunner=True)  # showrunners branch
    original = await service.room(ROOM)
    assert branch.branched_from == ROOM
    assert branch.project == original.project and branch.characters == original.characters
    assert [x.element for x in branch.script] == [x.element for x in original.script]
    assert [x.attribution for x in branch.script] == [x.attribution for x in original.script]
    assert branch.settings.showrunners == (ANA, BEN)
    await service.write(ROOM + 1, BEN, "Only in the branch.")
    assert len((await service.room(ROOM)).script) == 5
    assert len((await service.room(ROOM + 1)).script) == 6
    await service.undo(ROOM + 1, BEN)
    with pytest.raises(NothingToUndo):  # the branch's history starts at the branch
        await service.undo(ROOM + 1, BEN)
    with pytest.raises(BadInput, match="already has a story"):
        await service.branch(ROOM, BEN, ROOM + 1, is_showrunner=True)
    with pytest.raises(NotFound):
        await service.branch(ROOM + 5, BEN, ROOM + 6, is_showrunner=True)


async def test_export_in_every_format(service: RoomService) -> None:
    with pytest.raises(BadInput, match="no script to export"):
        await service.export(ROOM, "pdf")
    await service.set_premise(ROOM, ANA, title="Night Ferry")
    await service.write(ROOM, ANA, SCENE)
    fountain = (await service.export(ROOM, "fountain")).decode()
    assert "Title: Night Ferry" in fountain and "We're late." in fountain
    assert "[[" not in fountain
    noted = (await service.export(ROOM, "Fountain", attribution=True, names={ANA: "Ana"})).decode()
    assert "[[written by Ana]]" in noted
    assert (await service.export(ROOM, "pdf")).startswith(b"%PDF")
    assert b"<FinalDraft" in await service.export(ROOM, "fdx")
    assert b"We&#x27;re late." in await service.export(ROOM, "html") or b"We're late." in (
        await service.export(ROOM, "html")
    )
    with pytest.raises(BadInput, match="Export formats are fountain, fdx, pdf, html, zh, docx"):
        await service.export(ROOM, "rtf")


def test_notes_never_split_a_dialogue_block() -> None:
    ana, ben = Attribution(written_by=ANA), Attribution(written_by=BEN)
    elements: list[tuple[Element, Attribution]] = [
        (SceneHeading("INT. ROOM - DAY"), ana),
        (Character("MARA"), ana),
        (Dialogue(Text.of("First.")), ana),
        (Parenthetical("(beat)"), ben),
        (Dialogue(Text.of("Second.")), ben),
        (Action(Text.of("She leaves.")), ben),
    ]
    lines = [ScriptLine(i, i, e, a, 1) for i, (e, a) in enumerate(elements, 1)]
    out = with_attribution_notes(lines, {ANA: "Ana"})
    assert out == [
        Note("written by Ana"),
        SceneHeading("INT. ROOM - DAY"),
        Character("MARA"),
        Dialogue(Text.of("First.")),
        Parenthetical("(beat)"),
        Dialogue(Text.of("Second.")),
        Note("written by user 12"),
        Action(Text.of("She leaves.")),
    ]


async def test_a_writer_waiting_for_takes_hears_the_queue_and_the_partial_takes(
    service: RoomService,
) -> None:
    heard = []
    proposal = await service.ask(ROOM, ANA, "beat", "", n=2, progress=heard.append)
    assert [p.position for p in heard] == [1, 0]
    assert len(heard[-1].texts) == 2 and heard[-1].tokens == 20
    assert len(proposal.takes) == 2


async def test_import_makes_a_file_the_script_in_one_undoable_step(service: RoomService) -> None:
    source = (
        b"Title: The Crossing\n\nINT. FERRY - NIGHT\n\nRain.\n\nMARA\nLast run.\n\n"
        b"/* cut */\n\nTOM\n(quietly)\nI know.\n"
    )
    lines = await service.import_script(ROOM, ANA, "crossing.fountain", source)
    assert [type(line.element).__name__ for line in lines] == [
        "SceneHeading",
        "Action",
        "Character",
        "Dialogue",
        "Character",
        "Parenthetical",
        "Dialogue",
    ]
    room = await service.room(ROOM)
    assert room.project.title == "The Crossing"
    with pytest.raises(BadInput, match="already has a script"):
        await service.import_script(ROOM, ANA, "crossing.fountain", source)
    await service.undo(ROOM, ANA)
    room = await service.room(ROOM)
    assert room.script == () and room.project.title == ""


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.txt", b"INT. A - DAY", "Import a .fountain or .fdx file."),
        ("bad.fountain", b"\xff\xfe\x00bad", "not UTF-8 text"),
        ("bad.fdx", b"<FinalDraft><Content>", "not valid Final Draft"),
        ("empty.fountain", b"/* nothing */", "no screenplay lines"),
    ],
)
async def test_import_refuses_what_is_not_a_screenplay_file(
    service: RoomService, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(BadInput, match=message):
        await service.import_script(ROOM, ANA, name, data)
    assert (await service.room(ROOM)).script == ()
