"""The console's revision commands, driven as a writer types them: show a scene with its line
numbers, revise, delete, move, insert, history, undo back to a change, drafts and an export that
carries scene numbers; with a restart in the middle."""

from __future__ import annotations

from pathlib import Path

from tests.bot.test_console import _answers, _session

SCRIPT = (
    r"INT. KITCHEN - NIGHT\n\nMara pours two cups.\n\nMARA\nWe're late.\n\n"
    r"EXT. PIER - DAWN\n\nGulls.\n\nINT. FERRY - DAY\n\nThe engine coughs."
)

BEFORE_RESTART = (
    f'\n/write text:"{SCRIPT}"'
    + r"""
/show scene:1
@ben /revise line:4 text:"We're early."
/revise scene:2
/revise scene:2 text:"EXT. PIER - DAWN\n\nGulls, many.\n\nA horn."
@you /undo
/draft save name:"blue draft"
/draft list
/delete lines:2-2
/undo
/delete scene:2
/insert before_scene:3 text:"EXT. ROOF - NIGHT\n\nWind."
/move scene:3 after:0
"""
)

AFTER_RESTART = r"""
/history
/undo to:9
/show scene:2
/undo
/export format:fountain path:OUT/out.fountain
/export format:pdf path:OUT/out.pdf changes_since:"blue draft"
/help
/revise line:99 text:"x"
/delete lines:abc
/move scene:7 after:0
"""


async def test_every_revision_command_and_undo_across_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "room.db"
    a = _answers(await _session(db, BEFORE_RESTART))
    shown = a["/show scene:1"]
    assert shown.startswith("Scene 1 (line numbers on the left")
    assert "\n1  INT. KITCHEN - NIGHT" in shown and "4        We're late." in shown
    assert a['@ben /revise line:4 text:"We\'re early."'].startswith("Line 4 now reads:")
    assert a["/revise scene:2"].startswith("Scene 2 as Fountain; revise it with /revise scene:2")
    assert "EXT. PIER - DAWN\n\nGulls." in a["/revise scene:2"]
    revised = a['/revise scene:2 text:"EXT. PIER - DAWN\\n\\nGulls, many.\\n\\nA horn."']
    assert "6  Gulls, many.\n7  A horn." in revised
    assert a["@you /undo"] == "Undone: revised scene 2 (1 line revised, 1 line added).\n"
    assert a["/undo"] == "Undone: deleted line 2.\n"
    assert a['/draft save name:"blue draft"'] == (
        'Saved the draft "blue draft" (3 scenes); scene numbers are locked from now on.\n'
    )
    assert a["/draft list"].startswith('"blue draft" — ')
    assert a["/delete lines:2-2"] == "Deleted 1 line; /undo puts them back.\n"
    assert a["/delete scene:2"] == "Deleted scene 2 (2 lines); /undo puts it back.\n"
    assert "EXT. ROOF - NIGHT" in a['/insert before_scene:3 text:"EXT. ROOF - NIGHT\\n\\nWind."']
    assert a["/move scene:3 after:0"] == "Moved scene 3; it now starts at line 1.\n"

    a = _answers(await _session(db, AFTER_RESTART.replace("OUT", str(tmp_path))))
    history = a["/history"]
    assert history.startswith("History, page 1 of 1 (newest first):")
    assert "you: moved scene 3 to the start" in history
    assert ": revised line 4" in history  # a writer this session has not met: by number
    assert "(undone)" in history  # the scene revision undone before the restart
    # Change #9 is the deletion of scene 2: the insert and the move after it go back.
    assert "#9 " in history and "deleted scene 2" in history.split("#9 ")[1].split("\n")[0]
    assert a["/undo to:9"] == "Undid 2 changes, back to change #9; /undo takes that back.\n"
    assert a["/show scene:2"].startswith(
        "error: There is no scene 2; the script has 2 scenes (1, 3)"
    )
    assert a["/undo"] == "Undone: undid 2 changes, back to change #9.\n"
    assert a[f"/export format:fountain path:{tmp_path}/out.fountain"].startswith("Wrote")
    fountain = (tmp_path / "out.fountain").read_text()
    assert "INT. FERRY - DAY #3#" in fountain
    assert "EXT. ROOF - NIGHT #1A#" in fountain
    assert "OMITTED #2#" in fountain
    assert a[f'/export format:pdf path:{tmp_path}/out.pdf changes_since:"blue draft"'].startswith(
        "Wrote"
    )
    help_text = a["/help"]
    for usage in ("/revise", "/delete", "/move scene after", "/insert", "/history", "/draft save"):
        assert usage in help_text
    assert "/undo [to]" in help_text
    assert a['/revise line:99 text:"x"'].startswith("error: The script has 8 lines;")
    assert a["/delete lines:abc"].startswith("error: Give lines as a number or a range")
    assert a["/move scene:7 after:0"].startswith("error: There is no scene 7;")
