"""The room's SQLite store: the connection, migrations, transactions and every SQL statement.

The package's modules: `connection` (the file, migrations, transactions), `story` (the story's
rows and the invertible changes), `log` (events, undo stacks), `proposals` (proposals, takes,
votes, posted messages), `rooms` (whole rooms). This module exports their public names, so the
room service reads `bot.store` as one API.

One connection on a real file, WAL journal, numbered migrations applied at open, one
`BEGIN IMMEDIATE` transaction per change of state (see `connection`).

Story changes are recorded as plain JSON "changes" (`insert_lines`, `delete_lines`, `project`,
`character`, `location`, `beat`), each invertible, so that undo and redo replay them backwards and
forwards (`apply_change`, `invert`). Script elements are stored one row per element as a JSON
encoding of the dataclass, which round-trips exactly (`encode_element` / `decode_element`); their
order is a `pos` column with gaps, renumbered when an insertion finds no room.

A database the bot cannot use is refused at open with one `StoreError` sentence for the operator
(naming the file and what to do): a folder, a file that is not a database or is damaged, a file or
folder the bot may not write, a schema newer than the bot's migrations (never migrated nor
written). A command that the disk fails (full, I/O error, made read-only) is rolled back and
raised as `bot.errors.DatabaseFailed`, the sentence the writer sees. An id beyond SQLite's 64-bit
integers names no row: lookups answer "not found" for it, as for any missing row.

This module knows SQL and the domain types; it knows nothing of permissions, pick rules or the
model — `bot.room` decides, this module records.
"""

from __future__ import annotations

from bot.store.connection import (
    Store,
    StoreError,
    migrations,
    scalar,
)
from bot.store.log import (
    append_event,
    load_event,
    load_events,
    next_event_id,
    undo_stacks,
)
from bot.store.proposals import (
    POSTED_KINDS,
    delete_vote,
    insert_proposal,
    load_proposal,
    proposal_ids,
    proposal_of_ballot,
    put_vote,
    save_take,
    set_posted,
    take_from_json,
    take_to_json,
    update_proposal,
    variation_of,
)
from bot.store.rooms import (
    clear_story,
    consistency_problems,
    copy_story,
    load_room,
    room_of_proposal,
)
from bot.store.story import (
    POS_GAP,
    Change,
    apply_change,
    apply_changes,
    beat_record,
    create_room,
    decode_element,
    encode_element,
    find_settings,
    invert,
    last_line_id,
    line_id_at,
    line_record,
    load_beats,
    load_characters,
    load_locations,
    load_project,
    load_script,
    load_settings,
    new_beat_record,
    next_line_ids,
    project_from_dict,
    project_to_dict,
    room_exists,
    save_project,
    save_settings,
    script_length,
    settings_from_json,
    settings_to_json,
)

__all__ = [
    "POSTED_KINDS",
    "POS_GAP",
    "Change",
    "Store",
    "StoreError",
    "append_event",
    "apply_change",
    "apply_changes",
    "beat_record",
    "clear_story",
    "consistency_problems",
    "copy_story",
    "create_room",
    "decode_element",
    "delete_vote",
    "encode_element",
    "find_settings",
    "insert_proposal",
    "invert",
    "last_line_id",
    "line_id_at",
    "line_record",
    "load_beats",
    "load_characters",
    "load_event",
    "load_events",
    "load_locations",
    "load_project",
    "load_proposal",
    "load_room",
    "load_script",
    "load_settings",
    "migrations",
    "new_beat_record",
    "next_event_id",
    "next_line_ids",
    "project_from_dict",
    "project_to_dict",
    "proposal_ids",
    "proposal_of_ballot",
    "put_vote",
    "room_exists",
    "room_of_proposal",
    "save_project",
    "save_settings",
    "save_take",
    "scalar",
    "script_length",
    "set_posted",
    "settings_from_json",
    "settings_to_json",
    "take_from_json",
    "take_to_json",
    "undo_stacks",
    "update_proposal",
    "variation_of",
]
