"""DRY (`model.repeats`): the penalty on a stretch the take writes again, checked against the
rule written out by hand, and what a room sees of it: a take stops going round in circles, while
its cues, its line breaks and its Chinese characters are left whole."""

from __future__ import annotations

import random
from typing import Any

import pytest
import torch

from model import repeats
from model.batch import PromptGroup, prompt_penalties
from model.sampling import SamplingTable, sample
from model.tasks import Sampling
from model.tokenizer import LightTokenizer

CPU = torch.device("cpu")
VOCAB = 8
BREAK = 0  # a line break
INSIDE = 6  # a token that starts inside a character: weight 0, never penalised
STOP = 7


def _marks() -> repeats.Marks:
    marks = repeats.Marks.none(VOCAB, CPU, stop_token_ids=[STOP])
    marks.breakers[BREAK] = True
    marks.exempt[[BREAK, INSIDE]] = True
    marks.weight[INSIDE] = 0
    return marks


def dry_by_hand(
    seq: list[int],
    multiplier: float,
    base: float,
    allowed: int,
    breakers: tuple[int, ...] = (BREAK,),
    inside: tuple[int, ...] = (INSIDE,),
    stops: tuple[int, ...] = (STOP,),
) -> dict[int, float]:
    """DRY as its authors describe it: for every earlier place where the take's latest
    stretch also ends, the token that came next there is penalised by the stretch's length."""
    penalties: dict[int, float] = {}
    last = len(seq) - 1
    for end in range(last):
        length, k = 0, 0
        while end - k >= 0 and seq[end - k] == seq[last - k] and seq[last - k] not in breakers:
            length += 0 if seq[end - k] in inside else 1
            k += 1
        following = seq[end + 1]
        if length >= allowed and following not in (*breakers, *inside, *stops):
            amount = multiplier * base ** min(length - allowed, 24)
            penalties[following] = max(penalties.get(following, 0.0), amount)
    return penalties


def _table(rows: int, sampling: Sampling) -> SamplingTable:
    return SamplingTable.of([sampling] * rows, [0] * rows, CPU)


def _penalty_now(table: SamplingTable, marks: repeats.Marks) -> torch.Tensor:
    """The DRY penalty `[rows, V]` on each token drawn next, as the sampler subtracts it."""
    rows = table.history.shape[0]
    return -repeats.penalise(
        torch.zeros(rows, VOCAB),
        table.history,
        table.matches,
        table.dry_multiplier,
        table.dry_base,
        table.dry_allowed,
        marks.exempt,
    )


@pytest.mark.parametrize("seed", range(6))
def test_the_penalty_is_the_rule_by_hand_after_every_token(seed: int) -> None:
    rng = random.Random(seed)
    marks = _marks()
    sampling = Sampling(dry_multiplier=0.8, dry_base=1.75, dry_allowed_length=2)
    table = _table(2, sampling)
    takes: list[list[int]] = [[], []]
    for _ in range(60):
        # A small alphabet with runs and returns, as a looping take has.
        drawn = [rng.choice([1, 1, 2, 3, INSIDE, BREAK, 4]) for _ in takes]
        for take, token in zip(takes, drawn, strict=True):
            take.append(token)
        repeats.push(torch.tensor(drawn), table.history, table.matches, marks)
        scores = -_penalty_now(table, marks)
        for row, take in enumerate(takes):
            expected = torch.zeros(VOCAB)
            for token, amount in dry_by_hand(take, 0.8, 1.75, 2).items():
                expected[token] = -amount
            assert torch.allclose(scores[row], expected), (take, scores[row], expected)


def test_the_history_keeps_the_latest_tokens_once_full() -> None:
    marks = _marks()
    table = _table(1, Sampling(dry_multiplier=1.0))
    for token in [*([1, 2] * repeats.HISTORY), 3]:
        repeats.push(torch.tensor([token]), table.history, table.matches, marks)
    assert table.history[0, -3:].tolist() == [1, 2, 3]
    assert int(table.history.min()) >= 0


def _greedy_take(logits: torch.Tensor, sampling: Sampling, steps: int) -> list[int]:
    """A take drawn greedily from fixed `logits` (a model that always wants the same)."""
    marks = _marks()
    table = _table(1, sampling)
    penalised = torch.zeros(1, VOCAB, dtype=torch.bool)
    take = []
    for _ in range(steps):
        token = sample(logits[None], penalised, table, VOCAB, marks.exempt)
        repeats.push(token, table.history, table.matches, marks)
        take.append(int(token))
    return take


def test_a_model_that_wants_one_token_forever_is_turned_aside() -> None:
    # Token 1 is far ahead of 2 and 3: without DRY the take is 1 1 1 1 ...
    logits = torch.tensor([-9.0, 5.0, 3.0, 2.5, -9.0, -9.0, -9.0, -9.0])
    plain = _greedy_take(logits, Sampling(temperature=0.0, repetition_penalty=1.0), 30)
    assert plain == [1] * 30
    dry = Sampling(temperature=0.0, repetition_penalty=1.0, dry_multiplier=0.8)
    take = _greedy_take(logits, dry, 30)
    # A run of 1s pays 0.8, 1.4, 2.45 past two: within a few it gives way (later runs a little
    # later: 2 and 3 then carry on stretches written before too, and pay as well).
    runs = "".join(map(str, take)).replace("2", " ").replace("3", " ").split()
    assert len(runs[0]) == 5 and max(map(len, runs)) <= 8 and {2, 3} <= set(take), take


def _penalties(marks: repeats.Marks, take: list[int], allowed: int = 2) -> torch.Tensor:
    """The DRY penalty on each token after `take` (multiplier 1)."""
    table = _table(1, Sampling(dry_multiplier=1.0, dry_allowed_length=allowed))
    for token in take:
        repeats.push(torch.tensor([token]), table.history, table.matches, marks)
    return _penalty_now(table, marks)[0]


def test_a_line_break_is_never_penalised_nor_a_match_carried_across_it() -> None:
    cue = [1, 2, 3]  # a name of three pieces, on a line of its own, again and again
    marks = _marks()
    # The cue's stretch is long, but what follows it is a line break: free.
    assert _penalties(marks, [*cue, BREAK, 4, BREAK, *cue])[BREAK] == 0
    # After the break, a new line: nothing carries over, the next cue is free.
    assert _penalties(marks, [*cue, BREAK, 4, BREAK, *cue, BREAK]).abs().sum() == 0
    # Were the break not a breaker, "3 BREAK" would match and the cue's first piece would pay.
    plain = repeats.Marks.none(VOCAB, CPU)
    assert _penalties(plain, [*cue, BREAK, 4, BREAK, *cue, BREAK])[4] > 0


def test_a_token_inside_a_character_is_never_penalised() -> None:
    # A character of two tokens (a lead, then INSIDE), which the model wants again and again.
    marks = _marks()
    table = _table(1, Sampling(dry_multiplier=5.0, dry_allowed_length=1))
    for token in [2, INSIDE] * 6 + [2]:
        repeats.push(torch.tensor([token]), table.history, table.matches, marks)
    scores = -_penalty_now(table, marks)
    assert scores[0, INSIDE] == 0  # the character begun is finished
    assert scores[0, 2] == 0  # what follows a lead is INSIDE: nothing else is penalised
    repeats.push(torch.tensor([INSIDE]), table.history, table.matches, marks)
    scores = -_penalty_now(table, marks)
    # Seven characters of two tokens each count seven, not fourteen: 5 * 1.75 ** (6 - 1).
    assert scores[0, 2] == pytest.approx(-5.0 * 1.75**5, rel=1e-5)


def test_a_row_without_dry_is_untouched_beside_one_with_it() -> None:
    marks = _marks()
    table = SamplingTable.of([Sampling(), Sampling(dry_multiplier=1.0)], [0, 0], CPU)
    for token in [1, 2, 1, 2, 1]:
        repeats.push(torch.tensor([token, token]), table.history, table.matches, marks)
    scores = -_penalty_now(table, marks)
    assert scores[0].abs().sum() == 0
    assert scores[1, 2] < 0


@pytest.mark.parametrize("light", [False, True])
def test_marks_of_the_default_models_tokenizer(tokenizer: Any, light: bool) -> None:
    if light:
        tokenizer = LightTokenizer.of(tokenizer)
    marks = repeats.Marks.of(tokenizer, len(tokenizer), CPU)
    encode = tokenizer.encode
    for text in ("\n", ":", "："):
        assert all(marks.breakers[i] for i in encode(text, add_special_tokens=False)[-1:])
    ids = encode("嘴", add_special_tokens=False)
    assert not marks.exempt[ids[0]] and marks.weight[ids[0]] == 1
    assert all(marks.exempt[i] and marks.weight[i] == 0 for i in ids[1:])
    for i in encode("PILAR", add_special_tokens=False):
        assert not marks.exempt[i] and marks.weight[i] == 1
    # Pieces of a character, whichever end they lack, are pieces; whole characters are not.
    assert all(marks.pieces[i] for i in ids)
    for whole in ("的", "PILAR", " -", "。"):
        assert not any(marks.pieces[i] for i in encode(whole, add_special_tokens=False))


def test_the_repetition_penalty_spares_the_pieces_of_a_chinese_prompt(tokenizer: Any) -> None:
    """A Chinese prompt's characters are byte-level pieces shared by thousands of characters:
    penalised, they lowered nearly every character the model could write next, at random. A
    take that spares them (a script take) still has the prompt's words and whole characters
    penalised; one that does not (a premise) has the pieces penalised too."""
    marks = repeats.Marks.of(tokenizer, len(tokenizer), CPU)
    prompt_text = "石满仓看着窗外的雨。PILAR waits."
    ids = tokenizer.encode(prompt_text, add_special_tokens=False)
    prompt = torch.tensor(ids)

    def penalties(spare: bool) -> tuple[torch.Tensor, torch.Tensor]:
        sampling = (Sampling(spare_pieces=spare),) * 2
        group = PromptGroup(tuple(ids), (0, 1), sampling)
        return prompt_penalties(prompt, group, len(tokenizer), marks)

    penalisable, penalised = penalties(True)
    pieces = [i for i in ids if marks.pieces[i]]
    assert len(pieces) >= 10  # the eight characters outside the vocabulary, in pieces
    assert not penalised[:, pieces].any() and not penalisable[:, pieces].any()
    whole = [i for i in ids if i not in pieces]
    assert tokenizer.encode("的", add_special_tokens=False)[0] in whole
    assert penalised[:, whole].all()
    _, plain = penalties(False)
    assert plain[:, ids].all()


@pytest.mark.parametrize("value", [-0.1, float("nan")])
def test_a_bad_dry_setting_is_refused_in_a_sentence(value: float) -> None:
    from model.errors import BadSampling

    with pytest.raises(BadSampling, match="DRY multiplier"):
        Sampling(dry_multiplier=value)
    with pytest.raises(BadSampling, match="DRY allowed length"):
        Sampling(dry_allowed_length=0)
