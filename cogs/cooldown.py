"""The writer's cooldown: one bucket per writer that every command, button click and number
reaction takes a turn from, so no way of acting in the room outruns the others.

A command (slash or `!`, a group's subcommand included) takes its turn in the client's global
check, a click in its button's callback, a reaction when it is a vote on a ballot. A modal's
submission takes none: the click that opened it took its turn, and a writer who typed a long
take must not lose it to the cooldown. A refusal is `commands.CommandOnCooldown`, which the one
error handler answers on one line (`cogs.errors.describe`). Knows Discord's cooldown types;
nothing of the room.
"""

from __future__ import annotations

from discord.ext import commands


def _writer_key(user_id: int) -> int:
    return user_id


class WriterCooldown:
    """`rate` turns per `per` seconds for each writer; `per` 0 (or less) is no limit."""

    def __init__(self, per: float, rate: int = 1) -> None:
        self.per = per
        self._buckets: commands.CooldownMapping[int] | None = None
        if per > 0:
            self._buckets = commands.CooldownMapping.from_cooldown(rate, per, _writer_key)

    def take(self, user_id: int) -> None:
        """Take one turn from the writer's bucket; `commands.CommandOnCooldown` when it is
        empty (the writer acted less than `per` seconds ago)."""
        if self._buckets is None:
            return
        bucket = self._buckets.get_bucket(user_id)
        retry_after = bucket.update_rate_limit() if bucket is not None else None
        if retry_after:
            assert bucket is not None
            raise commands.CommandOnCooldown(bucket, retry_after, commands.BucketType.user)
