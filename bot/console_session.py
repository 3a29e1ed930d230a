"""Where a console session's lines come from, and the session itself: piped input line by line,
or a terminal with readline editing and a history file; `run_console` answers a source's lines
and `interactive_session` is `python -m bot console`.

The lines are read on a daemon thread, so the event loop (the model's progress, a Ctrl-C) never
waits on the keyboard. Knows terminals and streams; what a line does is `bot.console`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.console import Console
from bot.messages import ENGLISH, Lang, text

_log = logging.getLogger(__name__)


async def read_lines(
    stream: TextIO, *, prompt: Callable[[], str] | None = None
) -> AsyncIterator[str]:
    """The lines of `stream`, read on a daemon thread so the event loop (and with it the model's
    progress and a Ctrl-C) never waits on the keyboard. With `prompt`, lines are read with
    `input()` (readline editing and history when the stream is the terminal)."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[str | None] = asyncio.Queue()
    ready = threading.Event()

    def reader() -> None:
        line: str | None = ""
        while line is not None:
            ready.wait()
            ready.clear()
            try:
                # `input` raises EOFError at the end; `readline` returns "" (a blank line is "\n").
                line = input(prompt()) if prompt is not None else stream.readline() or None
            except EOFError:
                line = None
            except Exception:
                _log.exception("reading the console's input failed")
                line = None
            loop.call_soon_threadsafe(inbox.put_nowait, line)

    threading.Thread(target=reader, name="console-input", daemon=True).start()
    while True:
        ready.set()  # the prompt shows only once the previous answer has printed
        line = await inbox.get()
        if line is None:
            return
        yield line


def _with_history(path: Path) -> Callable[[], None] | None:
    """Readline history kept in `path`; returns the function that saves it (None without
    readline)."""
    try:
        import readline
    except ImportError:
        return None
    with contextlib.suppress(OSError):  # no history yet
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        try:
            readline.write_history_file(path)
        except OSError as err:
            _log.warning("cannot save the console history to %s: %s", path, err)

    return save


async def run_console(
    app: App,
    source: Iterable[str] | AsyncIterator[str],
    out: TextIO,
    *,
    room_id: int = 1,
    tty: bool = False,
    echo: bool = False,
    lang: Lang = ENGLISH,
) -> Console:
    """Run a console session on `app` over the lines of `source`, answering on `out` in
    `lang`."""
    console = Console(app, out, room_id=room_id, tty=tty, echo=echo, lang=lang)
    await console.run(source if isinstance(source, AsyncIterator) else _aiter(source))
    return console


async def _aiter(lines: Iterable[str]) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def interactive_session(
    app: App, *, room_id: int, history: Path | None, lang: Lang = ENGLISH
) -> None:
    """The console on the terminal (standard input and output), or on piped lines."""
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    if not tty:
        await run_console(
            app, read_lines(sys.stdin), sys.stdout, room_id=room_id, echo=True, lang=lang
        )
        return
    save = _with_history(history) if history is not None else None
    print(text("console.banner", lang, room=room_id, model=app.model_name))
    console = Console(app, sys.stdout, room_id=room_id, tty=True, lang=lang)
    try:
        await console.run(
            read_lines(sys.stdin, prompt=lambda: text("console.prompt", lang, room=console.room_id))
        )
    finally:
        if save is not None:
            save()
