"""The `python -m screenplay` command line: convert, lint, stats and repair screenplay files.

It knows files — how big a script may be, how to tell Fountain from Final Draft, how to write an
output so that a failure never leaves half a file behind — and turns every problem a user can
cause (a missing file, binary or non-UTF-8 input, malformed XML, an unwritable output) into one
line on stderr and exit status 2. It deliberately knows nothing of the formats themselves; the
readers and writers of the `screenplay` package do that.

Exit status: 0 success; 1 `lint` found problems; 2 the input or output could not be handled.
"""

from __future__ import annotations

import argparse
import codecs
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from screenplay.errors import ScreenplayError
from screenplay.fdx import parse_fdx
from screenplay.files import MAX_SCRIPT_BYTES, read_script_bytes, write_atomic
from screenplay.fountain import parse_fountain, to_fountain
from screenplay.layout import display_width
from screenplay.lint import lint
from screenplay.render import ALL_FORMATS, LAYOUTS, PAPERS, render
from screenplay.repair import repair_with_report
from screenplay.stats import stats
from screenplay.types import Document
from screenplay.zh import looks_like_zh, parse_zh

_log = logging.getLogger(__name__)

#: The largest input accepted (see `screenplay.files`).
MAX_INPUT_BYTES = MAX_SCRIPT_BYTES

#: Problems `lint` prints unless told otherwise: a broken file can have tens of thousands, and
#: the first fifty say what is wrong with it.
LINT_SHOWN = 50

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2

_FORMATS = {
    ".fountain": "fountain",
    ".spmd": "fountain",
    ".txt": "fountain",
    ".fdx": "fdx",
    ".docx": "docx",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
}


class CliError(Exception):
    """A problem the user can fix; `str()` is the one line printed."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING)
    try:
        status: int = args.run(args)
        return status
    except (CliError, ScreenplayError) as err:
        _fail(str(err))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as other tools do, and
        # keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as err:
        if args.debug:
            raise
        _log.debug("unexpected error", exc_info=True)
        _fail(f"unexpected error ({type(err).__name__}: {err}); rerun with --debug for details")
    return EXIT_ERROR


def _fail(message: str) -> None:
    line = " ".join(message.split())
    print(f"screenplay: error: {line}", file=sys.stderr)


# --- the commands -----------------------------------------------------------------------------


def _convert(args: argparse.Namespace) -> int:
    target = args.to or _FORMATS.get(Path(args.output).suffix.lower())
    if target is None:
        raise CliError(
            f"cannot tell the output format from {args.output!r}; "
            f"say --to {', '.join(ALL_FORMATS[:-1])} or {ALL_FORMATS[-1]}"
        )
    doc, _ = _load(args.input, args.source)
    _write(args.output, render(doc, target, paper=args.paper, layout=args.layout))
    return EXIT_OK


def _lint(args: argparse.Namespace) -> int:
    doc, source = _load(args.input, args.source)
    problems = lint(doc, _cast(args.cast), source=source)
    shown = problems if args.limit <= 0 else problems[: args.limit]
    for problem in shown:
        print(f"{args.input}: {problem} [{problem.code}]")
    if len(shown) < len(problems):
        print(f"{args.input}: … and {len(problems) - len(shown)} more (--limit 0 shows all)")
    if problems:
        count = len(problems)
        print(f"{count} problem{'s' if count != 1 else ''} found.", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    doc, _ = _load(args.input, args.source)
    figures = stats(doc, args.paper)
    if args.json:
        print(json.dumps(figures.to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    summary = [
        ("Pages", f"{figures.pages} ({figures.paper})"),
        ("Running time", f"about {figures.runtime_minutes:g} minutes"),
        ("Scenes", str(figures.scenes)),
        ("Words", str(figures.words)),
    ]
    print(_table(summary, None))
    locations = [
        (place.name, str(place.scenes), ", ".join(place.settings), ", ".join(place.times))
        for place in figures.locations
    ]
    if locations:
        print(_table(locations, ("Location", "Scenes", "Setting", "Times")))
    people = [(p.name, str(p.lines), str(p.words)) for p in figures.characters]
    if people:
        print(_table(people, ("Character", "Lines", "Words")), end="")
    return EXIT_OK


def _repair(args: argparse.Namespace) -> int:
    data = _read(args.input)
    result = repair_with_report(_decode(args.input, data), _cast(args.cast))
    if not result.document.elements and not result.document.title_page:
        raise CliError(f"{args.input} holds no screenplay text to repair")
    _write(args.output, to_fountain(result.document).encode("utf-8"))
    if args.verbose:
        for change in result.changes:
            print(f"repaired: {change}", file=sys.stderr)
        for chatter in result.removed_chatter:
            print(f"set aside: {' '.join(chatter.split())}", file=sys.stderr)
    return EXIT_OK


def _cast(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


# --- reading ----------------------------------------------------------------------------------


def _read(path: str) -> bytes:
    """The bytes of a plausible script file, or an error saying why not."""
    data = read_script_bytes(path, MAX_INPUT_BYTES)
    if not data.strip():
        raise CliError(f"{path} is empty")
    if data.startswith(b"%PDF"):
        raise CliError(f"{path} is a PDF; convert reads Fountain and Final Draft (.fdx) files")
    return data


def _decode(path: str, data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise CliError(f"{path} is not valid UTF-16 text") from None
    if b"\0" in data[:8192]:
        raise CliError(f"{path} looks like a binary file, not a screenplay")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CliError(
            f"{path} is not UTF-8 text (invalid byte at position {err.start}); "
            "save it as UTF-8 and try again"
        ) from None


def _maybe_zh(path: str, data: bytes) -> bool:
    if Path(path).suffix.lower() in (".fountain", ".spmd", ".fdx") or _is_fdx(path, data):
        return False
    try:
        return looks_like_zh(_decode(path, data))
    except CliError:
        return False


def _is_fdx(path: str, data: bytes) -> bool:
    if Path(path).suffix.lower() == ".fdx":
        return True
    head = data[:512].lstrip(codecs.BOM_UTF8).lstrip()
    return head.startswith((b"<?xml", b"<FinalDraft"))


def _load(path: str, source: str | None = None) -> tuple[Document, str | None]:
    """Read a Fountain, Chinese-convention or FDX file (`source` forces one: fountain, zh or
    fdx); for Fountain, also return the text (for line numbers). A `.txt` file, or one whose
    extension says nothing, is read as the Chinese convention when it follows it
    (`screenplay.zh.looks_like_zh`)."""
    data = _read(path)
    if source == "zh" or (source is None and _maybe_zh(path, data)):
        # Lint numbers the lines of the Fountain export: the convention puts a cue and its
        # speech on one line, which lint's search by first words does not follow.
        return parse_zh(_decode(path, data)), None
    if source == "fdx" or (source is None and _is_fdx(path, data)):
        if b"\0" in data[:8192] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise CliError(f"{path} looks like a binary file, not a Final Draft script")
        try:
            return parse_fdx(data), None
        except ScreenplayError as err:
            raise CliError(f"{path}: {err}") from None
    text = _decode(path, data)
    return parse_fountain(text), text


# --- writing ----------------------------------------------------------------------------------


def _write(path: str, data: bytes) -> None:
    """Write all of `data` or nothing (see `screenplay.files.write_atomic`); `-` is stdout."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    write_atomic(path, data)


# --- presentation -----------------------------------------------------------------------------


def _table(rows: Sequence[Sequence[str]], header: Sequence[str] | None) -> str:
    """Left-aligned columns, two spaces apart; a CJK character takes two columns, as in a
    terminal."""
    everything = [header, *rows] if header else list(rows)
    widths = [max(display_width(row[i]) for row in everything) for i in range(len(everything[0]))]
    lines = [
        "  ".join(
            cell + " " * (width - display_width(cell))
            for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in everything
    ]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m screenplay",
        description="Convert, check, count and repair screenplays (Fountain and Final Draft).",
        epilog="Exit status: 0 success, 1 lint found problems, 2 the input or output failed.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="log details and show tracebacks of internal errors"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_input(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "input",
            metavar="IN",
            help="a Fountain (.fountain, .spmd, .txt), Final Draft (.fdx) or Chinese-convention "
            "(中文剧本, .txt) file; the format is told by the extension or the content",
        )
        command.add_argument(
            "--from",
            dest="source",
            choices=("fountain", "fdx", "zh"),
            help="read IN as this format, whatever its extension and content",
        )

    convert = commands.add_parser(
        "convert", help="write a screenplay in another format", description="Convert a script."
    )
    add_input(convert)
    convert.add_argument(
        "--to",
        choices=ALL_FORMATS,
        help="the output format (default: told by the extension of -o; zh is the Chinese "
        "convention as text, .txt)",
    )
    convert.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="the file to write ('-' for stdout)"
    )
    convert.add_argument(
        "--paper",
        choices=PAPERS,
        default=None,
        help="paper size of a PDF or Word file (default: letter; a4 with --layout zh)",
    )
    convert.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="hollywood",
        help="page of a PDF or Word file: hollywood (the industry page) or zh (the Chinese "
        "convention: bold headings, 角色：对白 left-aligned; default: hollywood)",
    )
    convert.set_defaults(run=_convert)

    check = commands.add_parser(
        "lint",
        help="report structural problems, one per line",
        description="Report problems; line numbers are lines of the Fountain file "
        "(for FDX input, of the script as exported to Fountain). Exits 1 when there are any.",
    )
    add_input(check)
    check.add_argument(
        "--cast",
        action="append",
        metavar="NAMES",
        help="comma-separated names allowed to speak, e.g. 'MARA, TOM' (may be repeated)",
    )
    check.add_argument(
        "--limit",
        type=int,
        default=LINT_SHOWN,
        metavar="N",
        help=f"print at most N problems, then how many more there are (default: {LINT_SHOWN}; "
        "0: all)",
    )
    check.set_defaults(run=_lint)

    count = commands.add_parser(
        "stats",
        help="pages, running time, scenes, locations and cast",
        description="Print figures about a script.",
    )
    add_input(count)
    count.add_argument("--json", action="store_true", help="print JSON instead of a table")
    count.add_argument(
        "--paper",
        choices=PAPERS,
        default="letter",
        help="paper size the pages are counted on (default: letter)",
    )
    count.set_defaults(run=_stats)

    fix = commands.add_parser(
        "repair",
        help="turn messy model output into clean Fountain",
        description="Read text as a language model writes it (markdown, chat lines, chatter) "
        "and write clean Fountain.",
    )
    fix.add_argument("input", metavar="IN", help="the messy text file (UTF-8)")
    fix.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="the Fountain file to write ('-' for stdout)",
    )
    fix.add_argument(
        "--cast",
        action="append",
        metavar="NAMES",
        help="comma-separated character names, so that 'Mara:' or '林小雨：' read as cues",
    )
    fix.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say on stderr what was changed and which words to the user were set aside",
    )
    fix.set_defaults(run=_repair)
    return parser
