"""What a take scores, read as the bot reads it: the figures of the evaluation that need no model.

For one take of a `TaskRequest` (any of the six kinds): whether it is clean after the bot's own
parse (`model.prompts.parse_answer`: repair and lint for script kinds, the fields of a sheet or a
premise, a beat that is something happening), whether it loops (`model.takechecks.find_loop`),
copies the prompt's answer template (`model.prompts.template_echo`), the request itself
(`request_echo`) or, in a script take, a label of the prompt (`prompt_label`), or holds a
broken character (U+FFFD), how many of its cues are spoken by
characters the room knows (its whole bible, as the bot checks them) and by the people in play,
the share of its letters in the room's writing system
(`model.ranking.language_share`, as best-of-N ranks by it: CJK letters in a Chinese room, Latin
letters in an English one), ROUGE-L against the held-out answer and the longest run of words it
shares with the training corpus; across a request's takes, distinct-2. `figures` pools the scores of
many requests into the shares a table shows.

It knows prompts, answers and text; it knows nothing of torch, models or backends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from model.prompts import (
    answer_start,
    cues_in_cast,
    known_speakers,
    parse_answer,
    prompt_label,
    request_echo,
    speakers_in_play,
    template_echo,
)
from model.ranking import language_share
from model.takechecks import (
    CJK,
    ONE_CJK,
    broken_character,
    find_loop,
    mention_at,
    mention_pattern,
)
from model.tasks import SCRIPT_KINDS, TaskKind, TaskRequest
from screenplay.fountain import parse_fountain
from screenplay.stats import split_heading
from screenplay.types import SceneHeading
from training.dedup import words


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
    """What one take scores. `lint_clean`: the bot's parse found no problem besides a loop, an
    echo (of the answer template, or of the request: `echo`) or a broken character, which are
    counted apart; `accepted`: no problem at all
    (the bot shows it without sampling it again). `cues_in_cast` counts cues spoken by a
    character the request knows (`model.prompts.known_speakers`: the cast in play, the bible,
    the speakers of the script so far); a walk-on part the bot lets pass still counts against
    it. `cues_in_play` counts those spoken by the people in play
    (`model.prompts.speakers_in_play`: the ones asked for, their sheets, the script's speakers
    and the bible's characters the writer's words name; the rest of the bible may speak but
    was not asked for). `relevance` and `resampled` are filled in by the evaluation when it
    knows them."""

    lint_clean: bool
    loops: bool
    cues: int
    cues_in_cast: int
    rouge_l: float
    copied_words: int
    kind: str = ""
    language: str = ""
    accepted: bool = False
    echo: bool = False
    broken: bool = False
    language_share: float | None = None
    problems: tuple[str, ...] = ()
    relevance: float | None = None
    resampled: bool = False
    place_kept: bool | None = None
    named_asked: bool | None = None
    asked_words: float | None = None
    cues_in_play: int = 0


def score_take(request: TaskRequest, text: str, reference: str, corpus: CopyIndex) -> TakeScore:
    """Score one take of `request` as the bot reads it (`parse_answer`)."""
    parsed = parse_answer(request, text)
    echo = template_echo(text) or request_echo(request, text) or prompt_label(request, text)
    apart = {find_loop(text), echo, broken_character(text)} - {None}
    script = request.kind in SCRIPT_KINDS
    cues, in_cast = cues_in_cast(known_speakers(request), parsed.fountain) if script else (0, 0)
    in_play = cues_in_cast(speakers_in_play(request), parsed.fountain)[1] if script else 0
    language = request.context.language
    return TakeScore(
        lint_clean=not [p for p in parsed.problems if p not in apart],
        loops=find_loop(text) is not None,
        cues=cues,
        cues_in_cast=in_cast,
        rouge_l=rouge_l(parsed.fountain or text, reference),
        copied_words=corpus.longest_shared(text),
        kind=request.kind.value,
        language=language,
        accepted=not parsed.problems,
        echo=echo is not None,
        broken=broken_character(text) is not None,
        language_share=language_share(text, language),
        problems=parsed.problems,
        place_kept=_place_kept(request, parsed.fountain, reference),
        named_asked=_named_asked(request, parsed.fountain or text),
        asked_words=_asked_words(request, parsed.fountain or text),
        cues_in_play=in_play,
    )


def _named_asked(request: TaskRequest, text: str) -> bool | None:
    """Whether a scene take names any of the characters its request asked for (`with PILAR and
    ANSELM`: in a cue or in the action); None for another kind or a request naming nobody. A
    scene asked for with two people that stages two others did not listen either."""
    if request.kind is not TaskKind.SCENE or not request.characters:
        return None
    return any(mention_at(text, name.strip()) >= 0 for name in request.characters if name.strip())


#: Words too common to tell whether a take used what it was asked for.
_COMMON = frozenset(
    {
        *("about", "after", "again", "against", "also", "back", "before", "being", "between"),
        *("both", "does", "down", "during", "each", "even", "every", "from", "have", "having"),
        *("here", "into", "just", "like", "more", "most", "much", "must", "only", "other"),
        *("over", "same", "some", "still", "such", "than", "that", "their", "them", "then"),
        *("there", "these", "they", "this", "those", "through", "under", "until", "very"),
        *("were", "what", "when", "where", "which", "while", "will", "with", "would", "your"),
    }
)


def _asked_words(request: TaskRequest, text: str) -> float | None:
    """The share of what a scene or a dialogue was asked for that its take takes up: the
    situation's words beyond its people's names and the commonest words, and for Chinese its
    pairs of characters written together; None for another kind or a request with no such
    word. A take of `Mara hides Tom from the sheriff` with no sheriff in it wrote some other
    scene. The words a take is begun with (`answer_start`: a heading typed, or a place the
    script has been) are the bot's, so they count neither way. A lexical measure: it sees a
    take that ignores the request, not one that says it in other words. A scene's answer is its
    heading and opening action, where the request tells the whole scene: read a scene take's
    figure beside the held-out answers' own (the report's reference column)."""
    if request.kind not in (TaskKind.SCENE, TaskKind.DIALOGUE):
        return None
    names = [n.strip() for n in request.characters if n.strip()]
    said = request.prompt
    for name in names:  # out of the way, or a Chinese name would pair with its neighbours
        said = mention_pattern(name).sub(" | ", said)
    given = _content(" ".join(names)) | _content(answer_start(request))
    asked = _content(said) - given
    if not asked:
        return None
    return len(asked & _content(text)) / len(asked)


def _content(text: str) -> set[str]:
    """The words of `text` that `_asked_words` compares: English words of four letters or more
    but the commonest, each by its first five letters once a plural's s is off (`sheriffs`,
    `sheriff`; `steals`, `stealing`); pairs of CJK characters written together, but those with
    the commonest characters."""
    found = {
        (w[:-1] if w.endswith("s") and not w.endswith("ss") else w)[:5]
        for w in words(text)
        if len(w) > 3 and w not in _COMMON and not ONE_CJK.match(w)
    }
    for run in _CJK_RUN.findall(text):
        pairs = (run[i : i + 2] for i in range(len(run) - 1))
        found.update(pair for pair in pairs if not _COMMON_CJK.intersection(pair))
    return found


_CJK_RUN = re.compile(rf"[{CJK}]+")
#: Characters too common in Chinese to tell whether a take used what it was asked for: a pair
#: with one of them (`让她`, `在场`) is not counted.
_COMMON_CJK = frozenset("的了她他它我你您们是在着和与也就都这那个一不有让把被")


def _place_kept(request: TaskRequest, fountain: str, reference: str) -> bool | None:
    """Whether a scene take's heading names the place its request asked for (the held-out
    answer's, which the request words: `Brattavik Fjord, The Shore, with EINAR: …`); None for
    another kind or a reference without a heading. A writer who asks for a scene at the
    interpreters' booth reads `GLOBECRATE CONCAVE` as a take that did not listen."""
    if request.kind is not TaskKind.SCENE:
        return None
    asked = _first_place(parse_answer(request, reference).fountain)
    if not asked:
        return None
    return _first_place(fountain) == asked


def _first_place(fountain: str) -> str:
    """The place of the first scene heading of `fountain`, letters and digits only, casefolded
    (`INT. BOOTH 4, GENEVA - NIGHT` -> `booth4geneva`); empty without a heading."""
    for element in parse_fountain(fountain).elements:
        if isinstance(element, SceneHeading):
            return "".join(ch for ch in split_heading(element.text)[1].casefold() if ch.isalnum())
    return ""


# --- pooled figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredRequest:
    """The scores of one request's takes, with distinct-2 across them."""

    kind: str
    language: str
    scores: tuple[TakeScore, ...]
    distinct2: float | None


#: The figures `figures` gives, in the order a table shows them.
FIGURES = (
    "takes",
    "lint_clean_rate",
    "accepted_rate",
    "in_cast_rate",
    "in_play_rate",
    "loop_rate",
    "echo_rate",
    "broken_rate",
    "language_share",
    "distinct2",
    "rouge_l",
    "relevance",
    "place_kept_rate",
    "named_asked_rate",
    "asked_words",
    "max_copied_words",
    "mean_copied_words",
    "resampled_rate",
)


def figures(requests: Sequence[ScoredRequest]) -> dict[str, Any]:
    """The pooled figures of `requests`' takes: shares of takes, cues in cast and cues in play
    over all cues (None without cues), means over takes (language share, ROUGE-L, relevance,
    copied run; None when no take has the figure) and distinct-2 averaged over requests."""
    scores = [s for r in requests for s in r.scores]
    cues = sum(s.cues for s in scores)
    return {
        "takes": len(scores),
        "lint_clean_rate": _mean(s.lint_clean for s in scores),
        "accepted_rate": _mean(s.accepted for s in scores),
        "in_cast_rate": sum(s.cues_in_cast for s in scores) / cues if cues else None,
        "in_play_rate": sum(s.cues_in_play for s in scores) / cues if cues else None,
        "loop_rate": _mean(s.loops for s in scores),
        "echo_rate": _mean(s.echo for s in scores),
        "broken_rate": _mean(s.broken for s in scores),
        "language_share": _mean(s.language_share for s in scores),
        "distinct2": _mean(r.distinct2 for r in requests),
        "rouge_l": _mean(s.rouge_l for s in scores),
        "relevance": _mean(s.relevance for s in scores),
        "place_kept_rate": _mean(s.place_kept for s in scores if s.place_kept is not None),
        "named_asked_rate": _mean(s.named_asked for s in scores if s.named_asked is not None),
        "asked_words": _mean(s.asked_words for s in scores),
        "max_copied_words": max((s.copied_words for s in scores), default=0),
        "mean_copied_words": _mean(s.copied_words for s in scores),
        "resampled_rate": _mean(s.resampled for s in scores),
    }


def _mean(values: Iterable[float | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def per_task(requests: Sequence[ScoredRequest]) -> list[dict[str, Any]]:
    """`figures` for each language and task kind present, languages and kinds in the order
    they first appear: one row each, with its `language` and `kind`."""
    groups: dict[tuple[str, str], list[ScoredRequest]] = {}
    for request in requests:
        groups.setdefault((request.language, request.kind), []).append(request)
    return [
        {"language": language, "kind": kind, **figures(group)}
        for (language, kind), group in groups.items()
    ]


def by_language(requests: Sequence[ScoredRequest]) -> dict[str, dict[str, Any]]:
    """`figures` of each language's requests, all kinds pooled."""
    languages = dict.fromkeys(r.language for r in requests)
    return {lang: figures([r for r in requests if r.language == lang]) for lang in languages}
