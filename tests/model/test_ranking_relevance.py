"""The relevance figures best-of-N ranks by: the mean log-probability per token of a take after
a prompt, as `model.relevance` computes it for many takes at once."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from model import relevance


def _one_by_one(model: Any, prompt: list[int], take: list[int]) -> float:
    """The plain reading: one unpadded row, every logit, the take's tokens averaged."""
    ids = torch.tensor([[*prompt, *take]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    picked = [logp[len(prompt) - 1 + i, token] for i, token in enumerate(take)]
    return float(sum(picked) / len(picked))


PROMPTS = [[5, 17, 42, 9, 300, 2], [7, 8], [11, 400, 23, 23, 1, 6, 90, 12]]
TAKES = [[33, 2, 100], [4, 5, 6, 7, 8, 9, 10], [250]]


def test_a_batch_of_takes_scores_as_each_take_alone(small_vocab_model: Any) -> None:
    want = [_one_by_one(small_vocab_model, p, t) for p, t in zip(PROMPTS, TAKES, strict=True)]
    got = relevance.take_logprobs(small_vocab_model, None, PROMPTS, TAKES)
    assert got == pytest.approx(want, abs=1e-4)
    assert len(set(got)) == 3  # the rows did not read each other's tokens


def test_a_small_budget_scores_a_row_at_a_time_to_the_same_figures(
    small_vocab_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = relevance.take_logprobs(small_vocab_model, None, PROMPTS, TAKES)
    monkeypatch.setattr(relevance, "LOGIT_BUDGET", 1)
    vocab = 512
    passes: list[int] = []

    def forward(ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, keep: int) -> Any:
        passes.append(ids.shape[0])
        out = small_vocab_model(
            input_ids=ids, attention_mask=mask, position_ids=pos, logits_to_keep=keep
        )
        return out.logits

    got = relevance.score_takes(
        forward, PROMPTS, TAKES, vocab=vocab, device=torch.device("cpu"), budget=1
    )
    assert passes == [1, 1, 1]
    assert got == pytest.approx(whole, abs=1e-4)


def test_an_empty_take_scores_zero_and_costs_no_pass(small_vocab_model: Any) -> None:
    got = relevance.take_logprobs(small_vocab_model, None, [[1, 2], [3, 4]], [[], [5, 6]])
    assert got[0] == 0.0 and got[1] < 0
