-- What each change of the log says, as a message of the catalogues rather than English text:
-- `said` is the JSON of a `bot.messages.Message` (its key and fields, nested messages as
-- objects), so that /history, /undo and /redo word it in whichever language the reader has.
-- `summary` keeps the English, for anyone reading the file with sqlite3 and for the events
-- written before this migration, whose `said` is NULL and which are shown as they were stored.
-- Likewise `reason_said` beside a proposal's `reason`: why it was decided, expired, cancelled or
-- failed (a failure's sentence included), as a message; NULL for older proposals, whose reason
-- is recognised from its English where it is one of the room's reasons.

ALTER TABLE events ADD COLUMN said TEXT;
ALTER TABLE proposals ADD COLUMN reason_said TEXT;
