"""The prompt context: what the model is told about the room within a token budget, and what
it is told was left out."""

from __future__ import annotations

import dataclasses

from bot.context import context_for, estimate_tokens, left_out
from bot.domain import Attribution, Beat, BeatStatus, CharacterEntry, Project, Room, ScriptLine
from bot.messages import SIMPLIFIED, Message
from model.prompts import parse_answer
from model.tasks import TaskKind, TaskRequest
from screenplay.types import Action, Character, Dialogue, Element, SceneHeading, Text


def _room(elements: list[Element]) -> Room:
    lines = tuple(
        ScriptLine(i, i, e, Attribution(written_by=1), 1) for i, e in enumerate(elements, 1)
    )
    return Room(
        id=1,
        exists=True,
        project=Project(title="Night Ferry", logline="A crossing.", style_notes="Terse."),
        characters=(
            CharacterEntry("MARA", role="pilot", backstory="x " * 400),
            CharacterEntry("TOM", role="deckhand"),
            CharacterEntry("LI", role="stowaway"),
        ),
        beats=(
            Beat(1, 1, "Mara boards.", BeatStatus.WRITTEN),
            Beat(2, 2, "The storm.", BeatStatus.PLANNED),
        ),
        script=lines,
    )


def _scenes(count: int) -> list[Element]:
    elements: list[Element] = []
    for i in range(1, count + 1):
        elements += [
            SceneHeading(f"INT. CABIN {i} - NIGHT"),
            Action(Text.of(f"Scene {i} begins with the long description of the cabin.")),
            Character("TOM"),
            Dialogue(Text.of(f"Line of scene {i}.")),
        ]
    return elements


def test_estimate_counts_cjk_per_character() -> None:
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("你好世界") == 4


def test_everything_fits_in_a_large_budget() -> None:
    room = _room(_scenes(3))
    ctx = context_for(room, TaskRequest(TaskKind.SCENE, "storm", ("MARA",)), 10_000)
    assert (ctx.title, ctx.logline, ctx.style_notes) == ("Night Ferry", "A crossing.", "Terse.")
    assert [c.name for c in ctx.characters] == ["MARA", "TOM"]  # named, then speaking now
    assert ctx.scene_heading == "INT. CABIN 3 - NIGHT"
    assert ctx.beat == "The storm."  # the first planned beat
    assert "INT. CABIN 1 - NIGHT" in ctx.recent_script
    assert ctx.recent_script.rstrip().endswith("Line of scene 3.")
    assert ctx.omitted == ()


def test_a_small_budget_keeps_the_newest_script_and_says_what_it_left_out() -> None:
    room = _room(_scenes(6))
    ctx = context_for(room, TaskRequest(TaskKind.DIALOGUE, "talk", ("MARA",)), 150)
    assert "the sheet of MARA" in ctx.omitted  # its long backstory does not fit
    assert [c.name for c in ctx.characters] == ["TOM"]
    assert "Line of scene 6." in ctx.recent_script
    assert "INT. CABIN 1 - NIGHT" not in ctx.recent_script
    assert "the start of the scene INT. CABIN 2 - NIGHT" in ctx.omitted
    assert "1 earlier scene" in ctx.omitted
    assert estimate_tokens(ctx.recent_script) <= 150
    assert ctx.beat is None  # dialogue does not move the outline on


def test_no_budget_still_gives_the_project() -> None:
    ctx = context_for(_room(_scenes(2)), TaskRequest(TaskKind.CONTINUE), 0)
    assert ctx.title == "Night Ferry" and ctx.recent_script == ""
    assert "all of the script" in ctx.omitted


def test_the_token_counter_is_pluggable() -> None:
    words: list[str] = []

    def count_words(text: str) -> int:
        words.append(text)
        return len(text.split())

    room = _room(_scenes(4))
    ctx = context_for(room, TaskRequest(TaskKind.CONTINUE), 40, count_words)
    assert words, "the given counter was used"
    assert len(ctx.recent_script.split()) <= 40
    assert any("earlier scene" in o for o in ctx.omitted)


def test_a_scene_in_a_fresh_story_checks_its_speakers_against_the_whole_bible() -> None:
    """No sheet is in play for a scene request that names nobody in a room whose script is
    empty, yet the bible is known: a take that invents speakers is flagged (a period scene once
    invented LEAN, EARTHYN and EZHAM unflagged), and one that uses the bible's cast is not."""
    room = _room([])
    request = TaskRequest(TaskKind.SCENE, "the harbour at dawn")
    ctx = context_for(room, request, 10_000)
    assert ctx.characters == () and ctx.cast == ("MARA", "TOM", "LI")
    request = dataclasses.replace(request, context=ctx)
    heading = "EXT. HARBOUR - DAWN\n\nFog on the water.\n\n"
    invented = parse_answer(request, heading + "EARTHYN\nThe tide turns.\n\nEZHAM\nIt does.\n")
    assert any("EARTHYN" in problem for problem in invented.problems)
    cast = parse_answer(request, heading + "MARA\nThe tide turns.\n\nLI\nIt does.\n")
    assert not [p for p in cast.problems if "MARA" in p or "LI" in p]


def test_what_was_left_out_reads_in_the_readers_language() -> None:
    """A take records what its prompt left out in English; a Chinese room reads it in Chinese
    (an entry from a version that worded it otherwise stays as stored)."""
    stored = ["the sheet of MARA", "2 earlier scenes", "the start of the scene INT. DECK - NIGHT"]
    said = Message("embed.left_out", {"omitted": [*left_out(stored), "something else"]})
    assert str(said) == f"Left out for length: {', '.join(stored)}, something else."
    assert said.render(SIMPLIFIED) == (
        "因篇幅略去：MARA的人物小传、前面 2 场、INT. DECK - NIGHT 这场戏的开头、something else。"
    )


def test_a_scene_asked_at_a_place_the_script_knows_opens_on_its_heading() -> None:
    """Back at a place the script has been: the take opens on the script's own heading for it,
    so the slugline matches and the schedule reads one place, at the time the words give."""
    from model.prompts import answer_start

    elements: list[Element] = [
        SceneHeading("INT. HARBOUR DINER - NIGHT"),
        Action(Text.of("Mara pours coffee.")),
        SceneHeading("EXT. FERRY DECK - NIGHT"),
        Action(Text.of("Fog.")),
        SceneHeading("INT. BAR - NIGHT"),
        SceneHeading("int. harbour diner - day"),
        SceneHeading("EXT. FERRY DECK - NIGHT"),
    ]
    room = _room(elements)

    def opening(kind: TaskKind, words: str) -> str:
        request = TaskRequest(kind, words)
        context = context_for(room, request, 10_000)
        return answer_start(dataclasses.replace(request, context=context))

    # Its latest heading, as the script writes it.
    assert opening(TaskKind.SCENE, "Back at the Harbour Diner, Tom returns") == (
        "int. harbour diner - day\n\n"
    )
    assert opening(TaskKind.SCENE, "the next morning at the harbour diner") == (
        "int. harbour diner - MORNING\n\n"
    )
    assert opening(TaskKind.SCENE, "they meet at the bar, Tom is drunk") == "INT. BAR - NIGHT\n\n"
    assert opening(TaskKind.SCENE, "Tom hides in the barn") == ""  # not the bar
    assert opening(TaskKind.SCENE, "A storm nobody saw coming") == ""
    # A continuation that mentions the diner goes on where it is.
    assert opening(TaskKind.CONTINUE, "Tom thinks of the harbour diner") == ""
    # A heading typed first wins over a place the words name.
    assert opening(TaskKind.SCENE, "EXT. BAR - NIGHT: outside the harbour diner") == (
        "EXT. BAR - NIGHT\n\n"
    )


def test_a_bible_location_named_as_a_heading_places_a_scene_too() -> None:
    """`/location add name:"EXT. HARBOUR WALL"`: a place the script has not been yet, but whose
    heading the room wrote down, opens a scene asked there; a name without INT. or EXT. cannot
    open a heading, and the script's own heading wins over the bible's."""
    from bot.domain import Location
    from model.prompts import answer_start

    room = dataclasses.replace(
        _room([SceneHeading("INT. LIGHTHOUSE - NIGHT")]),
        locations=(
            Location("EXT. HARBOUR WALL", "Where the fishermen mend nets."),
            Location("FERRY TERMINAL"),
            Location("EXT. LIGHTHOUSE"),
        ),
    )

    def opening(words: str) -> str:
        request = TaskRequest(TaskKind.SCENE, words)
        context = context_for(room, request, 10_000)
        return answer_start(dataclasses.replace(request, context=context))

    # No time of day in the name or the words: the take gives one.
    assert opening("Mara waits on the harbour wall") == "EXT. HARBOUR WALL -"
    assert opening("Mara waits on the harbour wall at dusk") == "EXT. HARBOUR WALL - DUSK\n\n"
    assert opening("crowds at the ferry terminal") == ""
    assert opening("back in the lighthouse") == "INT. LIGHTHOUSE - NIGHT\n\n"
    # A Chinese room's location named as its convention's heading does the same.
    chinese = dataclasses.replace(room.project, language="中文")
    room = dataclasses.replace(room, project=chinese, locations=(Location("夜 外 渡船甲板"),))
    assert opening("渡船甲板上起了大雾") == "夜 外 渡船甲板\n"
    assert opening("黄昏，渡船甲板上起了大雾") == "黄昏 外 渡船甲板\n"
