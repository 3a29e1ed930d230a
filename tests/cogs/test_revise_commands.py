"""The revision commands in Discord: `!` messages through discord.py and dpytest on a real
room, the scene form called as Discord would, and a restart in the middle."""

from __future__ import annotations

import pytest

from bot.errors import BadInput
from bot.room import SceneView
from cogs.revise import FIELD_LIMIT, ReviseSceneModal, form_fields
from tests.cogs.conftest import BotFactory, FakeInteraction

SCRIPT = (
    "!write INT. KITCHEN - NIGHT\n\nMara pours two cups.\n\nMARA\nWe're late.\n\n"
    "EXT. PIER - DAWN\n\nGulls.\n\nINT. FERRY - DAY\n\nThe engine coughs."
)


async def test_revise_delete_move_insert_history_drafts_and_undo(make_bot: BotFactory) -> None:
    h = await make_bot()
    await h.say(SCRIPT)
    await h.say("!revise line:4 text:We're early.", "ben")
    assert h.sent.sends()[-1].content == "Line 4 now reads:\n```\n4        We're early.\n```"
    await h.say("!undo")  # ana, the showrunner, undoes ben's revision
    assert h.sent.sends()[-1].content == "Undid: revised line 4."
    await h.say("!draft save blue draft")
    assert h.sent.sends()[-1].content.startswith('Saved the draft "blue draft" (3 scenes)')
    await h.say("!delete lines:2")
    assert h.sent.sends()[-1].content == "Deleted 1 line; /undo puts it back."
    await h.say("!undo")
    await h.say("!delete scene:2")
    assert h.sent.sends()[-1].content == "Deleted scene 2 (2 lines); /undo puts it back."
    await h.say("!insert 3 EXT. ROOF - NIGHT\n\nWind.")
    assert h.sent.sends()[-1].content.startswith("Inserted 2 lines:")
    await h.restart()
    await h.say("!move 3 0")
    assert h.sent.sends()[-1].content == "Moved scene 3; it now starts at line 1."
    await h.say("!history")
    history = h.sent.sends()[-1].content
    assert history.startswith("History, page 1 of 1 (newest first):")
    assert "moved scene 3 to the start" in history and "*(undone)*" in history
    number = next(
        line.split("**")[1].lstrip("#")
        for line in history.splitlines()
        if "deleted scene 2" in line
    )
    await h.say(f"!undo {number}")
    assert h.sent.sends()[-1].content == f"Undid 2 changes, back to change #{number}."
    await h.say("!undo")
    assert h.sent.sends()[-1].content == f"Undid: undid 2 changes, back to change #{number}."
    await h.say('!export fountain false "blue draft"')
    message = next(m for m in reversed(list(h.bot.cached_messages)) if m.attachments)
    fountain = (await message.attachments[0].read()).decode()
    assert "OMITTED #2#" in fountain and "EXT. ROOF - NIGHT #1A#" in fountain
    await h.say("!draft")
    assert h.sent.sends()[-1].content.startswith('"blue draft" — ')


async def test_revise_scene_opens_a_form_over_several_fields_and_its_text_goes_in(
    make_bot: BotFactory,
) -> None:
    h = await make_bot()
    await h.say(SCRIPT)
    view = await h.room.scene(h.room_id, "1")
    modal = ReviseSceneModal(view)
    assert [f.default for f in modal.fields] == [view.fountain.strip("\n")]
    modal.fields[0]._value = view.fountain.replace("two cups", "tea")
    submit = FakeInteraction(h.bot, h.member("ben"), h.channel)
    await modal.on_submit(submit.as_interaction())
    assert submit.answers[0].text.startswith("Scene 1 now reads:")
    line = (await h.room.show(h.room_id, 2, 2))[0]
    assert line.attribution.revised_by == (h.member("ben").id,)
    # The same form sent again: the scene changed meanwhile, said in a sentence.
    again = FakeInteraction(h.bot, h.member("cy"), h.channel)
    with pytest.raises(BadInput, match="Scene 1 changed while you revised it"):
        await modal.on_submit(again.as_interaction())


def test_a_long_scene_is_split_over_fields_at_blank_lines_or_goes_as_a_file() -> None:
    paragraph = "Rain. " * 300  # 1800 characters
    scene = "INT. DECK - NIGHT\n\n" + "\n\n".join([paragraph.strip()] * 8)
    pieces = form_fields(scene)
    assert pieces is not None and 2 <= len(pieces) <= 5
    assert all(len(p) <= FIELD_LIMIT for p in pieces)
    assert "\n\n".join(pieces) == scene
    assert form_fields("\n\n".join([paragraph.strip()] * 20)) is None
    assert form_fields("x" * (FIELD_LIMIT + 1)) is None
    assert SceneView  # the form is built from the service's SceneView
