"""Best of N: which of the takes drawn for a request the room sees, and in what order.

The generator draws `BEST_OF` candidates per take the room asked for, in one batch, and shows
the best `n` by this score (higher is better):

    score = LANGUAGE_WEIGHT * language share
          + CAST_WEIGHT * cues in cast
          + PMI_WEIGHT * tanh(PMI / PMI_SCALE)
          - PROBLEM_WEIGHT * severity

- **severity**: the sum over the take's problems (`model.prompts.parse_answer`) of their
  weight: a broken character, a loop (one the queue gave up on as it was written too), an echo
  of the prompt's answer template, a copy of the
  request (`model.prompts.request_echo`), a label of the prompt written in a script take
  (`model.prompts.prompt_label`) or a take with no screenplay text (or no speaker, no scene
  heading) `SEVERE` each; a speaker who is not in
  the cast `CAST` each; any other lint finding `MINOR` each. `PROBLEM_WEIGHT` exceeds the whole
  range the other two terms span, so a malformed take never outranks a clean one, and of two
  malformed takes the less broken comes first.
- **language share**: of the take's letters, the share in the room's script — CJK characters
  when `PromptContext.language` names Chinese, Latin letters when it is English; for any other
  language the term is left out.
- **cues in cast**: of a script take's cues, the share that the people in play speak
  (`model.prompts.cues_in_cast` over `speakers_in_play`: those asked for, their sheets, the
  script's speakers and the bible's characters the writer's words name). A walk-on part
  (`WAITER`), a character the take's action introduces or another character of the room's
  bible is no problem, but a writer who asked for Mara and Tom asked for them: of two clean
  takes, the one that keeps to them comes first, unless the other is much more about the
  scene. A take in which nobody speaks brings on nobody: it counts as keeping to them (a scene
  of heading and action, as the corpus's scene answers are). Left out for a room that knows no
  character, and for any take the generator did not read it for.
- **PMI** (pointwise mutual information, the model's own relevance signal): the mean
  log-probability per token of the take's opening (its first `SCORED_TOKENS` tokens) after the
  full prompt with the room's context, less the same after
  the same task without the room's context (`context_free`: the writer's own words, the cast in
  play and the language stay; title, logline, genre, tone, the bible's sheets, the beat, the
  scene heading, the script so far and the standing instructions go). A take the context made
  likelier is about this scene; a generic take is as likely without it. `tanh` bounds it, so
  that one odd take cannot outweigh the language. Without both figures (a remote server
  gives no scoring pass; the generator asks for none when no more candidates are clean than are
  shown) the term is left out and the others decide.

Ties keep the order the candidates were drawn in, so fixed seeds give a fixed ranking.
Diversity: a candidate nearly identical to one already chosen (`near_identical`: Jaccard
similarity of their character 5-grams of 0.8 or more) gives way to any other that is no more
malformed (`rank`).

It knows parsed takes and the room's language; it knows nothing of torch, queues or backends.
"""

from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from model.prompts import PROMPT_LABEL, REQUEST_ECHO, ParsedAnswer, template_echo
from model.takechecks import CUT_OFF, broken_character, find_loop, hopeless
from model.tasks import PromptContext, TaskRequest, is_chinese

#: Candidates drawn per take shown (the `BEST_OF` setting). 2 doubles the rows of one request's
#: batch; on a CPU a decode step of 8 rows costs little more than one of 4 (README,
#: "Best of N"), and it makes the second round of sampling a rarity.
BEST_OF = 2

LANGUAGE_WEIGHT = 2.0
#: A take whose every cue is a newcomer loses this much against one that keeps to the cast:
#: more than the PMI term's whole span, so only a take with a newcomer or two among many
#: cues of the cast can be outranked by relevance. (Session 28's held-out takes, best-of-2,
#: the same adapter and seeds: cues in the cast 95.3% without the term, 97.9% with it.)
CAST_WEIGHT = 2.0
PMI_WEIGHT = 1.0
#: Nats per token at which the PMI term reaches tanh(1) = 0.76 of its weight (the clean
#: candidates of `bench.best_of` had a PMI of 0.44 on average, 0.09 to 0.92 from the tenth
#: to the ninetieth percentile).
PMI_SCALE = 0.5
#: PMI reads a take's first tokens: who and where a take is about shows in its opening lines,
#: and the scoring pass costs wall time in proportion to the tokens it reads.
SCORED_TOKENS = 48
#: More than the span of the other terms (LANGUAGE_WEIGHT + CAST_WEIGHT + 2 * PMI_WEIGHT).
PROBLEM_WEIGHT = 10.0

SEVERE = 3
CAST = 2
MINOR = 1

#: Problems of `_parse_script` that say a take is no screenplay at all.
_NOT_A_SCRIPT = (
    "has no screenplay text",
    "has no character speaking",
    "has no scene heading",
    REQUEST_ECHO,
    PROMPT_LABEL,
)
_NOT_IN_CAST = "is not in the cast"

#: Character shingles of this length compare two takes; at this Jaccard similarity or above
#: they are nearly identical.
_SHINGLE = 5
NEAR_IDENTICAL = 0.8


@dataclass(frozen=True, slots=True)
class Candidate:
    """One drawn take: its text, how it parsed, and the model's mean log-probability per token
    after the full prompt (`logprob`) and after the context-free one (`context_free_logprob`);
    None where the backend cannot tell. `in_cast`: the share of a script take's cues that the
    room's known speakers speak (None: no cue, or nobody known)."""

    text: str
    parsed: ParsedAnswer
    logprob: float | None = None
    context_free_logprob: float | None = None
    in_cast: float | None = None

    @property
    def pmi(self) -> float | None:
        if self.logprob is None or self.context_free_logprob is None:
            return None
        return self.logprob - self.context_free_logprob


def context_free(request: TaskRequest) -> TaskRequest:
    """The same task without the room's context: PMI's reference prompt."""
    return dataclasses.replace(request, context=PromptContext(language=request.context.language))


def severity(candidate: Candidate) -> int:
    """The weighted count of the candidate's problems (0 for a clean take)."""
    text = candidate.text
    # A take given up as it looped names its loop as `hopeless` read it, or `CUT_OFF`.
    severe = {find_loop(text), hopeless(text), CUT_OFF, template_echo(text), broken_character(text)}
    total = 0
    for problem in candidate.parsed.problems:
        if problem in severe or any(mark in problem for mark in _NOT_A_SCRIPT):
            total += SEVERE
        elif _NOT_IN_CAST in problem:
            total += CAST
        else:
            total += MINOR
    return total


def language_share(text: str, language: str) -> float | None:
    """The share of the text's letters in the script of `language` (Chinese: CJK, English:
    Latin); None for another language. A take with no letters has a share of 0."""
    if is_chinese(language):
        wanted = _is_cjk
    elif language.strip().casefold() == "english":
        wanted = _is_latin
    else:
        return None
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if wanted(c)) / len(letters)


def _is_cjk(letter: str) -> bool:
    return unicodedata.name(letter, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))


def _is_latin(letter: str) -> bool:
    return letter.isascii() or unicodedata.name(letter, "").startswith("LATIN")


def score(candidate: Candidate, language: str) -> float:
    """The candidate's score (see the module's docstring); higher is better."""
    total = -PROBLEM_WEIGHT * severity(candidate)
    share = language_share(candidate.text, language)
    if share is not None:
        total += LANGUAGE_WEIGHT * share
    if candidate.in_cast is not None:
        total += CAST_WEIGHT * candidate.in_cast
    pmi = candidate.pmi
    if pmi is not None:
        total += PMI_WEIGHT * math.tanh(pmi / PMI_SCALE)
    return total


def near_identical(a: str, b: str) -> bool:
    """Whether two takes say nearly the same thing in nearly the same words."""
    return _similar(_shingles(a), _shingles(b))


def _similar(first: frozenset[str], second: frozenset[str]) -> bool:
    if not first or not second:
        return first == second
    return len(first & second) / len(first | second) >= NEAR_IDENTICAL


def _shingles(text: str) -> frozenset[str]:
    flat = " ".join(text.casefold().split())
    if len(flat) <= _SHINGLE:
        return frozenset({flat}) if flat else frozenset()
    return frozenset(flat[i : i + _SHINGLE] for i in range(len(flat) - _SHINGLE + 1))


def rank(candidates: Sequence[Candidate], n: int, language: str) -> list[int]:
    """The indices of the `n` candidates to show (or all there are), best first. One at a
    time, the next is the least severe; of those, one not nearly identical to a take already
    chosen; of those, the best scored; of those, the first drawn. So a duplicate gives way to
    another take, but never to a more malformed one."""
    severities = [severity(candidate) for candidate in candidates]
    scores = [score(candidate, language) for candidate in candidates]
    shingles = [_shingles(candidate.text) for candidate in candidates]
    remaining = list(range(len(candidates)))
    chosen: list[int] = []

    def key(i: int) -> tuple[int, bool, float, int]:
        repeats = any(_similar(shingles[i], shingles[j]) for j in chosen)
        return (severities[i], repeats, -scores[i], i)

    while remaining and len(chosen) < n:
        best = min(remaining, key=key)
        chosen.append(best)
        remaining.remove(best)
    return chosen
