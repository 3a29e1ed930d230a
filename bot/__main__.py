"""`python -m bot`: the Discord bot when a token is set, otherwise the console room.

    python -m bot                     # Discord with DISCORD_TOKEN (in .env or the environment)
    python -m bot console [--db PATH] [--model M] [--adapter A] [--seed N] [--room N]

Settings come from `.env` and the environment (`bot.settings`); the flags override them for one
run. SIGINT and SIGTERM stop the console gracefully: the queue finishes what it holds, the takes
are stored, the database is closed (a second signal stops at once — SQLite's journal keeps the
database whole either way). The token is never printed or logged. A setting or a database the
bot cannot use ends the process with one `error: ...` line and exit status 2, no traceback.

It knows the command line and the process's lifetime; the console and the Discord wiring are
their own modules, the latter imported only when it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from bot.errors import worded_problem
from bot.messages import ENGLISH, Lang, first_lang, text
from bot.settings import Settings, SettingsError, load_settings
from bot.store import StoreError

_log = logging.getLogger("bot")
_LOADED = time.perf_counter()


def _add_lang(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang",
        choices=("en", "zh", "zh-CN", "zh-TW"),
        default=argparse.SUPPRESS,  # given before or after `console`, either counts
        help="the console's language: en (default), zh or zh-CN (simplified), zh-TW (traditional)",
    )


def console_lang(args: argparse.Namespace) -> Lang:
    """The language the console answers in (`--lang`), English by default."""
    return first_lang(getattr(args, "lang", None))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="The writers' room: a Discord bot (with DISCORD_TOKEN set) or a console room.",
    )
    _add_lang(parser)
    commands = parser.add_subparsers(dest="command", metavar="{console}")
    console = commands.add_parser(
        "console", help="the writers' room in this terminal (or on piped lines)"
    )
    console.add_argument("--db", type=Path, help="the SQLite database (default: DATABASE)")
    console.add_argument(
        "--model",
        help="a Hugging Face model id or directory (default: MODEL, else the shipped one)",
    )
    console.add_argument("--adapter", help="a LoRA adapter directory, or 'none'")
    console.add_argument(
        "--seed", type=int, help="a fixed seed, so a scripted session gives the same takes"
    )
    console.add_argument("--room", type=int, default=1, help="the room to open (default: 1)")
    _add_lang(console)
    return parser.parse_args(argv)


def console_settings(settings: Settings, args: argparse.Namespace) -> Settings:
    """`settings` with the console's flags applied."""
    changes: dict[str, object] = {}
    if getattr(args, "db", None) is not None:
        changes["database"] = args.db.expanduser()
    if getattr(args, "model", None) is not None:
        changes["model"] = args.model
    if getattr(args, "adapter", None) is not None:
        changes["adapter"] = args.adapter
    if getattr(args, "seed", None) is not None:
        if args.seed < 0:
            raise SettingsError("--seed must be 0 or more.")
        changes["seed"] = args.seed
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


def configure_logging(level: str, *, console: bool) -> None:
    """Log lines on standard error. The console keeps its terminal for the room: only warnings
    and errors, unless LOG_LEVEL asks for more (DEBUG)."""
    wanted = getattr(logging, level.upper(), logging.INFO)
    if console and wanted != logging.DEBUG:
        wanted = logging.WARNING
    logging.basicConfig(
        level=wanted, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # The libraries' own chatter (HTTP, tokenizers) is noise at the bot's INFO level.
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(max(wanted, logging.WARNING))
    # Deprecation notices of torch and transformers are for developers, not for a writers'
    # room: they are shown only with LOG_LEVEL=DEBUG.
    logging.captureWarnings(True)
    warnings.filterwarnings("default", category=FutureWarning)
    library_level = logging.DEBUG if wanted <= logging.DEBUG else logging.ERROR
    logging.getLogger("py.warnings").setLevel(library_level)
    logging.getLogger("transformers").setLevel(library_level)


async def console_main(settings: Settings, room_id: int, lang: Lang = ENGLISH) -> int:
    """Open the app and run the console until its input ends, `/quit`, or a signal."""
    if settings.backend == "local":
        what = settings.model or text("start.shipped_model", lang)
        print(text("start.loading", lang, model=what), file=sys.stderr, flush=True)
        if not sys.stderr.isatty():
            # Progress bars redrawn with carriage returns only clutter a log file. Said through
            # the environment: importing transformers to say it would cost a warm start a second.
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TQDM_DISABLE", "1")
    # Imported after the line above, which the writer should not wait two seconds (torch) for.
    from bot.app import cancel_on_signals, open_app
    from bot.console_session import interactive_session
    from model.loading import ModelLoadError

    def say_stopping(signum: int) -> None:
        print("\n" + text("start.stopping", lang), file=sys.stderr, flush=True)

    with cancel_on_signals(say_stopping) as signals:
        try:
            async with open_app(settings) as app:
                took = seconds_since_start()
                ready = text("start.ready", lang, model=app.model_name, seconds=f"{took:.1f}")
                print(ready, file=sys.stderr, flush=True)
                history = settings.database.parent / "console_history"
                await interactive_session(app, room_id=room_id, history=history, lang=lang)
        except asyncio.CancelledError:
            if not signals:
                raise
            print(text("start.stopped", lang), file=sys.stderr)
            return 0
        except (ModelLoadError, SettingsError) as err:
            said = worded_problem(err, "model_load", "start.unworded").render(lang)
            print(text("start.failed", lang, reason=said), file=sys.stderr)
            return 1
    return 0


def seconds_since_start() -> float:
    """Seconds since this process started, as the kernel recorded its start (so the interpreter's
    own start and every import count too); where /proc cannot say, since this module loaded."""
    try:
        with open("/proc/self/stat", encoding="utf-8", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: ticks after boot
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, IndexError, ValueError, AttributeError):
        return time.perf_counter() - _LOADED


def run_discord_bot(settings: Settings) -> int:
    # The entry point is the one place below the glue that reaches up to it: the console room
    # never loads discord.py.
    try:
        from cogs.client import run_discord
    except ImportError as err:
        if err.name not in ("cogs", "cogs.client", "discord"):
            raise
        print(
            "error: this installation has no Discord front end (cogs/client.py); "
            "run `python -m bot console` for the console room.",
            file=sys.stderr,
        )
        return 1
    return run_discord(settings)


def console_room(args: argparse.Namespace) -> int:
    """The room the console opens (`--room`)."""
    room_id: int = getattr(args, "room", 1)
    if not 1 <= room_id < 1 << 63:
        raise SettingsError(f"--room must be a number from 1 to {(1 << 63) - 1}.")
    return room_id


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    lang = console_lang(args)
    try:
        settings = console_settings(load_settings(), args)
        room_id = console_room(args)
    except SettingsError as err:
        print(text("start.failed", lang, reason=str(err)), file=sys.stderr)
        return 2
    try:
        if args.command is None and settings.has_token:
            configure_logging(settings.log_level, console=False)
            _log.info("starting with settings %s", settings.redacted())
            return run_discord_bot(settings)
        if args.command is None:
            print(text("start.no_token", lang), file=sys.stderr)
        configure_logging(settings.log_level, console=True)
        return asyncio.run(console_main(settings, room_id, lang))
    except StoreError as err:  # a database the bot cannot use, said in one line
        print(text("start.failed", lang, reason=str(err)), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
