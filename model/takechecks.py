"""Checks on a take's text that need no prompt: the loops of a degenerate take (a word, a
phrase, a line or a character repeated, runs of one-word lines), a broken character (U+FFFD),
and a beat that is a scene heading or a bare description instead of something that happens.

Every check reads the text once (or once per fixed period), so a take of any length is judged in
time linear in its length; no regular expression here can backtrack. Knows text; nothing of
prompts, the screenplay library or torch.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

NOT_A_BEAT = "The beat is {} (“{}”), not something that happens."
#: A scene heading, in English (`INT. DINER - NIGHT`, `EXT/INT`, `I/E`) or Chinese (`内景 茶馆 夜`).
HEADING = re.compile(r"(?:int|ext|est|i/e)(?:\.|/|\s|$)|[内內外]景|场景\s*[:：]", re.I)
#: Words that make a sentence say that something happens: auxiliaries and the verbs of plot
#: (a plural subject takes them bare: "the police arrive"); words ending in -s, -ed, -ing or
#: -en count as verbs too, so a description is only a phrase that has none of these.
_PLOT_VERBS = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "must",
        "should",
        "may",
        "might",
        "shall",
        "arrive",
        "leave",
        "fight",
        "meet",
        "find",
        "learn",
        "discover",
        "realize",
        "realise",
        "decide",
        "try",
        "run",
        "flee",
        "escape",
        "die",
        "return",
        "steal",
        "lie",
        "kill",
        "reveal",
        "confess",
        "betray",
        "lose",
        "win",
        "break",
        "turn",
        "refuse",
        "agree",
        "hide",
        "catch",
        "show",
        "tell",
        "say",
        "ask",
        "see",
        "know",
        "want",
        "need",
        "get",
        "go",
        "come",
        "take",
        "make",
        "give",
        "fall",
        "begin",
        "start",
        "stop",
        "walk",
        "open",
        "close",
        "call",
        "follow",
        "wait",
        "stay",
        "help",
        "save",
        "attack",
        "kiss",
        "love",
        "hate",
        "burn",
        "let",
        "put",
        "set",
        "keep",
        "hold",
        "bring",
        "buy",
        "sell",
        "pay",
        "send",
        "throw",
        "shoot",
        "hit",
        "cut",
        "sit",
        "stand",
        "rise",
        "move",
        "become",
        "seem",
        "feel",
        "think",
        "plan",
        "admit",
        "threaten",
    ]
)
_DETERMINERS = frozenset(
    ["a", "an", "the", "this", "that", "these", "those", "some", "another", "one", "two", "three"]
)


def bare_description(beat: str) -> bool:
    """A beat that only describes (“A dimly lit diner at midnight.”): a short phrase that opens
    with an article and has no verb in it. English only, and deliberately narrow: a beat that
    might be a development is kept."""
    words = [w.lower() for w in re.findall(r"[A-Za-z']+", beat)]
    if not words or len(words) > 10 or words[0] not in _DETERMINERS:
        return False
    if re.search(f"[{CJK}]", beat):
        return False
    return not any(
        w in _PLOT_VERBS or (len(w) > 3 and w.endswith(("s", "ed", "ing", "en", "n't")))
        for w in words
    )


def broken_character(text: str) -> str | None:
    if "\ufffd" in text:
        return "The take has a broken character (�) in it."
    return None


# --- loops -----------------------------------------------------------------------------------
#
# Every check below reads the text once (or once per fixed period), so a take of any length is
# judged in time linear in its length; no regular expression here can backtrack.

#: Scripts that write words without spaces; each character counts as a word of its own.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
#: Words as the repeated lines and phrases count them (a run of Chinese is one word: a name of
#: four characters said four times is a scene, not a loop).
_WORD = re.compile(r"\w+(?:'\w+)?")
#: Words as runs count them: there each Chinese character is a word (窗窗窗窗…).
_CHARACTER_WORD = re.compile(rf"[{CJK}]|[^\W{CJK}]+(?:'[^\W{CJK}]+)?")
#: One CJK character (a Chinese character, kana or hangul).
ONE_CJK = re.compile(rf"[{CJK}]")


def mention_at(text: str, name: str, *, parts: bool = False) -> int:
    """Where `text` first names `name`, case aside: as a whole word (`TOM` in `Tom's` and in
    `TOM走进来`, not in `Tomas`), or anywhere for a name in a script that writes no spaces
    between words (`老周`); with `parts`, each word of three letters or more of a longer name
    names it too (`Pilar` or `Marplotto` for PILAR MARPLOTTO), but not a title (`Dr.` is not
    DR. AINSWORTH); -1 where it does not, or for a blank name."""
    name = name.strip()
    words = [name, *(w for w in name.split() if _names_alone(w, name))] if parts else [name]
    spans = (mention_pattern(w).search(text) for w in words if w)
    return min((span.start() for span in spans if span), default=-1)


def mention_pattern(name: str) -> re.Pattern[str]:
    """What names `name` in a text (see `mention_at`): the name, case aside, as a whole word,
    or anywhere for a name with a CJK character."""
    if ONE_CJK.search(name):
        return re.compile(re.escape(name), re.IGNORECASE)
    return re.compile(rf"(?i)(?<![^\W{CJK}]){re.escape(name)}(?![^\W{CJK}])")


#: Words of a name that say what someone is, not who (`Mrs` alone does not name MRS ALDER);
#: shorter ones (`Dr`, `Mr`) and those with a full stop (`Dr.`) are never a part on their own.
_TITLES = frozenset({"mrs", "miss", "sir", "madam", "prof", "rev", "mme"})


def _names_alone(word: str, name: str) -> bool:
    """Whether one word of a longer name names its bearer on its own."""
    return (
        word != name and len(word) > 2 and not word.endswith(".") and word.casefold() not in _TITLES
    )


#: How many times in a row a group of `period` words may be written before it is a loop. One
#: word: "No. No. No.", "ha ha ha ha", 哈哈哈哈 and a knock knock knock are writing; ten of the
#: same word are not. Two words ("come on, come on, come on") five times; a longer phrase four
#: times ("a gentle rain" four times is already a take stuck on repeat).
_RUN_TIMES = {1: 10, 2: 5}
_PHRASE_RUN_TIMES = 4
#: A Chinese phrase of `_CJK_PHRASE` characters or more (about three words) written
#: `_CJK_PHRASE_TIMES` times in a row, punctuation aside: the corpus's Chinese scripts write
#: a phrase of three to eight characters twice in a row at most (箱子是死的箱子是死的), a word of
#: two three times (朋友，朋友，朋友); a take went 跑着石满仓，跑着石满仓，跑着石满仓 (session
#: 17's blind read), which the runs of words above let through.
_CJK_PHRASE = 5
_CJK_PHRASE_TIMES = 3
_LONGEST_PHRASE = 8
#: A letter held this long ("aaaa…") is a stuck take, not a scream: "Noooooooo!" holds its o
#: ten times.
_HELD_CHARACTER = 20
#: A Chinese character held this long (窗窗窗窗窗), unless it writes a sound (`_SOUNDS`, held
#: as long as a letter: 门上嗒嗒嗒嗒嗒嗒地响): the corpus's 90 scripts hold a word four times at
#: most (谢谢谢谢), a sound three (嘀嘀嘀, 咚咚咚); session 28's read of 207 takes found
#: 锅灭灭灭灭灭 let through at twenty.
_HELD_CJK = 5
#: Characters that write a sound or a cry (拟声词, 叹词), which a script may hold like "Noooo".
_SOUNDS = frozenset(
    "哈呵嘿嘻啊哎唉呀哇喔哦噢嗯嘀嗒哒咚砰轰叮当咣嘭哗呼嘘啪咔嚓喵汪嘟滴答嘎吱咯噔呜哼咳呸喂嗨嗷嗡"
    "咕噜扑通隆咻嗖噼啦叭喳嘶唰刷咩哞嘤呦哟喽嘛呢吧"
)
#: The same line this many times in a row (blank lines aside) is a loop, however short.
_SAME_LINE_RUN = 4
#: Lines of at most two words in a row: within one paragraph a cue, a wryly and a word of
#: speech make three; across paragraphs twelve one-word exchanges (cue, reply) make 24, more
#: than the quickest back-and-forth of the corpus.
_SHORT_LINE_WORDS = 2
_SHORT_LINES_IN_A_PARAGRAPH = 8
_SHORT_LINES_IN_A_ROW = 24
#: Any `_WINDOW` words in a row (a Chinese character is a word) use at least `_FEWEST_DISTINCT`
#: different ones. The corpus's most repetitive writing ("点亮了一下灭了又亮了一下灭了又亮了一下",
#: a chant of "there was an inquiry") keeps 10 in 24; a take circling among a few characters in
#: no fixed order (温叔平温叔平姑着温叔平着…, 灉灉主憨灉灉偏…) keeps 8 or fewer, and no run
#: or phrase check sees it.
_WINDOW = 24
_FEWEST_DISTINCT = 9
#: Any `_SPAN` words in a row (cues left out) keep at least `_FEWEST_DISTINCT_TRIGRAMS` of their
#: three-word sequences distinct, and where at least half of them are Chinese characters no one
#: character makes more than `_MOST_OF_ONE` of them. Every 48-word stretch of the corpus's 90
#: scripts keeps 0.80 or more distinct (its most repetitive, a chant: "光点亮了一下，灭了。又亮了
#: 一下，灭了。又亮了一下") and 0.17 or less of one character (嗒嗒嗒嗒嗒嗒嗒嗒); of 156 takes
#: of the shipped adapter read by hand, ten that a reader called loops and the checks above let
#: through reached 0.48-0.76 distinct (唐小田做贺屿贴子小塔，唐小田做贺屿贴…) or 0.21-0.25 of one
#: character (火灎灎灎鞋骆九川灎骆九川灎…), and none of those the reader passed did.
_SPAN = 48
_FEWEST_DISTINCT_TRIGRAMS = 0.78
_MOST_OF_ONE = 0.2
#: Nor does one three-word sequence (of more than one word) come back this many times in a
#: stretch of `_SPAN` words: the corpus's 90 scripts reach four ("一个字", "the engine room", "he
#: told me"); takes that went round a name among gibberish reach five and more (姐唐小田小姐，小声
#: 声唏唐小田。…唏唐小田。他嘴唏唐小田小儿嘴唏唐小田), as they keep enough else distinct for the
#: checks above.
_PHRASE_IN_SPAN = 5
#: A line of this many words or more written again straight after itself (the second copy may
#: be cut short by the token budget): no two lines of the corpus's 90 scripts do it.
_LINE_AGAIN_WORDS = 4
#: A Chinese sentence (to 。！？；… or the line's end, its speaker left out) of this many
#: characters or more written twice in a row, or of `_SENTENCE_THRICE` or more three times
#: anywhere: the corpus's scripts repeat a sentence of five in a row (不作数就好。不作数就好。)
#: and one of three thrice (a name called); a take went 从城墙满着三楼队队灯灲妆。从城墙满着三楼
#: 队队灯灲妆。, which the word and stretch checks let through.
_SENTENCE_AGAIN = 7
_SENTENCE_THRICE = 6
_SENTENCE_END = re.compile(r"[。！？!?；;…]+")
#: Lines (cues aside) that open on the same `_OPENING_WORDS` words, numbers aside, this many
#: times: no scene of the corpus's 90 scripts opens more than two of its lines alike; a take
#: the shipped adapter showed introduced the same man three times, a decade older each time
#: (`DRICK BRENNAN (30s), the chief of security, …`: session 19's blind read).
_OPENING_WORDS = 4
_SAME_OPENINGS = 3


def find_loop(text: str) -> str | None:
    """A sentence naming how `text` repeats itself, or None when it does not loop.

    Any one sign is enough: a word or a phrase of up to eight words written again and again in
    a row (`_RUN_TIMES`); one letter held twenty times, a Chinese character five (a sound
    twenty); the same line four times in a row;
    a run of very short lines (one-word lines that go on and on); a line of three or more words
    written three times or more anywhere; a paragraph of six or more words written twice; or a
    phrase on repeat across the take (a four-word sequence four times or more, or fewer than
    half the four-word sequences distinct); a line begun again straight after itself; a
    stretch of 24 words that circles among fewer than nine (a Chinese character counts as a
    word); or a stretch of 48 words going round the same three-word sequences (too few of them
    distinct, or one of them five times) or leaning on one Chinese character; or a Chinese
    sentence of seven characters or more written twice in a row, or of six or more three times;
    or three lines that open on the same four words. Cues come back with every speech and short
    replies ("Yes.") legitimately repeat: neither counts as a repeated line.
    """
    all_lines = [" ".join(line.split()) for line in text.splitlines()]
    words = [w.lower() for w in _CHARACTER_WORD.findall(text)]
    return (
        _repeated_text(all_lines)
        or _held_character(text)
        or _repeated_run(words)
        or _same_line_run(all_lines)
        or _short_line_run(all_lines)
        or _line_again(all_lines)
        or _few_distinct(spoken := _spoken_words(all_lines))
        or _circling(spoken)
        or _sentence_again(all_lines)
        or _same_opening(all_lines)
    )


#: Why a take the queue gave up on as it was written is malformed, when its whole text, cut
#: short there, shows no loop of its own (`hopeless` read only its latest stretch).
CUT_OFF = "The take went round in circles and was cut off."


def hopeless(latest: str) -> str | None:
    """Why a take still being written is malformed whatever follows, or None: a loop
    (`find_loop`) or a broken character in its finished lines, or a loop within a line on its
    own. `latest` is the take's latest stretch (the queue reads its last tokens, so that a long
    take costs no more to read than a short one): its first line may be cut off at its start,
    and a character cut in two there is no fault; its last line is still being written. The
    first and the last line are read apart from the lines between, because a line cut off where
    it stands may be the start of the line above it (`_line_again`'s "begun again and cut off")
    though the model was about to finish it otherwise. A loop that goes on fills the stretch;
    one the take left behind is the whole take's parse's to find."""
    first, _, rest = latest.partition("\n")
    first = first.lstrip("\ufffd")
    if not rest:
        return find_loop(first)
    finished, _, writing = rest.rpartition("\n")
    return (
        find_loop(finished)
        or broken_character(finished)
        or find_loop(writing)
        or find_loop(first)
        or broken_character(first)
    )


def _repeated_text(all_lines: list[str]) -> str | None:
    """A line, a paragraph or a four-word phrase that comes back across the take (not
    necessarily in a row)."""
    # Cues (`MR. PIKE (V.O.)`) come back every other speech; they are not the model looping.
    lines = [line for line in all_lines if not _looks_like_cue(line)]
    counted = Counter(line.lower() for line in lines if len(_WORD.findall(line)) >= 3)
    for line, times in counted.most_common(1):
        if times >= 3:
            return f"The take repeats the line “{clip(line)}” {times} times."
    counted = Counter(p.lower() for p in paragraphs(lines) if len(_WORD.findall(p)) >= 6)
    for paragraph, times in counted.most_common(1):
        if times >= 2:
            return f"The take repeats a paragraph {times} times (“{clip(paragraph)}”)."
    words = [w.lower() for w in _WORD.findall("\n".join(lines))]
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    if grams:
        gram, times = Counter(grams).most_common(1)[0]
        if times >= 4 or (len(grams) >= 12 and len(set(grams)) < len(grams) / 2):
            return f"The take goes round in circles (“{' '.join(gram)}” {times} times)."
    return None


def _held_character(text: str) -> str | None:
    run, last = 0, ""
    for char in text:
        run = run + 1 if char == last else 1
        last = char
        if not char.isalnum():
            continue
        cjk_word = run >= _HELD_CJK and ONE_CJK.match(char) and char not in _SOUNDS
        if run >= _HELD_CHARACTER or cjk_word:
            return f"The take holds one character on repeat (“{char * 5}…”)."
    return None


def _repeated_run(words: list[str]) -> str | None:
    """A word or phrase written many times in a row: for each phrase length (period), how long
    the words go on equal to the words one period back."""
    for period in range(1, _LONGEST_PHRASE + 1):
        needed = _RUN_TIMES.get(period, _PHRASE_RUN_TIMES)
        matched = 0
        for i in range(period, len(words)):
            matched = matched + 1 if words[i] == words[i - period] else 0
            times = matched // period + 1
            if times >= needed or (
                times >= _CJK_PHRASE_TIMES
                and period >= _CJK_PHRASE
                and all(_is_cjk(word) for word in words[i - period + 1 : i + 1])
            ):
                phrase = _joined(words[i - period + 1 : i + 1])
                return f"The take writes “{clip(phrase)}” {times} times in a row."
    return None


#: A title names its story in a few words: a word three times back to back with nothing but
#: spaces between ("The Lighthouse Lighthouse Lighthouse Lighthouse", a console take of session
#: 27) or a Chinese character three times (夜看看看) is a title stuck on repeat. A word repeated
#: with its punctuation ("Tora! Tora! Tora!", "It's a Mad, Mad, Mad, Mad World") or twice
#: ("Bye Bye Birdie", 步步惊心) is a title.
_TITLE_RUN = 3
_TITLE_TOKEN = re.compile(rf"[{CJK}]|[^\W{CJK}]+|[^\w\s]+")


def title_stutter(title: str) -> str | None:
    """A sentence naming the word a premise's `title` writes three or more times in a row
    (`_TITLE_RUN`), worded as `find_loop`'s runs are; else None. Linear in the title's length."""
    runs: list[tuple[str, int]] = []  # (the word as first written, times in a row)
    last = ""
    for token in _TITLE_TOKEN.findall(title):
        word = token.casefold() if token[0].isalnum() or token[0] == "_" else ""
        if word and word == last:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((token, 1))
        last = word
    stuck = [(word, times) for word, times in runs if times >= _TITLE_RUN]
    if not stuck:
        return None
    word, times = stuck[0]
    return f"The take writes “{clip(word)}” {times} times in a row."


def _same_line_run(lines: list[str]) -> str | None:
    run, last = 0, ""
    for line in (line for line in lines if line):
        run = run + 1 if line.lower() == last else 1
        last = line.lower()
        if run >= _SAME_LINE_RUN:
            return f"The take writes the line “{clip(line)}” {run} times in a row."
    return None


def _short_line_run(lines: list[str]) -> str | None:
    in_paragraph = in_a_row = 0
    for line in lines:
        if not line:
            in_paragraph = 0
            continue
        short = len(_CHARACTER_WORD.findall(line)) <= _SHORT_LINE_WORDS
        in_paragraph = in_paragraph + 1 if short else 0
        in_a_row = in_a_row + 1 if short else 0
        if in_paragraph >= _SHORT_LINES_IN_A_PARAGRAPH or in_a_row >= _SHORT_LINES_IN_A_ROW:
            return f"The take runs on in lines of a word or two ({in_a_row} in a row)."
    return None


#: The speaker of a Chinese-convention speech (`陈伯：…`, `小梅（画外音）:`), at a line's start.
_ZH_SPEAKER = re.compile(rf"^[{CJK}A-Za-z·]{{1,8}}(?:[（(][^）)]{{0,12}}[）)])?[：:]")


def _spoken_words(lines: list[str]) -> list[str]:
    """The words of `lines` without their cues: a quick exchange names its speakers every
    other line, and those names are not the take going round."""
    kept = (_ZH_SPEAKER.sub("", line) for line in lines if not _looks_like_cue(line))
    return [w.lower() for w in _CHARACTER_WORD.findall("\n".join(kept))]


def _few_distinct(words: list[str]) -> str | None:
    """A stretch of `_WINDOW` words that uses fewer than `_FEWEST_DISTINCT` different ones: one
    pass with a sliding count."""
    if len(words) < _WINDOW:
        return None
    window = Counter(words[:_WINDOW])
    for start in range(len(words) - _WINDOW + 1):
        if len(window) < _FEWEST_DISTINCT:
            stretch = _joined(words[start : start + _WINDOW])
            return f"The take circles among {len(window)} words (“{clip(stretch, 30)}”)."
        if start + _WINDOW < len(words):
            window[words[start + _WINDOW]] += 1
            window[words[start]] -= 1
            if not window[words[start]]:
                del window[words[start]]
    return None


def _line_again(lines: list[str]) -> str | None:
    """A line of `_LINE_AGAIN_WORDS` words or more written again straight after itself, blank
    lines aside, or begun again and cut off (a cue of four words is a line like any other)."""
    previous = ""
    for line in (line for line in lines if line):
        again = previous.lower().startswith(line.lower())
        if again and len(_CHARACTER_WORD.findall(line)) >= _LINE_AGAIN_WORDS:
            return f"The take writes the line “{clip(previous)}” again straight after it."
        previous = line
    return None


def _sentence_again(lines: list[str]) -> str | None:
    """A Chinese sentence written again straight after itself, or thrice anywhere (as written,
    spaces and speakers aside; its length counted in Chinese characters)."""
    sentences = [
        (written, len(ONE_CJK.findall(written)))
        for line in lines
        if not _looks_like_cue(line)
        for sentence in _SENTENCE_END.split(_ZH_SPEAKER.sub("", line))
        if (written := "".join(sentence.split()))
    ]
    previous = ""
    for sentence, characters in sentences:
        if sentence == previous and characters >= _SENTENCE_AGAIN:
            return f"The take writes the sentence “{clip(sentence)}” again straight after it."
        previous = sentence
    counted = Counter(s for s, characters in sentences if characters >= _SENTENCE_THRICE)
    for sentence, times in counted.most_common(1):
        if times >= 3:
            return f"The take writes the sentence “{clip(sentence)}” {times} times."
    return None


def _same_opening(lines: list[str]) -> str | None:
    """`_SAME_OPENINGS` lines (cues aside) whose first `_OPENING_WORDS` words are the same, a
    number counting as any number (`(30s)`, `(40s)`), and that go on past them."""
    seen: Counter[tuple[str, ...]] = Counter()
    for line in lines:
        if not line or _looks_like_cue(line):
            continue
        words = [_DIGITS.sub("#", word.lower()) for word in _WORD.findall(line)]
        if len(words) <= _OPENING_WORDS:
            continue
        opening = tuple(words[:_OPENING_WORDS])
        seen[opening] += 1
        if seen[opening] >= _SAME_OPENINGS:
            said = clip(" ".join(opening))
            return f"The take begins {seen[opening]} lines the same way (“{said}…”)."
    return None


_DIGITS = re.compile(r"\d+")


def _circling(words: list[str]) -> str | None:
    """A stretch of `_SPAN` words whose three-word sequences are too few distinct, or one of
    which comes back too often, or (mostly Chinese) one character of which is too much of it:
    one pass with sliding counts."""
    if len(words) < _SPAN:
        return None
    chinese = [_is_cjk(word) for word in words]
    grams = [(words[i], words[i + 1], words[i + 2]) for i in range(len(words) - 2)]
    in_span = _SPAN - 2  # three-word sequences in a stretch
    distinct = Counter(grams[:in_span])
    characters = Counter(w for w, c in zip(words[:_SPAN], chinese, strict=False) if c)
    for start in range(len(words) - _SPAN + 1):
        if len(distinct) < _FEWEST_DISTINCT_TRIGRAMS * in_span:
            stretch = _joined(words[start : start + _SPAN])
            return f"The take goes round the same phrases (“{clip(stretch, 30)}”)."
        gram, times = max(distinct.items(), key=_times_of_a_phrase)
        if len(set(gram)) > 1 and times >= _PHRASE_IN_SPAN:
            return (
                f"The take keeps coming back to “{_joined(gram)}” ({times} times in {_SPAN} words)."
            )
        if 2 * characters.total() >= _SPAN:
            character, times = characters.most_common(1)[0]
            if times > _MOST_OF_ONE * _SPAN:
                return f"The take leans on one character (“{character}” {times} times in {_SPAN})."
        end = start + _SPAN
        if end < len(words):
            _slide(distinct, grams[start], grams[end - 2])
            if chinese[start]:
                _slide(characters, words[start], None)
            if chinese[end]:
                _slide(characters, None, words[end])
    return None


def _times_of_a_phrase(item: tuple[tuple[str, ...], int]) -> int:
    """How many times a three-word sequence is counted, 0 for one word three times (a run,
    which the run checks judge: 嗒嗒嗒 is a knock)."""
    gram, times = item
    return times if len(set(gram)) > 1 else 0


def _slide(counts: Counter[Any], leaving: Any, entering: Any) -> None:
    """Count `entering` in and `leaving` out (either None: nothing)."""
    if entering is not None:
        counts[entering] += 1
    if leaving is not None:
        counts[leaving] -= 1
        if not counts[leaving]:
            del counts[leaving]


def _is_cjk(word: str) -> bool:
    return len(word) == 1 and bool(ONE_CJK.fullmatch(word))


def paragraphs(lines: list[str]) -> list[str]:
    """The paragraphs of `lines` (blank lines between), each as one line."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [" ".join(p) for p in paragraphs if p]


def _joined(words: Sequence[str]) -> str:
    """Words as written: spaced, except characters of the scripts written without spaces."""
    text = ""
    for word in words:
        cjk = bool(re.fullmatch(f"[{CJK}]", word))
        text += word if cjk and (not text or re.fullmatch(f"[{CJK}]", text[-1])) else f" {word}"
    return text.strip()


def _looks_like_cue(line: str) -> bool:
    if line.startswith("@"):  # a forced cue, e.g. a Chinese name
        return True
    name = without_parentheses(line).removesuffix("^").strip()
    return name == name.upper() and any(c.isupper() for c in name)


def without_parentheses(line: str) -> str:
    """`line` without its (parenthesised) parts, read in one pass."""
    kept, depth = [], 0
    for char in line:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            kept.append(char)
    return "".join(kept)


# --- copies of the request ----------------------------------------------------------------------

#: A take copies its request back when it repeats this many words of it in a row (a Chinese
#: character counts as a word), or, where the copied words are mostly Latin, `COPIED_WORDS`.
#: The corpus's answers copy their prompts (a character sheet's description, a situation) for at
#: most 22 English words and 29 Chinese characters in a row; takes that wrote the request's
#: character description out again word for word (唐小田（27岁），齐刘海，黑色卫衣袖子上沾着
#: 蛋糕奶油，耳机挂在脖子上，眼睛熬得通红。屏幕上是化妆间的素材…) copy 50 and more.
COPIED_CHARACTERS = 31
COPIED_WORDS = 24


def copied_run(text: str, source: str) -> str | None:
    """The first stretch of `text` that repeats `source` word for word (casefolded) for
    `COPIED_WORDS` words of Latin script or `COPIED_CHARACTERS` words in all (clipped for a
    message), or None. Each
    stretch of either length is looked up in a set of the source's: linear in both lengths."""
    words = [w.casefold() for w in _CHARACTER_WORD.findall(text)]
    if len(words) < COPIED_WORDS:
        return None
    known = [w.casefold() for w in _CHARACTER_WORD.findall(source)]
    return _first_shared(words, known, COPIED_WORDS, _mostly_latin) or _first_shared(
        words, known, COPIED_CHARACTERS
    )


def _mostly_latin(stretch: list[str]) -> bool:
    return sum(not _is_cjk(w) for w in stretch) * 2 > len(stretch)


def shared_run(text: str, source: str, size: int) -> str | None:
    """The first stretch of `size` words (a Chinese character is one) that `text` shares with
    `source` word for word, casefolded (clipped for a message), or None; linear in both."""
    words = [w.casefold() for w in _CHARACTER_WORD.findall(text)]
    return _first_shared(words, [w.casefold() for w in _CHARACTER_WORD.findall(source)], size)


def _first_shared(
    words: list[str],
    known: list[str],
    size: int,
    counts: Callable[[list[str]], bool] = lambda stretch: True,
) -> str | None:
    """The first stretch of `size` of `words` that `known` holds too and that `counts`."""
    seen = {tuple(known[i : i + size]) for i in range(len(known) - size + 1)}
    for start in range(len(words) - size + 1):
        stretch = words[start : start + size]
        if counts(stretch) and tuple(stretch) in seen:
            return clip(_joined(stretch))
    return None


def clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
