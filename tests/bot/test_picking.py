"""The pick rules on their own: which take a set of votes decides, and when."""

from __future__ import annotations

from bot.domain import PickRule, Vote
from bot.picking import decide


def votes(*takes: int, showrunner_at: tuple[int, ...] = ()) -> list[Vote]:
    """One vote per take given, from users 1, 2, ... in that order."""
    return [
        Vote(user_id=i, take=t, at=float(i), seq=i, showrunner=i in showrunner_at)
        for i, t in enumerate(takes, 1)
    ]


def test_first_vote_decides() -> None:
    assert decide(PickRule.FIRST, [], quorum=3) is None
    decision = decide(PickRule.FIRST, votes(2, 1, 1), quorum=3)
    assert decision is not None and decision.take == 2


def test_majority_waits_for_quorum() -> None:
    assert decide(PickRule.MAJORITY, votes(1, 2), quorum=2) is None
    decision = decide(PickRule.MAJORITY, votes(1, 2, 2), quorum=2)
    assert decision is not None and decision.take == 2
    assert "quorum" in decision.reason


def test_majority_at_deadline_takes_most_votes() -> None:
    decision = decide(PickRule.MAJORITY, votes(3, 1, 3), quorum=5, deadline_passed=True)
    assert decision is not None and decision.take == 3


def test_majority_tie_goes_to_the_take_that_got_its_votes_first() -> None:
    # take 2 reaches two votes at seq 3, take 1 only at seq 4
    decision = decide(PickRule.MAJORITY, votes(2, 1, 2, 1), quorum=5, deadline_passed=True)
    assert decision is not None and decision.take == 2
    assert "tie" in decision.reason
    decision = decide(PickRule.MAJORITY, votes(1, 2, 2, 1), quorum=5, deadline_passed=True)
    assert decision is not None and decision.take == 2


def test_majority_without_votes_decides_nothing_even_at_deadline() -> None:
    assert decide(PickRule.MAJORITY, [], quorum=2, deadline_passed=True) is None


def test_showrunner_rule_ignores_other_votes() -> None:
    assert decide(PickRule.SHOWRUNNER, votes(1, 1, 1), quorum=1, deadline_passed=True) is None
    decision = decide(PickRule.SHOWRUNNER, votes(1, 1, 3, 1, showrunner_at=(3,)), quorum=1)
    assert decision is not None and decision.take == 3
