"""A decoding sweep: which sampling settings give the best takes, task by task, measured.

    python -m training.sweep temperature=0.6,0.8,1.0 top_p=0.9,0.95 repetition_penalty=1.05,1.1
    python -m training.sweep temperature=0.5,0.8 --requests 1 --takes 2 --json --out sweep.json

Every combination of the settings named (`temperature`, `top_p`, `top_k`, `repetition_penalty`, and
DRY's `dry_multiplier`, `dry_base`, `dry_allowed_length`; each `NAME=V1,V2,...`) samples the same
held-out requests with the same seeds through the bot's own path (`training.takes`), with the model
`training.evaluate` would judge: the shipped adapter by default, `--model`/`--adapter` as given, or
a served model (`--url`). Any other option is `training.evaluate`'s; `--takes-out FILE` writes every
take, its column named by its setting, to be read beside the figures. For each task and language
the setting with the highest `objective` wins; the bot's per-task defaults are meant to come from
this table, not from feel. With `--out FILE` the result so far is written after each setting, so a
sweep stopped partway keeps what it measured.

It knows sampling settings and figures; the generation and scoring are `training.takes`'.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from model.errors import GenerationError
from model.loading import ModelLoadError, ModelSettings, load_model
from training import eval_report, evaluate
from training.scoring import per_task
from training.takes import Heldout, Run, Subject, sample_and_score

_log = logging.getLogger(__name__)

#: The settings a sweep may vary, with how each is read.
KNOBS = {
    "temperature": float,
    "top_p": float,
    "top_k": int,
    "repetition_penalty": float,
    "dry_multiplier": float,
    "dry_base": float,
    "dry_allowed_length": int,
}
#: How much a nat per token of relevance counts beside a take's soundness (a share, 0 to 1).
RELEVANCE_WEIGHT = 0.1


def objective(row: dict[str, Any]) -> float:
    """The score of one task's figures: the share of takes the room can use as they are,
    lint-clean x cues in cast x (1 - loops) x (1 - echoes) x (1 - broken characters)
    x the share of letters in the room's script (a figure a task lacks counts as 1), plus
    `RELEVANCE_WEIGHT` x the mean relevance (PMI, nats per token; 0 where not measured)."""
    sound = 1.0
    for key in ("lint_clean_rate", "in_cast_rate", "language_share"):
        sound *= 1.0 if row.get(key) is None else row[key]
    for key in ("loop_rate", "echo_rate", "broken_rate"):
        sound *= 1.0 - (row.get(key) or 0.0)
    return sound + RELEVANCE_WEIGHT * (row.get("relevance") or 0.0)


def grid(specs: Sequence[str]) -> list[dict[str, Any]]:
    """Every combination of `NAME=V1,V2` specs, in the order given."""
    axes: list[list[tuple[str, Any]]] = []
    for spec in specs:
        name, _, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in KNOBS or not values:
            raise ModelLoadError(f"A sweep varies {', '.join(KNOBS)} as NAME=V1,V2; not {spec!r}.")
        try:
            axes.append([(name, KNOBS[name](v)) for v in values.split(",") if v.strip()])
        except ValueError:
            raise ModelLoadError(f"{spec!r}: every value must be a number.") from None
    return [dict(combination) for combination in itertools.product(*axes)]


def run(specs: Sequence[str], options: evaluate.Options) -> dict[str, Any]:
    """Sample the held-out requests once per setting of the grid; the figures and objective of
    each task under each setting, and the best setting per task."""
    settings = grid(specs)
    adapter, _ = evaluate.adapter_of(options)
    held = evaluate.heldout(
        options.data or None,
        0,
        options.requests,
        evaluate.recorded_split(adapter),
        evaluate.kinds_of(options.tasks),
    )
    subject = _subject(options, adapter)

    def result(tried: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "model": subject.name,
            "adapter": adapter or None,
            "held_out": held.source,
            "requests": len(held.requests),
            "takes": options.takes,
            "seed": options.seed,
            "tried": tried,
            "best": best(tried),
        }

    takes: list[dict[str, Any]] = []

    def keep(tried: list[dict[str, Any]]) -> None:
        if options.out:
            evaluate.write_json(Path(options.out), result(tried))
        if options.takes_out:
            eval_report.write_takes(Path(options.takes_out), takes)

    return result(sweep(subject, held, evaluate.run_of(options), settings, keep, takes))


def sweep(
    subject: Subject,
    held: Heldout,
    plan: Run,
    settings: Sequence[dict[str, Any]],
    finished: Callable[[list[dict[str, Any]]], None] = lambda tried: None,
    takes: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The per-task figures and objective of `subject`'s takes under each setting; `finished`
    is given the settings tried so far after each (to keep them, `--out`, should the run stop).
    Each take's row, its column named by its setting, is appended to `takes` when given (for
    `--takes-out`: a sweep's figures are read beside the takes that made them)."""
    tried: list[dict[str, Any]] = []
    for setting in settings:
        sampling = dataclasses.replace(plan.sampling, **setting)
        run = dataclasses.replace(plan, sampling=sampling)
        scored, rows = sample_and_score(subject, held, run)
        if takes is not None:
            takes.extend({**row, "column": _setting(setting)} for row in rows)
        rows = [{**row, "objective": objective(row)} for row in per_task(scored)]
        _log.info("%s: %s", setting, [(r["kind"], round(r["objective"], 3)) for r in rows])
        tried.append({"setting": setting, "per_task": rows})
        finished(tried)
    return tried


def _subject(options: evaluate.Options, adapter: str) -> Subject:
    if options.url:
        return Subject("served", options.served_model, url=options.url, api_key=options.api_key)
    settings = ModelSettings(model=options.model, adapter=adapter, dtype=options.dtype)
    loaded = load_model(settings)
    return Subject("tuned" if adapter else "base", loaded.name, loaded)


def best(tried: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each language and task, the setting whose objective is highest, with its figures.
    On a tie (every take usable, say, since a malformed one is sampled again) the setting whose
    takes were sampled again least wins: the same takes, sooner. Then the first tried."""
    winners: dict[tuple[str, str], dict[str, Any]] = {}
    for attempt in tried:
        for row in attempt["per_task"]:
            key = (row["language"], row["kind"])
            if key not in winners or _rank(row) > _rank(winners[key]):
                winners[key] = {**row, "setting": attempt["setting"]}
    return list(winners.values())


def _rank(row: dict[str, Any]) -> tuple[float, float]:
    return round(row["objective"], 9), -(row.get("resampled_rate") or 0.0)


def table(result: dict[str, Any]) -> str:
    """The objective of every task under every setting, then the winner of each task."""
    keys = [(r["language"], r["kind"]) for r in result["best"]]
    head = " | ".join(f"{kind} ({language[:2]})" for language, kind in keys)
    lines = [
        f"Held out: {result['held_out']}; {result['requests']} requests x {result['takes']} "
        f"takes per setting, model {result['model']}, adapter {result['adapter'] or 'none'}.",
        "",
        f"| setting | {head} |",
        "|---|" + "---:|" * len(keys),
    ]
    for attempt in result["tried"]:
        by_key = {(r["language"], r["kind"]): r["objective"] for r in attempt["per_task"]}
        cells = " | ".join(f"{by_key[k]:.3f}" if k in by_key else "-" for k in keys)
        lines.append(f"| {_setting(attempt['setting'])} | {cells} |")
    lines += ["", "Best per task:", ""]
    lines += [
        f"- {r['kind']} ({r['language']}): {_setting(r['setting'])}, objective "
        f"{r['objective']:.3f} (lint-clean {_share(r['lint_clean_rate'])}, cues in cast "
        f"{_share(r['in_cast_rate'])}, loops {_share(r['loop_rate'])}, sampled again "
        f"{_share(r.get('resampled_rate'))}, PMI "
        f"{'-' if r['relevance'] is None else format(r['relevance'], '+.2f')})"
        for r in result["best"]
    ]
    return "\n".join(lines)


def _setting(setting: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:g}" for name, value in setting.items())


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = list(sys.argv[1:] if argv is None else argv)
    specs = [a for a in args if "=" in a and not a.startswith("-")]
    options = evaluate.parse_args([a for a in args if a not in specs])
    try:
        if not specs:
            raise ModelLoadError("Name the settings to sweep, e.g. temperature=0.6,0.8,1.0.")
        result = run(specs, options)
    except (ModelLoadError, FileNotFoundError, GenerationError) as err:
        print(err, file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(result, indent=2, ensure_ascii=False) if options.json else table(result))
    return result


if __name__ == "__main__":
    main()
