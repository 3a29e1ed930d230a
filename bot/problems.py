"""A take's problems in the reader's language.

The model side (`screenplay.lint`, `model.takechecks`, `model.prompts`) writes what is wrong with
a take as English sentences, and the room stores them so (`Take.problems`). This module reads
each stored sentence back into the catalogue message it was worded as (`bot.messages.recognise`),
lint's "line N: …" around it included, so that the ballot, a refused vote and the console word it
in their reader's language. It knows those sentences only through the English catalogue; one it
does not recognise (worded by another version of the model side) is shown as stored. It does not
know where a problem is shown.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import Message, recognise

#: Every problem sentence the model side writes, by its catalogue key. Keys whose English opens
#: with a field (a name) come last, so that a sentence with fixed opening words is tried first.
PROBLEM_KEYS: tuple[str, ...] = (
    # screenplay.lint
    "problem.cue_no_name",
    "problem.dialogue_no_cue",
    "problem.parenthetical_no_cue",
    "problem.parenthetical_unwrapped",
    "problem.dialogue_opens",
    "problem.dialogue_closes",
    "problem.action_opens",
    "problem.action_closes",
    "problem.parenthetical_opens",
    "problem.parenthetical_closes",
    "problem.heading_empty",
    "problem.heading_no_place",
    "problem.heading_no_place_apostrophe",
    "problem.heading_no_time",
    "problem.heading_no_time_apostrophe",
    "problem.zh_heading_no_time",
    "problem.zh_heading_no_place",
    "problem.zh_heading_runs_on",
    "problem.scene_empty",
    "problem.scene_empty_at_end",
    "problem.unheaded_scene_empty",
    "problem.unheaded_scene_empty_at_end",
    # model.prompts
    "problem.no_screenplay_text",
    "problem.no_speaker",
    "problem.no_heading",
    "problem.sheet_no_fields",
    "problem.sheet_no_name",
    "problem.sheet_empty",
    "problem.sheet_age_asked",
    "problem.sheet_ages",
    "problem.premise_no_logline",
    "problem.premise_no_title",
    "problem.premise_goes_on",
    "problem.beat_empty",
    "problem.beat_is_heading",
    "problem.beat_is_description",
    "problem.template_echo",
    # model.takechecks
    "problem.broken_character",
    "problem.repeats_line",
    "problem.repeats_paragraph",
    "problem.circles",
    "problem.held_character",
    "problem.writes_in_a_row",
    "problem.writes_line_in_a_row",
    "problem.short_lines",
    "problem.few_words",
    "problem.line_again",
    "problem.sentence_again",
    "problem.sentence_times",
    "problem.same_phrases",
    "problem.coming_back",
    "problem.leans_on_character",
    "problem.cut_off",
    "problem.same_opening",
    "problem.example_place",
    "problem.request_echo",
    "problem.title_echo",
    "problem.logline_echo",
    "problem.prompt_label",
    # screenplay.lint, opening with the speaker's or character's name
    "problem.cue_no_dialogue",
    "problem.not_on_scene_cast",
    "problem.not_in_cast",
    "problem.not_in_cast_did_you_mean",
)
#: Lint's problems carry the line they are on (`screenplay.lint.Problem.__str__`).
_AT_LINE = ("problem.at_line",)


def problem_message(said: str) -> Message | str:
    """A stored problem as the message it was worded as, or `said` itself when it is none of
    them (a "line N: …" whose sentence is unknown too: half a translation reads worse)."""
    at_line = recognise(said, _AT_LINE)
    if at_line is not None and isinstance(at_line.fields["line"], int):
        problem = recognise(str(at_line.fields["problem"]), PROBLEM_KEYS)
        if problem is None:
            return said
        return Message(at_line.key, {"line": at_line.fields["line"], "problem": problem})
    return recognise(said, PROBLEM_KEYS) or said


def problem_messages(problems: Sequence[str]) -> list[Message | str]:
    """Each stored problem as `problem_message` reads it."""
    return [problem_message(said) for said in problems]


def problem_list(problems: Sequence[str]) -> Message | str:
    """A take's problems as one text a message takes as a field, each in the reader's language
    and joined the language's way ("…; …" in English, "…；…" in Chinese)."""
    return _joined(problem_messages(problems))


def _joined(worded: Sequence[Message | str]) -> Message | str:
    # Halves, not one after another: a take with hundreds of problems nests only a few deep.
    if len(worded) <= 1:
        return worded[0] if worded else ""
    half = len(worded) // 2
    return Message("problem.and", {"first": _joined(worded[:half]), "rest": _joined(worded[half:])})
