"""Fixtures of the Discord tests: the real bot and cogs on a real SQLite room, driven by dpytest.

dpytest fakes Discord's HTTP API and gateway, so `!` commands and reactions run through
discord.py's own parsing and dispatch. Where dpytest cannot reach (button clicks and modals need
a real interaction endpoint), tests call the callbacks with `FakeInteraction`, a light stand-in
that records what the bot answered. The model is the shared fake generator (`tests.fakes`) with
canned takes of these tests: fast and deterministic. `Harness.restart` restarts the bot's side on
the same database file while Discord (the guild, its channel and the messages in it) stays, as in
a real restart; a second `make_bot()` starts a new fake Discord as well.

The dpytest shim, kept here so the bot's code stays free of test concerns:
- dpytest refuses sharded clients, although nothing it does depends on sharding; its check is
  bypassed while it is configured, so the real `AutoShardedBot` subclass is tested;
- its reaction payloads lack the `type` key that discord.py 2.7 reads; it is added;
- it drops what a send was asked (allowed mentions, components); `SentLog` records the payload
  of every send and edit so tests can check them;
- it reports every command error to the test, even those the bot answered on purpose; only
  errors the bot treats as bugs are passed on, so an expected refusal does not fail a test.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext import commands
from discord.ext.test import backend as dpytest_backend

from bot.errors import RoomError
from bot.room import RoomService
from bot.settings import Settings
from bot.store import Store
from cogs.board import Board
from cogs.client import EXTENSIONS, WritersRoomBot
from model.tasks import CharacterSheet, GeneratedTake, TaskKind
from tests.fakes import Call, FakeGenerator, TakeWriter

# --- the canned model ----------------------------------------------------------------------


def canned_take(call: Call, number: int) -> GeneratedTake:
    """Take `number` of a request, recognisable in the script ("Take 2: rain...")."""
    kind, request, model = call.request.kind, call.request, "canned-model"
    if kind is TaskKind.PREMISE:
        return GeneratedTake(
            text=f"THE FERRY {number}\nA pilot must cross the strait, take {number}.",
            model=model,
            title=f"THE FERRY {number}",
            logline=f"A pilot must cross the strait, take {number}.",
        )
    if kind is TaskKind.CHARACTER:
        name = request.prompt.split(":")[0].split()[0].upper()
        return GeneratedTake(
            text=f"{name}\nRole: lead",
            model=model,
            sheet=CharacterSheet(name=name, role=f"lead of take {number}", voice="dry"),
        )
    if kind is TaskKind.BEAT:
        return GeneratedTake(text=f"Beat take {number}", model=model, beat=f"Beat take {number}")
    if kind is TaskKind.SCENE:
        fountain = f"INT. FERRY DECK - NIGHT\n\nTake {number}: rain hammers the deck."
    else:
        fountain = f"MARA\nWe cross tonight, take {number}.\n\nTOM\nIn this weather?"
    return GeneratedTake(text=fountain, model=model, fountain=fountain)


@dataclass
class CannedGenerator(FakeGenerator):
    """The shared fake generator writing the Discord tests' canned takes."""

    write: TakeWriter = canned_take


# --- what the bot sent -----------------------------------------------------------------------


@dataclass
class Sent:
    kind: str  # "send" or "edit"
    channel_id: int
    payload: dict[str, Any]
    message_id: int | None = None  # the message sent or edited

    @property
    def content(self) -> str:
        return str(self.payload.get("content") or "")

    @property
    def custom_ids(self) -> list[str]:
        return [
            child["custom_id"]
            for row in self.payload.get("components") or []
            for child in row.get("components", [])
            if "custom_id" in child
        ]


@dataclass
class SentLog:
    """Every message payload the bot sent or edited, in order."""

    items: list[Sent] = field(default_factory=list)

    def sends(self) -> list[Sent]:
        return [s for s in self.items if s.kind == "send"]

    def clear(self) -> None:
        self.items.clear()

    def last_ballot_edit(self) -> dict[str, Any]:
        """The payload of the latest edit of a ballot (dpytest does not update the cached
        message on an edit, so what the ballot shows is read here)."""
        for item in reversed(self.items):
            if item.kind == "edit" and item.payload.get("embeds"):
                return item.payload
        raise AssertionError("no ballot was edited")


def _caller_locals() -> dict[str, Any]:
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None and frame.f_back.f_back is not None
    return frame.f_back.f_back.f_locals


def _record(log: SentLog) -> Callable[[], None]:
    """Wrap dpytest's fake HTTP so each send and edit payload lands in `log`; returns undo."""
    http = dpytest_backend.FakeHttp
    original_send = http.send_message
    original_edit = http.edit_message

    async def send_message(http_: Any, channel_id: int, *, params: Any) -> Any:
        sent = Sent("send", channel_id, dict(params.payload or {}))
        log.items.append(sent)
        channel = _caller_locals().get("channel")  # noqa: F841  dpytest reads it from here
        data = await original_send(http_, channel_id, params=params)
        sent.message_id = int(data["id"])
        return data

    async def edit_message(http_: Any, channel_id: int, message_id: int, **fields: Any) -> Any:
        payload = getattr(fields.get("params"), "payload", None) or {}
        log.items.append(Sent("edit", channel_id, dict(payload), message_id))
        self = _caller_locals().get("self")  # noqa: F841  dpytest reads the message from here
        return await original_edit(http_, channel_id, message_id, **fields)

    # dpytest finds the channel or message among its caller's local variables, so the
    # wrappers hold the same locals as discord.py's callers.
    setattr(http, "send_message", send_message)  # noqa: B010
    setattr(http, "edit_message", edit_message)  # noqa: B010

    def undo() -> None:
        setattr(http, "send_message", original_send)  # noqa: B010
        setattr(http, "edit_message", original_edit)  # noqa: B010

    return undo


# --- the bot ---------------------------------------------------------------------------------


@dataclass
class Harness:
    """A configured bot on a room database, with the members dpytest made (ana, ben, cy)."""

    bot: WritersRoomBot
    room: RoomService
    generator: Any  # a CannedGenerator unless a test brought its own
    sent: SentLog
    store: Store
    channel: discord.TextChannel
    members: list[discord.Member]

    @property
    def room_id(self) -> int:
        return self.channel.id

    def member(self, name: str) -> discord.Member:
        return next(m for m in self.members if m.name == name)

    async def say(self, content: str, member: str = "ana") -> discord.Message:
        return await dpytest.message(content, channel=self.channel, member=self.member(member))

    async def react(self, member: str, message: discord.Message, emoji: str) -> None:
        await dpytest.add_reaction(self.member(member), message, emoji)
        await settle()

    async def unreact(self, member: str, message: discord.Message, emoji: str) -> None:
        await dpytest.remove_reaction(self.member(member), message, emoji)
        await settle()

    async def restart(self) -> None:
        """The bot process restarts: a new store, room service, board and cogs on the same
        database file, and an empty message cache. Discord itself (the guild, the channel and
        the messages already in it) stays as it was."""
        await self.store.close()
        self.store = await Store.open(self.store.path)
        self.room = RoomService(self.store, self.generator)
        self.bot.room = self.room
        self.bot.board = Board(self.bot, self.room, self.bot.board.progress_interval)
        self.bot._connection._messages.clear()  # type: ignore[union-attr]
        for name in list(self.bot.extensions):
            await self.bot.reload_extension(name)

    def last_ballot(self) -> discord.Message:
        assert self.bot.user is not None
        for message in reversed(list(self.bot.cached_messages)):
            if message.author.id == self.bot.user.id and any(
                (e.footer.text or "").startswith("proposal ") for e in message.embeds
            ):
                return message
        raise AssertionError("no ballot was posted")


async def settle() -> None:
    """Let the bot's event handlers (and the tasks they start) finish."""
    for _ in range(3):
        await dpytest.run_all_events()
        await asyncio.sleep(0)


def _add_reaction_type(state: Any) -> None:
    """discord.py 2.7 reads `type` (normal or burst) from reaction payloads; dpytest omits it."""
    for name in ("parse_message_reaction_add", "parse_message_reaction_remove"):
        original = getattr(state, name)

        def parse(data: dict[str, Any], original: Callable[[Any], None] = original) -> None:
            data.setdefault("type", 0)
            data.setdefault("burst", False)
            original(data)

        setattr(state, name, parse)


def _only_unexpected_errors(bot: WritersRoomBot) -> None:
    """dpytest raises every command error in the test; pass on only the ones the bot does not
    answer on purpose (a `RoomError`, a refused option, the cooldown)."""
    reporting = bot.on_command_error  # dpytest's wrapper, which queues the error

    async def on_command_error(ctx: Any, error: commands.CommandError) -> None:
        inner = getattr(error, "original", error)
        inner = getattr(inner, "original", inner)
        if isinstance(inner, RoomError | commands.UserInputError | commands.CommandOnCooldown):
            return
        await reporting(ctx, error)

    bot.on_command_error = on_command_error  # type: ignore[method-assign]


BotFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BotFactory]:
    """Builds bots on one database file (`tmp_path/room.db`); a second call is a restart: a new
    bot, room service and store on the same file (and a new fake Discord guild)."""
    monkeypatch.chdir(tmp_path)  # dpytest writes sent attachments to the working directory
    sent = SentLog()
    undo = _record(sent)
    opened: list[Harness] = []

    async def factory(
        *,
        cooldown_s: float = 0.0,
        generator: Any = None,
        extensions: Any = EXTENSIONS,
        model: str = "",
    ) -> Harness:
        """`generator`: a `TakeGenerator` (default: a new `CannedGenerator`); `model`: the
        `MODEL` setting (empty: the built-in model, as the bot's settings say)."""
        store = await Store.open(tmp_path / "room.db")
        canned = generator or CannedGenerator()
        room = RoomService(store, canned)
        settings = Settings(
            command_cooldown_s=cooldown_s, database=tmp_path / "room.db", model=model
        )
        bot = WritersRoomBot(
            room,
            settings,
            extensions=extensions,
            sync_commands=False,
            close_interval_s=3600,
            progress_interval_s=0.01,
            # dpytest keeps its members in the member cache, which needs the members intent.
            intents=discord.Intents.all(),
        )
        await bot._async_setup_hook()
        with monkeypatch.context() as patch:
            patch.setattr(discord, "AutoShardedClient", type("NotSharded", (), {}))
            dpytest.configure(bot, members=["ana", "ben", "cy"])
        _add_reaction_type(bot._connection)
        _only_unexpected_errors(bot)
        await bot.setup_hook()
        config = dpytest.get_config()
        channel = config.channels[0]
        assert isinstance(channel, discord.TextChannel)
        harness = Harness(bot, room, canned, sent, store, channel, list(config.members))
        opened.append(harness)
        return harness

    yield factory
    undo()
    for harness in opened:
        if harness.bot._closer is not None:
            harness.bot._closer.cancel()
        await harness.store.close()
    await dpytest.empty_queue()


# --- interactions dpytest cannot make --------------------------------------------------------


@dataclass
class Answer:
    kind: str  # "send_message", "edit_message", "send_modal", "defer", "followup"
    kwargs: dict[str, Any]
    args: tuple[Any, ...] = ()

    @property
    def text(self) -> str:
        return str(self.args[0] if self.args else self.kwargs.get("content", ""))


class FakeResponse:
    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self._done = False

    def is_done(self) -> bool:
        return self._done

    async def _answer(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        assert not self._done, "an interaction is answered once"
        self._done = True
        self.answers.append(Answer(kind, kwargs, args))

    async def send_message(self, *args: Any, **kwargs: Any) -> None:
        await self._answer("send_message", args, kwargs)

    async def edit_message(self, *args: Any, **kwargs: Any) -> None:
        await self._answer("edit_message", args, kwargs)

    async def send_modal(self, modal: discord.ui.Modal) -> None:
        await self._answer("send_modal", (modal,), {})

    async def defer(self, **kwargs: Any) -> None:
        await self._answer("defer", (), kwargs)


class FakeFollowup:
    def __init__(self, answers: list[Answer], channel: discord.TextChannel) -> None:
        self.answers = answers
        self.channel = channel

    async def send(self, *args: Any, wait: bool = False, **kwargs: Any) -> Any:
        self.answers.append(Answer("followup", kwargs, args))
        if kwargs.get("ephemeral"):
            return None
        kwargs.pop("ephemeral", None)
        # A followup is a message in the channel: dpytest posts it so edits and reactions work.
        return await self.channel.send(*args, **kwargs)


class FakeInteraction:
    """What a button click or a modal submission hands the bot, as far as the bot reads it."""

    def __init__(
        self,
        client: discord.Client,
        user: discord.Member,
        channel: discord.TextChannel,
        message: discord.Message | None = None,
        *,
        room_id: int | None = None,
        locale: discord.Locale = discord.Locale.american_english,
    ) -> None:
        self.client = client
        self.locale = locale  # the user's Discord language, which every interaction carries
        self.guild_locale = channel.guild.preferred_locale
        self.user = user
        self.channel = channel
        self.channel_id = room_id if room_id is not None else channel.id
        self.message = message
        self.guild = channel.guild
        self.data: dict[str, Any] = {}
        self.answers: list[Answer] = []
        self.response = FakeResponse(self.answers)
        self.followup = FakeFollowup(self.answers, channel)

    def as_interaction(self) -> discord.Interaction:
        return self  # type: ignore[return-value]
