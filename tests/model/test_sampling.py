"""The batched sampler: draws follow the model's distribution after temperature, top-k and top-p;
a seeded take is the same whatever shares its batch; the noise is the hash it claims to be."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from model import repeats
from model.sampling import (
    GRAPH_CANDIDATES,
    SamplingTable,
    _mix,
    _repetition_penalised,
    _times,
    _uniform,
    candidates_for,
    sample,
)
from model.tasks import Sampling

CPU = torch.device("cpu")
LOGITS = torch.tensor([2.0, 1.5, 1.0, 0.5, 0.0, -1.0, -3.0, -6.0])


def draws(sampling: Sampling, n: int = 20_000, seed: int = 1) -> torch.Tensor:
    """`n` draws from LOGITS: one row per draw, each at its own step of one seed's noise."""
    table = SamplingTable.of([sampling] * n, [seed] * n, CPU)
    table.drawn += torch.arange(n)
    logits = LOGITS.expand(n, -1)
    penalised = torch.zeros(logits.shape, dtype=torch.bool)
    return sample(logits, penalised, table, candidates_for([sampling], LOGITS.numel()))


def frequencies(tokens: torch.Tensor) -> torch.Tensor:
    return torch.bincount(tokens, minlength=LOGITS.numel()).float() / tokens.numel()


def test_draws_follow_the_tempered_distribution() -> None:
    for temperature in (1.0, 0.7, 1.5):
        got = frequencies(draws(Sampling(temperature=temperature, top_k=0, top_p=1.0)))
        want = torch.softmax(LOGITS / temperature, dim=0)
        assert (got - want).abs().sum() / 2 < 0.015, temperature  # total variation


def test_top_k_and_top_p_keep_only_the_likeliest_tokens_renormalised() -> None:
    got = frequencies(draws(Sampling(temperature=1.0, top_k=3, top_p=1.0)))
    assert got[3:].sum() == 0
    want = torch.softmax(LOGITS[:3], dim=0)
    assert (got[:3] - want).abs().sum() / 2 < 0.015

    # The nucleus: the smallest set whose mass reaches p (here the two likeliest: 0.36 + 0.22).
    probs = torch.softmax(LOGITS, dim=0)
    nucleus = Sampling(temperature=1.0, top_k=0, top_p=float(probs[:2].sum()) - 0.01)
    got = frequencies(draws(nucleus))
    assert got[2:].sum() == 0 and abs(float(got[0]) - float(probs[0] / probs[:2].sum())) < 0.015


def test_greedy_rows_and_the_repetition_penalty() -> None:
    greedy = Sampling(temperature=0.0)
    assert draws(greedy, n=5).tolist() == [0] * 5
    table = SamplingTable.of([Sampling(temperature=0.0, repetition_penalty=2.0)], [0], CPU)
    penalised = torch.zeros((1, LOGITS.numel()), dtype=torch.bool)
    penalised[0, 0] = True  # 2.0 / 2 = 1.0 falls below 1.5
    assert sample(LOGITS[None], penalised, table, 1).tolist() == [1]


def test_a_seeded_row_draws_the_same_whatever_shares_its_batch() -> None:
    hot = Sampling(temperature=1.5, top_k=0, top_p=1.0)
    logits = torch.randn(3, 500, generator=torch.Generator().manual_seed(0))
    alone = SamplingTable.of([hot], [42], CPU)
    company = SamplingTable.of([hot, Sampling(temperature=0.0), hot], [7, 0, 42], CPU)
    penalised = torch.zeros((3, 500), dtype=torch.bool)
    seen_alone, seen_in_company = [], []
    for _ in range(20):
        seen_alone.append(int(sample(logits[2:], penalised[2:], alone, 500)[0]))
        seen_in_company.append(int(sample(logits, penalised, company, GRAPH_CANDIDATES)[2]))
        alone.drawn += 1
        company.drawn += 1
    assert seen_alone == seen_in_company
    assert len(set(seen_alone)) > 10  # a hot draw over 500 tokens, not one token again


def fmix32(h: int) -> int:
    """MurmurHash3's finaliser, in plain Python."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=50))
def test_the_noise_hash_is_murmur3s_finaliser_without_overflow(values: list[int]) -> None:
    tensor = torch.tensor(values, dtype=torch.long)
    assert _mix(tensor).tolist() == [fmix32(v) for v in values]
    assert _times(tensor, 0xC2B2AE35).tolist() == [(v * 0xC2B2AE35) % 2**32 for v in values]


def test_the_noise_stays_finite_at_the_extremes_of_the_hash() -> None:
    extremes = _uniform(torch.tensor([0, 1, 2**32 - 2, 2**32 - 1]))
    assert bool((extremes > 0).all() and (extremes < 1).all())
    assert torch.isfinite(-torch.log(-torch.log(extremes))).all()


def _dense_penalty(
    logits: torch.Tensor, penalised: torch.Tensor, penalty: torch.Tensor
) -> torch.Tensor:
    """The repetition penalty as CTRL and transformers write it, over every token."""
    factor = penalty[:, None]
    return torch.where(penalised, torch.where(logits > 0, logits / factor, logits * factor), logits)


def _dense_dry(scores: torch.Tensor, token: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """Each token's score less the largest DRY amount of the stretches it would carry on."""
    return scores - torch.zeros_like(scores).scatter_reduce_(1, token, amount, "amax")


@pytest.mark.parametrize("rows", [1, 3, 32])
def test_the_repetition_penalty_touches_only_seen_tokens_and_matches_the_rule_to_the_bit(
    rows: int,
) -> None:
    """The CPU sampler penalises only the seen tokens (a draw of 32 rows over every token of
    the vocabulary took 8.7 ms, 4.0 so): the scores must still be the rule's, to the bit, for
    penalties above and below 1, and the logits the step's log-probabilities read stay
    untouched."""
    gen = torch.Generator().manual_seed(rows)
    vocab = 5000
    logits = torch.randn(rows, vocab, generator=gen) * 4
    logits[:, :7] = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, float("-inf")])
    penalised = torch.rand(rows, vocab, generator=gen) < 0.05
    penalised[:, :7] = True
    penalty = torch.linspace(0.5, 1.9, rows) if rows > 1 else torch.tensor([1.3])
    kept = logits.clone()
    got = _repetition_penalised(logits, penalised, penalty)
    assert torch.equal(got, _dense_penalty(logits, penalised, penalty))
    assert torch.equal(logits, kept)
    # A prompt's first draw hands the sampler one row of logits expanded over the takes.
    one = logits[:1].expand(rows, -1)
    assert torch.equal(
        _repetition_penalised(one, penalised, penalty), _dense_penalty(one, penalised, penalty)
    )


def test_dry_lowers_each_token_by_its_largest_amount_to_the_bit() -> None:
    """DRY changes only the tokens of the history (a token carrying on several stretches
    takes the largest amount): the same scores as subtracting a vocabulary-wide tensor."""
    gen = torch.Generator().manual_seed(5)
    rows, vocab, width = 4, 300, 64
    scores = torch.randn(rows, vocab, generator=gen) * 5
    history = torch.randint(-1, 12, (rows, width), generator=gen)  # few tokens: many repeats
    matches = torch.randint(0, 6, (rows, width), generator=gen)
    multiplier = torch.tensor([0.8, 0.0, 2.5, 1e30])
    base, allowed = torch.full((rows,), 1.75), torch.tensor([2, 2, 0, 1])
    exempt = torch.zeros(vocab, dtype=torch.bool)
    exempt[3] = True
    following = history[:, 1:]
    over = matches[:, :-1] - allowed[:, None]
    token = following.clamp(min=0)
    hit = (over >= 0) & (following >= 0) & (multiplier[:, None] > 0) & ~exempt[token]
    amount = multiplier[:, None] * base[:, None].pow(over.clamp(0, repeats._MAX_EXPONENT).float())
    want = _dense_dry(scores, token, torch.where(hit, amount, torch.zeros(())))
    got = repeats.penalise(scores.clone(), history, matches, multiplier, base, allowed, exempt)
    assert torch.equal(got, want)
    assert not torch.equal(got, scores)  # some stretch was penalised
