"""Script files on disk: what `screenplay.files` reads and writes, and refuses to, in one line.

The command line and the console room read scripts and write exports through these two
functions, so a path that names a device, a pipe or a folder must fail at once and say why,
never hang, fill the memory, or replace something that is not a file.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from screenplay.cli import main
from screenplay.errors import FileError, ScreenplayError
from screenplay.files import MAX_SCRIPT_BYTES, read_script_bytes, write_atomic

SCRIPT = b"INT. KITCHEN - NIGHT\n\nMara stirs a pot.\n"
ROOT = Path(__file__).resolve().parents[2]


def one_line(err: pytest.ExceptionInfo[FileError], *words: str) -> None:
    message = str(err.value)
    assert isinstance(err.value, ScreenplayError)
    assert "\n" not in message and len(message) < 300, message
    for word in words:
        assert word in message, message


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.fountain"
    os.mkfifo(path)
    return path


# --- reading ----------------------------------------------------------------------------------


def test_a_script_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "late.fountain"
    path.write_bytes(SCRIPT)
    assert read_script_bytes(path) == SCRIPT
    assert read_script_bytes(str(path), limit=len(SCRIPT)) == SCRIPT


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.fountain"
    with huge.open("wb") as out:
        out.truncate(MAX_SCRIPT_BYTES + 1)
    with pytest.raises(FileError) as err:
        read_script_bytes(huge)
    one_line(err, "huge.fountain", "5 MB")
    small = tmp_path / "late.fountain"
    small.write_bytes(SCRIPT)
    with pytest.raises(FileError) as err:
        read_script_bytes(small, limit=10)
    one_line(err, "late.fountain", "10 bytes")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/dev/zero", ["/dev/zero", "device"]),
        ("/dev/null", ["/dev/null", "device"]),
        ("missing.fountain", ["missing.fountain", "does not exist"]),
        ("", ["No file name"]),
        ("late\0.fountain", ["NUL"]),
    ],
)
def test_what_is_not_a_readable_file_is_refused_in_one_line(
    path: str, words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileError) as err:
        read_script_bytes(path)
    one_line(err, *words)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileError) as err:
        read_script_bytes(tmp_path)
    one_line(err, "is a folder")


def test_a_pipe_is_refused_without_waiting_for_a_writer(fifo: Path) -> None:
    # In a child process: were the open to wait for a writer, only a timeout would end it.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from screenplay.files import read_script_bytes; read_script_bytes({str(fifo)!r})",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode != 0
    assert "FileError" in done.stderr and "pipe" in done.stderr


# --- writing ----------------------------------------------------------------------------------


def test_a_new_file_is_written_with_ordinary_permissions_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "late.fdx"
    assert write_atomic(out, b"new") == out.resolve()
    assert out.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.fdx"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_an_existing_file_is_replaced_and_keeps_its_permissions(tmp_path: Path) -> None:
    out = tmp_path / "late.fountain"
    out.write_bytes(b"old")
    out.chmod(0o640)
    write_atomic(str(out), b"new")
    assert out.read_bytes() == b"new"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_a_symlink_is_written_through_and_stays_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "drafts" / "late.fountain"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "current.fountain"
    link.symlink_to(target)
    assert write_atomic(link, b"new") == target.resolve()
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["late.fountain"]


def test_a_dangling_symlink_gets_its_target_written(tmp_path: Path) -> None:
    link = tmp_path / "current.fountain"
    link.symlink_to(tmp_path / "late.fountain")
    write_atomic(link, b"new")
    assert link.is_symlink() and (tmp_path / "late.fountain").read_bytes() == b"new"


def test_a_device_is_never_replaced() -> None:
    with pytest.raises(FileError) as err:
        write_atomic("/dev/null", b"new")
    one_line(err, "Cannot write /dev/null", "device")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_pipe_is_never_replaced_or_opened(fifo: Path) -> None:
    with pytest.raises(FileError) as err:
        write_atomic(fifo, b"new")
    one_line(err, "pipe")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in fifo.parent.iterdir()) == [fifo.name]


def test_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(FileError) as err:
        write_atomic(tmp_path / "a", b"new")
    one_line(err, "loop")


@pytest.mark.parametrize("name", [".", "/", "..", "drafts/", "folder"])
def test_a_folder_is_refused_as_an_output(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileError) as err:
        write_atomic(name, b"new")
    one_line(err, "folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


@pytest.mark.parametrize(
    ("name", "words"),
    [("late\0.pdf", ["NUL"]), ("", ["No file name"]), ("no/such/late.pdf", ["does not exist"])],
)
def test_a_name_that_cannot_be_written_is_refused_in_one_line(
    name: str, words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileError) as err:
        write_atomic(name, b"new")
    one_line(err, *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_failure_leaves_the_old_file_and_no_temporary_one(
    failing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "late.pdf"
    out.write_bytes(b"old")

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    if failing == "write":
        monkeypatch.setattr(os, "fsync", full)
    else:
        monkeypatch.setattr(os, failing, full)
    with pytest.raises(FileError) as err:
        write_atomic(out, b"new")
    one_line(err, "the disk is full")
    assert err.value.kind == "disk_full"
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.pdf"]


def test_an_interrupted_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "late.pdf", b"new")
    assert list(tmp_path.iterdir()) == []


# --- the command line -------------------------------------------------------------------------


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


_COMMANDS = (["lint"], ["stats"], ["convert", "-o", "out.html"], ["repair", "-o", "out.html"])


@pytest.mark.parametrize(
    ("path", "words"),
    [("/dev/zero", "device"), ("/dev/null", "device"), (".", "is a folder"), ("huge", "5 MB")],
)
def test_each_command_refuses_a_device_a_folder_and_a_huge_file_in_one_line(
    path: str,
    words: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    with Path("huge").open("wb") as out:
        out.truncate(64 * 1024 * 1024)
    for command, *options in _COMMANDS:
        status, out, err = run([command, path, *options], capsys)
        assert (status, out) == (2, "")
        assert err.count("\n") == 1 and words in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge"]


_EACH_COMMAND = """
import sys
from screenplay.cli import main
for argv in sys.argv[1:]:
    print(main(argv.split("|")), file=sys.stderr)
"""


def test_each_command_refuses_a_pipe_without_waiting_for_a_writer(
    fifo: Path, tmp_path: Path
) -> None:
    out = str(tmp_path / "out.html")
    argv = [
        "|".join([command, str(fifo), *(["-o", out] if options else [])])
        for command, *options in _COMMANDS
    ]
    # In a child process with a time limit: a pipe opened for reading waits for a writer.
    done = subprocess.run(
        [sys.executable, "-c", _EACH_COMMAND, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    lines = done.stderr.splitlines()
    assert lines[1::2] == ["2"] * 4, done.stderr
    assert all(line.startswith("screenplay: error: ") and "pipe" in line for line in lines[::2])
    assert not Path(out).exists()


def test_convert_writes_through_a_symlink_and_refuses_a_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "late.fountain"
    script.write_bytes(SCRIPT)
    target = tmp_path / "export.html"
    target.write_bytes(b"old")
    (tmp_path / "link.html").symlink_to(target)
    assert run(["convert", str(script), "-o", str(tmp_path / "link.html")], capsys)[0] == 0
    assert (tmp_path / "link.html").is_symlink() and b"KITCHEN" in target.read_bytes()
    status, _, err = run(["convert", str(script), "--to", "html", "-o", "/dev/null"], capsys)
    assert status == 2 and "device" in err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_lint_prints_the_first_problems_each_on_a_short_line_and_counts_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "flawed.fountain"
    name = "A" * 500
    path.write_text(
        "".join(f"INT. KITCHEN {i}\n\n@{name}\n\n" for i in range(120)), encoding="utf-8"
    )
    status, out, err = run(["lint", str(path)], capsys)
    assert status == 1
    lines = out.splitlines()
    assert len(lines) == 51
    assert lines[-1].endswith("… and 190 more (--limit 0 shows all)"), lines[-1]
    assert all(len(line) < len(str(path)) + 160 for line in lines), max(lines, key=len)
    assert err == "240 problems found.\n"
    assert len(run(["lint", str(path), "--limit", "0"], capsys)[1].splitlines()) == 240


def test_lint_of_an_fdx_that_fountain_cannot_carry_warns_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    speech = '<Paragraph Type="Dialogue"><Text>Nobody said this ( </Text></Paragraph>'
    path = tmp_path / "orphans.fdx"
    path.write_text(
        f"<FinalDraft><Content>{speech * 3000}</Content></FinalDraft>", encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING):
        assert run(["lint", str(path)], capsys)[0] == 1
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and len(warnings[0]) < 300, warnings
