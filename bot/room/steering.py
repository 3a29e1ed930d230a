"""Steering the model and reading the script like a script: the bible as one read, variations
of a chosen take, the script with who wrote what, and the script's figures.

A variation (`vary`) is a new proposal of the chosen take's kind and request whose model request
also carries the take's text, to keep its gist in new words; the text is kept in the log with
the proposal (`bot.store.variation_of`), so a restarted bot or a reroll asks the same. The
figures (`stats`) lay the script out on the room's paper, CPU work run off the event loop.

Knows the room's rules; nothing of Discord, SQL text or how takes are generated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from bot import store as db_
from bot.domain import CharacterEntry, Location, Proposal, ProposalStatus, Room, script_lang
from bot.errors import NotFound, NotReady
from bot.room.core import proposal_in
from bot.room.proposals import Proposals
from bot.room.text import format_lines, scene_lines, take_text
from screenplay.stats import Stats, stats


@dataclass(frozen=True, slots=True)
class Bible:
    """The room's characters and locations."""

    characters: tuple[CharacterEntry, ...] = ()
    locations: tuple[Location, ...] = ()


class Steering(Proposals):
    """Variations, the bible, the attributed script and the script's figures."""

    async def bible(self, room_id: int) -> Bible:
        """The characters and locations of the room, without reading the script."""
        async with self.store.read() as db:
            characters = await db_.load_characters(db, room_id)
            locations = await db_.load_locations(db, room_id)
        return Bible(characters, locations)

    async def vary(self, room_id: int, user_id: int, proposal_id: int, take: int) -> Proposal:
        """A pending proposal for new takes that keep the gist of take `take` of proposal
        `proposal_id` (open or closed), for the same request; `generate` fills it."""
        async with self.store.read() as db:
            source = await proposal_in(db, room_id, proposal_id)
        if source.status is ProposalStatus.GENERATING:
            raise NotReady("error.takes_being_written", proposal=proposal_id)
        chosen = source.take(take)
        if chosen is None:
            raise NotFound("error.no_take", proposal=proposal_id, take=take, last=len(source.takes))
        return await self.propose(
            room_id,
            user_id,
            source.kind.value,
            source.prompt,
            source.characters,
            variation=take_text(source.kind, chosen),
        )

    async def script_text(
        self,
        room_id: int,
        *,
        scene: int | None = None,
        attribution: bool = False,
        names: Mapping[int, str] | None = None,
    ) -> str:
        """The script (or scene `scene`) as Fountain text; with `attribution`, a note before
        each run of lines says who wrote or picked it (`names` maps user ids to names)."""
        room = await self._snapshot(room_id)
        lines = room.script if scene is None else scene_lines(room.script, scene)
        return await asyncio.to_thread(
            format_lines,
            lines,
            attribution=attribution,
            names=names,
            lang=script_lang(room.project.language),
        )

    async def stats(self, room_id: int) -> Stats:
        """Pages, runtime, scenes, locations and lines per character, laid out on the room's
        paper (off the event loop)."""
        room = await self._snapshot(room_id)
        if not room.script:
            raise NotFound("error.stats_empty")
        paper = room.project.page_size.value
        return await asyncio.to_thread(stats, room.document(), paper)

    async def _snapshot(self, room_id: int) -> Room:
        async with self.store.read() as db:
            return await db_.load_room(db, room_id)
