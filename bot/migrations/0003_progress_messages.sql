-- Where each proposal's progress was shown: the channel (or thread) and the message that said
-- "waiting for the model…" and "writing…" while its takes were written, so that a bot restarted
-- in the meantime, which writes the takes again under a new message, edits the old one to say
-- so instead of leaving it at "writing…". NULL until the progress is posted, and in rooms that
-- have no messages (the console).

ALTER TABLE proposals ADD COLUMN progress_channel INTEGER;
ALTER TABLE proposals ADD COLUMN progress_message INTEGER;
