"""Evaluate a model (and a fine-tuned adapter, or a served model) on held-out screenplays.

    python -m training.evaluate                       # the bot's base model vs the shipped adapter
    python -m training.evaluate --adapter runs/lora/adapter --json --takes-out /tmp/takes.jsonl
    python -m training.evaluate --url http://127.0.0.1:8000/v1 --served-model screenplay

Held-out examples are whole scripts the fine-tune never saw: the test scripts an adapter recorded
beside itself (`data_split.json`, written by `training.finetune`) together with the scripts the
corpus's test split holds out today that the adapter neither trained nor validated on; without
an adapter, the test split of `training.data`; or, with `--data DIR`, every scene of DIR's
scripts. English and Chinese scripts are evaluated and reported apart. The figures:

- perplexity on the answer tokens of those examples (every task kind), with the very encoding
  and loss the fine-tune trains with (`training.finetune.encode` / `answer_loss`), per language;
- takes generated for requests of all six task kinds (`--requests` per kind and language), from
  fixed seeds, through the bot's own path (`model.generator.Generator` over the local queue or an
  OpenAI-compatible server), each scored as the bot reads it (`training.scoring`): lint-clean after
  repair, cues in the cast, loops, echoes (of the answer template or the request), broken
  characters, the share of the room's writing system, distinct-2 across a request's takes, ROUGE-L
  against the script's own answer, the copy check against the training corpus, and relevance: the
  mean per-token log probability of the take given its prompt less that given the same task without
  the room's context (pointwise mutual information; local models only, like perplexity).

The takes are those the room would see: the generator samples a malformed take once more
(`resampled` counts them); `--first-sampled` scores the first samples instead, as the model card's
earlier figures did. Every take with its request, figures and problems goes to `--takes-out`
(JSONL, and a Markdown reading copy beside it). `training.sweep` runs a grid of sampling
settings through the same path and prints which scores best per task.

This module knows models, prompts and screenplays; it knows nothing of rooms or Discord.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model.errors import GenerationError
from model.loading import SHIPPED_ADAPTER, LoadedModel, ModelLoadError, ModelSettings, load_model
from model.prompts import parse_answer
from model.tasks import Sampling, TaskKind, is_chinese
from screenplay.fountain import parse_fountain
from screenplay.types import SceneHeading
from training import eval_report
from training.data import (
    Example,
    examples_for,
    fountain_of,
    load_source,
    split_scripts,
    task_kinds,
)
from training.finetune import SPLIT_FILE, answer_loss, collate, encode
from training.scoring import (
    CopyIndex,
    ScoredRequest,
    TakeScore,
    by_language,
    distinct_n,
    figures,
    per_task,
    rouge_l,
    score_take,
)
from training.takes import Heldout, Run, Subject, sample_and_score

__all__ = ["CopyIndex", "TakeScore", "distinct_n", "main", "rouge_l", "score_take", "table"]

_log = logging.getLogger(__name__)

table = eval_report.table

# --- the held-out set -------------------------------------------------------------------------


def heldout(
    data: str | None,
    limit_examples: int,
    requests: int,
    split: dict[str, Any] | None = None,
    kinds: Sequence[TaskKind] = tuple(TaskKind),
) -> Heldout:
    """The held-out set (see the module's docstring). `limit_examples` examples of each language
    for perplexity and `requests` requests of each kind and language among `kinds` are picked,
    spread evenly over the scripts (0: all of them). The copy check compares with the scripts
    trained on."""
    corpus = load_source((split or {}).get("data") or None)
    current = {part: [s.name for s in group] for part, group in split_scripts(corpus).items()}
    names = split or current
    trained_on = set(names["train"])
    if data is not None:
        held = load_source(data)
        source = f"every scene of {len(held)} scripts in {data}"
    else:
        seen = trained_on | set(names["val"])
        extra = [n for n in current["test"] if n not in seen and n not in names["test"]]
        wanted = [*names["test"], *extra]
        held = [s for name in wanted for s in corpus if s.name == name]
        if not held:
            raise FileNotFoundError(
                f"None of the held-out scripts ({', '.join(sorted(wanted))}) is in the corpus."
            )
        source = (
            f"the test split ({', '.join(n for n in names['test'] if n in {s.name for s in held})})"
        )
        if extra:
            source += f" and the current test split's scripts it never saw ({', '.join(extra)})"
    held_names = {s.name for s in held}
    training = [s for s in corpus if s.name in trained_on and s.name not in held_names]
    examples = [e for s in held for e in examples_for(s)]
    return Heldout(
        [e for lang in _languages(examples) for e in _spread(_in(examples, lang), limit_examples)],
        _requests_of(examples, requests, kinds),
        CopyIndex(fountain_of(s.document.elements) for s in training),
        source,
    )


def with_places(
    requests: Sequence[Example], *, keep: bool = True, only: bool = False
) -> list[Example]:
    """`requests` with a scene going back to a place its script has been carrying the script's
    heading for it (`PromptContext.places`), as the bot's does, or (`keep` false) without it,
    as before session 18; with `only`, just those scenes."""
    if only:
        requests = [e for e in requests if e.request is not None and e.request.context.places]
    if keep:
        return list(requests)
    return [
        dataclasses.replace(
            e,
            request=dataclasses.replace(
                e.request, context=dataclasses.replace(e.request.context, places=())
            ),
        )
        if e.request is not None
        else e
        for e in requests
    ]


def typed_headings(requests: Sequence[Example]) -> list[Example]:
    """`requests` with each scene's own heading typed before its words, as a writer who knows
    where the scene is types it (`model.prompts.asked_heading` reads it back):
    `EXT. BRATTAVIK FJORD, THE SHORE - DAY — Brattavik Fjord, The Shore, with EINAR: …`,
    `日 内 码头：码头，老周在场：…`."""
    out = []
    for example in requests:
        request = example.request
        if request is not None and request.kind is TaskKind.SCENE:
            fountain = parse_answer(request, example.answer).fountain
            heading = next(
                (e.text for e in parse_fountain(fountain).elements if isinstance(e, SceneHeading)),
                "",
            )
            if heading:
                mark = "：" if is_chinese(request.context.language) else " — "
                typed = dataclasses.replace(request, prompt=f"{heading}{mark}{request.prompt}")
                example = dataclasses.replace(example, request=typed)
        out.append(example)
    return out


def _requests_of(
    examples: Sequence[Example], limit: int, kinds: Sequence[TaskKind]
) -> list[Example]:
    """`limit` examples (0: all) of each language and kind, languages in the order of the
    scripts, kinds in the order of `TaskKind`."""
    return [
        picked
        for language in _languages(examples)
        for kind in TaskKind
        if kind in kinds
        for picked in _spread(
            [e for e in _in(examples, language) if e.kind is kind and e.request], limit
        )
    ]


def _language(example: Example) -> str:
    return example.request.context.language if example.request else "English"


def _languages(examples: Sequence[Example]) -> list[str]:
    """The languages of `examples`, in the order they first appear."""
    return list(dict.fromkeys(_language(e) for e in examples))


def _in(examples: Sequence[Example], language: str) -> list[Example]:
    return [e for e in examples if _language(e) == language]


def _spread(items: Sequence[Example], limit: int) -> list[Example]:
    """At most `limit` items, evenly spaced through `items` (all of them when limit is 0)."""
    if limit <= 0 or len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


# --- the model's own figures: perplexity and relevance ------------------------------------------


@torch.inference_mode()
def answer_nll(
    loaded: LoadedModel, examples: Sequence[Example], max_len: int, batch: int
) -> tuple[float, int]:
    """The summed cross-entropy over every answer token of `examples`, and how many tokens."""
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
    return total, tokens


def perplexity(loaded: LoadedModel, examples: Sequence[Example], max_len: int, batch: int) -> float:
    """exp of the mean cross-entropy over every answer token of `examples`."""
    total, tokens = answer_nll(loaded, examples, max_len, batch)
    return math.exp(total / tokens) if tokens else math.nan


def perplexities(
    loaded: LoadedModel, examples: Sequence[Example], max_len: int, batch: int
) -> tuple[float | None, dict[str, float]]:
    """The perplexity of all `examples` and of each language's."""
    sums = {
        language: answer_nll(
            loaded, [e for e in examples if _language(e) == language], max_len, batch
        )
        for language in dict.fromkeys(_language(e) for e in examples)
    }
    total, tokens = sum(t for t, _ in sums.values()), sum(n for _, n in sums.values())
    each = {language: math.exp(t / n) for language, (t, n) in sums.items() if n}
    return (math.exp(total / tokens) if tokens else None), each


# --- one column's figures -----------------------------------------------------------------------


def reference_figures(held: Heldout) -> dict[str, Any]:
    """The held-out answers scored as takes: what the figures give on the scripts' own text."""
    scored = [
        ScoredRequest(
            example.kind.value,
            _language(example),
            (score_take(example.request, example.answer, example.answer, held.corpus),),
            None,
        )
        for example in held.requests
        if example.request is not None
    ]
    return {"label": "reference", "model": "the held-out scripts", "ppl": None, **_figures(scored)}


def _figures(scored: Sequence[ScoredRequest]) -> dict[str, Any]:
    return {**figures(scored), "by_language": by_language(scored), "per_task": per_task(scored)}


def evaluate_subject(
    subject: Subject,
    held: Heldout,
    run: Run,
    rows: list[dict[str, Any]] | None = None,
    *,
    same_model_as: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every figure of one column on `held`; each take's row is appended to `rows` when given.
    `same_model_as`, a column of the very same model (best-of-N reranks its takes, the model
    is unchanged), lends its perplexity instead of computing it again."""
    started = time.perf_counter()
    ppl: float | None = None
    ppl_by_language: dict[str, float] = {}
    if same_model_as is not None:
        ppl, ppl_by_language = same_model_as["ppl"], same_model_as["ppl_by_language"]
    elif subject.loaded is not None and held.examples:
        ppl, ppl_by_language = perplexities(subject.loaded, held.examples, run.max_len, run.batch)
    _log.info("%s: perplexity %s (%s)", subject.label, ppl, ppl_by_language)
    scored, take_rows = sample_and_score(subject, held, run)
    if rows is not None:
        rows.extend(take_rows)
    return {
        "label": subject.label,
        "model": subject.name,
        "ppl": ppl,
        "ppl_by_language": ppl_by_language,
        **_figures(scored),
        "seconds": round(time.perf_counter() - started, 1),
    }


# --- the command ------------------------------------------------------------------------------


@dataclass
class Options:
    model: str
    adapter: str
    url: str
    served_model: str
    api_key: str
    data: str
    json: bool
    tasks: str
    takes: int
    max_new_tokens: int
    limit_examples: int
    requests: int
    max_len: int
    batch_size: int
    seed: int
    dtype: str
    takes_out: str
    out: str
    first_sampled: bool
    typed_headings: bool
    returning_only: bool
    no_places: bool
    no_relevance: bool
    best_of: int
    shipped_only: bool
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    dry_multiplier: float
    dry_base: float
    dry_allowed_length: int


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
    p.add_argument("--url", default="", help="an OpenAI-compatible server (http://HOST:PORT/v1)")
    p.add_argument("--served-model", default="", help="the model name the server serves")
    p.add_argument("--api-key", default="", help="the server's API key, if it needs one")
    p.add_argument(
        "--data", default="", help="folder of .fountain/.fdx scripts (or hf:NAME), all held out"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument(
        "--out",
        default="",
        help="also write the JSON object to this file, after every column (a run stopped "
        "partway keeps the columns it finished)",
    )
    p.add_argument(
        "--tasks", default=",".join(TaskKind), help="task kinds to sample, comma-separated"
    )
    p.add_argument("--takes", type=int, default=3, help="takes per request")
    p.add_argument("--max-new-tokens", type=int, default=160, help="token budget of a take")
    p.add_argument(
        "--limit-examples",
        type=int,
        default=16,
        help="examples for perplexity per language (0: all)",
    )
    p.add_argument(
        "--requests", type=int, default=2, help="requests per task kind and language (0: all)"
    )
    p.add_argument("--max-len", type=int, default=768, help="tokens of an example (perplexity)")
    p.add_argument("--batch-size", type=int, default=8, help="rows per forward pass")
    p.add_argument("--seed", type=int, default=1234, help="first sampling seed")
    p.add_argument("--dtype", default="auto", help="auto, float32 or bfloat16 (as the bot runs)")
    p.add_argument(
        "--takes-out",
        "--samples",
        default="",
        help="write every take, its request and figures to this JSONL (and a .md beside it)",
    )
    p.add_argument(
        "--first-sampled",
        action="store_true",
        help="score takes as first sampled (no second try for a malformed take)",
    )
    p.add_argument(
        "--typed-headings",
        action="store_true",
        help="ask each held-out scene as a writer who knows its place does: its own heading "
        "typed first (`INT. BOOTH 4 - DAY — Booth 4, with ANNA`), which the bot opens the take on",
    )
    p.add_argument(
        "--returning-only",
        action="store_true",
        help="only the scene requests going back to a place their script has been (with "
        "--requests 0, all of them)",
    )
    p.add_argument(
        "--no-places",
        action="store_true",
        help="ask those scenes without the script's heading for the place (as before session "
        "18); by default they open on it, as the bot's do",
    )
    p.add_argument(
        "--no-relevance",
        action="store_true",
        help="skip the relevance figure (two forward passes per take; slow on a busy CPU)",
    )
    p.add_argument(
        "--best-of",
        type=int,
        default=1,
        help="also evaluate the fine-tuned (or served) model with best-of-N: N candidates per "
        "take shown, ranked by model.ranking as the bot ranks them (1: off)",
    )
    p.add_argument(
        "--shipped-only",
        action="store_true",
        help="only the column the bot runs: the fine-tuned model, with --best-of N as the bot "
        "ranks (no base column, and no plain fine-tuned one beside best-of-N); for a read of "
        "many takes",
    )
    defaults = Sampling()
    p.add_argument("--temperature", type=float, default=defaults.temperature, help="(the bot's)")
    p.add_argument("--top-p", type=float, default=defaults.top_p, help="top-p (the bot's)")
    p.add_argument("--top-k", type=int, default=defaults.top_k, help="top-k (the bot's)")
    p.add_argument(
        "--repetition-penalty",
        type=float,
        default=defaults.repetition_penalty,
        help="repetition penalty, sparing the cast's names (the bot's)",
    )
    p.add_argument(
        "--dry-multiplier",
        type=float,
        default=defaults.dry_multiplier,
        help="DRY penalty on a stretch written again, model.repeats (0: off; the bot's)",
    )
    p.add_argument("--dry-base", type=float, default=defaults.dry_base, help="(the bot's)")
    p.add_argument(
        "--dry-allowed-length",
        type=int,
        default=defaults.dry_allowed_length,
        help="length (word pieces; a CJK character is one) a stretch repeats for free (the bot's)",
    )
    return Options(**vars(p.parse_args(argv)))


def run(options: Options) -> dict[str, Any]:
    """The whole evaluation; returns the JSON object `--json` prints."""
    adapter, note = adapter_of(options)
    kinds = kinds_of(options.tasks)
    held = heldout(
        options.data or None,
        options.limit_examples,
        options.requests,
        recorded_split(adapter),
        kinds,
    )
    if options.typed_headings:
        held = dataclasses.replace(held, requests=typed_headings(held.requests))
    held = dataclasses.replace(
        held,
        requests=with_places(
            held.requests, keep=not options.no_places, only=options.returning_only
        ),
    )
    _log.info(
        "held out: %s; %d examples, %d requests",
        held.source,
        len(held.examples),
        len(held.requests),
    )
    plan = run_of(options)
    rows: list[dict[str, Any]] = []
    columns: dict[str, dict[str, Any]] = {}

    reference, setup = reference_figures(held), _setup(options, held, adapter, note)

    def finished(label: str, column: dict[str, Any]) -> None:
        # A column takes minutes to an hour on a CPU: what is finished is written at once, so a
        # run stopped partway (a session's end) keeps every column it completed.
        columns[label] = column
        _keep(options, rows, eval_report.result(columns, reference, setup))

    local = _local_columns(options, adapter)
    shipped_only = options.shipped_only and options.best_of > 1
    for label, settings in local:
        loaded = load_model(settings)
        judged = Subject(label, loaded.name, loaded)
        if not shipped_only:
            finished(label, evaluate_subject(judged, held, plan, rows))
        if label == local[-1][0] and not options.url:
            for ranked in _ranked(judged, options.best_of):
                finished(
                    ranked.label,
                    evaluate_subject(ranked, held, plan, rows, same_model_as=columns.get(label)),
                )
        del judged, loaded
    if options.url:
        served = Subject("served", options.served_model, url=options.url, api_key=options.api_key)
        if not shipped_only:
            finished("served", evaluate_subject(served, held, plan, rows))
        for ranked in _ranked(served, options.best_of):
            finished(ranked.label, evaluate_subject(ranked, held, plan, rows))
    return eval_report.result(columns, reference, setup)


def _keep(options: Options, rows: Sequence[dict[str, Any]], result: dict[str, Any]) -> None:
    """Write the takes so far (`--takes-out`) and the result so far (`--out`)."""
    if options.takes_out:
        eval_report.write_takes(Path(options.takes_out), rows)
    if options.out:
        write_json(Path(options.out), result)


def write_json(path: Path, result: dict[str, Any]) -> None:
    """`result` as JSON at `path`, written beside it and renamed over it, so that a run stopped
    while writing leaves the last whole result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


def _ranked(subject: Subject, best_of: int) -> list[Subject]:
    """The judged column again with best-of-N, when asked for."""
    if best_of <= 1:
        return []
    label = f"{subject.label}{eval_report.BEST_OF}{best_of}"
    return [dataclasses.replace(subject, label=label, best_of=best_of)]


def adapter_of(options: Options) -> tuple[str, str]:
    """The adapter to evaluate beside the base model, and a note when there is none."""
    adapter = options.adapter
    if not adapter and not options.model and not options.url:
        if (SHIPPED_ADAPTER / "adapter_config.json").is_file():
            return str(SHIPPED_ADAPTER), ""
        return "", f"No shipped adapter at {SHIPPED_ADAPTER}: evaluating the base model only."
    if adapter and not (Path(adapter) / "adapter_config.json").is_file():
        raise ModelLoadError(
            f"{adapter} is not a LoRA adapter directory (no adapter_config.json); a fully "
            "fine-tuned model is evaluated with --model."
        )
    if options.url and not options.served_model:
        raise ModelLoadError("--url needs --served-model, the name the server serves.")
    return adapter, ""


def kinds_of(spec: str) -> tuple[TaskKind, ...]:
    try:
        return task_kinds(spec)
    except ValueError:
        raise ModelLoadError(
            f"--tasks takes kinds among {', '.join(TaskKind)}; {spec!r} is not one."
        ) from None


def _local_columns(options: Options, adapter: str) -> list[tuple[str, ModelSettings]]:
    """The local models to evaluate: none for a served model alone, else the base model and,
    with an adapter, the base model with it."""
    if options.url and not (options.model or options.adapter):
        return []
    columns = [("base", ModelSettings(model=options.model, dtype=options.dtype))]
    if adapter:
        columns.append(
            ("tuned", ModelSettings(model=options.model, adapter=adapter, dtype=options.dtype))
        )
    # --shipped-only: the model the bot runs, the fine-tuned one when there is an adapter.
    return columns[-1:] if options.shipped_only else columns


def run_of(options: Options) -> Run:
    return Run(
        takes=options.takes,
        max_new_tokens=options.max_new_tokens,
        max_len=options.max_len,
        batch=options.batch_size,
        seed=options.seed,
        sampling=Sampling(
            temperature=options.temperature,
            top_p=options.top_p,
            top_k=options.top_k,
            repetition_penalty=options.repetition_penalty,
            dry_multiplier=options.dry_multiplier,
            dry_base=options.dry_base,
            dry_allowed_length=options.dry_allowed_length,
        ),
        first_sampled=options.first_sampled,
        relevance=not options.no_relevance,
    )


def _setup(options: Options, held: Heldout, adapter: str, note: str) -> dict[str, Any]:
    """What the result records of how it was made."""
    return {
        "model": options.model or None,
        "adapter": adapter or None,
        "url": options.url or None,
        "held_out": held.source,
        "examples": len(held.examples),
        "requests": len(held.requests),
        "takes": options.takes,
        "max_new_tokens": options.max_new_tokens,
        "max_len": options.max_len,
        "batch": options.batch_size,
        "seed": options.seed,
        "temperature": options.temperature,
        "top_p": options.top_p,
        "top_k": options.top_k,
        "repetition_penalty": options.repetition_penalty,
        "dry": [options.dry_multiplier, options.dry_base, options.dry_allowed_length],
        "first_sampled": options.first_sampled,
        "best_of": options.best_of,
        "shipped_only": options.shipped_only,
        **({"note": note} if note else {}),
    }


def recorded_split(adapter: str) -> dict[str, Any] | None:
    """The data split an adapter was trained with (`training.finetune` saves it beside it)."""
    path = Path(adapter) / SPLIT_FILE if adapter else None
    return json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else None


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    options = parse_args(argv)
    _log.info("evaluation settings: %s", options)
    try:
        result = run(options)
    except (ModelLoadError, FileNotFoundError, GenerationError) as err:
        print(err, file=sys.stderr)
        raise SystemExit(1) from None
    if options.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(table(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
