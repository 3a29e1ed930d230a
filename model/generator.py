"""The room's source of takes: a task request in, parsed takes out.

`Generator.generate(request, n, sampling, room_id=...)` builds the chat messages
(`model.prompts`), asks a backend for `n` completions, parses each take, and samples a take
that is malformed or loops once more with another seed; a take still bad after that carries its
problems. Its `on_progress` callback hears the queue position and the partial text on the way.
Backends: `LocalBackend` (the in-process model behind the `GenerationQueue`) and
`model.remote.RemoteBackend` (an OpenAI-compatible server).

It knows tasks, prompts and backends; it knows nothing of Discord or SQLite.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from model.errors import GenerationTimeout, QueueFull, TooManyRequests
from model.loading import LoadedModel, ModelLoadError, ModelSettings, load_model
from model.prompts import ParsedAnswer, build_messages, parse_answer, take_sampling
from model.queue import GenerationQueue, QueueSettings, in_passing_thread
from model.remote import RemoteBackend
from model.tasks import GeneratedTake, ProgressCallback, Sampling, TaskRequest

_log = logging.getLogger(__name__)


class Backend(Protocol):
    """Something that completes chat messages, one completion per sampling setting."""

    name: str

    async def complete(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
    ) -> list[str]: ...

    async def close(self) -> None: ...


class LocalBackend:
    """The in-process model: chat template, then the generation queue."""

    def __init__(self, queue: GenerationQueue, name: str) -> None:
        self.queue = queue
        self.name = name

    async def complete(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
    ) -> list[str]:
        prompt_ids = chat_prompt_ids(self.queue.tokenizer, messages)
        ticket = self.queue.enqueue(prompt_ids, sampling, room_id=room_id, user_id=user_id)
        if on_progress is not None:
            ticket.on_progress(on_progress)
        return [completion.text for completion in await ticket.result()]

    async def close(self) -> None:
        await self.queue.close()


def chat_prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of `messages` with the assistant's turn opened (the model writes next)."""
    if tokenizer.chat_template:
        encoded = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True
        )
        return list(encoded["input_ids"])
    # Base models without a chat template (GPT-2) read the messages as plain paragraphs.
    text = "\n\n".join(m["content"] for m in messages) + "\n\n"
    return list(tokenizer(text)["input_ids"])


class Generator:
    """Takes for the room, over any backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def name(self) -> str:
        return self.backend.name

    async def generate(
        self,
        request: TaskRequest,
        n: int,
        sampling: Sampling,
        *,
        room_id: int = 0,
        user_id: int = 0,
        on_progress: ProgressCallback | None = None,
    ) -> list[GeneratedTake]:
        """`n` takes of `request`, take 1 first. Raises the `model.errors` errors (each with
        the sentence the writer sees)."""
        messages = build_messages(request)
        sampling = take_sampling(request, sampling)
        first_seed = sampling.seed if sampling.seed is not None else random.randrange(2**31)
        settings = [dataclasses.replace(sampling, seed=first_seed + i) for i in range(n)]
        texts = await self.backend.complete(
            messages, settings, room_id=room_id, user_id=user_id, on_progress=on_progress
        )
        parsed = [parse_answer(request, text) for text in texts]
        bad = [i for i, answer in enumerate(parsed) if answer.problems]
        regenerated: set[int] = set()
        if bad:
            # Another seed, far from the first ones, for each take worth a second try.
            retry = [dataclasses.replace(sampling, seed=first_seed + 7919 + i) for i in bad]
            _log.info("sampling %d of %d takes again", len(bad), n)
            try:
                again = await self.backend.complete(
                    messages, retry, room_id=room_id, user_id=user_id, on_progress=None
                )
            except (QueueFull, TooManyRequests, GenerationTimeout) as busy:
                # The first takes are worth more to the room than an error: keep them, marked.
                _log.info("no second try for %d takes: %s", len(bad), busy)
                again = []
            for i, text in zip(bad, again, strict=False):
                second = parse_answer(request, text)
                regenerated.add(i)
                if len(second.problems) <= len(parsed[i].problems):
                    texts[i], parsed[i] = text, second
        return [
            _take(text, answer, self.name, i in regenerated)
            for i, (text, answer) in enumerate(zip(texts, parsed, strict=True))
        ]

    async def close(self) -> None:
        await self.backend.close()


def _take(text: str, answer: ParsedAnswer, model: str, regenerated: bool) -> GeneratedTake:
    return GeneratedTake(
        text=text,
        model=model,
        fountain=answer.fountain,
        sheet=answer.sheet,
        title=answer.title,
        logline=answer.logline,
        beat=answer.beat,
        problems=answer.problems,
        regenerated=regenerated,
    )


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """How the bot generates: `backend` is "local" (the model in-process) or "remote" (an
    OpenAI-compatible server at `remote_url`, serving `remote_model`)."""

    backend: str = "local"
    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)
    queue: QueueSettings = dataclasses.field(default_factory=QueueSettings)
    remote_url: str = ""
    remote_model: str = ""
    remote_api_key: str = ""


async def open_generator(settings: GenerationSettings | None = None) -> Generator:
    """A running generator for `settings` (default: the shipped model in-process). Loading runs
    on a thread, so the event loop stays free; close it with `await generator.close()`."""
    settings = settings or GenerationSettings()
    if settings.backend == "remote":
        if not (settings.remote_url and settings.remote_model):
            raise ModelLoadError("The remote backend needs a server address and a model name.")
        return Generator(
            RemoteBackend(
                settings.remote_url,
                settings.remote_model,
                api_key=settings.remote_api_key,
                timeout_s=settings.queue.timeout_s,
            )
        )
    if settings.backend != "local":
        raise ModelLoadError(
            f"Unknown generation backend {settings.backend!r}; use local or remote."
        )

    def build() -> tuple[LoadedModel, GenerationQueue]:
        loaded = load_model(settings.model)
        queue_settings = settings.queue
        if loaded.device.type == "cuda" and queue_settings == QueueSettings():
            # A GPU decodes a much wider batch in about the time of a narrow one.
            queue_settings = dataclasses.replace(queue_settings, max_batch=128)
        return loaded, GenerationQueue(loaded.model, loaded.tokenizer, queue_settings)

    loaded, queue = await asyncio.to_thread(in_passing_thread, build)
    await queue.start()
    return Generator(LocalBackend(queue, loaded.name))
