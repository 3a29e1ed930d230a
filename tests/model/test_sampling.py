"""The batched sampler: draws follow the model's distribution after temperature, top-k and top-p;
a seeded take is the same whatever shares its batch; the noise is the hash it claims to be; and
the kernel of ours that draws on a CPU with AVX-512 VNNI draws what torch's operators draw,
token for token, with the log-probabilities they give."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from model import kernels, repeats
from model.sampling import (
    GRAPH_CANDIDATES,
    SamplingTable,
    _mix,
    _repetition_penalised,
    _times,
    _uniform,
    candidates_for,
    draw,
    sample,
    token_logprobs,
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


needs_vnni = pytest.mark.skipif(
    not kernels.cpu_has_flags(),
    reason="this CPU lacks AVX-512 VNNI, which the kernels are built for (torch's sampler serves)",
)


def _by_kernel(
    logits: torch.Tensor, penalised: torch.Tensor, table: SamplingTable, candidates: int
) -> tuple[torch.Tensor, torch.Tensor]:
    return kernels.sample(logits, penalised, table.drawing(), candidates)


def _random_settings(gen: torch.Generator, rows: int) -> list[Sampling]:
    def pick(options: list[float]) -> float:
        return options[int(torch.randint(len(options), (1,), generator=gen))]

    return [
        Sampling(
            temperature=pick([0.0, 0.3, 0.8, 1.0, 1.6]),
            top_p=pick([0.3, 0.9, 0.95, 1.0]),
            top_k=int(pick([1, 5, 50, 200, 1024])),
            repetition_penalty=pick([0.8, 1.0, 1.1, 1.3]),
        )
        for _ in range(rows)
    ]


@needs_vnni
def test_the_kernel_draws_torchs_tokens_and_log_probabilities() -> None:
    """Batches of every size a room sends, each row with its own temperature (greedy among
    them), top-k, top-p, repetition penalty, seed and step, over the shipped model's vocabulary
    at several spreads of the logits: the same token as torch's operators in every row, and its
    log-probability under the raw logits to float32's rounding. A prompt's first draw hands one
    row of logits expanded over its takes, and the marks are a slice of the engine's table."""
    gen = torch.Generator().manual_seed(29)
    vocab, rows_seen, differing = 49152, 0, []
    for batch in range(120):
        rows = int(torch.randint(1, 9, (1,), generator=gen))
        settings = _random_settings(gen, rows)
        seeds = torch.randint(0, 2**32, (rows,), generator=gen).tolist()
        table = SamplingTable.of(settings, seeds, CPU)
        table.drawn[:] = torch.randint(0, 600, (rows,), generator=gen)
        spread = float(torch.rand(1, generator=gen)) * 6 + 0.5
        logits = torch.randn(rows, vocab, generator=gen) * spread
        if batch % 4 == 0:
            logits = logits[:1].expand(rows, -1)
        marks = torch.rand(rows + 2, vocab, generator=gen) < 0.01
        penalised = marks[1 : rows + 1]
        candidates = candidates_for(settings, vocab)
        want = sample(logits, penalised, table, candidates)
        got, logprobs = _by_kernel(logits, penalised, table, candidates)
        rows_seen += rows
        differing += [(batch, row) for row in range(rows) if got[row] != want[row]]
        assert torch.allclose(logprobs, token_logprobs(logits, got), atol=1e-4, rtol=0)
    assert rows_seen > 400 and differing == []


@needs_vnni
def test_the_kernels_draws_follow_the_tempered_distribution_top_k_and_top_p() -> None:
    """The distribution tests above, by the kernel: LOGITS padded to 16 tokens the draws never
    reach (the kernel reads 16 at a time)."""
    n = 20_000
    padded = torch.cat([LOGITS, torch.full((8,), -1e4)])

    def frequencies_of(sampling: Sampling) -> torch.Tensor:
        table = SamplingTable.of([sampling] * n, [1] * n, CPU)
        table.drawn += torch.arange(n)
        penalised = torch.zeros((n, padded.numel()), dtype=torch.bool)
        candidates = candidates_for([sampling], padded.numel())
        tokens, _ = _by_kernel(padded.expand(n, -1), penalised, table, candidates)
        return frequencies(tokens)[: LOGITS.numel()]

    for temperature in (1.0, 0.7, 1.5):
        got = frequencies_of(Sampling(temperature=temperature, top_k=0, top_p=1.0))
        want = torch.softmax(LOGITS / temperature, dim=0)
        assert (got - want).abs().sum() / 2 < 0.015, temperature
    got = frequencies_of(Sampling(temperature=1.0, top_k=3, top_p=1.0))
    assert got[3:].sum() == 0 and (got[:3] - torch.softmax(LOGITS[:3], 0)).abs().sum() / 2 < 0.015
    probs = torch.softmax(LOGITS, dim=0)
    got = frequencies_of(Sampling(temperature=1.0, top_k=0, top_p=float(probs[:2].sum()) - 0.01))
    assert got[2:].sum() == 0 and abs(float(got[0]) - float(probs[0] / probs[:2].sum())) < 0.015


@needs_vnni
def test_the_kernel_breaks_ties_towards_the_lower_token() -> None:
    """Equal logits (a bfloat16 model writes many) rank the lower token first, so a greedy
    take and the candidates at the top-k's edge are the same from run to run (torch's top-k
    leaves the order of equal values unsaid)."""
    logits = torch.zeros(2, 4096)
    logits[:, [3000, 70, 2500]] = 5.0  # three tied at the top
    logits[1, 70] = 4.0
    table = SamplingTable.of([Sampling(temperature=0.0)] * 2, [0, 0], CPU)
    penalised = torch.zeros(logits.shape, dtype=torch.bool)
    tokens, _ = _by_kernel(logits, penalised, table, 1)
    assert tokens.tolist() == [70, 2500]
    top_two = SamplingTable.of([Sampling(temperature=1e-3, top_k=2)], [5], CPU)
    for drawn in range(20):  # near-greedy over the two it keeps: never the third
        top_two.drawn[:] = drawn
        assert int(_by_kernel(logits[:1], penalised[:1], top_two, 2)[0]) in (70, 2500)


@needs_vnni
def test_a_draw_goes_to_the_kernel_unless_it_has_dry_or_too_many_candidates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`draw` is the kernel's one call where it serves (the bot's settings: no DRY, top-k 50),
    and torch's operators with DRY, over 1024 candidates or with the kernels switched off; the
    tokens are the same either way."""
    calls: list[int] = []
    real = kernels.sample

    def counted(*args: object) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(kernels, "sample", counted)
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 49152, generator=gen) * 3
    penalised = torch.rand(logits.shape, generator=gen) < 0.01
    bot = [Sampling()] * 4
    table = SamplingTable.of(bot, [1, 2, 3, 4], CPU)
    want = sample(logits, penalised, table, 50)
    tokens, _ = draw(logits, penalised, table, 50)
    assert calls == [1] and torch.equal(tokens, want)
    exempt = repeats.Marks.none(49152, CPU, stop_token_ids=[]).exempt
    draw(logits, penalised, table, 50, exempt)
    wide = [Sampling(top_k=0)] * 4
    draw(logits, penalised, SamplingTable.of(wide, [1, 2, 3, 4], CPU), candidates_for(wide, 49152))
    with kernels.switched_off():
        tokens, _ = draw(logits, penalised, table, 50)
    assert calls == [1] and torch.equal(tokens, want)


@needs_vnni
def test_the_kernel_never_draws_a_token_whose_logit_is_not_a_number() -> None:
    """A model gone wrong may write NaN logits: the kernel ranks them below every number (its
    sort then has a total order), so neither a greedy nor a sampled row draws one."""
    gen = torch.Generator().manual_seed(11)
    logits = torch.randn(6, 4096, generator=gen) * 3
    holes = torch.rand(logits.shape, generator=gen) < 0.2
    holes[0, 7], holes[0, 8] = True, False
    logits[holes] = float("nan")
    logits[0, 8] = 50.0  # the largest number of row 0, beside a NaN
    settings = [Sampling(temperature=0.0)] + [Sampling(temperature=1.5, top_k=200)] * 5
    table = SamplingTable.of(settings, list(range(6)), CPU)
    penalised = torch.rand(logits.shape, generator=gen) < 0.05
    for step in range(30):
        table.drawn[:] = step
        tokens, _ = _by_kernel(logits, penalised, table, 200)
        assert int(tokens[0]) == 8
        assert not holes.gather(1, tokens[:, None]).any()
