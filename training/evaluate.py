"""Evaluate a model (and a fine-tuned adapter) on held-out screenplays.

    python -m training.evaluate                       # the bot's base model vs the shipped adapter
    python -m training.evaluate --adapter runs/lora/adapter --json
    python -m training.evaluate --model gpt2 --data ~/scripts

Held-out examples are whole scripts the fine-tune never saw: the test scripts an adapter recorded
beside itself (`data_split.json`, written by `training.finetune`), else the test split of
`training.data`; or, with `--data DIR`, every scene of DIR's scripts. Two kinds of figures:

- perplexity on the answer tokens of those examples (every task kind), with the very encoding
  and loss the fine-tune trains with (`training.finetune.encode` / `answer_loss`);
- takes generated for dialogue requests of those scripts, from fixed prompts and seeds, through
  the bot's own path (`model.prompts.build_messages`, the chat template, the batched
  `GenerationQueue`, `model.prompts.parse_answer`): the share of takes lint-clean after repair,
  the share that loop (`model.prompts.find_loop`), the share of cues spoken by characters of
  the request's cast, distinct-2 across a request's takes, ROUGE-L F1 against the script's own
  dialogue, and a copy check: the longest run of words a take shares with the training corpus.

Takes are scored as first sampled: the bot samples a bad take once more, which would hide how
often the model writes one. The defaults (16 examples of at most 768 tokens, 8 requests x 3
takes x 160 tokens) took about six minutes per model for SmolLM2-135M on two busy CPU cores;
`--limit-examples 0 --requests 0` evaluates everything held out.

This module knows models, prompts and screenplays; it knows nothing of rooms or Discord.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from model.generator import LocalBackend
from model.loading import (
    SHIPPED_ADAPTER,
    LoadedModel,
    ModelLoadError,
    ModelSettings,
    load_model,
)
from model.prompts import build_messages, cast_of, parse_answer, take_sampling
from model.queue import GenerationQueue, QueueSettings
from model.takechecks import find_loop
from model.tasks import Sampling, TaskKind, TaskRequest
from screenplay.repair import repair
from screenplay.types import Character
from training.data import Example, examples_for, fountain_of, load_source, split_scripts
from training.dedup import words
from training.finetune import SPLIT_FILE, answer_loss, collate, encode

_log = logging.getLogger(__name__)

#: The issue's targets for the shipped adapter.
TARGET_PPL_RATIO = 0.7
TARGET_LINT_CLEAN = 0.9

# --- metrics ----------------------------------------------------------------------------------


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (Lin 2004, beta 1): the longest common subsequence of words, as a share of
    the candidate (precision) and of the reference (recall)."""
    cand, ref = words(candidate), words(reference)
    if not cand or not ref:
        return 0.0
    previous = [0] * (len(ref) + 1)
    for word in cand:
        current = [0]
        for j, other in enumerate(ref):
            current.append(previous[j] + 1 if word == other else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Distinct n-grams over all n-grams of `texts` taken together (1.0: no n-gram repeats,
    within a take or across takes)."""
    grams = [
        tuple(ws[i : i + n])
        for text in texts
        for ws in [words(text)]
        for i in range(len(ws) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else 0.0


class CopyIndex:
    """The longest run of words a text shares with a corpus, by hashing the corpus's word
    n-grams: a shared run of length n exists exactly when one of the text's n-grams is in the
    corpus's set, and shorter runs exist whenever longer ones do, so a binary search over n
    finds the longest with a few hash sets (each built once)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._docs = [words(t) for t in texts]
        self._grams: dict[int, set[int]] = {}

    def _hashes(self, n: int) -> set[int]:
        if n not in self._grams:
            self._grams[n] = {
                hash(tuple(doc[i : i + n])) for doc in self._docs for i in range(len(doc) - n + 1)
            }
        return self._grams[n]

    def _shares(self, text_words: list[str], n: int) -> bool:
        grams = self._hashes(n)
        return any(
            hash(tuple(text_words[i : i + n])) in grams for i in range(len(text_words) - n + 1)
        )

    def longest_shared(self, text: str) -> int:
        """Words in the longest run of `text` found word for word in the corpus."""
        text_words = words(text)
        low, high = 0, len(text_words)
        while low < high:
            middle = (low + high + 1) // 2
            if self._shares(text_words, middle):
                low = middle
            else:
                high = middle - 1
        return low


@dataclass(frozen=True)
class TakeScore:
    """What one generated take scores."""

    lint_clean: bool
    loops: bool
    cues: int
    cues_in_cast: int
    rouge_l: float
    copied_words: int


def score_take(request: TaskRequest, text: str, reference: str, corpus: CopyIndex) -> TakeScore:
    """Score one take of `request` as the bot would read it (repair, then lint)."""
    loop = find_loop(text)
    parsed = parse_answer(request, text)
    problems = [p for p in parsed.problems if p != loop]
    cast = {_cue_key(name) for name in cast_of(request)}
    cues = [e for e in repair(text, cast_of(request) or None).elements if isinstance(e, Character)]
    return TakeScore(
        lint_clean=not problems,
        loops=loop is not None,
        cues=len(cues),
        cues_in_cast=sum(_cue_key(c.name) in cast for c in cues),
        rouge_l=rouge_l(parsed.fountain or text, reference),
        copied_words=corpus.longest_shared(text),
    )


def _cue_key(name: str) -> str:
    return " ".join(name.split()).upper()


# --- a model's report ---------------------------------------------------------------------------


@dataclass
class ModelReport:
    """The figures of one model (base, or base plus adapter)."""

    model: str
    ppl: float | None
    lint_clean_rate: float
    loop_rate: float
    in_cast_rate: float
    distinct2: float
    rouge_l: float
    max_copied_words: int
    mean_copied_words: float
    takes: int
    seconds: float


@dataclass(frozen=True)
class Heldout:
    """What a model is evaluated on: examples for perplexity, dialogue requests with their
    reference answers for generation, and the training corpus for the copy check."""

    examples: list[Example]
    requests: list[Example]
    corpus: CopyIndex
    source: str


def heldout(
    data: str | None,
    limit_examples: int,
    requests: int,
    split: dict[str, Any] | None = None,
) -> Heldout:
    """The held-out set: every scene of `data`'s scripts, or else the test scripts of `split`
    (what an adapter recorded it was trained with: its data source and script names), or else
    the test split of the shipped corpus as `training.data` makes it. The copy check compares
    with the scripts trained on. `limit_examples` and `requests` pick that many, spread evenly
    over the scripts and kinds."""
    corpus = load_source((split or {}).get("data") or None)
    names = split or {
        part: [s.name for s in group] for part, group in split_scripts(corpus).items()
    }
    trained_on = set(names["train"])
    if data is not None:
        held = load_source(data)
        source = f"every scene of {len(held)} scripts in {data}"
    else:
        test = set(names["test"])
        held = [s for s in corpus if s.name in test]
        if not held:
            raise FileNotFoundError(
                f"None of the held-out scripts ({', '.join(sorted(test))}) is in the corpus."
            )
        source = f"the test split ({', '.join(s.name for s in held)})"
    held_names = {s.name for s in held}
    training = [s for s in corpus if s.name in trained_on and s.name not in held_names]
    examples = [e for s in held for e in examples_for(s)]
    dialogue = [e for e in examples if e.kind is TaskKind.DIALOGUE and e.request is not None]
    return Heldout(
        _spread(examples, limit_examples),
        _spread(dialogue, requests),
        CopyIndex(fountain_of(s.document.elements) for s in training),
        source,
    )


def _spread(items: Sequence[Example], limit: int) -> list[Example]:
    """At most `limit` items, evenly spaced through `items` (all of them when limit is 0)."""
    if limit <= 0 or len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


@torch.inference_mode()
def perplexity(loaded: LoadedModel, examples: Sequence[Example], max_len: int, batch: int) -> float:
    """exp of the mean cross-entropy over every answer token of `examples`."""
    rows = sorted((encode(loaded.tokenizer, e, max_len) for e in examples), key=lambda r: len(r[0]))
    pad = loaded.tokenizer.pad_token_id
    total, tokens = 0.0, 0
    for start in range(0, len(rows), batch):
        tensors = collate(rows[start : start + batch], pad)
        loss, count = answer_loss(
            loaded.model, {k: v.to(loaded.device) for k, v in tensors.items()}
        )
        total += float(loss) * count
        tokens += count
    return math.exp(total / tokens) if tokens else math.nan


async def generate_takes(
    loaded: LoadedModel,
    requests: Sequence[TaskRequest],
    takes: int,
    max_new_tokens: int,
    seed: int,
    max_batch: int = QueueSettings().max_batch,
    sampling: Sampling | None = None,
) -> list[list[str]]:
    """`takes` raw takes per request through the bot's queue, all requests queued at once so
    the worker batches them (`max_batch` sequences at a time, the bot's default unless said);
    request i's take j is sampled with seed `seed + 100 * i + j`, otherwise as `sampling` says
    (the bot's defaults unless given)."""
    sampling = sampling or Sampling()
    settings = QueueSettings(
        max_batch=max(max_batch, takes),
        max_waiting=len(requests) + 1,
        per_user=len(requests) + 1,
        timeout_s=24 * 3600,
    )
    queue = GenerationQueue(loaded.model, loaded.tokenizer, settings)
    backend = LocalBackend(queue, loaded.name)
    await queue.start()
    try:
        return await asyncio.gather(
            *(
                backend.complete(
                    build_messages(request),
                    [
                        dataclasses.replace(
                            take_sampling(request, sampling),
                            max_new_tokens=max_new_tokens,
                            seed=seed + 100 * i + j,
                        )
                        for j in range(takes)
                    ],
                    room_id=i,
                    user_id=0,
                )
                for i, request in enumerate(requests)
            )
        )
    finally:
        await queue.close()


def evaluate_model(
    loaded: LoadedModel,
    held: Heldout,
    *,
    takes: int,
    max_new_tokens: int,
    max_len: int,
    batch: int,
    seed: int,
    sampling: Sampling | None = None,
    samples: list[dict[str, Any]] | None = None,
) -> ModelReport:
    """Every figure of one loaded model on `held`; each take with its scores is appended to
    `samples` when given."""
    started = time.perf_counter()
    ppl = perplexity(loaded, held.examples, max_len, batch) if held.examples else None
    _log.info("%s: perplexity %s on %d examples", loaded.name, ppl, len(held.examples))
    requests = [e.request for e in held.requests if e.request is not None]
    texts = asyncio.run(
        generate_takes(loaded, requests, takes, max_new_tokens, seed, sampling=sampling)
    )
    scores: list[TakeScore] = []
    distinct: list[float] = []
    for example, request, request_texts in zip(held.requests, requests, texts, strict=True):
        for text in request_texts:
            score = score_take(request, text, example.answer, held.corpus)
            scores.append(score)
            if samples is not None:
                samples.append(
                    {
                        "model": loaded.name,
                        "script": example.script,
                        "situation": request.prompt,
                        "characters": list(request.characters),
                        "take": text,
                        "reference": example.answer,
                        **asdict(score),
                    }
                )
        distinct.append(distinct_n(request_texts, 2))
    cues = sum(s.cues for s in scores)
    return ModelReport(
        model=loaded.name,
        ppl=ppl,
        lint_clean_rate=_mean(s.lint_clean for s in scores),
        loop_rate=_mean(s.loops for s in scores),
        in_cast_rate=sum(s.cues_in_cast for s in scores) / cues if cues else 0.0,
        distinct2=_mean(distinct),
        rouge_l=_mean(s.rouge_l for s in scores),
        max_copied_words=max((s.copied_words for s in scores), default=0),
        mean_copied_words=_mean(s.copied_words for s in scores),
        takes=len(scores),
        seconds=round(time.perf_counter() - started, 1),
    )


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


# --- the command ------------------------------------------------------------------------------


@dataclass
class Options:
    model: str
    adapter: str
    data: str
    json: bool
    takes: int
    max_new_tokens: int
    limit_examples: int
    requests: int
    max_len: int
    batch_size: int
    seed: int
    dtype: str
    samples: str
    temperature: float
    top_p: float


def parse_args(argv: Sequence[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        prog="python -m training.evaluate", description=__doc__.split("\n")[0]
    )
    p.add_argument("--model", default="", help="HF id or local dir (default: the bot's model)")
    p.add_argument(
        "--adapter",
        default="",
        help=f"LoRA adapter dir (default without --model: the shipped {SHIPPED_ADAPTER.name})",
    )
    p.add_argument(
        "--data", default="", help="folder of .fountain/.fdx scripts (or hf:NAME), all held out"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--takes", type=int, default=3, help="takes per dialogue request")
    p.add_argument("--max-new-tokens", type=int, default=160, help="token budget of a take")
    p.add_argument(
        "--limit-examples", type=int, default=16, help="examples for perplexity (0: all)"
    )
    p.add_argument("--requests", type=int, default=8, help="dialogue requests (0: all)")
    p.add_argument("--max-len", type=int, default=768, help="tokens of an example (perplexity)")
    p.add_argument("--batch-size", type=int, default=8, help="rows per forward pass")
    p.add_argument("--seed", type=int, default=1234, help="first sampling seed")
    p.add_argument("--dtype", default="auto", help="auto, float32 or bfloat16 (as the bot runs)")
    p.add_argument("--samples", default="", help="write every take and its scores to this JSONL")
    p.add_argument(
        "--temperature",
        type=float,
        default=Sampling().temperature,
        help="sampling temperature of the takes (default: the bot's)",
    )
    p.add_argument(
        "--top-p", type=float, default=Sampling().top_p, help="top-p (default: the bot's)"
    )
    return Options(**vars(p.parse_args(argv)))


def run(options: Options) -> dict[str, Any]:
    """The whole evaluation; returns the JSON object `--json` prints."""
    adapter = options.adapter
    note = ""
    if not adapter and not options.model:
        if (SHIPPED_ADAPTER / "adapter_config.json").is_file():
            adapter = str(SHIPPED_ADAPTER)
        else:
            note = f"No shipped adapter at {SHIPPED_ADAPTER}: evaluating the base model only."
    elif adapter and not (Path(adapter) / "adapter_config.json").is_file():
        raise ModelLoadError(
            f"{adapter} is not a LoRA adapter directory (no adapter_config.json); a fully "
            "fine-tuned model is evaluated with --model."
        )
    held = heldout(
        options.data or None, options.limit_examples, options.requests, _recorded_split(adapter)
    )
    _log.info(
        "held out: %s; %d examples, %d dialogue requests",
        held.source,
        len(held.examples),
        len(held.requests),
    )
    figures = {
        "takes": options.takes,
        "max_new_tokens": options.max_new_tokens,
        "max_len": options.max_len,
        "batch": options.batch_size,
        "seed": options.seed,
        "temperature": options.temperature,
        "top_p": options.top_p,
    }
    reports: dict[str, ModelReport] = {}
    samples: list[dict[str, Any]] = []
    for label, adapter_dir in (("base", ""), ("tuned", adapter)):
        if label == "tuned" and not adapter_dir:
            continue
        loaded = load_model(
            ModelSettings(model=options.model, adapter=adapter_dir, dtype=options.dtype)
        )
        reports[label] = evaluate_model(
            loaded,
            held,
            takes=options.takes,
            max_new_tokens=options.max_new_tokens,
            max_len=options.max_len,
            batch=options.batch_size,
            seed=options.seed,
            sampling=Sampling(temperature=options.temperature, top_p=options.top_p),
            samples=samples,
        )
        del loaded
    if options.samples:
        Path(options.samples).write_text(
            "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), encoding="utf-8"
        )
    return _result(reports, held, adapter, note, figures)


def _recorded_split(adapter: str) -> dict[str, Any] | None:
    """The data split an adapter was trained with (`training.finetune` saves it beside it)."""
    path = Path(adapter) / SPLIT_FILE if adapter else None
    return json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else None


def _result(
    reports: dict[str, ModelReport],
    held: Heldout,
    adapter: str,
    note: str,
    settings: dict[str, float],
) -> dict[str, Any]:
    base, tuned = reports["base"], reports.get("tuned")
    shown = tuned or base
    out: dict[str, Any] = {
        "model": base.model,
        "adapter": adapter or None,
        "held_out": held.source,
        "examples": len(held.examples),
        "requests": len(held.requests),
        **settings,
        "base_ppl": base.ppl,
        "tuned_ppl": tuned.ppl if tuned else None,
        "ppl_ratio": (tuned.ppl / base.ppl) if tuned and tuned.ppl and base.ppl else None,
        "lint_clean_rate": shown.lint_clean_rate,
        "loop_rate": shown.loop_rate,
        "in_cast_rate": shown.in_cast_rate,
        "distinct2": shown.distinct2,
        "rouge_l": shown.rouge_l,
        "max_copied_words": shown.max_copied_words,
        "base": asdict(base),
        "tuned": asdict(tuned) if tuned else None,
    }
    if tuned:
        out["targets_met"] = {
            "ppl_ratio<=0.7": out["ppl_ratio"] is not None and out["ppl_ratio"] <= TARGET_PPL_RATIO,
            "lint_clean>=0.9": tuned.lint_clean_rate >= TARGET_LINT_CLEAN,
            "no_loops": tuned.loop_rate == 0.0,
        }
    if note:
        out["note"] = note
    return out


_ROWS = (
    ("perplexity (answer tokens)", "ppl", "{:.2f}"),
    ("lint-clean takes", "lint_clean_rate", "{:.0%}"),
    ("looping takes", "loop_rate", "{:.0%}"),
    ("cues in cast", "in_cast_rate", "{:.0%}"),
    ("distinct-2 across takes", "distinct2", "{:.3f}"),
    ("ROUGE-L F1 vs reference", "rouge_l", "{:.3f}"),
    ("longest copied run (words)", "max_copied_words", "{}"),
    ("mean copied run (words)", "mean_copied_words", "{:.1f}"),
    ("takes scored", "takes", "{}"),
    ("seconds", "seconds", "{}"),
)


def table(result: dict[str, Any]) -> str:
    """The result as a Markdown table (base and, when evaluated, fine-tuned)."""
    columns = [("base", result["base"])]
    if result["tuned"]:
        columns.append(("fine-tuned", result["tuned"]))
    lines = [
        f"| metric | {' | '.join(name for name, _ in columns)} |",
        "|---|" + "---:|" * len(columns),
    ]
    for label, key, fmt in _ROWS:
        cells = [fmt.format(c[key]) if c[key] is not None else "-" for _, c in columns]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    head = [
        f"Held out: {result['held_out']}: {result['examples']} examples for perplexity, "
        f"{result['requests']} dialogue requests x {result['takes']} takes x "
        f"{result['max_new_tokens']} tokens, temperature {result['temperature']:g}, "
        f"top-p {result['top_p']:g}."
    ]
    if result.get("note"):
        head.append(result["note"])
    if result.get("ppl_ratio") is not None:
        head.append(f"Fine-tuned / base perplexity: {result['ppl_ratio']:.2f}.")
    if result.get("targets_met"):
        met = "; ".join(
            f"{k} {'met' if v else 'NOT met'}" for k, v in result["targets_met"].items()
        )
        head.append(f"Targets: {met}.")
    return "\n".join([*head, "", *lines])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    options = parse_args(argv)
    try:
        result = run(options)
    except (ModelLoadError, FileNotFoundError) as err:
        print(err, file=sys.stderr)
        raise SystemExit(1) from None
    if options.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(table(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
