-- The writers' room: one row per room, its story state, proposals, votes and the event log.
-- Story tables are keyed by room; the event log is append-only (rows are never updated or
-- deleted) and every script line names the event that put it there.

CREATE TABLE rooms (
    id            INTEGER PRIMARY KEY,
    created_at    REAL    NOT NULL,
    branched_from INTEGER,
    title         TEXT    NOT NULL DEFAULT '',
    logline       TEXT    NOT NULL DEFAULT '',
    genre         TEXT    NOT NULL DEFAULT '',
    tone          TEXT    NOT NULL DEFAULT '',
    style_notes   TEXT    NOT NULL DEFAULT '',
    language      TEXT    NOT NULL DEFAULT 'English',
    page_size     TEXT    NOT NULL DEFAULT 'letter',
    settings      TEXT    NOT NULL            -- JSON of bot.domain.RoomSettings
);

CREATE TABLE events (
    id       INTEGER PRIMARY KEY,             -- assigned max+1 under the write lock: never reused
    room_id  INTEGER NOT NULL REFERENCES rooms(id),
    user_id  INTEGER NOT NULL,
    at       REAL    NOT NULL,
    kind     TEXT    NOT NULL,
    summary  TEXT    NOT NULL,
    undoable INTEGER NOT NULL DEFAULT 0,
    target   INTEGER REFERENCES events(id),
    payload  TEXT    NOT NULL                 -- JSON; for undoable events the list of changes
);
CREATE INDEX events_room ON events(room_id, id);
CREATE INDEX events_stack ON events(room_id, undoable, kind, id);

CREATE TABLE characters (
    room_id       INTEGER NOT NULL REFERENCES rooms(id),
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT '',
    description   TEXT    NOT NULL DEFAULT '',
    personality   TEXT    NOT NULL DEFAULT '',
    backstory     TEXT    NOT NULL DEFAULT '',
    voice         TEXT    NOT NULL DEFAULT '',
    relationships TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (room_id, name)
);

CREATE TABLE locations (
    room_id     INTEGER NOT NULL REFERENCES rooms(id),
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (room_id, name)
);

CREATE TABLE beats (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id INTEGER NOT NULL REFERENCES rooms(id),
    pos     INTEGER NOT NULL,
    text    TEXT    NOT NULL,
    status  TEXT    NOT NULL CHECK (status IN ('planned', 'written'))
);
CREATE INDEX beats_room ON beats(room_id, pos);

-- One row per screenplay element. `pos` orders a room's script with gaps so that lines can be
-- inserted between others; `element` is the JSON encoding of the element (exact round trip).
CREATE TABLE script_lines (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id     INTEGER NOT NULL REFERENCES rooms(id),
    pos         INTEGER NOT NULL,
    element     TEXT    NOT NULL,
    event_id    INTEGER NOT NULL REFERENCES events(id) DEFERRABLE INITIALLY DEFERRED,
    written_by  INTEGER,
    proposal_id INTEGER,
    take        INTEGER,
    model       TEXT,
    picked_by   INTEGER,
    edited_by   INTEGER,
    CHECK ((written_by IS NULL) <> (proposal_id IS NULL))
);
CREATE INDEX script_lines_room ON script_lines(room_id, pos);

CREATE TABLE proposals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id      INTEGER NOT NULL REFERENCES rooms(id),
    kind         TEXT    NOT NULL,
    requested_by INTEGER NOT NULL,
    prompt       TEXT    NOT NULL,
    characters   TEXT    NOT NULL,            -- JSON list of cue names
    n            INTEGER NOT NULL CHECK (n BETWEEN 1 AND 5),
    beat_id      INTEGER,
    status       TEXT    NOT NULL,
    created_at   REAL    NOT NULL,
    deadline     REAL,
    decided_take INTEGER,
    decided_by   INTEGER,
    decided_at   REAL,
    rerolled_as  INTEGER REFERENCES proposals(id),
    reason       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX proposals_room ON proposals(room_id, status);
CREATE INDEX proposals_due ON proposals(status, deadline);

CREATE TABLE takes (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    number      INTEGER NOT NULL,
    payload     TEXT    NOT NULL,             -- JSON of bot.domain.Take
    PRIMARY KEY (proposal_id, number)
);

CREATE TABLE votes (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    user_id     INTEGER NOT NULL,
    take        INTEGER NOT NULL,
    at          REAL    NOT NULL,
    seq         INTEGER NOT NULL,             -- the id of the vote's event: orders votes in time
    showrunner  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (proposal_id, user_id),
    FOREIGN KEY (proposal_id, take) REFERENCES takes(proposal_id, number)
);
