"""The generation worker: the one thread that owns the model and drives its engine.

Between two decode steps it admits waiting requests (the `Scheduler` decides which), places
their takes in the engine as rows, turns the tokens into text for the requests' handles and
keeps the figures of `model.metrics`. It reaches the event loop only through `post`
(`call_soon_threadsafe`) and each request's `Handle`.

It also runs scoring jobs (`Scoring`, `model.relevance`) between two decode steps: takes' mean
log-probability after a prompt (read once), for best-of-N's ranking (`model.ranking`).
Each finished take comes back as a `SampledTake`: its text, its token ids and the mean raw
log-probability of those tokens as they were drawn.

A request of extra candidates (best-of-N) may be done before all its takes are (`Enough`): once
its first takes (as many as the room asked for) have finished and as many finished takes are
usable, the takes still being written stop ("stopped", their tokens so far kept) and it is
settled. So the extras ride along with the takes the room asked for and never make it wait
longer for them; under load, extras still waiting for rows never take any. A take whose text so
far shows it is malformed whatever follows (`Enough.hopeless`: a loop in its latest tokens) is
given up at once ("abandoned"): it counts as finished, and its row goes to others.

A failure stays with the requests it touched, and the worker serves on. An error in a prefill
fails the requests being added, one in a decode step the requests running in it; the other
requests it holds start again from their prompts (after an error an engine's batch is not
trusted, so the worker empties it). An out-of-memory error fails nothing while fewer rows can
run: the worker halves the rows it lets run at once and starts the unfinished takes again,
that many at a time, until the engine next runs empty. Only a request of which a single take
does not fit alone fails (`OutOfMemory`). A restarted take with a seed comes out the same.

`make_engine` picks the engine for a model. It knows token ids and text; nothing of prompts,
screenplays or Discord.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from model import fastpath, relevance, repeats
from model.batch import BatchEngine, PromptGroup, TokenEvent, columns_for
from model.engine import Engine
from model.errors import BackendError, GenerationError, OutOfMemory
from model.metrics import Meter
from model.scheduler import Job, Scheduler
from model.slots import SlotEngine
from model.tasks import Completion, Sampling

_log = logging.getLogger(__name__)


def make_engine(
    model: Any,
    *,
    stop_token_ids: Iterable[int],
    max_batch: int = 32,
    kv_cache_mb: int = 0,
    tokenizer: Any = None,
) -> BatchEngine:
    """The engine for `model`: the slot engine on the fast path when it applies, else `Engine`
    (`kv_cache_mb`: the slot engine's key/value memory, see `QueueSettings`; `tokenizer`: marks
    the vocabulary's DRY breakers, `model.repeats`)."""
    stop_token_ids = frozenset(stop_token_ids)
    marks = None
    if tokenizer is not None:
        embeddings = model.get_output_embeddings().weight
        marks = repeats.Marks.of(tokenizer, embeddings.shape[0], embeddings.device, stop_token_ids)
    if fastpath.enabled() and fastpath.supports(model):
        return SlotEngine(
            model,
            stop_token_ids=stop_token_ids,
            max_batch=max_batch,
            kv_cache_mb=kv_cache_mb,
            marks=marks,
        )
    return Engine(model, stop_token_ids=stop_token_ids, max_batch=max_batch, marks=marks)


@dataclass(frozen=True, slots=True)
class SampledTake(Completion):
    """A finished take with what best-of-N ranks it by (`model.ranking`): its token ids and
    the log-probability the model gave each as it drew it."""

    token_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] = ()

    @property
    def logprob(self) -> float:
        """The mean log-probability per token (0.0 for no token)."""
        return sum(self.logprobs) / max(1, len(self.logprobs))


#: The finish of a take stopped because its request had enough (`Enough`).
STOPPED = "stopped"
#: The finish of a take given up because its text so far was hopeless (`Enough.hopeless`).
ABANDONED = "abandoned"
#: A take still being written is read by `Enough.hopeless` once every this many tokens...
HOPELESS_EVERY = 16
#: ...its latest this many tokens: a loop that goes on fills them, and reading a long take costs
#: no more than reading a short one.
HOPELESS_READS = 160


@dataclass(frozen=True, slots=True)
class Enough:
    """When a request is done before all its takes are: once its first `takes` takes have
    finished and `takes` of its finished takes are `usable` (called with a take's text, once per
    take), the rest stop. `hopeless` (if given) reads the latest `HOPELESS_READS` tokens of a
    take still being written every `HOPELESS_EVERY` tokens (`takechecks.hopeless`); a take it
    finds hopeless ends there, unusable. `ended` (if given) reads a take's whole text so far
    each time a token ends a line (`prompts.answer_ended`: a premise's two lines written); a
    take it finds whole ends there, finished "stop" as if the model had ended it. All are called
    on the worker's thread and must not touch the event loop."""

    takes: int
    usable: Callable[[str], bool]
    hopeless: Callable[[str], bool] | None = None
    ended: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        if self.takes < 1:
            raise ValueError("a request has enough with 1 take or more")


@dataclass(eq=False)
class Scoring:
    """A scoring job: the mean log-probability of each of `takes` after its prompt, each
    distinct prompt read once (`model.relevance`); `settle(scores, error)` is called through
    `post`."""

    prompts: tuple[tuple[int, ...], ...]
    takes: tuple[tuple[int, ...], ...]
    settle: Callable[[list[float] | None, BaseException | None], None]


def prompt_reader(engine: BatchEngine) -> Callable[[Sequence[int]], tuple[Any, Any]]:
    """How `engine`'s model reads a prompt for scoring (`relevance.fast_prompt` on the slot
    engine, whose model may have no Hugging Face modules; else `relevance.hf_prompt`)."""
    if isinstance(engine, SlotEngine):
        fast = engine.fast
        return lambda prompt: relevance.fast_prompt(fast, prompt)
    model = engine.model
    return lambda prompt: relevance.hf_prompt(model, prompt)


class Handle(Protocol):
    """The event loop's side of one request (`model.queue.Ticket`); the worker calls
    `publish` and `settle` through `post` only."""

    job: Job

    @property
    def wants_progress(self) -> bool: ...

    def publish(self, texts: tuple[str, ...] | None, tokens: int) -> None: ...

    def settle(
        self, result: list[SampledTake] | None = None, error: BaseException | None = None
    ) -> None: ...


@dataclass(eq=False)
class Work:
    """One request as the worker holds it: inputs, the tokens of each take, and its handle.
    `cancel_requested` is set on the event loop and read here."""

    prompt_ids: tuple[int, ...]
    sampling: tuple[Sampling, ...]
    handle: Handle
    tokens: list[list[int]] = field(default_factory=list)
    logprobs: list[list[float]] = field(default_factory=list)
    finish: list[str] = field(default_factory=list)
    unpenalised: frozenset[int] = frozenset()
    enough: Enough | None = None
    usable: dict[int, bool] = field(default_factory=dict)  # take -> `enough.usable`'s verdict
    cancel_requested: bool = False
    published_at: float = -float("inf")

    def __post_init__(self) -> None:
        self.tokens = [[] for _ in self.sampling]
        self.logprobs = [[] for _ in self.sampling]
        self.finish = [""] * len(self.sampling)

    @property
    def job(self) -> Job:
        return self.handle.job

    def restart(self) -> list[int]:
        """Forget the tokens of the unfinished takes; returns those takes, to write anew."""
        takes = [i for i, finish in enumerate(self.finish) if not finish]
        for i in takes:
            self.tokens[i], self.logprobs[i] = [], []
        return takes


#: A take to read as it is written: its sequence, its request, its index there, and the
#: predicate of its request's `Enough` that reads it (`hopeless` or `ended`).
_Due = tuple[int, Work, int, Callable[[str], bool]]


class Worker:
    """Admission, placement, decoding and delivery on the generation thread."""

    def __init__(
        self,
        engine: BatchEngine,
        scheduler: Scheduler,
        tokenizer: Any,
        *,
        post: Callable[..., None],
        positions_changed: Callable[[], None],
        progress_every_s: float,
        cpu_threads: int,
    ) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.tokenizer = tokenizer
        self.meter = Meter()
        self._post = post
        self._positions_changed = positions_changed
        self._progress_every_s = progress_every_s
        self._cpu_threads = cpu_threads
        self._wake = threading.Condition()
        self._closing = False
        self._held: dict[int, Work] = {}  # job id -> work, from admission to its end
        self._unplaced: deque[tuple[Work, list[int]]] = deque()  # takes waiting for rows
        self._running: dict[int, tuple[Work, int]] = {}  # seq id -> (work, take index)
        self._next_seq = 0
        self._row_limit = engine.max_batch
        self._spared: dict[tuple[str, ...], frozenset[int]] = {}  # cast -> its name tokens
        self._scoring: deque[Scoring] = deque()
        self._line_ends: dict[int, bool] = {}  # token id -> its text holds a line break
        self._vocab = int(engine.model.get_output_embeddings().weight.shape[0])

    # --- called from the event loop -------------------------------------------------------

    def wake(self) -> None:
        with self._wake:
            self._wake.notify()

    def score(self, job: Scoring) -> None:
        """Run `job` between two decode steps (before the next admission)."""
        with self._wake:
            self._scoring.append(job)
            self._wake.notify()

    def close(self) -> None:
        """Stop once every queued request is done."""
        self._closing = True
        self.wake()

    # --- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        """The thread's body: serve until closed and drained. An error that escapes even the
        recovery ends it (the queue then refuses new requests: `GenerationQueue._work`)."""
        if self.engine.device.type == "cpu":
            # torch's CPU thread count is set per thread (OpenMP): set it where decoding runs.
            # (Load the model off this thread and off the event loop's: `in_passing_thread`.)
            torch.set_num_threads(self._cpu_threads or (os.cpu_count() or 1))
        while self._wait_for_work():
            try:
                self._turn()
            except Exception as exc:  # a fault of the worker's own, outside any engine call
                _log.exception("generation worker failed")
                self._recover(list(self._held.values()), _failure(exc))

    def abandon(self, error: GenerationError) -> None:
        """Fail every request held or still in line: the worker stops for good. (No engine
        call: the engine may be what failed.)"""
        works = list(self._held.values())
        while self.scheduler.waiting:
            works.extend(job.payload for job in self.scheduler.take(self.engine.max_batch))
        for work in works:
            self.scheduler.finish(work.job)
            self._post(work.handle.settle, None, error)
        self._held.clear()
        while self._scoring:
            self._post(self._scoring.popleft().settle, None, error)

    def _turn(self) -> None:
        """One round: a scoring job, cancellations, admission, placement, a decode step,
        delivery."""
        if self._scoring:
            self._run_scoring(self._scoring.popleft())
        self._drop_cancelled()
        self._admit()
        self._deliver(self._place())  # before the step, which may start every take again
        if self.engine.active:
            self.meter.batch(self.engine.active)
            running = list({id(w): w for w, _ in self._running.values()}.values())
            self._deliver(self._guarded(self.engine.step, running, self.engine.active))
        if not (self.engine.active or self._unplaced):
            self._row_limit = self.engine.max_batch  # memory was short for a crowd, not for ever

    def _wait_for_work(self) -> bool:
        with self._wake:
            while not (
                self.engine.active
                or self._unplaced
                or self.scheduler.waiting
                or self._scoring
                or self._cancels()
            ):
                if self._closing:
                    return False
                self._wake.wait()
        return True

    def _run_scoring(self, job: Scoring) -> None:
        """One scoring job: each distinct prompt read once, its takes on copies of its keys and
        values, a few at a time; a failure fails this job alone."""
        scores = [0.0] * len(job.takes)
        by_prompt: dict[tuple[int, ...], list[int]] = {}
        for i, prompt in enumerate(job.prompts):
            by_prompt.setdefault(prompt, []).append(i)
        try:
            with torch.inference_mode():
                for prompt, rows in by_prompt.items():
                    first, extend = prompt_reader(self.engine)(prompt)
                    takes = [job.takes[i] for i in rows]
                    figures = relevance.score_after_prompt(first, extend, takes, vocab=self._vocab)
                    for i, figure in zip(rows, figures, strict=True):
                        scores[i] = figure
        except Exception as exc:
            _log.exception("cannot score %d takes", len(job.takes))
            if self.engine.device.type == "cuda" and isinstance(exc, torch.OutOfMemoryError):
                torch.cuda.empty_cache()
            self._post(job.settle, None, _failure(exc))
            return
        self._post(job.settle, scores, None)

    def _cancels(self) -> bool:
        return any(w.cancel_requested for w in self._held.values())

    # --- admission and placement ------------------------------------------------------------

    def _admit(self) -> None:
        """Take waiting requests while their takes fit beside the ones the worker holds."""
        unplaced = sum(len(takes) for _, takes in self._unplaced)
        jobs = self.scheduler.take(self.engine.max_batch - self.engine.active - unplaced)
        now = time.monotonic()
        for job in jobs:
            work: Work = job.payload
            self._held[job.job_id] = work
            self.meter.started(job.job_id, job.size, now - job.enqueued_at)
            try:
                work.unpenalised = self._word_tokens(work.sampling[0].keep_words)
            except Exception as exc:
                _log.exception("cannot prepare a request")
                self._fail(work, _failure(exc))
                continue
            self._unplaced.append((work, list(range(job.size))))
        if jobs:
            self._post(self._positions_changed)

    def _place(self) -> list[TokenEvent]:
        """Put waiting takes into the engine, as many as the row limit lets run."""
        room = min(self.engine.free_slots, self._row_limit - self.engine.active)
        groups: list[PromptGroup] = []
        works: list[Work] = []
        rows, columns = self.engine.active, 0
        while self._unplaced and room > 0:
            work, takes = self._unplaced[0]
            columns = max(columns, columns_for(work.prompt_ids, work.sampling))
            fit = min(room, len(takes))
            while fit > 0 and not self.engine.fits(rows + fit, columns):
                fit -= 1  # the key/value memory holds no more beside the running takes
            if fit == 0:
                break
            rows += fit
            placed, rest = takes[:fit], takes[fit:]
            if rest:
                self._unplaced[0] = (work, rest)
            else:
                self._unplaced.popleft()
            room -= len(placed)
            groups.append(self._group(work, placed))
            works.append(work)
        if not groups:
            return []
        rows = self.engine.active + sum(len(group.seq_ids) for group in groups)
        return self._guarded(lambda: self.engine.add(groups), works, rows)

    def _group(self, work: Work, takes: Sequence[int]) -> PromptGroup:
        seq_ids = tuple(range(self._next_seq, self._next_seq + len(takes)))
        self._next_seq += len(takes)
        for seq_id, take in zip(seq_ids, takes, strict=True):
            self._running[seq_id] = (work, take)
        sampling = tuple(work.sampling[take] for take in takes)
        return PromptGroup(work.prompt_ids, seq_ids, sampling, work.unpenalised)

    def _word_tokens(self, words: tuple[str, ...]) -> frozenset[int]:
        """Every token that spells one of `words` as a cue, at a line start or mid-sentence,
        in capitals or as written; worked out once per cast (a room asks with the same one)."""
        if words in self._spared:
            return self._spared[words]
        ids: set[int] = set()
        for word in words:
            for form in {word, word.upper(), word.title()}:
                for text in (form, f" {form}", f"\n{form}"):
                    ids.update(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        # Line breaks and spaces stay penalised as before: only the names are spared.
        spared = frozenset(i for i in ids if self.tokenizer.decode([i]).strip())
        self._spared[words] = spared
        return spared

    # --- failures ---------------------------------------------------------------------------

    def _guarded(
        self, call: Callable[[], list[TokenEvent]], touched: list[Work], rows: int
    ) -> list[TokenEvent]:
        """`call` (an engine's `add` or `step` on `rows` rows), its failure kept to `touched`."""
        try:
            return call()
        except torch.OutOfMemoryError:
            self._out_of_memory(touched, rows)
        except Exception as exc:
            _log.exception("the model failed on %d rows", rows)
            self._recover(touched, _failure(exc))
        return []

    def _out_of_memory(self, touched: list[Work], rows: int) -> None:
        if self.engine.device.type == "cuda":
            torch.cuda.empty_cache()  # the failed call's blocks, for the retry
        if rows <= 1:
            _log.warning("out of memory on a single take")
            self._recover(touched, OutOfMemory())
            return
        self._row_limit = max(1, rows // 2)
        _log.warning("out of memory on %d rows; running at most %d at once", rows, self._row_limit)
        self._recover([], None)

    def _recover(self, failed: list[Work], error: GenerationError | None) -> None:
        """Empty the engine; fail `failed` with `error`; start every other held request's
        unfinished takes again, in the order they were admitted."""
        self.engine.drop(list(self._running))
        self._running.clear()
        self._unplaced.clear()
        for work in failed:
            assert error is not None
            self._fail(work, error)
        for work in self._held.values():
            self._unplaced.append((work, work.restart()))

    def _fail(self, work: Work, error: GenerationError) -> None:
        self._forget(work)
        self._post(work.handle.settle, None, error)

    def _forget(self, work: Work, *, completed: bool = False) -> None:
        """`work` leaves the worker: its rows, its waiting takes, its place in the scheduler."""
        seq_ids = [s for s, (w, _) in self._running.items() if w is work]
        if seq_ids:
            self.engine.drop(seq_ids)
            for seq_id in seq_ids:
                del self._running[seq_id]
        self._unplaced = deque((w, t) for w, t in self._unplaced if w is not work)
        job = work.job
        self._held.pop(job.job_id, None)
        self.meter.ended(job.job_id, completed=completed)
        self.scheduler.finish(job)

    def _drop_cancelled(self) -> None:
        for work in [w for w in self._held.values() if w.cancel_requested]:
            self._forget(work)

    # --- delivery ---------------------------------------------------------------------------

    def _deliver(self, events: list[TokenEvent]) -> None:
        if not events:
            return
        now = time.monotonic()
        touched: dict[int, Work] = {}
        due: list[_Due] = []  # takes `Enough.hopeless` reads now
        lines: list[_Due] = []  # ... and `Enough.ended`
        for event in events:
            work, take = self._running[event.seq_id]
            if event.token_id is not None:
                work.tokens[take].append(event.token_id)
                work.logprobs[take].append(event.logprob)
            if event.finish:
                work.finish[take] = event.finish
                del self._running[event.seq_id]
            elif work.enough is not None:
                hopeless, ended = work.enough.hopeless, work.enough.ended
                if hopeless and len(work.tokens[take]) % HOPELESS_EVERY == 0:
                    due.append((event.seq_id, work, take, hopeless))
                if ended and self._ends_line(event.token_id):
                    lines.append((event.seq_id, work, take, ended))
            touched[work.job.job_id] = work
        self.meter.tokens(len(events))
        self._end_early(due, ABANDONED, HOPELESS_READS)
        self._end_early(lines, "stop", None)
        for work in touched.values():
            if work.job.job_id not in self._held:
                continue
            try:
                self._report(work, now)
            except Exception as exc:  # the tokenizer could not decode this request's tokens
                _log.exception("cannot decode a request's takes")
                self._fail(work, _failure(exc))

    def _report(self, work: Work, now: float) -> None:
        """Hand `work`'s takes over when all are done (or it has enough), else its partial text
        when it is due."""
        if all(work.finish) or self._has_enough(work):
            result = [
                SampledTake(self._decode(ids), len(ids), finish, tuple(ids), tuple(logps))
                for ids, logps, finish in zip(work.tokens, work.logprobs, work.finish, strict=True)
            ]
            self._forget(work, completed=True)
            self._post(work.handle.settle, result)
        elif work.handle.wants_progress and now - work.published_at >= self._progress_every_s:
            work.published_at = now
            texts = tuple(self._decode(ids) for ids in work.tokens)
            self._post(work.handle.publish, texts, sum(map(len, work.tokens)))

    def _end_early(self, due: list[_Due], finish: str, latest: int | None) -> None:
        """End each take among `due` whose text so far (its `latest` tokens; None: all) its
        predicate says is done, finished `finish` (a failure to read it fails that request
        alone)."""
        ended = []
        for seq_id, work, take, read in due:
            if work.job.job_id not in self._held or work.finish[take]:
                continue  # failed or ended here a moment ago
            try:
                ids = work.tokens[take] if latest is None else work.tokens[take][-latest:]
                done = read(self._decode(ids))
            except Exception as exc:
                _log.exception("cannot read a take being written")
                self._fail(work, _failure(exc))
                continue
            if done:
                work.finish[take] = finish
                ended.append(seq_id)
        ended = [seq_id for seq_id in ended if seq_id in self._running]  # none failed since
        if ended:
            self.engine.drop(ended)
            for seq_id in ended:
                del self._running[seq_id]

    def _ends_line(self, token_id: int | None) -> bool:
        """Whether `token_id`'s text holds a line break (each token read once)."""
        if token_id is None:
            return False
        ends = self._line_ends.get(token_id)
        if ends is None:
            ends = self._line_ends[token_id] = "\n" in self.tokenizer.decode([token_id])
        return ends

    def _has_enough(self, work: Work) -> bool:
        """Whether `work` is done before all its takes are (`Enough`); if so, its unfinished
        takes are marked stopped."""
        enough = work.enough
        if enough is None or not all(work.finish[: enough.takes]):
            return False
        usable = 0
        for take, finish in enumerate(work.finish):
            if finish and take not in work.usable:
                work.usable[take] = enough.usable(self._decode(work.tokens[take]))
            usable += work.usable.get(take, False)
        if usable < enough.takes:
            return False
        work.finish = [finish or STOPPED for finish in work.finish]
        return True

    def _decode(self, ids: list[int]) -> str:
        return decode_whole(self.tokenizer, ids)


#: The most tokens a byte-level tokenizer spends on the bytes of one character (UTF-8 has at
#: most four; a token holds at least one).
_BYTES_PER_CHARACTER = 4


def decode_whole(tokenizer: Any, ids: list[int]) -> str:
    """The text of `ids` up to its last whole character. A byte-level tokenizer may split one
    character (a Chinese character is three bytes) across tokens; decoded before its last byte,
    it reads U+FFFD. A take in progress shows the text before the split character; a finished
    take that its budget cut inside a character ends before it. A U+FFFD inside the text stays
    (the model wrote bytes that are no character; the parser marks that take malformed)."""
    text = str(tokenizer.decode(ids, skip_special_tokens=True))
    if not text.endswith("\ufffd"):
        return text
    for cut in range(1, min(_BYTES_PER_CHARACTER - 1, len(ids)) + 1):
        shorter = str(tokenizer.decode(ids[:-cut], skip_special_tokens=True))
        if not shorter.endswith("\ufffd"):
            return shorter
    return text


def _failure(exc: BaseException) -> GenerationError:
    """The writer's sentence for an unexpected error of the model (the log has the rest)."""
    error = BackendError(
        "The model failed while writing; the error is in the bot's log. Please try again."
    )
    error.__cause__ = exc
    return error


def stop_tokens(model: Any, tokenizer: Any) -> list[int]:
    """End-of-sequence ids of the model and tokenizer (chat models end a turn with their own)."""
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    # A model that opens a new chat turn (`<|im_start|>user`) has finished its answer.
    for token in ("<|im_end|>", "<|im_start|>", "<|eot_id|>", "<|endoftext|>"):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.add(token_id)
    return sorted(ids)


def context_length(model: Any) -> int | None:
    """The most positions `model` was made for (prompt and answer together), when it says."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
