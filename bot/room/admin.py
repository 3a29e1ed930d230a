"""The room itself: its settings, a reset, and a branch into a new room.

Settings, a reset and a branch need a showrunner; settings always keep at least one showrunner
or role. A reset cancels the room's pending proposals and returns them, for the front end to
close their ballots; it cannot be undone.

Why a branch needs a showrunner: in Discord a branch opens a new thread, a place in the server
that only people who may manage it should multiply, and it makes the writer who branches a
showrunner of the new room — a right a showrunner hands out, not one any writer takes. A writer
who wants to try another direction asks a showrunner (the writer who opened the room is one), and
every writer's command cooldown still limits how fast threads can be made. Front ends that make
the new room's place first ask `check_branch`, so a refused branch leaves no empty thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import aiosqlite

from bot import store as db_
from bot.domain import (
    SETTING_OPTIONS,
    SYSTEM_USER,
    PickRule,
    Project,
    Proposal,
    ProposalStatus,
    Room,
    RoomSettings,
)
from bot.errors import (
    BadInput,
    NotAllowed,
    NotFound,
)
from bot.messages import Message, message
from bot.room.core import (
    RoomCore,
    proposal_in,
    storable,
)


class RoomAdmin(RoomCore):
    """Settings, reset and branch."""

    # --- settings, reset, branch ----------------------------------------------------------------

    async def update_settings(
        self,
        room_id: int,
        user_id: int,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
        **changes: Any,
    ) -> RoomSettings:
        """Change the room's settings (showrunners only). `changes` names fields of
        `RoomSettings`: takes_per_request, pick_rule, quorum, vote_deadline_s, temperature,
        top_p, top_k, repetition_penalty, length, showrunners, showrunner_roles."""
        known = {f.name for f in dataclasses.fields(RoomSettings)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise BadInput("error.no_setting", names=", ".join(unknown))
        async with self._lock(room_id), self.store.write() as db:
            before = await self._ensure_room(db, room_id, user_id)
            if not before.is_showrunner(user_id, tuple(roles), is_showrunner):
                raise NotAllowed("error.showrunner_settings")
            after = _apply_settings(before, changes)
            if after != before:
                await db_.save_settings(db, room_id, after)
                await self._record(
                    db,
                    room_id,
                    user_id,
                    "settings",
                    message(
                        "event.settings",
                        names=[
                            message(f"setting.{option}")
                            for option in dict.fromkeys(SETTING_OPTIONS[c] for c in sorted(changes))
                        ],
                    ),
                    {
                        "before": db_.settings_to_json(before),
                        "after": db_.settings_to_json(after),
                    },
                )
            return after

    async def reset(
        self, room_id: int, user_id: int, *, is_showrunner: bool = False, roles: Sequence[int] = ()
    ) -> list[Proposal]:
        """Empty the room's story (project, bible, locations, outline, script) and cancel its
        pending proposals, which are returned (cancelled by `user_id`) so that a front end can
        close their ballots. Settings and the log stay; this cannot be undone."""
        async with self._lock(room_id), self.store.write() as db:
            settings = await self._ensure_room(db, room_id, user_id)
            if not settings.is_showrunner(user_id, tuple(roles), is_showrunner):
                raise NotAllowed("error.showrunner_reset")
            await db_.clear_story(db, room_id)
            pending = await db_.proposal_ids(
                db, room_id=room_id, statuses=(ProposalStatus.GENERATING, ProposalStatus.OPEN)
            )
            now = self.clock()
            for proposal_id in pending:
                await db_.update_proposal(
                    db,
                    proposal_id,
                    status=ProposalStatus.CANCELLED,
                    decided_by=user_id,
                    decided_at=now,
                    reason=message("reason.reset"),
                )
            await self._record(db, room_id, user_id, "reset", message("event.reset"), {})
            return [await proposal_in(db, room_id, proposal_id) for proposal_id in pending]

    async def check_branch(
        self,
        room_id: int,
        user_id: int,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
    ) -> Project:
        """The project of the room `user_id` may branch now; the sentence why not otherwise.
        A front end asks before it makes the new room's place (a Discord thread)."""
        async with self.store.read() as db:
            await _branchable(db, room_id, user_id, tuple(roles), is_showrunner)
            return await db_.load_project(db, room_id)

    async def branch(
        self,
        room_id: int,
        user_id: int,
        new_room_id: int,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
    ) -> Room:
        """Start room `new_room_id` (e.g. a new Discord thread) from this room's current story
        and settings (showrunners only; see the module's docstring); the writer who branches
        becomes one of its showrunners. Pending proposals stay with the original room."""
        if new_room_id == room_id or not storable(new_room_id):
            raise BadInput("error.branch_new_room")
        first, second = sorted((room_id, new_room_id))
        async with self._lock(first), self._lock(second), self.store.write() as db:
            settings = await _branchable(db, room_id, user_id, tuple(roles), is_showrunner)
            if await db_.room_exists(db, new_room_id):
                raise BadInput("error.branch_room_taken")
            now = self.clock()
            if user_id not in settings.showrunners and user_id != SYSTEM_USER:
                settings = dataclasses.replace(
                    settings, showrunners=(*settings.showrunners, user_id)
                )
            project = await db_.load_project(db, room_id)
            await db_.create_room(db, new_room_id, now, settings, project, branched_from=room_id)
            event_id = await self._record(
                db,
                new_room_id,
                user_id,
                "branch",
                message("event.branch", room=room_id),
                {"from": room_id},
            )
            await db_.copy_story(db, room_id, new_room_id, event_id)
            await self._record(
                db,
                room_id,
                user_id,
                "branched",
                message("event.branched", room=new_room_id),
                {"to": new_room_id},
            )
            return await db_.load_room(db, new_room_id)


async def _branchable(
    db: aiosqlite.Connection, room_id: int, user_id: int, roles: tuple[int, ...], flag: bool
) -> RoomSettings:
    """The settings of the room `user_id` may branch; the sentence why not otherwise."""
    if not storable(room_id) or not await db_.room_exists(db, room_id):
        raise NotFound("error.branch_nothing")
    settings = await db_.load_settings(db, room_id)
    if user_id != SYSTEM_USER and not settings.is_showrunner(user_id, roles, flag):
        raise NotAllowed("error.showrunner_branch")
    return settings


def _apply_settings(settings: RoomSettings, changes: Mapping[str, Any]) -> RoomSettings:
    values: dict[str, Any] = {}
    try:
        for name, value in changes.items():
            if name == "pick_rule":
                values[name] = PickRule(str(value).strip().lower())
            elif name in ("showrunners", "showrunner_roles"):
                values[name] = tuple(dict.fromkeys(int(v) for v in value))
            elif name in ("takes_per_request", "quorum", "length", "top_k"):
                values[name] = int(value)
            else:
                values[name] = float(value)
    except (TypeError, ValueError):
        rules = [Message(f"choice.pick_rule.{rule.value}") for rule in PickRule]
        raise BadInput("error.setting_value", rules=rules) from None
    after = dataclasses.replace(settings, **values).validate()
    if not after.showrunners and not after.showrunner_roles:
        raise BadInput("error.no_showrunner")
    return after
