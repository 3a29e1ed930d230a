"""The command line, driven both through `main(argv)` and as `python -m screenplay`."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from screenplay.cli import MAX_INPUT_BYTES, main
from screenplay.fdx import parse_fdx
from screenplay.fountain import parse_fountain

SCRIPT = """Title: Late Again

INT. KITCHEN - NIGHT

Mara stirs a pot.

MARA
We're late.

TOM
(quietly)
I know.

EXT. GARDEN - DAY

@林小雨
你好。
"""

FLAWED = """INT. KITCHEN

Mara opens the drawer (slowly.

MARA
We're late) again.

STRANGER
Hello?
"""

MESSY = """Sure! Here is your scene:

```fountain
## INT. KITCHEN - NIGHT
Mara stirs a pot.
**MARA:** (quietly) We're late.
Tom: I know.
```

I hope this helps!"""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "late.fountain"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, err: str, *words: str) -> None:
    assert status == 2
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("screenplay: error: "), err
    for word in words:
        assert word in err, err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- convert ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "suffix", "check"),
    [
        ("fdx", ".fdx", lambda data: parse_fdx(data).title == "Late Again"),
        ("pdf", ".pdf", lambda data: data.startswith(b"%PDF")),
        ("html", ".html", lambda data: "林小雨" in data.decode("utf-8")),
        ("fountain", ".fountain", lambda data: parse_fountain(data.decode()).title),
    ],
)
def test_convert_to_each_format(
    script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, suffix: str, check
) -> None:
    out = tmp_path / f"out{suffix}"
    status, stdout, stderr = run(["convert", str(script), "--to", fmt, "-o", str(out)], capsys)
    assert (status, stdout, stderr) == (0, "", "")
    assert check(out.read_bytes())
    assert leftovers(tmp_path) == []


def test_convert_tells_the_format_from_the_output_name(
    script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "late.fdx"
    assert run(["convert", str(script), "-o", str(out)], capsys)[0] == 0
    assert parse_fdx(out.read_bytes()).title == "Late Again"


def test_convert_without_a_known_format_says_what_to_do(
    script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["convert", str(script), "-o", str(tmp_path / "late.doc")], capsys)
    assert_one_line_error(status, err, "--to")


def test_fdx_input_is_recognised_by_content_too(
    script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fdx = tmp_path / "late.fdx"
    assert run(["convert", str(script), "-o", str(fdx)], capsys)[0] == 0
    disguised = tmp_path / "late.txt"
    disguised.write_bytes(fdx.read_bytes())
    back = tmp_path / "back.fountain"
    assert run(["convert", str(disguised), "-o", str(back)], capsys)[0] == 0
    assert parse_fountain(back.read_text(encoding="utf-8")) == parse_fdx(fdx.read_bytes())


def test_a4_pdf_has_a4_pages(
    script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pdfplumber

    out = tmp_path / "late.pdf"
    assert run(["convert", str(script), "-o", str(out), "--paper", "a4"], capsys)[0] == 0
    with pdfplumber.open(out) as pdf:
        page = pdf.pages[-1]
        assert (round(page.width), round(page.height)) == (595, 842)


def test_convert_to_stdout(script: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["convert", str(script), "--to", "fountain", "-o", "-"]) == 0
    assert "INT. KITCHEN - NIGHT" in capsysbinary.readouterr().out.decode("utf-8")


# --- lint -------------------------------------------------------------------------------------


def test_lint_reports_each_problem_on_a_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "flawed.fountain"
    path.write_text(FLAWED, encoding="utf-8")
    status, out, err = run(["lint", str(path), "--cast", "MARA, TOM"], capsys)
    assert status == 1
    assert out.splitlines() == [
        f"{path}: line 1: The scene heading 'INT. KITCHEN' has no time of day; add one after a "
        "dash, e.g. INT. KITCHEN - NIGHT. [malformed-heading]",
        f'{path}: line 3: Action "Mara opens the drawer (slowly." opens a parenthesis that is '
        "never closed. [unbalanced-parentheses]",
        f'{path}: line 6: Dialogue "We\'re late) again." closes a parenthesis that was never '
        "opened. [unbalanced-parentheses]",
        f"{path}: line 8: STRANGER speaks but is not in the cast. [unknown-speaker]",
    ]
    assert err == "4 problems found.\n"


def test_lint_of_a_clean_script_exits_0_quietly(
    script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["lint", str(script)], capsys) == (0, "", "")
    assert run(["lint", str(script), "--cast", "mara,tom", "--cast", "林小雨"], capsys) == (
        0,
        "",
        "",
    )


def test_lint_with_a_cast_finds_strangers(script: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["lint", str(script), "--cast", "MARA"], capsys)
    assert status == 1
    assert "TOM speaks but is not in the cast" in out
    assert "林小雨 speaks but is not in the cast" in out


# --- stats ------------------------------------------------------------------------------------


def test_stats_table(script: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["stats", str(script)], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["Pages", "1", "(letter)"]
    assert ["Scenes", "2"] in [line.split() for line in lines]
    assert any(line.split()[:3] == ["KITCHEN", "1", "INT."] for line in lines)
    assert any(line.split() == ["MARA", "1", "2"] for line in lines)


def test_stats_json(script: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["stats", str(script), "--json", "--paper", "a4"], capsys)
    data = json.loads(out)
    assert status == 0
    assert data["paper"] == "a4" and data["pages"] == 1 and data["scenes"] == 2
    # One speech of two words each: the order of first appearance.
    assert [c["name"] for c in data["characters"]] == ["MARA", "TOM", "林小雨"]


# --- repair -----------------------------------------------------------------------------------


def test_repair_writes_clean_fountain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy = tmp_path / "take.txt"
    messy.write_text(MESSY, encoding="utf-8")
    out = tmp_path / "take.fountain"
    status, _, err = run(["repair", str(messy), "-o", str(out), "--cast", "Mara,Tom", "-v"], capsys)
    assert status == 0
    doc = parse_fountain(out.read_text(encoding="utf-8"))
    assert [type(e).__name__ for e in doc.elements] == [
        "SceneHeading",
        "Action",
        "Character",
        "Parenthetical",
        "Dialogue",
        "Character",
        "Dialogue",
    ]
    assert "set aside: Sure! Here is your scene:" in err
    assert "set aside: I hope this helps!" in err
    assert "repaired: removed markdown code fences" in err


def test_repair_of_nothing_but_chatter_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messy = tmp_path / "take.txt"
    messy.write_text("Sure! I can help with that.", encoding="utf-8")
    out = tmp_path / "take.fountain"
    status, _, err = run(["repair", str(messy), "-o", str(out)], capsys)
    assert_one_line_error(status, err, "no screenplay text")
    assert not out.exists()


# --- bad input and output ---------------------------------------------------------------------


@pytest.fixture
def old_output(tmp_path: Path) -> Path:
    """An output file from an earlier run, which a failed run must leave as it was."""
    path = tmp_path / "out.pdf"
    path.write_bytes(b"old")
    return path


_BAD_INPUTS: dict[str, tuple[bytes | None, str]] = {
    "missing.fountain": (None, "does not exist"),
    "empty.fountain": (b"", "is empty"),
    "blank.fountain": (b"\n  \n\t\n", "is empty"),
    "binary.fountain": (bytes(range(256)) * 4, "binary"),
    "latin1.fountain": ("INT. CAFÉ - DAY\n\nNoël.\n".encode("latin-1"), "not UTF-8"),
    "broken.fdx": (b"<?xml version='1.0'?><FinalDraft><Content><Paragraph>", "broken.fdx"),
    "notfdx.fdx": (b"INT. KITCHEN - NIGHT\n", "notfdx.fdx"),
    "document.pdf": (b"%PDF-1.4\n...", "is a PDF"),
}


def _bad_input(tmp_path: Path, case: str) -> tuple[Path, str]:
    if case == "folder":
        return tmp_path, "is a folder"
    path = tmp_path / case
    if case == "huge.fountain":
        # 10 MB, written sparsely: the size is refused before a byte is read.
        with path.open("wb") as out:
            out.truncate(10 * 1024 * 1024)
        return path, "5 MB"
    data, expected = _BAD_INPUTS[case]
    if data is not None:
        path.write_bytes(data)
    return path, expected


_CASES = [
    "missing.fountain",
    "empty.fountain",
    "blank.fountain",
    "binary.fountain",
    "latin1.fountain",
    "huge.fountain",
    "broken.fdx",
    "notfdx.fdx",
    "document.pdf",
    "folder",
]


@pytest.mark.parametrize(
    ("command", "case"),
    [
        (command, case)
        for command in ("convert", "lint", "stats", "repair")
        for case in _CASES
        # repair reads any text, whatever its name: these two are well-formed text files.
        if not (command == "repair" and case.endswith(".fdx"))
    ],
)
def test_bad_input_gives_one_line_and_exit_2_and_keeps_the_old_output(
    tmp_path: Path,
    old_output: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    case: str,
) -> None:
    path, expected = _bad_input(tmp_path, case)
    argv = [command, str(path)]
    if command in {"convert", "repair"}:
        argv += ["-o", str(old_output)]
    status, out, err = run(argv, capsys)
    assert_one_line_error(status, err, expected)
    assert out == ""
    assert old_output.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_the_size_limit_is_5_mb() -> None:
    assert MAX_INPUT_BYTES == 5 * 1024 * 1024


def test_missing_output_folder(
    script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "such" / "folder" / "late.pdf"
    status, _, err = run(["convert", str(script), "-o", str(out)], capsys)
    assert_one_line_error(status, err, "does not exist")
    assert not out.parent.exists()


def test_output_that_is_a_folder(
    script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["convert", str(script), "--to", "pdf", "-o", str(tmp_path)], capsys)
    assert_one_line_error(status, err, "is a folder")


def _unwritable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        tempfile.mkstemp(dir=folder)
    except PermissionError:
        return folder
    # Running as root, permissions do not stop writes; sysfs refuses new files even to root.
    folder.chmod(0o700)
    try:
        os.close(tempfile.mkstemp(dir="/sys")[0])
    except OSError:
        return Path("/sys")

    # No folder on this machine refuses writes: make the operating system's answer for one.
    def refuse(*args: object, dir: str | None = None, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied", dir)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    return folder


def test_unwritable_output(
    script: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = _unwritable_folder(tmp_path, monkeypatch)
    status, _, err = run(["convert", str(script), "-o", str(folder / "late.pdf")], capsys)
    assert_one_line_error(status, err, "Cannot write", "permission denied")


def test_a_failed_write_leaves_neither_half_a_file_nor_a_temporary_one(
    script: Path,
    tmp_path: Path,
    old_output: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    status, _, err = run(["convert", str(script), "-o", str(old_output)], capsys)
    assert_one_line_error(status, err, "the disk is full")
    assert old_output.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_output_keeps_ordinary_permissions(
    script: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "late.html"
    assert run(["convert", str(script), "-o", str(out)], capsys)[0] == 0
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_utf8_bom_and_windows_line_endings_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bom.fountain"
    path.write_bytes(b"\xef\xbb\xbf" + SCRIPT.replace("\n", "\r\n").encode("utf-8"))
    status, out, _ = run(["stats", str(path), "--json"], capsys)
    assert status == 0 and json.loads(out)["scenes"] == 2


# --- as a program -----------------------------------------------------------------------------


def _program(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "screenplay", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )


def test_program_help_describes_every_option() -> None:
    done = _program("convert", "--help")
    assert done.returncode == 0
    for option in ("--to", "--output", "--paper", "IN"):
        assert option in done.stdout


def test_program_converts_and_fails_cleanly(script: Path, tmp_path: Path) -> None:
    out = tmp_path / "late.pdf"
    done = _program("convert", str(script), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")

    done = _program("lint", str(tmp_path / "missing.fountain"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_program_lint_exit_status(tmp_path: Path) -> None:
    path = tmp_path / "flawed.fountain"
    path.write_text(FLAWED, encoding="utf-8")
    done = _program("lint", str(path))
    assert done.returncode == 1
    assert "line 8: STRANGER" not in done.stdout, "no cast given: nobody is a stranger"
    assert "line 6: Dialogue" in done.stdout
