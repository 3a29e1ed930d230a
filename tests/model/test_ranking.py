"""Best of N: the score that orders the candidates (`model.ranking`) and the generator that
draws more candidates than the room asked for and shows the best (`model.generator`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model import ranking
from model.generator import Drawn, Generator
from model.prompts import cues_in_cast, known_speakers, parse_answer, speakers_in_play
from model.ranking import Candidate
from model.takechecks import CUT_OFF
from model.tasks import (
    CharacterSheet,
    Progress,
    ProgressCallback,
    PromptContext,
    Sampling,
    TaskKind,
    TaskRequest,
)
from model.worker import ABANDONED, STOPPED, Enough

MARA, TOM = CharacterSheet("MARA", role="cook"), CharacterSheet("TOM", role="fugitive")
ROOM = PromptContext(
    title="Night Shift",
    logline="A diner cook hides a fugitive from the harbour police.",
    characters=(MARA, TOM),
    scene_heading="INT. HARBOUR DINER - NIGHT",
)
DIALOGUE = TaskRequest(TaskKind.DIALOGUE, "Tom asks for a ride", ("MARA", "TOM"), ROOM)
CLEAN = "MARA\nYou can't stay here.\n\nTOM\nOne night. Then I'm gone."
OTHER = "TOM\nThe ferry leaves at six.\n\nMARA\nThen you'd better run."
INVENTED = "MARA\nWho's that?\n\nGRIMSBY\nA friend of Tom's."
LOOPING = "MARA\n" + "Go go go go go go go go go go go go go.\n" * 6
LABELLED = "MARA (role: cook; personality: stubborn)\nYou can't stay here.\n\nTOM\nOne night."


def candidate(text: str, pmi: float | None = None, request: TaskRequest = DIALOGUE) -> Candidate:
    parsed = parse_answer(request, text)
    if pmi is None:
        return Candidate(text, parsed)
    return Candidate(text, parsed, logprob=-2.0 + pmi, context_free_logprob=-2.0)


# --- the score -------------------------------------------------------------------------------


def test_the_examples_are_what_they_claim() -> None:
    assert candidate(CLEAN).parsed.problems == ()
    assert candidate(OTHER).parsed.problems == ()
    assert any("not in the cast" in p for p in candidate(INVENTED).parsed.problems)
    assert candidate(LOOPING).parsed.problems


@given(
    clean_pmi=st.floats(-50, 50),
    bad_pmi=st.floats(-50, 50),
    bad=st.sampled_from([INVENTED, LOOPING, "MARA\nHello \ufffd there.\n\nTOM\nHi."]),
    language=st.sampled_from(["English", "Chinese", "French"]),
)
def test_a_malformed_candidate_never_outranks_a_clean_one(
    clean_pmi: float, bad_pmi: float, bad: str, language: str
) -> None:
    candidates = [candidate(bad, bad_pmi), candidate(CLEAN, clean_pmi)]
    assert ranking.score(candidates[1], language) > ranking.score(candidates[0], language)
    assert ranking.rank(candidates, 1, language) == [1]


def test_the_less_broken_of_two_malformed_takes_comes_first() -> None:
    # An invented speaker is a lesser fault than a loop, whatever the relevance says; so it is
    # than a take filling in the prompt's form (the sheet's labels in a cue).
    candidates = [candidate(LOOPING, 3.0), candidate(INVENTED, -3.0)]
    assert ranking.severity(candidates[0]) > ranking.severity(candidates[1]) > 0
    assert ranking.rank(candidates, 2, "English") == [1, 0]
    labelled = candidate(LABELLED, 3.0)
    assert ranking.severity(labelled) >= ranking.SEVERE > ranking.severity(candidates[1])
    assert ranking.rank([labelled, candidates[1]], 2, "English") == [1, 0]


def test_a_take_the_context_made_likelier_ranks_first() -> None:
    generic, about = candidate(OTHER, pmi=0.05), candidate(CLEAN, pmi=0.6)
    assert ranking.rank([generic, about], 2, "English") == [1, 0]


#: A clean take with a newcomer the take's own action brings on: no problem, but not who the
#: writer asked for.
NEWCOMER = "A WAITER drops a tray.\n\nWAITER\nSorry!\n\nMARA\nYou can't stay here."


def test_a_take_that_keeps_to_the_rooms_people_ranks_first() -> None:
    """Of two clean takes, the one whose cues the room's known speakers speak comes first, even
    when the other is somewhat more about the scene; much more about it, and with one newcomer
    among several cues of the cast, relevance still wins."""
    assert candidate(NEWCOMER).parsed.problems == ()

    def with_cast(text: str, pmi: float) -> Candidate:
        speakers = known_speakers(DIALOGUE)
        cues, known = cues_in_cast(speakers, parse_answer(DIALOGUE, text).fountain)
        return dataclasses.replace(candidate(text, pmi), in_cast=known / cues)

    newcomer, kept = with_cast(NEWCOMER, 0.8), with_cast(OTHER, 0.2)
    assert (newcomer.in_cast, kept.in_cast) == (0.5, 1.0)
    assert ranking.rank([newcomer, kept], 2, "English") == [1, 0]
    among_many = with_cast(CLEAN + "\n\nWAITER\nMore coffee?\n\nTOM\nNo.\n\nMARA\nGo.", 0.9)
    assert among_many.parsed.problems == () and among_many.in_cast == 0.8
    assert ranking.rank([with_cast(OTHER, 0.05), among_many], 2, "English") == [1, 0]
    # Unknown (a room that knows no one, or a take no one read it for): the term is left out.
    unweighed = ranking.score(candidate(OTHER, 0.2), "English")
    assert ranking.score(kept, "English") - unweighed == pytest.approx(ranking.CAST_WEIGHT)


def test_a_take_in_the_rooms_language_ranks_first() -> None:
    request = TaskRequest(
        TaskKind.BEAT, "转折", context=PromptContext(language="Chinese", title="夜班")
    )
    english = candidate("Mara finds the money hidden in the freezer.", 0.3, request)
    chinese = candidate("玛拉在冰柜里发现了藏起来的钱。", 0.1, request)
    assert english.parsed.problems == chinese.parsed.problems == ()
    assert ranking.rank([english, chinese], 2, "Chinese") == [1, 0]
    assert ranking.rank([english, chinese], 2, "English") == [0, 1]
    assert ranking.language_share("玛拉 MARA", "中文") == 2 / 6  # letters, whatever the script
    assert ranking.language_share("Marta dit oui", "French") is None


def test_two_nearly_identical_takes_are_not_shown_together() -> None:
    twin = CLEAN.replace("One night.", "One night!")
    candidates = [candidate(CLEAN, 0.9), candidate(twin, 0.8), candidate(OTHER, 0.1)]
    assert ranking.near_identical(CLEAN, twin) and not ranking.near_identical(CLEAN, OTHER)
    assert ranking.rank(candidates, 2, "English") == [0, 2]
    # ...unless nothing else is left, or only a malformed take is.
    assert ranking.rank(candidates, 3, "English") == [0, 2, 1]
    with_bad = [candidate(CLEAN, 0.9), candidate(twin, 0.8), candidate(INVENTED, 0.9)]
    assert ranking.rank(with_bad, 2, "English") == [0, 1]


def test_without_the_models_figures_the_order_drawn_breaks_ties() -> None:
    assert ranking.rank([candidate(OTHER), candidate(CLEAN)], 2, "English") == [0, 1]


def test_the_context_free_prompt_keeps_the_task_and_the_language_only() -> None:
    request = TaskRequest(
        TaskKind.DIALOGUE, "Tom asks", ("TOM",), PromptContext(title="X", language="Chinese")
    )
    bare = ranking.context_free(request)
    assert (bare.kind, bare.prompt, bare.characters) == (request.kind, "Tom asks", ("TOM",))
    assert bare.context == PromptContext(language="Chinese")


# --- the generator ---------------------------------------------------------------------------


def _start(messages: list[dict[str, str]]) -> str:
    """The answer's start a backend is asked to carry on (a last message of the assistant's)."""
    return messages[-1]["content"] if messages[-1]["role"] == "assistant" else ""


class ScoredBackend:
    """A scoring backend that answers from lists: texts drawn in order of their seeds (the first
    batch, then `again` for any second round), the PMI of each text (its mean log-probability
    after the full prompt, 0 after the context-free one, less the PMI)."""

    name = "scored"

    def __init__(
        self,
        texts: list[str],
        pmi: dict[str, float],
        again: Sequence[str] = (),
        stopped: Sequence[str] = (),
        abandoned: Sequence[str] = (),
    ) -> None:
        self.texts = texts
        self.again = list(again)
        self.pmi = pmi
        self.stopped = set(stopped)  # texts the queue stopped before they were written
        self.abandoned = set(abandoned)  # texts the queue gave up on as hopeless
        self.max_takes = 32
        self.drawn: list[list[int | None]] = []
        self.enough: list[Enough | None] = []
        self.scored: list[tuple[str, list[str]]] = []
        self.scored_tokens: list[int] = []
        self.started: list[tuple[str, str]] = []  # the answer's start each call carried on

    async def complete(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
    ) -> list[str]:
        self.drawn.append([s.seed for s in sampling])
        return self.again[: len(sampling)]

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
        # The first batch is `texts`; any later one (a second round) is `again`.
        texts = (self.again if self.drawn else self.texts)[: len(sampling)]
        self.started.append(("draw", _start(messages)))
        self.drawn.append([s.seed for s in sampling])
        self.enough.append(enough)
        if on_progress is not None:
            on_progress(Progress(0, tuple(texts), 10, done=True))
        return [
            Drawn(
                t,
                tuple(range(100)),
                (self.pmi.get(t, 0.0) - 1.0,) * 100,
                STOPPED if t in self.stopped else ABANDONED if t in self.abandoned else "stop",
            )
            for t in texts
        ]

    async def score(self, messages: list[dict[str, str]], takes: Sequence[Drawn]) -> list[float]:
        (asked,) = [m["content"] for m in messages if m["role"] == "user"]
        self.scored.append((asked, [t.text for t in takes]))
        self.started.append(("score", _start(messages)))
        self.scored_tokens += [len(t.token_ids) for t in takes]
        return [-1.0] * len(takes)

    async def close(self) -> None:
        return None


async def test_the_room_sees_the_best_n_of_k_drawn_in_one_batch() -> None:
    texts = [INVENTED, OTHER, LOOPING, CLEAN]
    backend = ScoredBackend(texts, {OTHER: 0.1, CLEAN: 0.7, INVENTED: 2.0})
    heard: list[Progress] = []
    takes = await Generator(backend, best_of=4).generate(
        DIALOGUE, 1, Sampling(seed=40), room_id=1, on_progress=heard.append
    )
    assert backend.drawn == [[40, 41, 42, 43]]  # 4 x 1 candidates, one batch, no second round
    assert [t.text for t in takes] == [CLEAN]
    assert all(not t.problems and not t.regenerated for t in takes)
    assert heard and heard[-1].done  # progress still reaches the room
    # Only the clean candidates were scored, against the task without the room's context.
    ((reference, scored),) = backend.scored
    assert scored == [OTHER, CLEAN]
    assert "Tom asks for a ride" in reference and "Night Shift" not in reference
    assert backend.scored_tokens == [ranking.SCORED_TOKENS] * 2  # their openings
    # An English room's dialogue is begun on its first character's cue, drawn and scored alike.
    assert backend.started == [("draw", "MARA\n"), ("score", "MARA\n")]


async def test_the_room_sees_the_take_that_keeps_to_its_people() -> None:
    # The model found the take with a newcomer more about the scene; the room asked for Mara
    # and Tom, and a clean take of theirs is there.
    backend = ScoredBackend([NEWCOMER, OTHER], {NEWCOMER: 0.8, OTHER: 0.2})
    (take,) = await Generator(backend, best_of=2).generate(DIALOGUE, 1, Sampling(seed=7))
    assert take.text == OTHER and not take.problems
    # Alone, the newcomer's take is shown: it is no problem.
    backend = ScoredBackend([NEWCOMER], {})
    (take,) = await Generator(backend, best_of=1).generate(DIALOGUE, 1, Sampling(seed=7))
    assert take.text == NEWCOMER and not take.problems


#: The room's bible has a third character, ELSA, whose sheet is not in play.
BIBLE = dataclasses.replace(
    DIALOGUE, context=dataclasses.replace(ROOM, cast=("MARA", "TOM", "ELSA"))
)
#: A clean take in which ELSA, whom nobody asked for, takes half the lines.
ELSA_SPEAKS = "ELSA\nYou two again?\n\nMARA\nNot now, Elsa.\n\nELSA\nFine.\n\nTOM\nWho's she?"


def test_the_people_in_play_are_those_asked_and_those_the_writers_words_name() -> None:
    assert speakers_in_play(BIBLE) == ("MARA", "TOM")
    assert known_speakers(BIBLE) == ("MARA", "TOM", "ELSA")  # she may speak: no problem
    assert candidate(ELSA_SPEAKS, request=BIBLE).parsed.problems == ()
    named = dataclasses.replace(BIBLE, prompt="Tom asks for a ride; then Elsa walks in")
    assert speakers_in_play(named) == ("MARA", "TOM", "ELSA")
    # Nobody asked for, no sheet in play, nobody speaking yet: the whole bible is in play.
    nobody = TaskRequest(TaskKind.CONTINUE, "", (), PromptContext(cast=("MARA", "ELSA")))
    assert speakers_in_play(nobody) == ("MARA", "ELSA")
    # Whoever speaks in the script so far is in play.
    spoken = dataclasses.replace(
        nobody, context=dataclasses.replace(nobody.context, recent_script="ELSA\nHello.")
    )
    assert speakers_in_play(spoken) == ("ELSA",)
    assert speakers_in_play(TaskRequest(TaskKind.CONTINUE, "", (), PromptContext())) == ()


async def test_of_two_clean_takes_the_one_keeping_to_the_people_asked_for_is_shown() -> None:
    # The model found the take in which Elsa barges in more about the scene; the room asked for
    # Mara and Tom, and a clean take of theirs is there.
    backend = ScoredBackend([ELSA_SPEAKS, OTHER], {ELSA_SPEAKS: 0.8, OTHER: 0.2})
    (take,) = await Generator(backend, best_of=2).generate(BIBLE, 1, Sampling(seed=7))
    assert take.text == OTHER
    # Asked for with Elsa in the writer's words, her take is about what they asked.
    named = dataclasses.replace(BIBLE, prompt="Tom asks for a ride; then Elsa walks in")
    backend = ScoredBackend([ELSA_SPEAKS, OTHER], {ELSA_SPEAKS: 0.8, OTHER: 0.2})
    (take,) = await Generator(backend, best_of=2).generate(named, 1, Sampling(seed=7))
    assert take.text == ELSA_SPEAKS


async def test_a_scene_of_heading_and_action_ranks_above_one_whose_newcomer_talks() -> None:
    # A scene is asked for as the corpus answers it: a heading and action. A take in which a
    # walk-on does half the talking, though the model finds it more about the scene, brings on
    # someone nobody asked for; a take in which nobody speaks brings on nobody.
    scene = TaskRequest(TaskKind.SCENE, "Tom hides in the walk-in", ("MARA", "TOM"), ROOM)
    quiet = "INT. HARBOUR DINER - NIGHT\n\nMara wipes the counter. Tom slips into the walk-in."
    talking = f"INT. HARBOUR DINER - NIGHT\n\n{NEWCOMER}"
    assert candidate(quiet, request=scene).parsed.problems == ()
    assert candidate(talking, request=scene).parsed.problems == ()
    backend = ScoredBackend([talking, quiet], {talking: 0.5, quiet: 0.2})
    (take,) = await Generator(backend, best_of=2).generate(scene, 1, Sampling(seed=7))
    assert take.text == quiet
    # A take of Mara and Tom alone still wins on relevance against the quiet one.
    kept = f"INT. HARBOUR DINER - NIGHT\n\n{OTHER}"
    backend = ScoredBackend([quiet, kept], {quiet: 0.2, kept: 0.5})
    (take,) = await Generator(backend, best_of=2).generate(scene, 1, Sampling(seed=7))
    assert take.text == kept


async def test_a_chinese_rooms_dialogue_opens_on_its_first_characters_line() -> None:
    # The small model, asked for dialogue in Chinese, wrote headings and action: every take
    # is begun with the first character's line, and scored after that same start.
    room = PromptContext(title="夜班", language="中文")
    request = TaskRequest(TaskKind.DIALOGUE, "小田发现新娘换了人", ("唐小田", "大刘"), room)
    said = [
        "唐小田：刘哥，你来看这个。\n大刘：灯光问题。",
        "唐小田：不是一个人。\n大刘：你熬糊涂了。",
    ]
    backend = ScoredBackend(said, {})
    takes = await Generator(backend, best_of=1).generate(request, 2, Sampling(seed=3))
    assert backend.started == [("draw", "唐小田：")]
    assert [t.text for t in takes] == said and not any(t.problems for t in takes)
    backend = ScoredBackend(said * 2, {})
    await Generator(backend, best_of=2).generate(request, 2, Sampling(seed=3))
    assert backend.started == [("draw", "唐小田："), ("score", "唐小田：")]


async def test_a_scene_asked_at_a_place_is_written_there_by_either_backend() -> None:
    # The writer typed the slugline first: every take opens on it, whatever the model would
    # have called the place (it never kept the place it was asked for in words).
    request = TaskRequest(TaskKind.SCENE, "int. harbour diner - night: Tom hides", (), ROOM)
    written = "Rain hammers the windows. TOM slides into the last booth."
    backend = ScoredBackend(["INT. HARBOUR DINER - NIGHT\n\n" + written], {})
    (take,) = await Generator(backend, best_of=1).generate(request, 1, Sampling(seed=5))
    assert backend.started == [("draw", "INT. HARBOUR DINER - NIGHT\n\n")]
    assert take.fountain.startswith("INT. HARBOUR DINER - NIGHT\n\n") and not take.problems

    class Remote:
        """A server's backend: it cannot carry on a begun answer, so it is told in words."""

        name, max_takes = "remote", 8
        asked: ClassVar[list[list[dict[str, str]]]] = []

        async def complete(
            self, messages: list[dict[str, str]], sampling: Sequence[Sampling], **_: object
        ) -> list[str]:
            self.asked.append(messages)
            return ["INT. HARBOUR DINER - NIGHT\n\n" + written] * len(sampling)

        async def close(self) -> None:
            return None

    remote = Remote()
    (take,) = await Generator(remote, best_of=1).generate(request, 1, Sampling(seed=5))
    ((*_, last),) = remote.asked
    assert last["role"] == "user"
    assert last["content"].endswith("exactly as it is: INT. HARBOUR DINER - NIGHT")
    assert take.fountain.startswith("INT. HARBOUR DINER - NIGHT")
    # Asked in words alone, nothing changes for a scene the writer gave no heading.
    await Generator(remote, best_of=1).generate(
        dataclasses.replace(request, prompt="Tom hides"), 1, Sampling(seed=5)
    )
    assert "scene heading, exactly" not in remote.asked[-1][-1]["content"]


async def test_candidates_the_queue_stopped_are_neither_scored_nor_shown() -> None:
    # The extras ride along with the first n: the queue stops the ones still being written
    # once n clean takes are in hand (`model.worker.Enough`), and they are left out. The n
    # clean ones left are all shown, in the order drawn: there is nothing for PMI to choose,
    # and no scoring pass is paid for.
    best = CLEAN.replace("night", "week")
    backend = ScoredBackend([CLEAN, OTHER, best, INVENTED], {best: 2.0, OTHER: 1.0}, stopped=[best])
    takes = await Generator(backend, best_of=2).generate(DIALOGUE, 2, Sampling(seed=1))
    assert [t.text for t in takes] == [CLEAN, OTHER]
    assert backend.scored == []
    # The queue was told: enough with the 2 takes asked for, if clean ones.
    (enough,) = backend.enough
    assert enough is not None and enough.takes == 2
    assert enough.usable(CLEAN) and enough.usable(OTHER)
    assert not enough.usable(LOOPING) and not enough.usable(INVENTED)


async def test_a_take_the_queue_gave_up_on_is_malformed_and_sampled_again() -> None:
    # Cut short where it was given up, a looping take may read clean (`takechecks.hopeless`).
    second_try = CLEAN.replace("night", "week")
    backend = ScoredBackend([CLEAN, OTHER], {}, again=[second_try], abandoned=[OTHER])
    takes = await Generator(backend).generate(DIALOGUE, 2, Sampling(seed=9))
    assert backend.drawn == [[9, 10], [7929]]  # the second take once more
    assert [t.text for t in takes] == [CLEAN, second_try] and takes[1].regenerated
    assert not takes[1].problems
    # Every draw let the queue give up on a take that loops as it is written.
    assert all(e is not None and e.hopeless and e.hopeless(LOOPING) for e in backend.enough)
    assert not any(e and e.hopeless and e.hopeless(CLEAN) for e in backend.enough)


async def test_the_ranking_is_the_same_for_the_same_seeds() -> None:
    texts = [OTHER, CLEAN, CLEAN.replace("night", "week"), INVENTED, LOOPING, OTHER + "\n"]
    pmi = {OTHER: 0.2, CLEAN: 0.2}

    async def shown() -> list[str]:
        generator = Generator(ScoredBackend(texts, pmi), best_of=3)
        return [t.text for t in await generator.generate(DIALOGUE, 2, Sampling(seed=1))]

    first = await shown()
    assert first == await shown()
    assert first == [OTHER, CLEAN]  # a tie keeps the order drawn; OTHER's twin is not shown


async def test_a_second_round_only_when_every_candidate_is_malformed() -> None:
    backend = ScoredBackend([INVENTED, LOOPING], {}, again=[CLEAN])
    (take,) = await Generator(backend, best_of=2).generate(DIALOGUE, 1, Sampling(seed=5))
    assert backend.drawn == [[5, 6], [7924, 7925]]  # best-of-2 again for the missing take
    assert backend.scored == []  # PMI orders clean takes only; none was
    assert take.text == CLEAN and take.regenerated and not take.problems


async def test_too_few_clean_candidates_are_made_up_by_a_second_round_of_the_missing() -> None:
    # Best-of-N off samples each malformed take once more; best-of-N does no less: one clean
    # candidate of four for two takes, so the missing one is drawn again, best of two, and only
    # it counts as sampled again.
    backend = ScoredBackend([INVENTED, CLEAN, LOOPING, INVENTED], {}, again=[OTHER])
    takes = await Generator(backend, best_of=2).generate(DIALOGUE, 2, Sampling(seed=5))
    assert backend.drawn == [[5, 6, 7, 8], [7924, 7925]]
    assert [(t.text, t.regenerated) for t in takes] == [(CLEAN, False), (OTHER, True)]
    assert not any(t.problems for t in takes)


async def test_the_second_round_is_best_of_n_too_and_ends_once_enough_are_clean() -> None:
    # Session 30: of 36 Chinese scenes shown, 8 were malformed after a second round of one
    # candidate for each missing take. Now its first candidate may be malformed and the second
    # clean: the clean one is shown.
    backend = ScoredBackend([INVENTED, LOOPING], {}, again=[LOOPING, CLEAN])
    (take,) = await Generator(backend, best_of=2).generate(DIALOGUE, 1, Sampling(seed=5))
    assert take.text == CLEAN and take.regenerated and not take.problems
    # The round ends once as many of its takes are clean as were missing.
    second = backend.enough[1]
    assert second is not None and second.takes == 1
    assert second.usable(CLEAN) and not second.usable(LOOPING)
    # A candidate it stopped unwritten is not shown.
    backend = ScoredBackend([INVENTED, LOOPING], {}, again=[CLEAN, OTHER], stopped=[OTHER])
    (take,) = await Generator(backend, best_of=2).generate(DIALOGUE, 1, Sampling(seed=5))
    assert take.text == CLEAN


async def test_best_of_one_is_todays_path() -> None:
    backend = ScoredBackend([CLEAN, OTHER], {})
    takes = await Generator(backend).generate(DIALOGUE, 2, Sampling(seed=9))
    assert backend.drawn == [[9, 10]] and backend.scored == []
    assert [t.text for t in takes] == [CLEAN, OTHER]


async def test_a_second_try_more_malformed_than_the_first_is_not_shown() -> None:
    # Best-of-N off: the second take had a speaker outside the cast; its second try looped,
    # which is worse (`ranking.severity`), so the first stays, marked as sampled again. Before,
    # the one with no more problems by count was shown: the loop.
    backend = ScoredBackend([CLEAN, INVENTED], {}, again=[LOOPING])
    takes = await Generator(backend).generate(DIALOGUE, 2, Sampling(seed=9))
    assert backend.drawn == [[9, 10], [7929]]
    assert [t.text for t in takes] == [CLEAN, INVENTED] and takes[1].regenerated
    # A second try as malformed as the first is shown: it is the one sampled last.
    backend = ScoredBackend([CLEAN, INVENTED], {}, again=[INVENTED.replace("friend", "cousin")])
    takes = await Generator(backend).generate(DIALOGUE, 2, Sampling(seed=9))
    assert takes[1].text == INVENTED.replace("friend", "cousin")


async def test_a_take_given_up_as_it_looped_is_as_malformed_as_any_loop() -> None:
    # Cut short where the queue gave up on it, its text may show no loop of its own; it is
    # still a loop (`takechecks.CUT_OFF`), so a second try with one speaker too many is shown.
    cut = "MARA\nYou can't stay here.\n\nTOM\nOne night."
    backend = ScoredBackend([CLEAN, cut], {}, again=[INVENTED], abandoned=[cut])
    takes = await Generator(backend).generate(DIALOGUE, 2, Sampling(seed=9))
    assert [t.text for t in takes] == [CLEAN, INVENTED] and takes[1].regenerated
    given_up = Candidate(cut, dataclasses.replace(parse_answer(DIALOGUE, cut), problems=(CUT_OFF,)))
    assert ranking.severity(given_up) == ranking.SEVERE


@pytest.mark.parametrize(
    ("n", "most", "drawn"), [(3, 4, 4), (2, 4, 4), (1, 4, 2), (4, 4, 5), (3, 0, 6)]
)
async def test_best_of_n_may_draw_at_most_so_many_candidates(n: int, most: int, drawn: int) -> None:
    """`most_candidates` caps best-of-N's batch (a CPU decodes four rows in its int8 kernel and
    more in bf16, `bench.best_of --capped`), never below one candidate more than the takes."""
    backend = ScoredBackend([CLEAN] * 8, {})
    generator = Generator(backend, best_of=2, most_candidates=most)
    takes = await generator.generate(DIALOGUE, n, Sampling(seed=1))
    assert len(takes) == n
    assert [len(seeds) for seeds in backend.drawn] == [drawn]
