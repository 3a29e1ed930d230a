"""What the screenplay library refuses (a hostile FDX, a file that is not a script, an export
that cannot be written) reaches a Chinese writer in Chinese, filled in with the particulars
(the line, the file), and an English writer in the library's own English sentence."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.errors import screenplay_problem
from bot.messages import ENGLISH, SIMPLIFIED, TRADITIONAL, en, zh_cn
from screenplay.errors import ScreenplayError
from screenplay.fdx import parse_fdx
from screenplay.files import read_script_bytes, write_atomic
from screenplay.fountain import parse_fountain

REPO = Path(__file__).resolve().parents[2]
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _refused(do: Callable[[], object]) -> ScreenplayError:
    with pytest.raises(ScreenplayError) as caught:
        do()
    return caught.value


def _hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, ScreenplayError]:
    fifo = tmp_path / "pipe.fountain"
    os.mkfifo(fifo)
    big = tmp_path / "big.fountain"
    big.write_bytes(b"x" * 2048)
    (tmp_path / "folder").mkdir()
    refused = {
        "fdx_empty": _refused(lambda: parse_fdx(b"  ")),
        "fdx_not_xml": _refused(lambda: parse_fdx(b"PK\x03\x04 a zipped .docx")),
        "fdx_cut_off": _refused(lambda: parse_fdx(b"<FinalDraft>\n<Content>\n<Paragraph")),
        "fdx_bad_xml": _refused(lambda: parse_fdx(b"<FinalDraft>\n<a></b></FinalDraft>")),
        "fdx_entities": _refused(
            lambda: parse_fdx(b'<!DOCTYPE x [<!ENTITY e "boom">]><FinalDraft>&e;</FinalDraft>')
        ),
        "fdx_encoding": _refused(
            lambda: parse_fdx(b'<?xml version="1.0" encoding="x-nonesuch"?><FinalDraft/>')
        ),
        "fdx_not_final_draft": _refused(lambda: parse_fdx(b"<html><body/></html>")),
        "binary": _refused(lambda: parse_fountain("INT. HALL\x00\x01\x02 - DAY")),
        "file_missing": _refused(lambda: read_script_bytes(tmp_path / "gone.fdx")),
        "file_folder": _refused(lambda: read_script_bytes(tmp_path / "folder")),
        "file_not_regular": _refused(lambda: read_script_bytes(fifo)),
        "file_too_big": _refused(lambda: read_script_bytes(big, limit=1024)),
        "file_no_name": _refused(lambda: read_script_bytes("")),
        "file_nul_name": _refused(lambda: read_script_bytes("a\0b.fdx")),
        "write_folder": _refused(lambda: write_atomic(tmp_path / "folder", b"x")),
        "write_no_folder": _refused(lambda: write_atomic(tmp_path / "no" / "x.pdf", b"x")),
        "write_not_regular": _refused(lambda: write_atomic(fifo, b"x")),
    }

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(os, "fsync", full)
        refused["disk_full"] = _refused(lambda: write_atomic(tmp_path / "out.pdf", b"x"))
    return refused


def test_each_refusal_is_worded_in_chinese_with_its_particulars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = _hostile(tmp_path, monkeypatch)
    for kind, err in refused.items():
        assert err.kind == kind, (kind, str(err))
        said = screenplay_problem(err)
        assert said.render(ENGLISH) == str(err)
        for lang in (SIMPLIFIED, TRADITIONAL):
            worded = said.render(lang)
            assert _CJK.search(worded) and "{" not in worded, (kind, worded)
            assert "cannot" not in worded.lower() and "file is" not in worded, (kind, worded)
    assert "第 3 行" in screenplay_problem(refused["fdx_cut_off"]).render(SIMPLIFIED)
    assert "磁盘已满" in screenplay_problem(refused["disk_full"]).render(SIMPLIFIED)
    assert "<html>" in screenplay_problem(refused["fdx_not_final_draft"]).render(SIMPLIFIED)


def test_every_kind_the_library_names_has_a_sentence_in_every_language() -> None:
    source = "".join(p.read_text(encoding="utf-8") for p in (REPO / "screenplay").glob("*.py"))
    kinds = set(re.findall(r'kind="(\w+)"', source))
    kinds.update(re.findall(r'kind = "[^"]*", "(\w+)"\n', source))
    for pair in re.findall(r'"(\w+)" if writing else "(\w+)"', source):
        kinds.update(pair)
    assert {"fdx_cut_off", "disk_full", "read_denied", "write_failed", "not_text"} <= kinds
    for kind in kinds:
        assert en.MESSAGES[f"screenplay.{kind}"] == "{reason}", kind
        assert _CJK.search(zh_cn.MESSAGES[f"screenplay.{kind}"]), kind


def test_an_error_the_catalogue_cannot_word_keeps_the_librarys_english() -> None:
    said = screenplay_problem(ScreenplayError("The paper is letter or a4; not 'b5'."))
    assert said.render(SIMPLIFIED) == "无法读取这个剧本：The paper is letter or a4; not 'b5'."
