"""The console's `/export path:` and `/import path:` against paths that are not plain files: an
export goes through a symlink to its target, is refused on one line over a device, a folder,
`.`, `/` or a name with a NUL, and never leaves a partial file behind; an import reads regular
files only, so a pipe named like a script is refused at once instead of hanging the console."""

from __future__ import annotations

import io
import os
import re
import stat
import threading
import time
from pathlib import Path

import pytest

from bot.app import open_app
from bot.console_session import run_console
from bot.settings import Settings
from tests.bot.conftest import FakeGenerator

SCRIPT = '/write text:"INT. HALL - DAY\\n\\nA door."'


async def _session(tmp_path: Path, lines: list[str]) -> dict[str, str]:
    out = io.StringIO()
    async with open_app(Settings(database=tmp_path / "room.db"), generator=FakeGenerator()) as app:
        await run_console(app, lines, out, echo=True)
    answers: dict[str, str] = {}
    for block in re.split(r"^> ", out.getvalue(), flags=re.MULTILINE)[1:]:
        command, _, answer = block.partition("\n")
        answers[command] = answer
    return answers


def _device(path: Path) -> Path:
    """A device node of the test's own (a null device, where the test may make one; a pipe
    otherwise): a test that wrongly replaced it must not break the machine's /dev/null."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        os.mkfifo(path)
    return path


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith((".part", ".tmp"))]


async def test_an_export_goes_through_a_symlink_and_refuses_what_is_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exports = tmp_path / "exports"
    exports.mkdir()
    real = exports / "real.fountain"
    real.write_text("old")
    link = tmp_path / "link.fountain"
    link.symlink_to(real)
    device = _device(tmp_path / "null.fountain")
    refused = {  # each path, and what its one-line refusal names
        str(device): "a device" if device.is_char_device() else "a pipe",
        str(exports): "a folder",
        ".": "a folder",
        "/": "a folder",
        "bad\x00name.fountain": "NUL",
    }
    lines = [
        SCRIPT,
        f"/export path:{link}",
        f"/export path:{tmp_path}/new/deep/script.pdf format:pdf",
    ]
    lines += [f'/export path:"{path}"' for path in refused]
    answers = await _session(tmp_path, lines)

    assert answers[lines[1]] == f"Wrote {link} (fountain, {real.stat().st_size:,} bytes).\n"
    assert link.is_symlink() and link.resolve() == real  # the link stays; its target is new
    assert "INT. HALL - DAY" in real.read_text()
    assert (tmp_path / "new/deep/script.pdf").read_bytes().startswith(b"%PDF")
    for (path, why), line in zip(refused.items(), lines[3:], strict=True):
        answer = answers[line]
        assert answer.startswith("error: ") and answer.count("\n") == 1, (path, answer)
        assert why in answer, (path, answer)
    assert not device.is_file()  # never replaced
    assert exports.is_dir() and sorted(p.name for p in exports.iterdir()) == ["real.fountain"]
    assert _leftovers(tmp_path) == []


async def test_an_import_refuses_a_pipe_named_like_a_script_at_once(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.fountain"
    os.mkfifo(pipe)
    stop = time.monotonic() + 3

    def unblock() -> None:
        """Should the console open the pipe to read it, a writer comes and goes, so that the
        test ends (with a wrong answer) instead of hanging."""
        while time.monotonic() < stop:
            try:
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError:
                time.sleep(0.05)

    threading.Thread(target=unblock, daemon=True).start()
    big = tmp_path / "big.fountain"
    big.write_bytes(b"INT. HALL - DAY\n\n" + b"A door. " * 800_000)
    lines = [f"/import path:{pipe}", f"/import path:{big}"]
    answers = await _session(tmp_path, lines)
    assert answers[lines[0]] == (
        f"error: Cannot read that file: {pipe} is a pipe; only regular files are read.\n"
    )
    assert answers[lines[1]].startswith(f"error: Cannot read that file: {big} is 6.1 MB;")
