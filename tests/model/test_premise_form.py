"""A premise is its title and its logline. The shipped model often runs on past them: it starts the
form again (a second `梗概：`, `Logline:`) or adds lines of its own (`Cast:`, `Referrer:`, a
speaker's `戴老板：…`). Session 19's readers saw it in 7 of the 9 Chinese premises shown, and the
room kept the *last* logline with the lines after it glued on. Such a premise is now malformed
(sampled again, ranked below one that stops), and the room keeps the first title and logline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.prompts import parse_answer
from model.tasks import TaskKind, TaskRequest

DATA = Path(__file__).parent / "data"


def _premise(text: str, asked: str = "drama: a diner at night") -> tuple[str, str, tuple[str, ...]]:
    parsed = parse_answer(TaskRequest(TaskKind.PREMISE, asked), text)
    return parsed.title, parsed.logline, parsed.problems


def test_a_premise_that_starts_its_form_again_keeps_its_first_logline() -> None:
    title, logline, problems = _premise("片名：夜班\n梗概：厨师撒了谎。\n梗概：被罚得强了。")
    assert (title, logline) == ("夜班", "厨师撒了谎。")
    assert problems == ("The premise goes on past its title and logline (“梗概”).",)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Title: Night Shift\nLogline: A cook lies.\nCast: Mara, Tom", "Cast"),
        ("Title: Night Shift\nLogline: A cook lies.\nTitle: Day Shift", "Title"),
        ("片名：陵带大学\n梗概：复老医生的研论部\n戴老板：这是想一个问题！", "戴老板"),
    ],
)
def test_a_line_past_the_two_is_flagged_and_left_out_of_the_logline(text: str, label: str) -> None:
    _, logline, problems = _premise(text)
    assert problems == (f"The premise goes on past its title and logline (“{label}”).",)
    assert ":" not in logline and "：" not in logline


def test_a_logline_wrapped_onto_a_second_line_is_one_logline() -> None:
    title, logline, problems = _premise(
        "Title: Night Shift\nLogline: A cook who lies for a living\nmust tell the truth once."
    )
    assert title == "Night Shift"
    assert logline == "A cook who lies for a living must tell the truth once."
    assert problems == ()


@pytest.mark.parametrize(
    ("read", "flagged"),
    [
        # Session 19's blind read: the bot's shown premises, 18 English and 9 Chinese.
        ("takes_read_s19.jsonl", {"English": 0, "Chinese": 7}),
        # The 24 premises among the 156 takes read by hand in session 11.
        ("takes_read_by_hand.jsonl", {"English": 8, "Chinese": 11}),
    ],
)
def test_the_premises_read_by_hand_that_go_on(read: str, flagged: dict[str, int]) -> None:
    rows = [json.loads(line) for line in (DATA / read).read_text(encoding="utf-8").splitlines()]
    counted = dict.fromkeys(flagged, 0)
    for row in rows:
        if row["kind"] == "premise":
            _, _, problems = _premise(row["take"], row.get("prompt", "drama: a cook lies"))
            counted[row["language"]] += any("goes on past" in p for p in problems)
    assert counted == flagged


def test_a_logline_that_only_repeats_the_idea_is_an_echo() -> None:
    # Seen in a console session (session 20): the idea, genre and all, as the logline.
    asked = "wuxia: an old escort master takes one last job in 1911"
    _, _, problems = _premise(
        "Title: The Return of the Thief\n"
        "Logline: Wuxia: an old escort master takes one last job in 1911.",
        asked,
    )
    assert problems == (
        "The logline only repeats the idea it was asked for (“Wuxia: an old escort master "
        "takes one last job in 1911.”).",
    )
    _, _, problems = _premise(
        "片名：最后一镖\n梗概：老镖师接下最后一趟镖。", "武侠：老镖师接下最后一趟镖"
    )
    assert problems == (
        "The logline only repeats the idea it was asked for (“老镖师接下最后一趟镖。”).",
    )
    # A logline that grows the idea into who wants what is a logline.
    _, _, problems = _premise(
        "Title: The Last Escort\nLogline: An old escort master takes one last job in 1911 and "
        "must choose between his oath and his son.",
        asked,
    )
    assert problems == ()


@pytest.mark.parametrize(
    ("title", "word", "times"),
    [
        ("The Lighthouse Lighthouse Lighthouse Lighthouse", "Lighthouse", 4),  # session 27
        ("night night NIGHT", "night", 3),
        ("夜看看看", "看", 3),
    ],
)
def test_a_title_stuck_on_one_word_is_malformed(title: str, word: str, times: int) -> None:
    """A word three times back to back with only spaces between (or a Chinese character three
    times) is a title on repeat, which `find_loop` lets through (ten of a word in a take)."""
    _, _, problems = _premise(f"Title: {title}\nLogline: A keeper finds a stranger asleep.")
    assert problems == (f"The take writes “{word}” {times} times in a row.",)


@pytest.mark.parametrize(
    "title",
    [
        "Tora! Tora! Tora!",
        "It's a Mad, Mad, Mad, Mad World",
        "Bye Bye Birdie",
        "步步惊心",
        "New York, New York",
    ],
)
def test_titles_that_repeat_a_word_as_titles_do_are_titles(title: str) -> None:
    _, _, problems = _premise(f"Title: {title}\nLogline: A keeper finds a stranger asleep.")
    assert problems == ()


def test_a_hostile_title_costs_time_linear_in_its_length() -> None:
    import time

    def timed(words: int) -> float:
        text = "Title: " + "Ab Cd " * words + "\nLogline: A cook lies."
        started = time.perf_counter()
        _premise(text)
        return time.perf_counter() - started

    small, large = timed(2_000), timed(20_000)
    assert large < 30 * max(small, 1e-3)  # ten times the words: not a hundred times the time


@pytest.mark.parametrize(
    ("language", "prompt_format", "start"),
    [
        ("English", 2, "Title:"),
        ("中文", 2, "片名："),
        ("Chinese", 1, "Title:"),
        ("French", 2, "Title:"),
    ],
)
def test_a_premise_is_begun_on_its_title_label(
    language: str, prompt_format: int, start: str
) -> None:
    """Every premise of the corpus opens on its title's label; first sampled, the shipped model
    wrote 5 of 18 English premises as a description of a place instead (session 28). A room
    asked in the format the model learned (1: English labels for every room) opens on it."""
    from model.prompts import answer_start
    from model.tasks import PromptContext

    request = TaskRequest(
        TaskKind.PREMISE, "a diner at night", context=PromptContext(language=language)
    )
    assert answer_start(request, prompt_format) == start
    # The begun take reads as the premise it is.
    label = "Logline" if start.startswith("Title") else "梗概"
    parsed = _premise(f"{start} Night Shift\n{label}: A cook lies.")
    assert parsed == ("Night Shift", "A cook lies.", ())
    # A character sheet is left free: its first line is the name the model gives.
    assert answer_start(TaskRequest(TaskKind.CHARACTER, "a cook", context=request.context)) == ""


@pytest.mark.parametrize(
    ("text", "ended"),
    [
        ("Title: Night Shift\nLogline: A cook lies.\n", True),
        ("Logline: A cook lies.\nTitle: Night Shift\n", True),  # either order
        ("片名：夜班\n梗概：厨师撒了谎。\n", True),
        ('**Title:** "Night Shift" (2013)\n\nLogline: A cook lies.\n', True),
        ("Title: Night Shift\nLogline: A cook lies.", False),  # its line not ended yet
        ("Title: Night Shift\n", False),
        ("Title: Night Shift\nLogline:\n", False),  # a label with nothing after it yet
        ('Title: ""\nLogline: A cook lies.\n', False),  # no title once its marks are off
        ("Title: Night Shift\nCast: Mara\nLogline: A cook lies.\n", False),  # gone past
        ("A diner at night. Rain.\n", False),
        ("", False),
    ],
)
def test_a_premise_ends_where_its_logline_line_does(text: str, ended: bool) -> None:
    from model.prompts import answer_ended

    assert answer_ended(TaskRequest(TaskKind.PREMISE, "a diner"), text) is ended
    for kind in (TaskKind.CHARACTER, TaskKind.BEAT, TaskKind.SCENE):
        assert answer_ended(TaskRequest(kind, "a diner"), text) is False


@pytest.mark.parametrize(
    ("read", "went_on", "would_end"),
    [("takes_read_s19.jsonl", 7, 7), ("takes_read_by_hand.jsonl", 19, 18)],
)
def test_the_premises_read_by_hand_end_before_they_go_on(
    read: str, went_on: int, would_end: int
) -> None:
    """Each premise read by hand that went on past its two lines, written again under
    `answer_ended`, ends at its logline's line: its title and first logline, nothing past."""
    from model.prompts import answer_ended

    rows = [json.loads(line) for line in (DATA / read).read_text(encoding="utf-8").splitlines()]
    counted = [0, 0]
    for row in rows:
        if row["kind"] != "premise":
            continue
        request = TaskRequest(TaskKind.PREMISE, row.get("prompt", "drama: a cook lies"))
        title, logline, problems = _premise(row["take"], request.prompt)
        if not any("goes on past" in p for p in problems):
            continue
        counted[0] += 1
        cuts = [i + 1 for i, c in enumerate(row["take"]) if c == "\n"]
        cut = next((i for i in cuts if answer_ended(request, row["take"][:i])), None)
        if cut is None:  # `Film concept: …`: no title line, no logline; it never was a premise
            continue
        counted[1] += 1
        shorter = _premise(row["take"][:cut], request.prompt)
        assert shorter[:2] == (title, logline)
        assert not any("goes on past" in p for p in shorter[2])
    assert counted == [went_on, would_end]
