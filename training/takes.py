"""Takes of held-out requests from any backend, scored: the half of the evaluation that samples.

A column of the evaluation (`Subject`) is a local model, run by the bot's own generation queue,
or a model behind an OpenAI-compatible server (`model.remote.RemoteBackend`); either way the takes
come through `model.generator.Generator`, the bot's own path (or, for `--first-sampled`, the
same prompts without its second try). Each take is scored by `training.scoring`, and, where the
model is local, for relevance: how much the room's context raises the take's likelihood over
the same task without it (`model.ranking.context_free`): pointwise mutual information in mean
nats per token, unbounded here (best-of-N ranks by its tanh).

It knows models, backends and prompts; it knows nothing of rooms, Discord or the command line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.generation import TakeGenerator
from model.generator import Generator, LocalBackend, chat_prompt_ids
from model.loading import LoadedModel
from model.prompts import PROMPT_FORMAT, build_messages
from model.queue import GenerationQueue, QueueSettings
from model.ranking import context_free
from model.relevance import take_logprobs
from model.remote import RemoteBackend
from model.tasks import GeneratedTake, Sampling, TaskRequest
from training import eval_report
from training.data import Example
from training.scoring import CopyIndex, ScoredRequest, distinct_n, score_take

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heldout:
    """What a model is evaluated on: examples for perplexity, requests of every kind with their
    reference answers for generation, and the training corpus for the copy check."""

    examples: list[Example]
    requests: list[Example]
    corpus: CopyIndex
    source: str


@dataclass(frozen=True)
class Run:
    """How takes are generated and scored, the same for every column."""

    takes: int
    max_new_tokens: int
    max_len: int
    batch: int
    seed: int
    sampling: Sampling
    first_sampled: bool = False
    #: Relevance costs two forward passes over each take and its prompt: on a small, busy CPU
    #: as long as sampling the take.
    relevance: bool = True


def relevance(
    loaded: LoadedModel, request: TaskRequest, texts: Sequence[str]
) -> list[float | None]:
    """Each take's pointwise mutual information with the room's context: its mean log
    probability per token after the request's prompt less that after the context-free one
    (None for an empty take)."""
    tokenizer = loaded.tokenizer
    takes = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    given, bare = (
        chat_prompt_ids(tokenizer, build_messages(r, loaded.prompt_format))
        for r in (request, context_free(request))
    )
    logprobs = take_logprobs(
        loaded.model, tokenizer, [given] * len(takes) + [bare] * len(takes), takes * 2
    )
    return [
        logprobs[i] - logprobs[len(takes) + i] if take else None for i, take in enumerate(takes)
    ]


@dataclass(frozen=True)
class Subject:
    """One column of the evaluation: a local model (`loaded`), a served one (`url`), or any
    generator of takes the room could use (`generator`, the room's `TakeGenerator`: the tests
    pass the shared fake)."""

    label: str
    name: str
    loaded: LoadedModel | None = None
    url: str = ""
    api_key: str = ""
    generator: TakeGenerator | None = None
    best_of: int = 1


async def generate_takes(
    subject: Subject,
    requests: Sequence[TaskRequest],
    takes: int,
    sampling: Sampling,
    seed: int,
    *,
    first_sampled: bool = False,
    max_batch: int = QueueSettings().max_batch,
) -> list[list[GeneratedTake]]:
    """`takes` takes per request through the bot's generator (best of `subject.best_of`
    candidates each; ranked takes are never first samples), all requests at once so that the
    worker batches them; request i's takes are seeded from `seed + 100 * i`, otherwise sampled
    as `sampling` says."""
    if subject.generator is not None:
        return await _each(subject.generator, requests, takes, sampling, seed)
    backend = _backend(subject, len(requests), max(max_batch, takes * subject.best_of))
    if isinstance(backend, LocalBackend):
        await backend.queue.start()
    ranked = subject.best_of > 1
    asked_in = subject.loaded.prompt_format if subject.loaded is not None else PROMPT_FORMAT
    source = Generator(
        backend,
        best_of=subject.best_of,
        prompt_format=asked_in,
        second_tries=not first_sampled or ranked,
    )
    try:
        return await _each(source, requests, takes, sampling, seed)
    finally:
        await backend.close()
        # The closed queue's engine (its packed weights, half a gigabyte for the shipped model)
        # sits in reference cycles: freed now, before a sweep's next setting builds another.
        gc.collect()


async def _each(
    source: TakeGenerator | Generator,
    requests: Sequence[TaskRequest],
    takes: int,
    sampling: Sampling,
    seed: int,
) -> list[list[GeneratedTake]]:
    return list(
        await asyncio.gather(
            *(
                source.generate(
                    request,
                    takes,
                    dataclasses.replace(sampling, seed=seed + 100 * i),
                    room_id=i,
                    user_id=0,
                )
                for i, request in enumerate(requests)
            )
        )
    )


def _backend(subject: Subject, requests: int, max_batch: int) -> LocalBackend | RemoteBackend:
    if subject.loaded is None:
        return RemoteBackend(
            subject.url, subject.name, api_key=subject.api_key, timeout_s=24 * 3600
        )
    settings = QueueSettings(
        max_batch=max_batch,
        max_waiting=2 * requests + 1,
        per_user=2 * requests + 1,
        timeout_s=24 * 3600,
    )
    queue = GenerationQueue(subject.loaded.model, subject.loaded.tokenizer, settings)
    return LocalBackend(queue, subject.loaded.name)


# --- scoring ------------------------------------------------------------------------------------


def score_requests(
    subject: Subject,
    held: Heldout,
    generated: Sequence[Sequence[GeneratedTake]],
    with_relevance: bool = True,
) -> tuple[list[ScoredRequest], list[dict[str, Any]]]:
    """Every take of every held-out request scored (relevance where the model is local, unless
    `with_relevance` is off), and one row per take for the takes file."""
    scorer = subject.loaded if with_relevance else None
    scored: list[ScoredRequest] = []
    rows: list[dict[str, Any]] = []
    for number, (example, takes) in enumerate(zip(held.requests, generated, strict=True)):
        request = example.request
        assert request is not None  # held-out requests are built with one
        texts = [take.text for take in takes]
        pmi = relevance(scorer, request, texts) if scorer else [None] * len(texts)
        scores = tuple(
            dataclasses.replace(
                score_take(request, take.text, example.answer, held.corpus),
                relevance=value,
                resampled=take.regenerated,
            )
            for take, value in zip(takes, pmi, strict=True)
        )
        distinct = distinct_n(texts, 2)
        scored.append(ScoredRequest(request.kind.value, request.context.language, scores, distinct))
        rows.extend(
            eval_report.take_row(subject.label, subject.name, number, example, take.text, score)
            for take, score in zip(takes, scores, strict=True)
        )
    return scored, rows


def sample_and_score(
    subject: Subject, held: Heldout, run: Run
) -> tuple[list[ScoredRequest], list[dict[str, Any]]]:
    """The takes of every held-out request as `run` samples them, scored."""
    requests = [e.request for e in held.requests if e.request is not None]
    sampling = dataclasses.replace(run.sampling, max_new_tokens=run.max_new_tokens)
    started = time.perf_counter()
    generated = asyncio.run(
        generate_takes(
            subject, requests, run.takes, sampling, run.seed, first_sampled=run.first_sampled
        )
    )
    _log.info(
        "%s: %d takes of %d requests in %.0f s",
        subject.label,
        run.takes * len(requests),
        len(requests),
        time.perf_counter() - started,
    )
    return score_requests(subject, held, generated, run.relevance)
