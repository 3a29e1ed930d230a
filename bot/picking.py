"""The pick rules as pure functions: given a proposal's votes, is it decided, and on which take?

- `first`: the first vote decides.
- `majority`: decided as soon as one take has `quorum` votes; at the deadline, the take with most
  votes; a tie goes to the take that got its votes first (whose latest counted vote came earliest).
  No vote by the deadline: nothing is decided and the proposal expires.
- `showrunner`: only a showrunner's vote decides (their latest one); everyone else's vote is advice.
  There is no deadline.

An explicit pick by a showrunner decides under every rule; the room service handles that before
asking these functions. This module knows nothing of storage, time or who may do what: the caller
passes the votes (with their order and whether the voter ran the room) and whether the deadline
has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain import PickRule, Vote
from bot.messages import Message, message, recognise

#: Why a proposal was decided or closed: the catalogue keys of the reasons the room stores (in
#: English, as `str` of the message) and the front ends show in their reader's language.
REASONS = (
    "reason.first_vote",
    "reason.quorum.one",
    "reason.quorum.many",
    "reason.most_votes.one",
    "reason.most_votes.many",
    "reason.most_votes_tie.one",
    "reason.most_votes_tie.many",
    "reason.showrunner",
    "reason.no_vote",
    "reason.reset",
)


@dataclass(frozen=True, slots=True)
class Decision:
    take: int
    said: Message  # why, e.g. "the first vote", "2 votes reached the quorum of 2"

    @property
    def reason(self) -> str:
        return str(self.said)


def decide(
    rule: PickRule, votes: Sequence[Vote], *, quorum: int, deadline_passed: bool = False
) -> Decision | None:
    """The decision the rule makes on these votes now, or None while the proposal stays open."""
    if rule is PickRule.FIRST:
        return first_vote(votes)
    if rule is PickRule.MAJORITY:
        return majority(votes, quorum=quorum, deadline_passed=deadline_passed)
    return showrunner_vote(votes)


def first_vote(votes: Sequence[Vote]) -> Decision | None:
    if not votes:
        return None
    first = min(votes, key=lambda v: v.seq)
    return Decision(first.take, message("reason.first_vote"))


def majority(votes: Sequence[Vote], *, quorum: int, deadline_passed: bool) -> Decision | None:
    standings = _standings(votes)
    if not standings:
        return None
    take, count, _ = standings[0]
    number = "one" if count == 1 else "many"
    if count >= quorum:
        said = message(f"reason.quorum.{number}", count=count, quorum=quorum)
        return Decision(take, said)
    if deadline_passed:
        tied = len(standings) > 1 and standings[1][1] == count
        kind = "most_votes_tie" if tied else "most_votes"
        return Decision(take, message(f"reason.{kind}.{number}", count=count))
    return None


def showrunner_vote(votes: Sequence[Vote]) -> Decision | None:
    theirs = [v for v in votes if v.showrunner]
    if not theirs:
        return None
    latest = max(theirs, key=lambda v: v.seq)
    return Decision(latest.take, message("reason.showrunner"))


def _standings(votes: Sequence[Vote]) -> list[tuple[int, int, int]]:
    """(take, votes, seq of its latest vote), best first: most votes, then earliest to get them."""
    counts: dict[int, int] = {}
    latest: dict[int, int] = {}
    for vote in votes:
        counts[vote.take] = counts.get(vote.take, 0) + 1
        latest[vote.take] = max(latest.get(vote.take, vote.seq), vote.seq)
    return sorted(
        ((take, counts[take], latest[take]) for take in counts), key=lambda s: (-s[1], s[2])
    )


def reason_message(reason: str) -> Message | None:
    """A stored reason as the message it was made from (None for another text: a failure's
    sentence, or a reason this version does not know)."""
    return recognise(reason, REASONS)
