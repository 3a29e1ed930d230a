"""The evaluation's output: the result object (`--json`), its Markdown tables, the targets, and
the takes file a person reads (JSONL, and Markdown beside it).

Columns are what `training.evaluate` scored: `base`, `tuned` (base plus adapter), `served` (a
model behind an OpenAI-compatible server), the judged one with best-of-N ranking
(`tuned+best-of-2`), and `reference` (the held-out answers themselves,
scored as takes: the ceiling of each figure on the scripts' own text). It knows the figures'
names and formats; it knows nothing of models or generation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from model.tasks import is_chinese
from training.data import Example
from training.scoring import TakeScore

#: The targets of the first fine-tuning issue.
TARGET_PPL_RATIO = 0.7
TARGET_LINT_CLEAN = 0.9
#: The targets of the writing-quality issue (issue 15) and the Chinese rooms' (issue 14).
TARGET_PPL_RATIO_NOW = 0.6
TARGET_IN_CAST = 0.95
TARGET_CHINESE_SHARE = 0.95
#: The kinds whose cues must be in the cast.
CAST_KINDS = ("dialogue", "scene", "continue")

# --- the result object -------------------------------------------------------------------------


def result(
    columns: dict[str, dict[str, Any]], reference: dict[str, Any], setup: dict[str, Any]
) -> dict[str, Any]:
    """The JSON object of a run: its setup, each column's figures, the perplexity ratios, and
    the figures of the column that is judged (tuned, else served, else base, else the one
    column of a `--shipped-only` run) at the top level with the targets it meets."""
    base, tuned = columns.get("base"), columns.get("tuned")
    last = next(reversed(columns.values()), None)
    shown = tuned or columns.get("served") or base or last or reference
    out: dict[str, Any] = {
        **setup,
        "model": (base or shown)["model"],
        "base_ppl": base["ppl"] if base else None,
        "tuned_ppl": tuned["ppl"] if tuned else None,
        "ppl_ratio": _ratio(tuned["ppl"], base["ppl"]) if base and tuned else None,
        "ppl_ratio_by_language": _ratios(base, tuned),
        **{key: shown[key] for key in _TOP_FIGURES},
        "base": base,
        "tuned": tuned,
        "columns": columns,
        "reference": reference,
    }
    if len(columns) > 1 or (columns and "base" not in columns):
        out["targets_met"] = targets(shown, out["ppl_ratio"])
    return out


_TOP_FIGURES = (
    "lint_clean_rate",
    "loop_rate",
    "in_cast_rate",
    "distinct2",
    "rouge_l",
    "max_copied_words",
)


def _ratio(tuned: float | None, base: float | None) -> float | None:
    return tuned / base if tuned and base else None


def _ratios(base: dict[str, Any] | None, tuned: dict[str, Any] | None) -> dict[str, float]:
    if not (base and tuned):
        return {}
    ratios = {
        language: _ratio(tuned["ppl_by_language"].get(language), ppl)
        for language, ppl in base["ppl_by_language"].items()
    }
    return {language: ratio for language, ratio in ratios.items() if ratio is not None}


def targets(shown: dict[str, Any], ppl_ratio: float | None) -> dict[str, bool]:
    """Which targets the judged column meets: the first issue's (perplexity ratio, dialogue
    and all takes lint-clean, no loops) and the writing-quality issue's (each task lint-clean,
    cues in cast in dialogue, scene and continue takes, no loops or template echoes, a
    Chinese room's takes in Chinese, no broken characters)."""
    rows = shown["per_task"]
    in_cast = [r["in_cast_rate"] for r in rows if r["kind"] in CAST_KINDS]
    chinese = [r["language_share"] for r in rows if is_chinese(r["language"])]
    met = {
        "ppl_ratio<=0.7": ppl_ratio is not None and ppl_ratio <= TARGET_PPL_RATIO,
        "lint_clean>=0.9": (shown["lint_clean_rate"] or 0) >= TARGET_LINT_CLEAN,
        "no_loops": shown["loop_rate"] == 0.0,
        "ppl_ratio<=0.6": ppl_ratio is not None and ppl_ratio <= TARGET_PPL_RATIO_NOW,
        "every_task_lint_clean>=0.9": all(
            (r["lint_clean_rate"] or 0) >= TARGET_LINT_CLEAN for r in rows
        ),
        "cues_in_cast>=0.95": all(rate is None or rate >= TARGET_IN_CAST for rate in in_cast),
        "no_loops_or_echoes": shown["loop_rate"] == 0.0 and shown["echo_rate"] == 0.0,
        "no_broken_characters": shown["broken_rate"] == 0.0,
    }
    if chinese:
        met["chinese_share>=0.95"] = all(
            share is not None and share >= TARGET_CHINESE_SHARE for share in chinese
        )
    return met


# --- tables ----------------------------------------------------------------------------------

_PERCENT = "{:.0%}".format
_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("perplexity (answer tokens)", "ppl", "{:.2f}".format),
    ("lint-clean takes", "lint_clean_rate", _PERCENT),
    ("accepted as sampled (no problem)", "accepted_rate", _PERCENT),
    ("looping takes", "loop_rate", _PERCENT),
    ("cues in cast", "in_cast_rate", _PERCENT),
    ("cues of the people in play", "in_play_rate", _PERCENT),
    ("echoes (answer template, request or prompt label)", "echo_rate", _PERCENT),
    ("broken characters (U+FFFD)", "broken_rate", _PERCENT),
    ("letters in the room's script", "language_share", _PERCENT),
    ("distinct-2 across takes", "distinct2", "{:.3f}".format),
    ("ROUGE-L F1 vs reference", "rouge_l", "{:.3f}".format),
    ("relevance (PMI, nats/token)", "relevance", "{:+.2f}".format),
    ("scenes at the place asked", "place_kept_rate", _PERCENT),
    ("scenes naming a character asked", "named_asked_rate", _PERCENT),
    ("words asked for used (scene, dialogue)", "asked_words", _PERCENT),
    ("longest copied run (words)", "max_copied_words", "{}".format),
    ("mean copied run (words)", "mean_copied_words", "{:.1f}".format),
    ("sampled again by the bot", "resampled_rate", _PERCENT),
    ("takes scored", "takes", "{}".format),
    ("seconds", "seconds", "{}".format),
)

#: The per-task table's figures: header, key, format.
_TASK_FIGURES = (
    ("lint-clean", "lint_clean_rate", _PERCENT),
    ("cues in cast", "in_cast_rate", _PERCENT),
    ("in play", "in_play_rate", _PERCENT),
    ("loops", "loop_rate", _PERCENT),
    ("echoes", "echo_rate", _PERCENT),
    ("U+FFFD", "broken_rate", _PERCENT),
    ("own script", "language_share", _PERCENT),
    ("distinct-2", "distinct2", "{:.2f}".format),
    ("ROUGE-L", "rouge_l", "{:.2f}".format),
    ("PMI", "relevance", "{:+.2f}".format),
    ("place asked", "place_kept_rate", _PERCENT),
    ("cast asked", "named_asked_rate", _PERCENT),
    ("asked used", "asked_words", _PERCENT),
    ("copied", "max_copied_words", "{}".format),
)

_NAMES = {"base": "base", "tuned": "fine-tuned", "served": "served", "reference": "reference"}
#: A column of takes ranked best of N: `<label>+best-of-<N>`.
BEST_OF = "+best-of-"


def _name(label: str) -> str:
    """A column's name in a table: `tuned+best-of-2` -> `fine-tuned + best-of-2`."""
    own, ranked, n = label.partition(BEST_OF)
    return _NAMES.get(own, own) + (f" + best-of-{n}" if ranked else "")


def _cell(fmt: Callable[[Any], str], value: Any) -> str:
    return "-" if value is None else fmt(value)


def table(result: dict[str, Any]) -> str:
    """The result as Markdown: a few lines on what was held out and the targets, the figures of
    each column, each language's, and each task's (a cell per column: base / fine-tuned / ...)."""
    columns = [*result["columns"].values(), result["reference"]]
    parts = [
        _head(result),
        _overall(columns),
        *(_language_table(columns, language) for language in _languages(columns)),
        _task_table(columns),
    ]
    return "\n\n".join(parts)


def _head(result: dict[str, Any]) -> str:
    head = [
        f"Held out: {result['held_out']}: {result['examples']} examples for perplexity, "
        f"{result['requests']} requests x {result['takes']} takes x "
        f"{result['max_new_tokens']} tokens, temperature {result['temperature']:g}, "
        f"top-p {result['top_p']:g}, repetition penalty {result['repetition_penalty']:g}"
        f"{', first samples' if result['first_sampled'] else ''}."
    ]
    if result.get("note"):
        head.append(result["note"])
    if "served" in result["columns"]:
        head.append("Perplexity and relevance need the model's probabilities: local models only.")
    if result.get("ppl_ratio") is not None:
        each = ", ".join(f"{k} {v:.2f}" for k, v in result["ppl_ratio_by_language"].items())
        head.append(f"Fine-tuned / base perplexity: {result['ppl_ratio']:.2f} ({each}).")
    if result.get("targets_met"):
        met = "; ".join(
            f"{k} {'met' if v else 'NOT met'}" for k, v in result["targets_met"].items()
        )
        head.append(f"Targets: {met}.")
    return "\n".join(head)


def _overall(columns: Sequence[dict[str, Any]]) -> str:
    lines = _header("metric", [_name(c["label"]) for c in columns])
    for label, key, fmt in _ROWS:
        lines.append(f"| {label} | {' | '.join(_cell(fmt, c.get(key)) for c in columns)} |")
    return "\n".join(lines)


def _languages(columns: Sequence[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(lang for c in columns for lang in c["by_language"]))


def _language_table(columns: Sequence[dict[str, Any]], language: str) -> str:
    lines = [f"{language}:", ""]
    lines += _header("metric", [_name(c["label"]) for c in columns])
    for label, key, fmt in _ROWS:
        if key in ("seconds",):
            continue
        cells = []
        for column in columns:
            figures = column["by_language"].get(language, {})
            value = column.get("ppl_by_language", {}).get(language) if key == "ppl" else None
            cells.append(_cell(fmt, value if key == "ppl" else figures.get(key)))
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _task_table(columns: Sequence[dict[str, Any]]) -> str:
    """One row per language and task; each cell holds every column's figure, in order."""
    names = " / ".join(_name(c["label"]) for c in columns)
    lines = [f"Per task ({names}):", ""]
    lines += _header("task", ["language", *(h for h, _, _ in _TASK_FIGURES)])
    keys = list(dict.fromkeys((r["language"], r["kind"]) for c in columns for r in c["per_task"]))
    for language, kind in keys:
        rows = [_row_of(c, language, kind) for c in columns]
        cells = [" / ".join(_cell(fmt, r.get(key)) for r in rows) for _, key, fmt in _TASK_FIGURES]
        lines.append(f"| {kind} | {language} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _row_of(column: dict[str, Any], language: str, kind: str) -> dict[str, Any]:
    return next(
        (r for r in column["per_task"] if (r["language"], r["kind"]) == (language, kind)), {}
    )


def _header(first: str, names: Sequence[str]) -> list[str]:
    return [f"| {first} | {' | '.join(names)} |", "|---|" + "---:|" * len(names)]


# --- the takes file -----------------------------------------------------------------------------


def take_row(
    label: str, model: str, number: int, example: Example, text: str, score: TakeScore
) -> dict[str, Any]:
    """One scored take as the takes file holds it: the column, the request, the take, the
    held-out answer, its figures and problems."""
    request = example.request
    assert request is not None
    return {
        "column": label,
        "model": model,
        "request": number,
        "script": example.script,
        "kind": request.kind.value,
        "language": request.context.language,
        "prompt": request.prompt,
        "characters": list(request.characters),
        "scene_heading": request.context.scene_heading,
        "take": text,
        "reference": example.answer,
        **{k: v for k, v in score.__dict__.items() if k not in ("kind", "language")},
        "problems": list(score.problems),
    }


def write_takes(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """The rows as JSONL at `path`, and as Markdown (grouped by request) beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )
    path.with_suffix(".md").write_text(takes_markdown(rows), encoding="utf-8")


def takes_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The takes for a human read: each request (its kind, language, script, prompt and cast,
    the held-out answer), then every column's takes with their figures and problems."""
    requests: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        requests.setdefault(row["request"], []).append(row)
    out = ["# Takes scored by training.evaluate", ""]
    for number, takes in sorted(requests.items()):
        first = takes[0]
        out += [
            f"## Request {number + 1}: {first['kind']}, {first['language']}, {first['script']}",
            "",
            f"- prompt: {first['prompt'] or '(none)'}",
            f"- cast: {', '.join(first['characters']) or '(none)'}",
            *([f"- scene: {first['scene_heading']}"] if first["scene_heading"] else []),
            "",
            "Held-out answer:",
            "",
            _fenced(first["reference"]),
            "",
        ]
        counted: dict[str, int] = {}
        for row in takes:
            counted[row["column"]] = index = counted.get(row["column"], 0) + 1
            out += [f"### {row['column']} ({row['model']}), take {index}: {_verdict(row)}", ""]
            out += [_fenced(row["take"]), ""]
            out += [f"- {problem}" for problem in row["problems"]]
            out += [""] if row["problems"] else []
    return "\n".join(out)


def _verdict(row: dict[str, Any]) -> str:
    # "clean": no problem at all; a take the lint passes but a loop, an echo or a broken
    # character marks (counted apart) is "lint-clean" and names them.
    marks = ["clean" if row["accepted"] else "lint-clean" if row["lint_clean"] else "not clean"]
    if row["cues"]:
        marks.append(f"{row['cues_in_cast']}/{row['cues']} cues in cast")
    if row["cues_in_play"] != row["cues_in_cast"]:
        marks.append(f"{row['cues_in_play']}/{row['cues']} by the people in play")
    marks += [name for name in ("loops", "echo", "broken", "resampled") if row[name]]
    if row["language_share"] is not None:
        marks.append(f"{row['language_share']:.0%} own script")
    if row["relevance"] is not None:
        marks.append(f"PMI {row['relevance']:+.2f}")
    return ", ".join(marks)


def _fenced(text: str) -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}\n{text.strip()}\n{fence}"
