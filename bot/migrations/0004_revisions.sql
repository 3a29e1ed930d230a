-- Revising together: who revised each script line since it was written, and the room's named
-- drafts. `revised_by` is a JSON list of user ids, oldest first, set by the edit that revised
-- the line (and restored by its undo, like every other column of the line). A draft records the
-- script as it was saved (`lines`: line id -> element JSON, to mark what changed since) and the
-- scene numbers it locked (`scenes`: [heading line id, number] in script order, including the
-- numbers of scenes omitted since an earlier draft), so that the room's scene numbers stay
-- stable once drafts were shared. A reset removes the room's drafts with its story.

ALTER TABLE script_lines ADD COLUMN revised_by TEXT NOT NULL DEFAULT '[]';

CREATE TABLE drafts (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id  INTEGER NOT NULL REFERENCES rooms(id),
    name     TEXT    NOT NULL,
    saved_by INTEGER NOT NULL,
    at       REAL    NOT NULL,
    event_id INTEGER NOT NULL REFERENCES events(id) DEFERRABLE INITIALLY DEFERRED,
    scenes   TEXT    NOT NULL,
    lines    TEXT    NOT NULL,
    UNIQUE (room_id, name)
);
CREATE INDEX drafts_room ON drafts(room_id, id);
