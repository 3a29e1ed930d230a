-- Where each proposal's ballot was posted: the channel (or thread) and the message that holds its
-- vote buttons, so that a restarted bot edits that very message when the vote is decided and
-- knows a reaction on it for a vote. NULL until the ballot is posted, and in rooms that have no
-- messages (the console). A message is the ballot of one proposal at most.

ALTER TABLE proposals ADD COLUMN ballot_channel INTEGER;
ALTER TABLE proposals ADD COLUMN ballot_message INTEGER;
CREATE UNIQUE INDEX proposals_ballot ON proposals(ballot_message);
