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

from bot.domain import (
    Beat,
    BeatStatus,
    CharacterEntry,
    PickRule,
    Project,
    Proposal,
    ProposalStatus,
    RoomSettings,
    Take,
)
from bot.room import Bible, TakeEdit, take_text
from cogs.split import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    MESSAGE_LIMIT,
    code_blocks,
    split_text,
)
from model.tasks import Progress
from screenplay.stats import Stats

#: Reactions that vote for takes 1 to 5.
NUMBER_EMOJIS = tuple(
    f"{n}\N{VARIATION SELECTOR-16}\N{COMBINING ENCLOSING KEYCAP}" for n in range(1, 6)
)

_OPEN = discord.Colour.blurple()
_DECIDED = discord.Colour.green()
_CLOSED = discord.Colour.dark_grey()

_RULES = {
    PickRule.FIRST: "the first vote decides",
    PickRule.MAJORITY: "a take with {quorum} votes goes in; at the deadline, the most votes win",
    PickRule.SHOWRUNNER: "a showrunner's vote decides; other votes are advice",
}


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


def who(user_id: int | None) -> str:
    """A user as an embed shows them: a mention renders as their name and, in an embed, never
    notifies anyone."""
    if user_id is None or user_id == 0:
        return "the room"
    return f"<@{user_id}>"


def take_messages(proposal: Proposal, take: Take, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Take `take` as message texts: a bold header, then the take in code blocks split on line
    boundaries, each message within `limit`."""
    header = f"**Take {take.number}** of proposal #{proposal.id}"
    if take.edited_by is not None:
        header += " (edited)"
    if take.problems:
        header += f" — the model's text has {len(take.problems)} problem(s)"
    blocks = code_blocks(take_text(proposal.kind, take), limit - len(header) - 1)
    if not blocks:
        return [f"{header}\n(empty)"]
    return [f"{header}\n{blocks[0]}", *blocks[1:]]


def proposal_header(proposal: Proposal, requester: str) -> str:
    """The line above a proposal's takes (the generating command's own message)."""
    about = f": {_quote(proposal.prompt)}" if proposal.prompt else ""
    count = len(proposal.takes) or proposal.n
    takes = "1 take" if count == 1 else f"{count} takes"
    return f"Proposal #{proposal.id} — {takes} of {proposal.kind.value} for {requester}{about}"


def progress_text(proposal: Proposal, progress: Progress | None) -> str:
    """What a waiting writer sees while the model works."""
    head = f"Proposal #{proposal.id} ({proposal.kind.value})"
    if progress is None:
        return f"{head}: waiting for the model…"
    if progress.position > 0:
        return f"{head}: number {progress.position} in the queue…"
    words = sum(len(text.split()) for text in progress.texts)
    return f"{head}: writing {len(progress.texts)} take(s), {words} words so far…"


def restarted_text(proposal: Proposal) -> str:
    """What the waiting message of a proposal says once a restarted bot writes its takes again
    under a new message."""
    return (
        f"Proposal #{proposal.id} ({proposal.kind.value}): the bot restarted while writing, "
        "so the takes are written again below."
    )


def ballot_embed(
    proposal: Proposal, settings: RoomSettings, *, edit: TakeEdit | None = None
) -> discord.Embed:
    """The ballot of a proposal: the tally while it is open, and who edited which take (with
    `edit`, the edit just made and the votes it cleared); the winner, who picked it and the
    count once it is decided (and who undid or redid it since); the reason when it closed
    otherwise."""
    tally = proposal.tally()
    counts = "  ".join(f"{number_emoji(t)} {c}" for t, c in tally.items() if t <= 5)
    if proposal.status is ProposalStatus.DECIDED and proposal.decided_take is not None:
        votes = tally.get(proposal.decided_take, 0)
        lines = [
            f"Picked by {who(proposal.decided_by)} ({proposal.reason or 'decided'}); "
            f"{votes} vote{'' if votes == 1 else 's'} for it.",
            f"Tally: {counts}",
        ]
        title = f"Proposal #{proposal.id}: take {proposal.decided_take} went in"
        colour = _DECIDED
        # An embed's title shows a mention as its raw text, so the writer is named below.
        if proposal.undone_by is not None:
            title += " — undone"
            lines.insert(0, f"Undone by {who(proposal.undone_by)}: the take is out again.")
            colour = _CLOSED
        elif proposal.pick_undo is not None:
            lines.insert(0, f"Back in: {who(proposal.pick_undo.user_id)} redid it.")
        embed = discord.Embed(title=title, description="\n".join(lines), colour=colour)
    elif proposal.status is ProposalStatus.OPEN:
        rule = _RULES[settings.pick_rule].format(quorum=settings.quorum)
        lines = [f"Vote with the buttons or the number reactions: {rule}.", f"Tally: {counts}"]
        lines += _edited_lines(proposal, edit)
        lines += _take_notes(proposal)
        if proposal.deadline is not None:
            lines.append(f"Voting closes <t:{int(proposal.deadline)}:R>.")
        embed = discord.Embed(
            title=f"Proposal #{proposal.id}: pick a take", description="\n".join(lines)
        )
        embed.colour = _OPEN
    else:
        embed = discord.Embed(
            title=f"Proposal #{proposal.id}: {proposal.status.value}",
            description=_closed_reason(proposal),
            colour=_CLOSED,
        )
    embed.set_footer(text=f"proposal {proposal.id}")
    return embed


def _take_notes(proposal: Proposal) -> list[str]:
    """Takes a vote cannot put in (the model left problems in them), and what their prompt
    left out for length."""
    lines = [
        f"Take {t.number} has problems ({'; '.join(t.problems)}): votes cannot put it in; a "
        "showrunner can /pick it, or /edit it."
        for t in proposal.takes
        if t.problems
    ]
    omitted = next((t.omitted for t in proposal.takes if t.omitted), ())
    if omitted:
        lines.append(f"Left out for length: {', '.join(omitted)}.")
    return lines


def _edited_lines(proposal: Proposal, edit: TakeEdit | None) -> list[str]:
    """Who edited which take; the edit just made says what it cleared."""
    lines = []
    for take in proposal.takes:
        if take.edited_by is None:
            continue
        if edit is not None and edit.take.number == take.number:
            lines.append(edit.naming(who(take.edited_by)))
        else:
            lines.append(f"Take {take.number} was edited by {who(take.edited_by)}.")
    return lines


def _closed_reason(proposal: Proposal) -> str:
    if proposal.status is ProposalStatus.REROLLED:
        return f"Rerolled as proposal #{proposal.rerolled_as}; vote on the new takes."
    if proposal.status is ProposalStatus.CANCELLED:
        by = "" if proposal.decided_by is None else f" by {who(proposal.decided_by)}"
        return f"Cancelled when the room was reset{by}; votes no longer count."
    if proposal.status is ProposalStatus.GENERATING:
        return "The takes are still being written."
    return proposal.reason or "Votes no longer count."


def cast_embed(characters: Sequence[CharacterEntry]) -> discord.Embed:
    embed = discord.Embed(title="Cast", colour=_OPEN)
    if not characters:
        embed.description = "The bible is empty; add someone with /character."
        return embed
    for entry in characters[:25]:
        summary = entry.role or entry.description or "(no sheet yet)"
        embed.add_field(name=entry.name, value=_clip(summary, 1024), inline=False)
    if len(characters) > 25:
        embed.set_footer(text=f"and {len(characters) - 25} more")
    return embed


def character_embed(entry: CharacterEntry) -> discord.Embed:
    embed = discord.Embed(title=entry.name, colour=_OPEN)
    for name in ("role", "description", "personality", "backstory", "voice", "relationships"):
        value = getattr(entry, name)
        if value:
            embed.add_field(name=name.capitalize(), value=_clip(value, 1024), inline=False)
    return embed


def outline_embed(beats: Sequence[Beat]) -> discord.Embed:
    embed = discord.Embed(title="Outline", colour=_OPEN)
    if not beats:
        embed.description = "No beats yet; ask for one with /beat."
        return embed
    lines = [
        f"{b.number}. {'~~' if b.status is BeatStatus.WRITTEN else ''}{b.text}"
        f"{'~~ (written)' if b.status is BeatStatus.WRITTEN else ''}"
        for b in beats
    ]
    embed.description = _clip("\n".join(lines), EMBED_DESCRIPTION_LIMIT)
    return embed


def settings_embed(settings: RoomSettings) -> discord.Embed:
    runners = ", ".join(f"<@{u}>" for u in settings.showrunners) or "none"
    roles = ", ".join(f"<@&{r}>" for r in settings.showrunner_roles) or "none"
    embed = discord.Embed(title="Room settings", colour=_OPEN)
    embed.description = "\n".join(
        (
            f"Takes per request: {settings.takes_per_request}",
            f"Pick rule: {settings.pick_rule.value} (quorum {settings.quorum})",
            f"Vote deadline: {settings.vote_deadline_s:g} s",
            f"Temperature: {settings.temperature:g}; top-p {settings.top_p:g}; "
            f"top-k {settings.top_k}; repetition penalty {settings.repetition_penalty:g}",
            f"Length: {settings.length} tokens",
            f"Showrunners: {runners}; roles: {roles}",
        )
    )
    return embed


def bible_embed(bible: Bible) -> discord.Embed:
    """The characters (name and role or description) and the locations of the bible."""
    embed = discord.Embed(title="Bible", colour=_OPEN)
    if not bible.characters and not bible.locations:
        embed.description = "The bible is empty; add someone with /character."
        return embed
    for entry in bible.characters[:20]:
        summary = entry.role or entry.description or "(no sheet yet)"
        embed.add_field(name=entry.name, value=_clip(summary, 1024), inline=False)
    if bible.locations:
        places = "\n".join(
            f"{p.name}" + (f": {p.description}" if p.description else "") for p in bible.locations
        )
        embed.add_field(name="Locations", value=_clip(places, 1024), inline=False)
    hidden = len(bible.characters) - 20
    if hidden > 0:
        embed.set_footer(text=f"and {hidden} more characters; /character name:… shows a sheet")
    return embed


def stats_embed(figures: Stats) -> discord.Embed:
    """The script's pages, runtime, scenes, locations and lines per character."""
    embed = discord.Embed(title="The script in figures", colour=_OPEN)
    embed.description = (
        f"{figures.pages} page(s) ({figures.paper}), about {figures.runtime_minutes:g} minutes; "
        f"{figures.scenes} scene(s), {figures.words} words."
    )
    places = "\n".join(f"{p.name}: {p.scenes} scene(s)" for p in figures.locations)
    people = "\n".join(f"{c.name}: {c.lines} line(s), {c.words} words" for c in figures.characters)
    if places:
        embed.add_field(name="Locations", value=_clip(places, 1024), inline=False)
    if people:
        embed.add_field(name="Lines per character", value=_clip(people, 1024), inline=False)
    return embed


def style_embed(project: Project) -> discord.Embed:
    embed = discord.Embed(title="The project's style", colour=_OPEN)
    embed.description = _clip(
        "\n".join(
            (
                f"Genre: {project.genre or '—'}",
                f"Tone: {project.tone or '—'}",
                f"Language: {project.language}",
                f"Paper: {project.page_size.value}",
                f"Style notes: {project.style_notes or '—'}",
            )
        ),
        EMBED_DESCRIPTION_LIMIT,
    )
    return embed


def status_embed(text: str) -> discord.Embed:
    return discord.Embed(
        title="Writers' Room status",
        description=_clip(text, EMBED_DESCRIPTION_LIMIT),
        colour=_OPEN,
    )


def help_embeds(commands: Sequence[tuple[str, str]]) -> list[discord.Embed]:
    """`commands` as (usage, description) pairs, over as many embeds as their text needs (a
    message holds 6000 characters of embeds; what would not fit is cut with "…")."""
    intro = (
        "Co-write a screenplay with the model: ask for takes, vote with the buttons or number "
        "reactions, revise the script together, export it.\n\n"
    )
    body = intro + "\n".join(f"`{usage}` — {description}" for usage, description in commands)
    pieces = split_text(body, EMBED_DESCRIPTION_LIMIT - 1)
    embeds: list[discord.Embed] = []
    room = EMBED_TOTAL_LIMIT - len("Writers' Room")
    for piece in pieces:
        if len(piece) > room:
            embeds[-1].description = (embeds[-1].description or "").rstrip() + "\n…"
            break
        embed = discord.Embed(title="Writers' Room" if not embeds else None, colour=_OPEN)
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
