"""The room's source of takes: a task request in, parsed takes out.

`Generator.generate(request, n, sampling, room_id=...)` builds the chat messages
(`model.prompts`), draws `best_of * n` candidates in one batch, parses each, and shows the best
`n` by `model.ranking`'s score (problems, language, and the model's own relevance signal). Its
`on_progress` callback hears the queue position and the partial text of every candidate on the
way. With `best_of` 1 (best-of-N off) it asks for `n` takes and samples a malformed or looping
one once more with another seed; with best-of-N on, a second round is drawn only when fewer
candidates are clean than the room asked for takes, of as many as are missing. A take still bad
after that carries its problems (a second try replaces the first unless it is more malformed,
`ranking.severity`). On the local model a take that loops is given up as it is
written, and the extra candidates ride along with the first `n`: they are ranked if they are
written by the time those are and `n` clean takes are in hand, else stopped and left out, so
best-of-N never waits longer for its candidates than best-of-N off waits for its takes
(`model.worker.Enough`).

Backends: `LocalBackend` (the in-process model behind the `GenerationQueue`, which also scores
a take against the context-free prompt for PMI) and `model.remote.RemoteBackend` (an
OpenAI-compatible server: it gives texts only, so its candidates rank without PMI).

It knows tasks, prompts and backends; it knows nothing of Discord or SQLite.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from model import ranking
from model.errors import BackendError, GenerationTimeout, QueueFull, TooManyRequests
from model.loading import LoadedModel, ModelLoadError, ModelSettings, load_model
from model.prompts import (
    PROMPT_FORMAT,
    ParsedAnswer,
    answer_ended,
    answer_start,
    build_messages,
    cues_in_cast,
    heading_told,
    parse_answer,
    speakers_in_play,
    take_sampling,
)
from model.queue import GenerationQueue, QueueSettings, in_passing_thread
from model.ranking import Candidate
from model.remote import RemoteBackend
from model.takechecks import CUT_OFF, hopeless
from model.tasks import (
    SCRIPT_KINDS,
    GeneratedTake,
    Progress,
    ProgressCallback,
    Sampling,
    TaskKind,
    TaskRequest,
)
from model.worker import ABANDONED, STOPPED, Enough

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


@dataclass(frozen=True, slots=True)
class Drawn:
    """A drawn take as a scoring backend returns it: its text, its token ids, the model's
    log-probability of each as it drew it, and why it ended (`model.tasks.Completion`)."""

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish: str = ""

    def opening(self, tokens: int) -> Drawn:
        """The take's first `tokens` tokens (and their figures)."""
        return dataclasses.replace(
            self, token_ids=self.token_ids[:tokens], logprobs=self.logprobs[:tokens]
        )

    @property
    def logprob(self) -> float:
        """The mean log-probability per token (0.0 for no token)."""
        return sum(self.logprobs) / max(1, len(self.logprobs))


@runtime_checkable
class ScoringBackend(Backend, Protocol):
    """A backend that can also tell how likely its takes are after other messages (PMI's
    context-free prompt): the in-process model. `max_takes`: the most takes one request may
    ask for."""

    max_takes: int

    async def draw(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
        enough: Enough | None = None,
    ) -> list[Drawn]: ...

    async def score(
        self, messages: list[dict[str, str]], takes: Sequence[Drawn]
    ) -> list[float]: ...


class LocalBackend:
    """The in-process model: chat template, then the generation queue."""

    def __init__(self, queue: GenerationQueue, name: str) -> None:
        self.queue = queue
        self.name = name
        self.max_takes = queue.settings.max_batch

    async def complete(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
    ) -> list[str]:
        drawn = await self.draw(
            messages, sampling, room_id=room_id, user_id=user_id, on_progress=on_progress
        )
        return [take.text for take in drawn]

    async def draw(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
        enough: Enough | None = None,
    ) -> list[Drawn]:
        """The takes as drawn; with `enough`, the request ends once it has enough (the takes it
        stopped finish "stopped"). A last message of the assistant's is the answer's start,
        which every take carries on (`chat_prompt_ids`) and begins with."""
        prompt_ids = chat_prompt_ids(self.queue.tokenizer, messages)
        start = _answer_start(messages)
        if start and enough is not None:
            # The worker judges a finished take by its text without the start the prompt holds.
            # (Its loop reads see the latest tokens only, which the start is not part of.)
            usable, ended = enough.usable, enough.ended
            enough = Enough(
                enough.takes,
                lambda text: usable(start + text),
                enough.hopeless,
                None if ended is None else lambda text: ended(start + text),
            )
        ticket = self.queue.enqueue(
            prompt_ids, sampling, room_id=room_id, user_id=user_id, enough=enough
        )
        if on_progress is not None:
            ticket.on_progress(_begun_with(start, on_progress) if start else on_progress)
        return [
            Drawn(start + c.text, c.token_ids, c.logprobs, c.finish) for c in await ticket.result()
        ]

    async def score(self, messages: list[dict[str, str]], takes: Sequence[Drawn]) -> list[float]:
        """Each take's mean log-probability per token after `messages` (read once)."""
        prompt_ids = chat_prompt_ids(self.queue.tokenizer, messages)
        return await self.queue.score([prompt_ids] * len(takes), [t.token_ids for t in takes])

    async def close(self) -> None:
        await self.queue.close()


def _begun_with(start: str, on_progress: ProgressCallback) -> ProgressCallback:
    """`on_progress`, hearing each partial take with the answer's start it carries on."""

    def heard(progress: Progress) -> None:
        texts = tuple(start + text if text else text for text in progress.texts)
        on_progress(dataclasses.replace(progress, texts=texts))

    return heard


def _speakers(request: TaskRequest) -> tuple[str, ...] | None:
    """Who a script take of `request` is about (`prompts.speakers_in_play`: the people asked
    for, and the bible's characters the writer's words name), read once for all its
    candidates; None for a take that is no script. Anyone else of the bible may speak without a
    problem, but a take that keeps to these people ranks first."""
    return speakers_in_play(request) if request.kind in SCRIPT_KINDS else None


def _candidate(
    speakers: tuple[str, ...] | None,
    text: str,
    parsed: ParsedAnswer,
    logprob: float | None = None,
    context_free_logprob: float | None = None,
) -> Candidate:
    """A drawn take as the ranking reads it; a script take with the share of its cues that the
    `speakers` in play speak (`prompts.cues_in_cast`): all of them (1) for a take in which
    nobody speaks, which brings on no one the room did not ask for (a scene of heading and
    action, as the corpus's scene answers are, must not rank below one whose newcomer talks);
    None when the room knows nobody."""
    in_cast = None
    if speakers:
        cues, known = cues_in_cast(speakers, parsed.fountain)
        in_cast = known / cues if cues else 1.0
    return Candidate(text, parsed, logprob, context_free_logprob, in_cast)


def _severity(text: str, parsed: ParsedAnswer) -> int:
    return ranking.severity(Candidate(text, parsed))


def _hopeless(text: str) -> bool:
    return hopeless(text) is not None


def _any_take(text: str) -> bool:
    return True


def _clean(request: TaskRequest, text: str) -> bool:
    """Whether a take of `request` reads with no problem (`parse_answer`)."""
    return not parse_answer(request, text).problems


def _answer_start(messages: list[dict[str, str]]) -> str:
    """The answer's start: the content of a last message of the assistant's (else "")."""
    return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""


#: A letter after the begun text, so that its end is cut into tokens as it is mid-answer.
_PROBE = "A"


def _begun_ids(tokenizer: Any, text: str) -> list[int]:
    """The token ids of `text`, which ends an answer begun, cut as they would be with the
    answer going on: a byte-level BPE reads a blank line at the very end of a text as one token
    (`ĊĊ`), but mid-answer, before the next word, as two (`Ċ`, `Ċ`), the only way the model saw
    it in training — begun with the one token, the fine-tuned model wrote `03:05.768 ::` or
    `539 days.` under a scene heading. With a letter after it, the text's own tokens are the
    ones before the letter's; where the letter merges into the token before it (`Hello A`), the
    text is cut as it stands."""
    probed = list(tokenizer(text + _PROBE, add_special_tokens=False)["input_ids"])
    if probed and tokenizer.decode(probed[-1:]) == _PROBE:
        return probed[:-1]
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def chat_prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of `messages` with the assistant's turn opened (the model writes next). A last
    message of the assistant's is an answer begun: its turn opens with that text, unclosed,
    for the model to carry on (transformers' `continue_final_message`)."""
    start = _answer_start(messages)
    if start:
        messages = messages[:-1]
    if tokenizer.chat_template and start:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return _begun_ids(tokenizer, text + start)
    if tokenizer.chat_template:
        encoded = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True
        )
        return list(encoded["input_ids"])
    # Base models without a chat template (GPT-2) read the messages as plain paragraphs.
    text = "\n\n".join(m["content"] for m in messages) + "\n\n" + start
    return list(tokenizer(text)["input_ids"])


class Generator:
    """Takes for the room, over any backend. `best_of`: candidates drawn per take shown (1:
    best-of-N off, `model.ranking.BEST_OF` by default in the bot's settings). `second_tries`:
    sample malformed takes once more (the bot: with best-of-N off each, with best-of-N on as many
    as fewer candidates are clean than takes asked for); False keeps the takes as first sampled
    (what `training.evaluate --first-sampled` scores). `early_ends`: on the local
    model, give up on a take as soon as it loops and, with best-of-N, stop the extra candidates
    once the first `n` are written and `n` clean takes are in hand (`model.worker.Enough`); False
    waits for every take to its end (what `bench.best_of --wait-for-all` compares it with).
    `most_candidates` (0: none) caps best-of-N's batch, never below one more candidate than
    the takes (what `bench.best_of --capped` measured; the bot sets none)."""

    def __init__(
        self,
        backend: Backend,
        *,
        best_of: int = 1,
        prompt_format: int = PROMPT_FORMAT,
        second_tries: bool = True,
        early_ends: bool = True,
        most_candidates: int = 0,
    ) -> None:
        if best_of < 1:
            raise ValueError("best_of must be 1 or more")
        self.backend = backend
        self.best_of = best_of
        self.prompt_format = prompt_format
        self.second_tries = second_tries
        self.early_ends = early_ends
        self.most_candidates = most_candidates

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
        messages = self._messages(request)
        sampling = take_sampling(request, sampling)
        first_seed = sampling.seed if sampling.seed is not None else random.randrange(2**31)
        ask = _Ask(request, messages, sampling, first_seed, room_id, user_id)
        if self.best_of == 1:
            return await self._each_once_more(ask, n, on_progress)
        return await self._best_of(ask, n, on_progress)

    def _messages(self, request: TaskRequest) -> list[dict[str, str]]:
        """`request`'s chat messages; on the local model, with the answer begun as its format
        wants (`prompts.answer_start`): a remote server cannot be asked to carry one on, so it
        is asked in words for the scene heading the writer gave (`prompts.heading_told`)."""
        messages = build_messages(request, self.prompt_format)
        start = answer_start(request, self.prompt_format)
        if start and isinstance(self.backend, ScoringBackend):
            messages.append({"role": "assistant", "content": start})
        elif told := heading_told(request, self.prompt_format):
            last = messages[-1]
            messages[-1] = {**last, "content": f"{last['content']}\n\n{told}"}
        return messages

    async def _each_once_more(
        self, ask: _Ask, n: int, on_progress: ProgressCallback | None
    ) -> list[GeneratedTake]:
        """Best-of-N off: `n` takes, each malformed one sampled once more with another seed."""
        first = await self._complete(ask, ask.seeds(0, n), on_progress)
        texts = [take.text for take in first]
        parsed = [self._parse(ask, take) for take in first]
        bad = [i for i, answer in enumerate(parsed) if answer.problems and self.second_tries]
        regenerated: set[int] = set()
        if bad:
            # Another seed, far from the first ones, for each take worth a second try.
            retry = [ask.seed(_SECOND_ROUND + i) for i in bad]
            _log.info("sampling %d of %d takes again", len(bad), n)
            again = await self._second_round(ask, retry)
            for i, take in zip(bad, again, strict=False):
                second = self._parse(ask, take)
                regenerated.add(i)
                # The second try is shown unless it is more malformed than the first (a loop
                # never replaces a take with one speaker too many: `ranking.severity`).
                if _severity(take.text, second) <= _severity(texts[i], parsed[i]):
                    texts[i], parsed[i] = take.text, second
        return [
            _take(text, answer, self.name, i in regenerated)
            for i, (text, answer) in enumerate(zip(texts, parsed, strict=True))
        ]

    async def _best_of(
        self, ask: _Ask, n: int, on_progress: ProgressCallback | None
    ) -> list[GeneratedTake]:
        """Best-of-N on: `best_of * n` candidates in one batch, the best `n` shown."""
        candidates = await self._candidates(ask, ask.seeds(0, self._drawing(n)), n, on_progress)
        first_round = len(candidates)
        missing = n - sum(not c.parsed.problems for c in candidates)
        again = missing > 0 and self.second_tries
        if again:
            # Too few clean takes to show: one more round for the missing ones, best-of-N
            # again (`best_of` candidates each, ended once as many are clean): of the Chinese
            # scenes of session 30's evaluation, 8 of 36 shown were malformed after a second
            # round of one candidate a missing take. A shown take of it, or a malformed one,
            # counts as sampled again (`GeneratedTake.regenerated`), as best-of-N off's do.
            more = self._drawing(missing)
            _log.info(
                "%d clean of %d candidates; sampling %d more for %d",
                n - missing,
                first_round,
                more,
                missing,
            )
            drawn = await self._second_round(ask, ask.seeds(_SECOND_ROUND, more), missing)
            speakers = _speakers(ask.request)
            candidates += [
                _candidate(speakers, take.text, self._parse(ask, take)) for take in drawn
            ]
        shown = ranking.rank(candidates, n, ask.request.context.language)
        _log.info("showing candidates %s of %d", shown, len(candidates))
        return [
            _take(
                candidates[i].text,
                candidates[i].parsed,
                self.name,
                again and (i >= first_round or bool(candidates[i].parsed.problems)),
            )
            for i in shown
        ]

    async def _candidates(
        self, ask: _Ask, settings: list[Sampling], n: int, on_progress: ProgressCallback | None
    ) -> list[Candidate]:
        """The candidates, parsed, with the model's figures where the backend gives them. On
        the local model the extras ride along with the first `n` (the takes best-of-N off
        would show): once those are written and `n` clean takes are in hand, the candidates
        still being written stop and are left out (`model.worker.Enough`)."""
        backend = self.backend
        request = ask.request
        enough = self._enough(request, n, functools.partial(_clean, request))
        drawn = await self._complete(ask, settings, on_progress, enough)
        drawn = [take for take in drawn if take.finish != STOPPED]
        parsed = [self._parse(ask, take) for take in drawn]
        speakers = _speakers(request)
        if not isinstance(backend, ScoringBackend):
            return [
                _candidate(speakers, take.text, answer)
                for take, answer in zip(drawn, parsed, strict=True)
            ]
        # PMI reads each take's opening (see `ranking.SCORED_TOKENS`).
        drawn = [take.opening(ranking.SCORED_TOKENS) for take in drawn]
        # PMI chooses among the clean takes; malformed ones rank by their faults (and when too
        # few are clean, a second round follows, whose takes have no figures to compare with).
        # With no more clean takes than are shown there is nothing to choose: they are shown in
        # the order drawn, as best-of-N off shows its takes, and no scoring pass is paid for.
        scored = [i for i, p in enumerate(parsed) if not p.problems]
        if len(scored) <= n:
            scored = []
        figures: list[float] = []
        if scored:
            reference = self._messages(ranking.context_free(ask.request))
            try:
                figures = await backend.score(reference, [drawn[i] for i in scored])
            except BackendError as failed:
                _log.warning("ranking without PMI: %s", failed)
                scored = []
        context_free = dict(zip(scored, figures, strict=True))
        return [
            _candidate(speakers, take.text, answer, take.logprob, context_free.get(i))
            for i, (take, answer) in enumerate(zip(drawn, parsed, strict=True))
        ]

    async def _complete(
        self,
        ask: _Ask,
        settings: list[Sampling],
        on_progress: ProgressCallback | None,
        enough: Enough | None = None,
    ) -> list[Drawn]:
        """The takes of `settings`. On a scoring backend (the local model) with their figures
        and finish, and each take given up as soon as its text so far loops
        (`takechecks.hopeless`), so that nobody waits for a loop to reach its token budget;
        `enough` (best-of-N's extras riding along) may end the request sooner still. Elsewhere
        their texts only."""
        backend = self.backend
        if isinstance(backend, ScoringBackend):
            return await backend.draw(
                ask.messages,
                settings,
                room_id=ask.room_id,
                user_id=ask.user_id,
                on_progress=on_progress,
                enough=enough or self._enough(ask.request, len(settings)),
            )
        texts = await backend.complete(
            ask.messages,
            settings,
            room_id=ask.room_id,
            user_id=ask.user_id,
            on_progress=on_progress,
        )
        return [Drawn(text, (), ()) for text in texts]

    def _enough(
        self, request: TaskRequest, takes: int, usable: Callable[[str], bool] = _any_take
    ) -> Enough | None:
        """With `early_ends`, a request done once its first `takes` are written and as many are
        `usable` (by default: when every take is written), a take that loops ending there, and
        a premise at the end of its logline's line (`prompts.answer_ended`)."""
        if not self.early_ends:
            return None
        ended = None
        if request.kind is TaskKind.PREMISE:
            ended = functools.partial(answer_ended, request)
        return Enough(takes, usable, _hopeless, ended)

    def _parse(self, ask: _Ask, take: Drawn) -> ParsedAnswer:
        """`take` as `parse_answer` reads it; a take given up as hopeless is malformed, whatever
        its text cut short reads as."""
        parsed = parse_answer(ask.request, take.text)
        if take.finish == ABANDONED and not parsed.problems:
            why = hopeless(take.text) or CUT_OFF
            parsed = dataclasses.replace(parsed, problems=(why,))
        return parsed

    def _drawing(self, n: int) -> int:
        """Candidates best-of-N draws for `n` takes shown: `best_of` each, within
        `most_candidates` (never below one more than shown) and the backend's batch."""
        drawing = self.best_of * n
        if self.most_candidates:
            drawing = max(n + 1, min(drawing, self.most_candidates))
        if isinstance(self.backend, ScoringBackend):
            drawing = max(n, min(drawing, self.backend.max_takes))
        return drawing

    async def _second_round(
        self, ask: _Ask, settings: list[Sampling], wanted: int | None = None
    ) -> list[Drawn]:
        """The second round's takes; with `wanted`, ended once that many of them are clean
        (the takes it stopped left out). None when the queue is too busy for it."""
        request = ask.request
        enough = None
        if wanted is not None:
            enough = self._enough(request, wanted, functools.partial(_clean, request))
        try:
            drawn = await self._complete(ask, settings, None, enough)
        except (QueueFull, TooManyRequests, GenerationTimeout) as busy:
            # The first takes are worth more to the room than an error: keep them, marked.
            _log.info("no second try for %d takes: %s", len(settings), busy)
            return []
        return [take for take in drawn if take.finish != STOPPED]

    async def close(self) -> None:
        await self.backend.close()


#: How far the second round's seeds lie from the first ones.
_SECOND_ROUND = 7919


@dataclass(frozen=True, slots=True)
class _Ask:
    """One request as the generator sends it: the request, its messages and sampling, the
    seed of take 1 (take i draws with `first_seed + i`), and who asked."""

    request: TaskRequest
    messages: list[dict[str, str]]
    sampling: Sampling
    first_seed: int
    room_id: int
    user_id: int

    def seed(self, offset: int) -> Sampling:
        return dataclasses.replace(self.sampling, seed=self.first_seed + offset)

    def seeds(self, first: int, count: int) -> list[Sampling]:
        return [self.seed(first + i) for i in range(count)]


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
    OpenAI-compatible server at `remote_url`, serving `remote_model`, and the LoRA adapter it
    serves under the name `remote_adapter` when that is set)."""

    backend: str = "local"
    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)
    queue: QueueSettings = dataclasses.field(default_factory=QueueSettings)
    remote_url: str = ""
    remote_model: str = ""
    remote_adapter: str = ""
    remote_api_key: str = ""
    #: Candidates drawn per take shown (`model.ranking`); 1 turns best-of-N off.
    best_of: int = ranking.BEST_OF


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
                adapter=settings.remote_adapter,
                api_key=settings.remote_api_key,
                timeout_s=settings.queue.timeout_s,
            ),
            best_of=settings.best_of,
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
    return Generator(
        LocalBackend(queue, loaded.name),
        best_of=settings.best_of,
        prompt_format=loaded.prompt_format,
    )
