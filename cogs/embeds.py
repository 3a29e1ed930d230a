"""What the room's Discord messages say: takes, ballots, progress, status, cast and outline.

Pure formatting from the room's plain data (`bot.domain`) to message text and `discord.Embed`s,
so the commands, the buttons and the reactions show a proposal the same way. Every piece of user
or model text goes out inside a code block or an embed, and the senders pass
`AllowedMentions.none()`, so nothing a take says can ping anyone. This module sends nothing and
knows nothing of the room service.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.context import left_out
from bot.domain import (
    Beat,
    BeatStatus,
    CharacterEntry,
    Project,
    Proposal,
    ProposalStatus,
    RoomSettings,
    Take,
)
from bot.messages import ENGLISH, Lang, Message, command_text, counted, language_name, text
from bot.problems import problem_list
from bot.room import Bible, TakeEdit, take_text
from cogs.split import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    MESSAGE_LIMIT,
    code_blocks,
    split_text,
)
from model.tasks import Progress
from screenplay.stats import Stats, count_words

#: Reactions that vote for takes 1 to 5.
NUMBER_EMOJIS = tuple(
    f"{n}\N{VARIATION SELECTOR-16}\N{COMBINING ENCLOSING KEYCAP}" for n in range(1, 6)
)

_OPEN = discord.Colour.blurple()
_DECIDED = discord.Colour.green()
_CLOSED = discord.Colour.dark_grey()


def number_emoji(take: int) -> str:
    """The keycap emoji that votes for take `take` (1 to 5)."""
    return NUMBER_EMOJIS[take - 1]


def take_of_emoji(emoji: str) -> int | None:
    """The take a number reaction votes for, or None for any other emoji."""
    # Clients send the keycaps with or without the variation selector.
    normalised = emoji.replace("\N{VARIATION SELECTOR-16}", "")
    for number, candidate in enumerate(NUMBER_EMOJIS, 1):
        if candidate.replace("\N{VARIATION SELECTOR-16}", "") == normalised:
            return number
    return None


def who(user_id: int | None, lang: Lang = ENGLISH) -> str:
    """A user as an embed shows them: a mention renders as their name and, in an embed, never
    notifies anyone."""
    if user_id is None or user_id == 0:
        return text("embed.the_room", lang)
    return f"<@{user_id}>"


def take_messages(
    proposal: Proposal, take: Take, limit: int = MESSAGE_LIMIT, lang: Lang = ENGLISH
) -> list[str]:
    """Take `take` as message texts: a bold header, then the take in code blocks split on line
    boundaries, each message within `limit`."""
    header = text("embed.take_header", lang, take=take.number, proposal=proposal.id)
    if take.edited_by is not None:
        header += text("embed.take_edited_mark", lang)
    if take.problems:
        header += text("embed.take_problems_mark", lang, count=len(take.problems))
    blocks = code_blocks(take_text(proposal.kind, take, lang), limit - len(header) - 1)
    if not blocks:
        return [f"{header}\n{text('embed.empty', lang)}"]
    return [f"{header}\n{blocks[0]}", *blocks[1:]]


def proposal_header(proposal: Proposal, requester: str, lang: Lang = ENGLISH) -> str:
    """The line above a proposal's takes (the generating command's own message)."""
    about = f": {_quote(proposal.prompt)}" if proposal.prompt else ""
    takes = counted("take", len(proposal.takes) or proposal.n)
    return text(
        "embed.proposal_header",
        lang,
        proposal=proposal.id,
        takes=takes.render(lang),
        kind=text(f"kind.{proposal.kind.value}", lang),
        requester=requester,
        about=about,
    )


def progress_text(proposal: Proposal, progress: Progress | None, lang: Lang = ENGLISH) -> str:
    """What a waiting writer sees while the model works."""
    head = text(
        "embed.progress_head",
        lang,
        proposal=proposal.id,
        kind=text(f"kind.{proposal.kind.value}", lang),
    )
    if progress is None:
        return text("embed.progress_waiting", lang, head=head)
    if progress.position > 0:
        return text("embed.progress_queued", lang, head=head, position=progress.position)
    # Best of N drafts more candidates than the room asked for: the room hears of its own takes
    # (and their share of the words drafted).
    # Words as a writer counts them: a Chinese character is one (`screenplay.stats`).
    drafted = sum(count_words(said) for said in progress.texts)
    words = round(drafted * proposal.n / max(len(progress.texts), proposal.n))
    return text("embed.progress_writing", lang, head=head, takes=proposal.n, words=words)


def restarted_text(proposal: Proposal, lang: Lang = ENGLISH) -> str:
    """What the waiting message of a proposal says once a restarted bot writes its takes again
    under a new message."""
    kind = text(f"kind.{proposal.kind.value}", lang)
    return text("embed.restarted", lang, proposal=proposal.id, kind=kind)


def ballot_embed(
    proposal: Proposal,
    settings: RoomSettings,
    *,
    edit: TakeEdit | None = None,
    lang: Lang = ENGLISH,
) -> discord.Embed:
    """The ballot of a proposal: the tally while it is open, and who edited which take (with
    `edit`, the edit just made and the votes it cleared); the winner, who picked it and the
    count once it is decided (and who undid or redid it since); the reason when it closed
    otherwise."""
    if proposal.status is ProposalStatus.DECIDED and proposal.decided_take is not None:
        embed = _decided_embed(proposal, lang)
    elif proposal.status is ProposalStatus.OPEN:
        embed = _open_embed(proposal, settings, edit, lang)
    else:
        status = text(f"embed.status.{proposal.status.value}", lang)
        embed = discord.Embed(
            title=text("embed.ballot_closed_title", lang, proposal=proposal.id, status=status),
            description=_closed_reason(proposal, lang),
            colour=_CLOSED,
        )
    # The footer finds a ballot again (reactions, a restart): the same in every language.
    embed.set_footer(text=f"proposal {proposal.id}")
    return embed


def _counts(proposal: Proposal) -> str:
    return "  ".join(f"{number_emoji(t)} {c}" for t, c in proposal.tally().items() if t <= 5)


def _decided_embed(proposal: Proposal, lang: Lang) -> discord.Embed:
    taken = proposal.decided_take or 0
    votes = proposal.tally().get(taken, 0)
    reason = _reason(proposal, lang) or text("embed.decided", lang)
    lines = [
        text("embed.picked_by", lang, by=who(proposal.decided_by, lang), reason=reason)
        + counted("vote_for_it", votes).render(lang),
        text("embed.tally", lang, counts=_counts(proposal)),
    ]
    title = text("embed.ballot_decided_title", lang, proposal=proposal.id, take=taken)
    colour = _DECIDED
    # An embed's title shows a mention as its raw text, so the writer is named below.
    if proposal.undone_by is not None:
        title += text("embed.undone_mark", lang)
        lines.insert(0, text("embed.undone_by", lang, by=who(proposal.undone_by, lang)))
        colour = _CLOSED
    elif proposal.pick_undo is not None:
        lines.insert(0, text("embed.back_in", lang, by=who(proposal.pick_undo.user_id, lang)))
    return discord.Embed(title=title, description="\n".join(lines), colour=colour)


def _open_embed(
    proposal: Proposal, settings: RoomSettings, edit: TakeEdit | None, lang: Lang
) -> discord.Embed:
    rule = text(f"embed.rule.{settings.pick_rule.value}", lang, quorum=settings.quorum)
    lines = [
        text("embed.vote_with", lang, rule=rule),
        text("embed.tally", lang, counts=_counts(proposal)),
    ]
    lines += _edited_lines(proposal, edit, lang)
    lines += _take_notes(proposal, lang)
    if proposal.deadline is not None:
        lines.append(text("embed.voting_closes", lang, at=int(proposal.deadline)))
    return discord.Embed(
        title=text("embed.ballot_open_title", lang, proposal=proposal.id),
        description="\n".join(lines),
        colour=_OPEN,
    )


def _take_notes(proposal: Proposal, lang: Lang) -> list[str]:
    """Takes a vote cannot put in (the model left problems in them), and what their prompt
    left out for length."""
    lines = [
        Message(
            "embed.take_has_problems", {"take": t.number, "problems": problem_list(t.problems)}
        ).render(lang)
        for t in proposal.takes
        if t.problems
    ]
    omitted = next((t.omitted for t in proposal.takes if t.omitted), ())
    if omitted:
        lines.append(Message("embed.left_out", {"omitted": left_out(omitted)}).render(lang))
    return lines


def _edited_lines(proposal: Proposal, edit: TakeEdit | None, lang: Lang) -> list[str]:
    """Who edited which take; the edit just made says what it cleared."""
    lines = []
    for take in proposal.takes:
        if take.edited_by is None:
            continue
        if edit is not None and edit.take.number == take.number:
            lines.append(edit.naming(who(take.edited_by, lang)).render(lang))
        else:
            by = who(take.edited_by, lang)
            lines.append(text("reply.take_edited", lang, take=take.number, by=by))
    return lines


def _closed_reason(proposal: Proposal, lang: Lang) -> str:
    if proposal.status is ProposalStatus.REROLLED:
        return text("embed.rerolled_as", lang, new=proposal.rerolled_as)
    if proposal.status is ProposalStatus.CANCELLED:
        if proposal.decided_by is None:
            return text("embed.cancelled", lang)
        return text("embed.cancelled_by", lang, by=who(proposal.decided_by, lang))
    if proposal.status is ProposalStatus.GENERATING:
        return text("embed.still_being_written", lang)
    return _reason(proposal, lang) or text("embed.votes_no_longer_count", lang)


def _reason(proposal: Proposal, lang: Lang) -> str | None:
    """Why a proposal was decided or closed, in `lang` (a failure stored before the room kept
    its reasons as messages is shown as stored)."""
    said = proposal.reason_said
    return said.render(lang) if said is not None else proposal.reason or None


def cast_embed(characters: Sequence[CharacterEntry], lang: Lang = ENGLISH) -> discord.Embed:
    embed = discord.Embed(title=text("embed.cast", lang), colour=_OPEN)
    if not characters:
        embed.description = text("embed.bible_empty", lang)
        return embed
    for entry in characters[:25]:
        summary = entry.role or entry.description or text("embed.no_sheet", lang)
        embed.add_field(name=entry.name, value=_clip(summary, 1024), inline=False)
    if len(characters) > 25:
        embed.set_footer(text=text("embed.and_more", lang, count=len(characters) - 25))
    return embed


def character_embed(entry: CharacterEntry, lang: Lang = ENGLISH) -> discord.Embed:
    embed = discord.Embed(title=entry.name, colour=_OPEN)
    for name in ("role", "description", "personality", "backstory", "voice", "relationships"):
        value = getattr(entry, name)
        if value:
            label = text(f"field.{name}", lang)
            embed.add_field(
                name=label[:1].upper() + label[1:], value=_clip(value, 1024), inline=False
            )
    return embed


def outline_embed(beats: Sequence[Beat], lang: Lang = ENGLISH) -> discord.Embed:
    embed = discord.Embed(title=text("embed.outline", lang), colour=_OPEN)
    if not beats:
        embed.description = text("embed.no_beats", lang)
        return embed
    written = text("embed.written_mark", lang)
    lines = [
        f"{b.number}. ~~{b.text}~~{written}"
        if b.status is BeatStatus.WRITTEN
        else f"{b.number}. {b.text}"
        for b in beats
    ]
    embed.description = _clip("\n".join(lines), EMBED_DESCRIPTION_LIMIT)
    return embed


def _choice(value: str, lang: Lang) -> str:
    """A setting's value by the name its slash command choice has in `lang` (多数票决定, A4)."""
    return command_text("choice", value, lang) or value


def settings_embed(settings: RoomSettings, lang: Lang = ENGLISH) -> discord.Embed:
    none = text("embed.none", lang)
    runners = ", ".join(f"<@{u}>" for u in settings.showrunners) or none
    roles = ", ".join(f"<@&{r}>" for r in settings.showrunner_roles) or none
    embed = discord.Embed(title=text("embed.settings_title", lang), colour=_OPEN)
    embed.description = text(
        "embed.settings",
        lang,
        takes=settings.takes_per_request,
        rule=_choice(settings.pick_rule.value, lang),
        quorum=settings.quorum,
        deadline=f"{settings.vote_deadline_s:g}",
        temperature=f"{settings.temperature:g}",
        top_p=f"{settings.top_p:g}",
        top_k=settings.top_k,
        penalty=f"{settings.repetition_penalty:g}",
        length=settings.length,
        runners=runners,
        roles=roles,
    )
    return embed


def bible_embed(bible: Bible, lang: Lang = ENGLISH) -> discord.Embed:
    """The characters (name and role or description) and the locations of the bible."""
    embed = discord.Embed(title=text("embed.bible", lang), colour=_OPEN)
    if not bible.characters and not bible.locations:
        embed.description = text("embed.bible_empty", lang)
        return embed
    for entry in bible.characters[:20]:
        summary = entry.role or entry.description or text("embed.no_sheet", lang)
        embed.add_field(name=entry.name, value=_clip(summary, 1024), inline=False)
    if bible.locations:
        places = "\n".join(
            f"{p.name}" + (f": {p.description}" if p.description else "") for p in bible.locations
        )
        name = text("embed.locations", lang)
        embed.add_field(name=name, value=_clip(places, 1024), inline=False)
    hidden = len(bible.characters) - 20
    if hidden > 0:
        embed.set_footer(text=text("embed.more_characters", lang, count=hidden))
    return embed


def stats_embed(figures: Stats, lang: Lang = ENGLISH) -> discord.Embed:
    """The script's pages, runtime, scenes, locations and lines per character."""
    embed = discord.Embed(title=text("embed.stats_title", lang), colour=_OPEN)
    embed.description = text(
        "embed.stats",
        lang,
        pages=figures.pages,
        paper=_choice(figures.paper, lang),
        minutes=f"{figures.runtime_minutes:g}",
        scenes=figures.scenes,
        words=figures.words,
    )
    places = "\n".join(
        text("embed.stats_place", lang, name=p.name, scenes=p.scenes) for p in figures.locations
    )
    people = "\n".join(
        text("embed.stats_person", lang, name=c.name, lines=c.lines, words=c.words)
        for c in figures.characters
    )
    if places:
        name = text("embed.locations", lang)
        embed.add_field(name=name, value=_clip(places, 1024), inline=False)
    if people:
        name = text("embed.lines_per_character", lang)
        embed.add_field(name=name, value=_clip(people, 1024), inline=False)
    return embed


def style_embed(project: Project, lang: Lang = ENGLISH) -> discord.Embed:
    embed = discord.Embed(title=text("embed.style_title", lang), colour=_OPEN)
    embed.description = _clip(
        text(
            "embed.style",
            lang,
            genre=project.genre or "—",
            tone=project.tone or "—",
            language=language_name(project.language, lang),
            paper=_choice(project.page_size.value, lang),
            notes=project.style_notes or "—",
        ),
        EMBED_DESCRIPTION_LIMIT,
    )
    return embed


def status_embed(status: str, lang: Lang = ENGLISH) -> discord.Embed:
    return discord.Embed(
        title=text("embed.status_title", lang),
        description=_clip(status, EMBED_DESCRIPTION_LIMIT),
        colour=_OPEN,
    )


def help_embeds(commands: Sequence[tuple[str, str]], lang: Lang = ENGLISH) -> list[discord.Embed]:
    """`commands` as (usage, description) pairs, over as many embeds as their text needs (a
    message holds 6000 characters of embeds; what would not fit is cut with "…")."""
    intro = text("embed.help_intro", lang) + "\n\n"
    body = intro + "\n".join(f"`{usage}` — {description}" for usage, description in commands)
    pieces = split_text(body, EMBED_DESCRIPTION_LIMIT - 1)
    embeds: list[discord.Embed] = []
    title = text("embed.help_title", lang)
    room = EMBED_TOTAL_LIMIT - len(title)
    for piece in pieces:
        if len(piece) > room:
            embeds[-1].description = (embeds[-1].description or "").rstrip() + "\n…"
            break
        embed = discord.Embed(title=title if not embeds else None, colour=_OPEN)
        embed.description = piece
        embeds.append(embed)
        room -= len(piece)
    return embeds


def script_messages(fountain: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Script text as code blocks split on line boundaries."""
    return code_blocks(fountain, limit)


def _clip(text: str, limit: int) -> str:
    pieces = split_text(text, limit - 1)
    if not pieces:
        return "—"
    return pieces[0] if len(pieces) == 1 else pieces[0] + "…"


def _quote(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return f"“{line[:limit]}…”" if len(line) > limit else f"“{line}”"
