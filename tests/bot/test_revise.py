"""Revising the script together, on the room service: lines and scenes revised, deleted, moved
and inserted; the history and undo back to a change; drafts that lock scene numbers; exports
that carry them and mark what changed since a draft."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import BadInput, NotAllowed, NotFound
from bot.messages import SIMPLIFIED
from bot.room import RoomService, numbered_text
from bot.store import Store
from screenplay.fountain import parse_fountain
from screenplay.layout import paginate
from screenplay.types import Action, Dialogue, SceneHeading
from tests.bot.conftest import ANA, BEN, ROOM, FakeClock, FakeGenerator
from tests.conftest import room_events

SCRIPT = (
    "INT. KITCHEN - NIGHT\n\nMara pours two cups.\n\nMARA\nWe're late.\n\n"
    "EXT. PIER - DAWN\n\nGulls.\n\n"
    "INT. FERRY - DAY\n\nThe engine coughs."
)


async def written(service: RoomService) -> RoomService:
    await service.write(ROOM, ANA, SCRIPT)
    return service


async def test_a_revised_line_keeps_its_kind_place_and_attribution_history(
    service: RoomService,
) -> None:
    await written(service)
    line = await service.revise_line(ROOM, BEN, 4, "We're early, for once.")
    assert isinstance(line.element, Dialogue)
    assert str(line.element.text) == "We're early, for once."
    assert line.number == 4
    assert line.attribution.describe({ANA: "Ana", BEN: "Ben"}) == "written by Ana, revised by Ben"
    await service.undo(ROOM, BEN)
    again = (await service.show(ROOM, 4, 4))[0]
    assert str(again.element.text) == "We're late."  # type: ignore[union-attr]
    assert again.attribution.revised_by == ()
    await service.redo(ROOM, BEN)
    assert (await service.show(ROOM, 4, 4))[0].attribution.revised_by == (BEN,)
    with pytest.raises(NotFound, match="lines are numbered 1 to 8"):
        await service.revise_line(ROOM, BEN, 9, "x")
    with pytest.raises(BadInput, match="already reads that way"):
        await service.revise_line(ROOM, BEN, 2, "Mara pours two cups.")


async def test_a_forced_kind_changes_the_line_and_several_elements_are_refused(
    service: RoomService,
) -> None:
    await written(service)
    line = await service.revise_line(ROOM, ANA, 2, ".INT. CELLAR - NIGHT")
    assert line.element == SceneHeading("INT. CELLAR - NIGHT")
    with pytest.raises(BadInput, match="one screenplay element"):
        await service.revise_line(ROOM, ANA, 6, "Gulls.\n\nMore gulls.")


async def test_a_scene_revised_as_a_whole_changes_only_the_lines_that_differ(
    service: RoomService,
) -> None:
    await written(service)
    before = await service.scene(ROOM, "1")
    assert before.fountain.startswith("INT. KITCHEN - NIGHT\n\nMara pours two cups.")
    new = before.fountain.replace("two cups", "three cups") + "\nTOM\nWait.\n"
    view = await service.revise_scene(ROOM, BEN, "1", new, expected=before.fountain)
    assert [line.number for line in view.lines] == [1, 2, 3, 4, 5, 6]
    kept = view.lines[0]
    assert kept.id == before.lines[0].id and kept.attribution.revised_by == ()
    assert view.lines[1].id == before.lines[1].id
    assert view.lines[1].attribution.revised_by == (BEN,)
    assert view.lines[4].attribution.written_by == BEN
    events = await room_events(service, ROOM)
    assert str(events[-1].summary) == "revised scene 1 (1 line revised, 2 lines added)"
    assert events[-1].summary.render(SIMPLIFIED) == "修改了第 1 场（改了 1 行、加了 2 行）"
    with pytest.raises(BadInput, match="changed while you revised it"):
        await service.revise_scene(ROOM, ANA, "1", new + "\nMore.", expected=before.fountain)
    with pytest.raises(BadInput, match="starts with its heading"):
        await service.revise_scene(ROOM, ANA, "1", "Just action.")
    await service.undo(ROOM, BEN)
    assert (await service.scene(ROOM, "1")).fountain == before.fountain


async def test_delete_move_and_insert_scenes_and_undo_each(service: RoomService) -> None:
    await written(service)
    original = await service.show(ROOM)
    assert await service.delete_lines(ROOM, ANA, 3, 4) == 2
    with pytest.raises(BadInput, match="lines are numbered 1 to 6"):
        await service.delete_lines(ROOM, ANA, 5, 9)
    await service.undo(ROOM, ANA)
    assert await service.show(ROOM) == original

    moved = await service.move_scene(ROOM, ANA, "3", "0")
    assert moved.label == "1" and moved.lines[0].number == 1
    headings = [
        x.element.text for x in await service.show(ROOM) if isinstance(x.element, SceneHeading)
    ]
    assert headings == ["INT. FERRY - DAY", "INT. KITCHEN - NIGHT", "EXT. PIER - DAWN"]
    with pytest.raises(BadInput, match="already there"):
        await service.move_scene(ROOM, ANA, "1", "0")
    with pytest.raises(BadInput, match="after itself"):
        await service.move_scene(ROOM, ANA, "1", "1")
    await service.undo(ROOM, ANA)
    assert await service.show(ROOM) == original

    gone = await service.delete_scene(ROOM, ANA, "2")
    assert gone.lines[0].element == SceneHeading("EXT. PIER - DAWN")
    await service.undo(ROOM, ANA)
    assert await service.show(ROOM) == original

    lines = await service.insert_scene(ROOM, BEN, "EXT. ROOF - NIGHT\n\nWind.", "2")
    assert [x.number for x in lines] == [5, 6]
    with pytest.raises(BadInput, match="starts with its heading"):
        await service.insert_scene(ROOM, BEN, "Wind.", "2")
    with pytest.raises(NotFound, match="There is no scene 9; the script has 4 scenes"):
        await service.insert_scene(ROOM, BEN, "EXT. ROOF - NIGHT", "9")
    await service.undo(ROOM, BEN)
    assert await service.show(ROOM) == original


async def test_history_is_numbered_and_undo_to_is_one_undoable_event(
    service: RoomService,
) -> None:
    await written(service)
    await service.revise_line(ROOM, ANA, 2, "Mara pours three cups.")
    await service.delete_scene(ROOM, ANA, "3")
    await service.move_scene(ROOM, ANA, "2", "0")
    page = await service.history(ROOM)
    summaries = [(e.number, str(e.event.summary)) for e in page.entries]
    assert summaries[:4] == [
        (5, "moved scene 2 to the start"),
        (4, "deleted scene 3 (2 lines)"),
        (3, "revised line 2"),
        (2, "wrote 8 lines"),
    ]
    after_write = await service.show(ROOM)
    await service.undo_to(ROOM, ANA, 3)
    script = await service.show(ROOM)
    assert str(script[1].element.text) == "Mara pours three cups."  # type: ignore[union-attr]
    assert len(script) == 8
    page = await service.history(ROOM)
    assert str(page.entries[0].event.summary) == "undid 2 changes, back to change #3"
    chinese = [e.event.summary.render(SIMPLIFIED) for e in page.entries[:5]]
    assert chinese == [
        "撤销了 2 次改动，回到第 3 号改动",
        "把第 2 场移到开头",
        "删除了第 3 场（2 行）",
        "修改了第 2 行",
        "写了 8 行",
    ]
    assert [e.undone for e in page.entries[:4]] == [False, True, True, False]
    await service.undo(ROOM, ANA)  # the undo back to #3, undone: the moves are back
    assert await service.show(ROOM) != script
    await service.redo(ROOM, ANA)
    assert await service.show(ROOM) == script
    await service.undo_to(ROOM, ANA, 0)
    assert await service.show(ROOM) == ()
    assert after_write != ()
    with pytest.raises(BadInput, match="not a change to the story in effect"):
        await service.undo_to(ROOM, ANA, 1)
    with pytest.raises(NotFound, match="There is no change #99"):
        await service.undo_to(ROOM, ANA, 99)


async def test_undo_to_over_another_writers_change_needs_a_showrunner(
    service: RoomService,
) -> None:
    await written(service)  # ana opened the room: its showrunner
    await service.revise_line(ROOM, BEN, 2, "Mara pours tea.")
    await service.revise_line(ROOM, ANA, 6, "Gulls, many.")
    with pytest.raises(NotAllowed, match="another writer's"):
        await service.undo_to(ROOM, BEN, 2)
    await service.undo_to(ROOM, ANA, 2)


async def test_a_draft_locks_scene_numbers_letters_new_scenes_and_omits_deleted_ones(
    service: RoomService,
) -> None:
    await written(service)
    draft = await service.save_draft(ROOM, ANA, "blue draft")
    assert (draft.name, draft.scenes) == ("blue draft", 3)
    with pytest.raises(BadInput, match="already has a draft"):
        await service.save_draft(ROOM, ANA, "blue draft")
    await service.insert_scene(ROOM, BEN, "EXT. ROOF - NIGHT\n\nWind.", "2")
    await service.insert_scene(ROOM, BEN, "EXT. STREET - DAY\n\nRain.", "1")
    await service.delete_scene(ROOM, ANA, "2")
    assert (await service.scene(ROOM, "1a")).lines[0].element == SceneHeading("EXT. ROOF - NIGHT")
    assert (await service.scene(ROOM, "A1")).lines[0].element == SceneHeading("EXT. STREET - DAY")
    with pytest.raises(NotFound, match="There is no scene 2"):
        await service.scene(ROOM, "2")
    assert await _headings(service) == [
        ("EXT. STREET - DAY", "A1"),
        ("INT. KITCHEN - NIGHT", "1"),
        ("EXT. ROOF - NIGHT", "1A"),
        ("OMITTED", "2"),
        ("INT. FERRY - DAY", "3"),
    ]
    await service.move_scene(ROOM, ANA, "3", "A1")
    assert (await service.scene(ROOM, "3")).lines[0].number == 3  # moved, number kept
    # An omitted scene prints just before the locked scene that followed it.
    assert await _headings(service) == [
        ("EXT. STREET - DAY", "A1"),
        ("OMITTED", "2"),
        ("INT. FERRY - DAY", "3"),
        ("INT. KITCHEN - NIGHT", "1"),
        ("EXT. ROOF - NIGHT", "1A"),
    ]
    fdx = (await service.export(ROOM, "fdx")).decode()
    assert 'Number="1A"' in fdx and 'Number="A1"' in fdx

    await service.save_draft(ROOM, ANA, "pink draft")  # locks 1A and A1; 2 stays omitted
    await service.insert_scene(ROOM, BEN, "EXT. ROOF - DAWN\n\nSun.", "3")
    labels = [s.label for s in await _scenes(service)]  # type: ignore[attr-defined]
    assert labels == ["A1", "A1A", "3", "1", "1A"]


async def _headings(service: RoomService) -> list[tuple[str, str | None]]:
    fountain = (await service.export(ROOM, "fountain")).decode()
    elements = parse_fountain(fountain).elements
    return [(e.text, e.number) for e in elements if isinstance(e, SceneHeading)]


async def _scenes(service: RoomService) -> list[object]:
    from bot.room.script import script_scenes

    async with service.store.read() as db:
        return list((await script_scenes(db, ROOM))[1])


async def test_an_export_marks_what_changed_since_a_draft(service: RoomService) -> None:
    await written(service)
    await service.save_draft(ROOM, ANA, "white")
    await service.revise_line(ROOM, BEN, 2, "Mara pours three cups.")
    await service.insert_scene(ROOM, BEN, "EXT. ROOF - NIGHT\n\nWind.", "3")
    with pytest.raises(NotFound, match='no draft called "blue"'):
        await service.export(ROOM, "pdf", changes_since="blue")
    pdf = await service.export(ROOM, "pdf", changes_since="white")
    assert pdf.startswith(b"%PDF")
    plain = await service.export(ROOM, "pdf")
    assert pdf != plain


def test_the_page_prints_a_revision_asterisk_beside_revised_lines_only() -> None:
    from screenplay.types import Document, Text

    doc = Document(
        elements=(
            SceneHeading("INT. HOUSE - DAY", "1"),
            Action(Text.of("Old.")),
            Action(Text.of("New.")),
        ),
        revised=frozenset({2}),
    )
    lines = [line for page in paginate(doc) for line in page.lines]
    marks = [line for line in lines if line.kind == "revision"]
    assert [m.text for m in marks] == ["*"]
    new = next(line for line in lines if line.text == "New.")
    assert marks[0].row == new.row


def test_numbered_text_puts_line_numbers_in_the_margin() -> None:
    from bot.domain import Attribution, ScriptLine
    from screenplay.types import Character, Text

    lines = [
        ScriptLine(1, 9, SceneHeading("INT. HOUSE - DAY"), Attribution(written_by=ANA), 1),
        ScriptLine(2, 10, Character("MARA"), Attribution(written_by=ANA), 1),
        ScriptLine(3, 11, Dialogue(Text.of("One.\nTwo.")), Attribution(written_by=ANA), 1),
    ]
    assert numbered_text(lines) == (
        " 9  INT. HOUSE - DAY\n10              MARA\n11        One.\n          Two."
    )


async def test_revisions_and_drafts_survive_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    store = await Store.open(tmp_path / "room.db")
    service = RoomService(store, FakeGenerator(), clock=clock)
    await written(service)
    await service.save_draft(ROOM, ANA, "blue")
    await service.revise_line(ROOM, BEN, 2, "Mara pours tea.")
    await service.delete_scene(ROOM, ANA, "2")
    await store.close()

    store = await Store.open(tmp_path / "room.db")
    service = RoomService(store, FakeGenerator(), clock=clock)
    try:
        assert (await service.show(ROOM, 2, 2))[0].attribution.revised_by == (BEN,)
        assert [s.label for s in await _scenes(service)] == ["1", "3"]
        await service.undo(ROOM, ANA)
        assert [s.label for s in await _scenes(service)] == ["1", "2", "3"]
        await service.undo_to(ROOM, ANA, 2)
        assert str((await service.show(ROOM, 2, 2))[0].element.text) == "Mara pours two cups."  # type: ignore[union-attr]
        assert [d.name for d in await service.drafts(ROOM)] == ["blue"]
    finally:
        await store.close()
