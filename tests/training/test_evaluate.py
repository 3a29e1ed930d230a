"""The evaluation that sees content: per-task figures on takes whose faults are known by hand
(through the shared fake generator), the takes file, a tiny adapter end to end, and a served
model behind a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from model.tasks import GeneratedTake, Sampling, TaskKind
from tests.fakes import Call, FakeGenerator
from tests.model.test_remote import Served, server  # the loopback `transformers serve`
from training import eval_report, evaluate
from training.scoring import figures, language_share, per_task
from training.takes import Run, Subject, generate_takes, sample_and_score

__all__ = ["server"]

#: Takes with a known fault, one per kind (a dialogue that loops, a scene whose speaker is
#: invented, a premise that copies the template, a beat with a broken character; the rest clean).
FAULTY = {
    TaskKind.PREMISE: "Title: <the title>\nLogline: <one sentence: who wants what>",
    TaskKind.CHARACTER: "Name: VERA\nRole: lead\nDescription: A tired ferry pilot.",
    TaskKind.SCENE: "EXT. PIER - NIGHT\n\nFog.\n\nEZHAM\nWho goes there?",
    TaskKind.DIALOGUE: "MARA\nWe need to go now.\n\nTOM\nWe need to go now.\n\n" * 3,
    TaskKind.BEAT: "The ferry never arrives, and the pilot \ufffd lies about it.",
    TaskKind.CONTINUE: "INT. CABIN - NIGHT\n\nRain on the glass.",
}
CHINESE = "△雨打在窗上。陈伯把门关上，小梅站在柜台后面看着他。"


def _faulty(call: Call, number: int) -> GeneratedTake:
    request = call.request
    if request.context.language == "Chinese":
        return GeneratedTake(CHINESE, "fake")
    text = FAULTY[request.kind]
    if request.kind is TaskKind.DIALOGUE and request.characters:
        a, b = (*request.characters, request.characters[0])[:2]
        text = text.replace("MARA", a).replace("TOM", b)
    return GeneratedTake(text, "fake")


@pytest.fixture(scope="module")
def held(small_corpus: Path) -> evaluate.Heldout:
    return evaluate.heldout(str(small_corpus), 4, 1)


@pytest.fixture(scope="module")
def faulty_rows(held: evaluate.Heldout) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    subject = Subject("fake", "fake", generator=FakeGenerator(write=_faulty))
    run = Run(takes=2, max_new_tokens=16, max_len=128, batch=2, seed=1, sampling=Sampling())
    scored, rows = sample_and_score(subject, held, run)
    return per_task(scored), rows


def _row(rows: list[dict[str, Any]], language: str, kind: TaskKind) -> dict[str, Any]:
    return next(r for r in rows if (r["language"], r["kind"]) == (language, kind.value))


def test_every_task_and_both_languages_are_sampled(held: evaluate.Heldout) -> None:
    pairs = {(e.request.context.language, e.kind) for e in held.requests if e.request}
    assert pairs == {(lang, kind) for lang in ("English", "Chinese") for kind in TaskKind}
    assert len(held.requests) == 12  # one request of each kind and language


def test_each_fault_is_counted_under_its_task(faulty_rows: Any) -> None:
    tasks, _ = faulty_rows
    dialogue = _row(tasks, "English", TaskKind.DIALOGUE)
    assert dialogue["loop_rate"] == 1.0
    assert dialogue["lint_clean_rate"] == 1.0  # the structure is sound; the loop counts apart
    assert dialogue["in_cast_rate"] == 1.0
    scene = _row(tasks, "English", TaskKind.SCENE)
    assert scene["in_cast_rate"] == 0.0  # EZHAM is nobody the room knows
    assert scene["loop_rate"] == 0.0
    premise = _row(tasks, "English", TaskKind.PREMISE)
    assert premise["echo_rate"] == 1.0 and premise["accepted_rate"] == 0.0
    beat = _row(tasks, "English", TaskKind.BEAT)
    assert beat["broken_rate"] == 1.0 and beat["echo_rate"] == 0.0
    character = _row(tasks, "English", TaskKind.CHARACTER)
    assert character["accepted_rate"] == 1.0 and character["in_cast_rate"] is None
    assert all(
        r["language_share"] == 1.0 for r in tasks if r["language"] == "English"
    )  # Latin letters only


def test_a_chinese_rooms_takes_are_measured_in_chinese(faulty_rows: Any) -> None:
    tasks, _ = faulty_rows
    chinese = [r for r in tasks if r["language"] == "Chinese"]
    assert len(chinese) == 6
    assert all(r["language_share"] == 1.0 for r in chinese)
    assert language_share("陈伯：OK，打烊了。", "Chinese") == pytest.approx(5 / 7)
    assert language_share("MARA\nHi 你好", "English") == pytest.approx(6 / 8)
    assert language_share("……！", "Chinese") == 0.0  # no letters: nothing in Chinese


def test_distinct_2_falls_when_the_takes_are_the_same(faulty_rows: Any) -> None:
    tasks, _ = faulty_rows
    # The fake writes the same take twice: every bigram comes back once more.
    assert _row(tasks, "English", TaskKind.CONTINUE)["distinct2"] == pytest.approx(0.5)


def test_the_takes_file_holds_every_take_with_its_request_and_figures(
    faulty_rows: Any, tmp_path: Path
) -> None:
    _, rows = faulty_rows
    path = tmp_path / "takes.jsonl"
    eval_report.write_takes(path, rows)
    read = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(read) == 24  # 12 requests x 2 takes
    scene = next(r for r in read if r["kind"] == "scene" and r["language"] == "English")
    assert scene["characters"] and scene["prompt"] and scene["reference"]
    assert (scene["cues"], scene["cues_in_cast"]) == (1, 0)
    assert scene["take"] == FAULTY[TaskKind.SCENE]
    premise = next(r for r in read if r["kind"] == "premise" and r["language"] == "English")
    assert any("answer format" in p for p in premise["problems"])
    markdown = path.with_suffix(".md").read_text(encoding="utf-8")
    assert "## Request 1: premise, English" in markdown
    assert "Who goes there?" in markdown and CHINESE in markdown
    assert "0/1 cues in cast" in markdown
    # A take with any problem is never headed "clean": one the lint passes but an echo, a loop
    # or a broken character marks is "lint-clean", and names it.
    assert (premise["lint_clean"], premise["accepted"], premise["echo"]) == (True, False, True)
    first = markdown.split("## Request 2")[0]
    assert ": lint-clean, echo" in first and ": clean" not in first


def test_the_reference_answers_score_clean(held: evaluate.Heldout) -> None:
    reference = evaluate.reference_figures(held)
    assert reference["lint_clean_rate"] == 1.0
    assert reference["loop_rate"] == 0.0 and reference["echo_rate"] == 0.0
    chinese = reference["by_language"]["Chinese"]["language_share"]
    assert chinese is not None and chinese > 0.95


def test_pooled_figures_of_no_takes_are_empty() -> None:
    empty = figures([])
    assert empty["takes"] == 0 and empty["lint_clean_rate"] is None


async def test_first_sampled_takes_skip_the_second_try(tiny_model_dir: Path) -> None:
    from model.loading import ModelSettings, load_model

    loaded = load_model(ModelSettings(model=str(tiny_model_dir), dtype="float32"))
    # A premise: eight random tokens after its begun `Title:` never reach a logline (a dialogue
    # take is begun on a cue, and a character sheet on its name, role and description's label:
    # random words there may read as a line or a description).
    request = evaluate.heldout(None, 0, 1, kinds=(TaskKind.PREMISE,)).requests[0].request
    assert request is not None
    subject = Subject("tiny", loaded.name, loaded)
    sampling = Sampling(max_new_tokens=8)
    first = await generate_takes(subject, [request], 2, sampling, 5, first_sampled=True)
    again = await generate_takes(subject, [request], 2, sampling, 5)
    assert not any(t.regenerated for t in first[0])
    assert all(t.problems for t in first[0])  # random tokens are no premise
    assert all(t.regenerated for t in again[0])  # ... so the bot samples each once more


# --- end to end -------------------------------------------------------------------------------


def test_the_tiny_adapter_is_evaluated_on_every_task(
    tiny_adapter: Path,
    tiny_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    takes_out = tmp_path / "takes.jsonl"
    argv = [
        *("--model", str(tiny_model_dir), "--adapter", str(tiny_adapter)),
        *("--requests", "1", "--takes", "2", "--max-new-tokens", "8", "--best-of", "2"),
        *("--limit-examples", "4", "--max-len", "128", "--takes-out", str(takes_out), "--json"),
        *("--out", str(tmp_path / "eval" / "result.json")),
    ]
    result = evaluate.main(argv)
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(result))
    written = (tmp_path / "eval" / "result.json").read_text(encoding="utf-8")
    assert json.loads(written) == printed
    for key in ("base_ppl", "tuned_ppl", "lint_clean_rate", "loop_rate", "distinct2", "rouge_l"):
        assert printed[key] is not None, key
    # The recorded test script, then the scripts the current split holds out that the adapter
    # never saw (English and Chinese).
    assert printed["held_out"].startswith("the test split (drama-quarry-road) and ")
    kinds = {(r["language"], r["kind"]) for r in printed["tuned"]["per_task"]}
    assert kinds == {(lang, k.value) for lang in ("English", "Chinese") for k in TaskKind}
    assert list(printed["columns"]) == ["base", "tuned", "tuned+best-of-2"]
    assert {c["takes"] for c in printed["columns"].values()} == {24}
    # Best-of-N reranks the same model's takes: its perplexity is the judged column's, lent.
    columns = printed["columns"]
    assert columns["tuned+best-of-2"]["ppl_by_language"] == columns["tuned"]["ppl_by_language"]
    assert printed["tuned_ppl"] != printed["base_ppl"]  # the adapter changed the model
    assert printed["ppl_ratio"] == pytest.approx(printed["tuned_ppl"] / printed["base_ppl"])
    assert set(printed["ppl_ratio_by_language"]) == {"English", "Chinese"}
    assert printed["tuned"]["relevance"] is not None  # a local model: PMI is measured
    assert printed["targets_met"]["ppl_ratio<=0.7"] == (printed["ppl_ratio"] <= 0.7)
    assert "chinese_share>=0.95" in printed["targets_met"]
    text = evaluate.table(result)
    assert "| perplexity (answer tokens) |" in text and "| dialogue | Chinese |" in text
    assert "fine-tuned + best-of-2" in text
    assert len(takes_out.read_text(encoding="utf-8").splitlines()) == 72


def test_a_run_stopped_partway_keeps_the_columns_it_finished(
    tiny_adapter: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An evaluation on a CPU runs for an hour or more: when the session ends during the
    best-of column, the base and fine-tuned columns and their takes are already on disk."""
    judge = evaluate.evaluate_subject

    def stopped_at_best_of(subject: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if subject.best_of > 1:
            raise KeyboardInterrupt  # the session's end
        return judge(subject, *args, **kwargs)

    monkeypatch.setattr(evaluate, "evaluate_subject", stopped_at_best_of)
    out, takes_out = tmp_path / "result.json", tmp_path / "takes.jsonl"
    argv = [
        *("--model", str(tiny_model_dir), "--adapter", str(tiny_adapter), "--tasks", "dialogue"),
        *("--requests", "1", "--takes", "2", "--max-new-tokens", "8", "--best-of", "2"),
        *("--limit-examples", "2", "--max-len", "128", "--no-relevance"),
        *("--out", str(out), "--takes-out", str(takes_out)),
    ]
    with pytest.raises(KeyboardInterrupt):
        evaluate.main(argv)
    kept = json.loads(out.read_text(encoding="utf-8"))
    assert list(kept["columns"]) == ["base", "tuned"]
    assert kept["ppl_ratio"] == pytest.approx(kept["tuned_ppl"] / kept["base_ppl"])
    columns = {json.loads(line)["column"] for line in takes_out.read_text().splitlines()}
    assert columns == {"base", "tuned"}
    assert not list(tmp_path.glob("*.part"))


def test_shipped_only_evaluates_the_column_the_bot_runs_alone(
    tiny_adapter: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A read of hundreds of takes wants the bot's own configuration only: no base column and
    no plain fine-tuned one, with the best-of column's own perplexity and targets on top."""
    takes_out = tmp_path / "takes.jsonl"
    argv = [
        *("--model", str(tiny_model_dir), "--adapter", str(tiny_adapter), "--tasks", "dialogue"),
        *("--requests", "1", "--takes", "2", "--max-new-tokens", "8", "--best-of", "2"),
        *("--limit-examples", "2", "--max-len", "128", "--no-relevance", "--shipped-only"),
        *("--takes-out", str(takes_out)),
    ]
    result = evaluate.main(argv)
    assert list(result["columns"]) == ["tuned+best-of-2"]
    shown = result["columns"]["tuned+best-of-2"]
    assert shown["ppl"] is not None  # measured, as no fine-tuned column lends it
    assert result["lint_clean_rate"] == shown["lint_clean_rate"]
    assert "targets_met" in result and result["shipped_only"] is True
    rows = [json.loads(line) for line in takes_out.read_text(encoding="utf-8").splitlines()]
    assert {row["column"] for row in rows} == {"tuned+best-of-2"}
    assert len(rows) == shown["takes"] == 4  # 2 languages x 1 request x 2 takes


def test_evaluation_holds_out_every_scene_of_a_data_folder(small_corpus: Path) -> None:
    held = evaluate.heldout(str(small_corpus), 0, 0)
    assert {e.script for e in held.examples} == {p.stem for p in small_corpus.glob("*.fountain")}
    assert len(held.requests) == len([e for e in held.examples if e.request is not None])
    # The copy check compares with the shipped corpus less the held-out scripts themselves.
    scene = next(e.answer for e in held.examples if e.kind.value == "dialogue")
    assert held.corpus.longest_shared(scene) < 20


def test_evaluation_refuses_a_folder_that_is_no_adapter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        evaluate.main(["--adapter", str(tmp_path)])
    assert stopped.value.code == 1
    assert "not a LoRA adapter directory" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir: Path) -> Any:
    """The model `server` serves (the loopback fixture of the remote backend's tests)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir)


def test_a_served_model_is_evaluated_on_the_same_requests(
    server: Served, small_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, model = server.url, server.model
    argv = [
        *("--url", url, "--served-model", model, "--data", str(small_corpus)),
        *("--tasks", "dialogue,premise", "--requests", "1", "--takes", "2"),
        *("--max-new-tokens", "8", "--limit-examples", "2"),
    ]
    result = evaluate.main(argv)
    served = result["columns"]["served"]
    assert list(result["columns"]) == ["served"]  # no local model loaded
    assert served["model"] == model and served["takes"] == 8  # 2 kinds x 2 languages x 2
    assert served["ppl"] is None and served["relevance"] is None  # no probabilities over HTTP
    assert served["resampled_rate"] == 1.0  # random tokens: the bot sampled each once more
    assert "local models only" in capsys.readouterr().out


def test_a_served_model_needs_its_name() -> None:
    with pytest.raises(SystemExit):
        evaluate.main(["--url", "http://127.0.0.1:9/v1"])


def test_the_generators_protocol_is_all_a_column_needs() -> None:
    fake = FakeGenerator()
    subject = Subject("fake", "fake", generator=fake)
    request = evaluate.heldout(None, 0, 1, kinds=(TaskKind.BEAT,)).requests[0].request
    assert request is not None
    takes = asyncio.run(generate_takes(subject, [request, request], 3, Sampling(), 40))
    assert [len(t) for t in takes] == [3, 3]
    assert [c.sampling.seed for c in fake.calls] == [40, 140]  # request i seeded at 40 + 100 i


def test_relevance_can_be_left_out(tiny_model_dir: Path, small_corpus: Path) -> None:
    from model.loading import ModelSettings, load_model

    loaded = load_model(ModelSettings(model=str(tiny_model_dir), dtype="float32"))
    held = evaluate.heldout(str(small_corpus), 0, 1, kinds=(TaskKind.BEAT,))
    subject = Subject("tiny", loaded.name, loaded)
    run = Run(1, 4, 128, 2, 1, Sampling())
    with_it, _ = sample_and_score(subject, held, run)
    without, _ = sample_and_score(subject, held, dataclasses.replace(run, relevance=False))
    assert figures(with_it)["relevance"] is not None
    assert figures(without)["relevance"] is None
    assert [s.lint_clean for r in without for s in r.scores] == [
        s.lint_clean for r in with_it for s in r.scores
    ]  # the same seeds give the same takes


def test_scenes_asked_with_their_heading_typed_open_at_the_place_asked(
    held: evaluate.Heldout,
) -> None:
    """--typed-headings: each held-out scene is asked as a writer who knows its place asks it,
    and the bot's takes open there (scored `place asked`), in both languages."""
    from model.prompts import answer_start, asked_heading

    typed = evaluate.typed_headings(held.requests)
    scenes = [e for e in typed if e.request and e.kind is TaskKind.SCENE]
    assert {e.request.context.language for e in scenes if e.request} == {"English", "Chinese"}
    for example in scenes:
        assert example.request is not None
        start = answer_start(example.request)
        assert asked_heading(example.request) and start
        # A take that carries on the start is at the place the reference is.
        take = start + ("△ 门开了。" if "\n\n" not in start else "A door opens.")
        score = evaluate.score_take(example.request, take, example.answer, held.corpus)
        assert score.place_kept is True
    # The other requests are asked as they were.
    others = [(a, b) for a, b in zip(held.requests, typed, strict=True) if a.kind != TaskKind.SCENE]
    assert all(a.request == b.request for a, b in others)


def test_scenes_going_back_to_a_place_can_be_asked_with_or_without_it(small_corpus: Path) -> None:
    """The held-out scenes that go back to a place their script has been open on the script's
    heading for it, as the bot's do; --no-places asks them as before, --returning-only keeps
    just them, so the difference is measured where it is made."""
    from model.prompts import answer_start

    every = evaluate.heldout(str(small_corpus), 4, 0).requests
    only = evaluate.with_places(every, only=True)
    assert {e.kind for e in only} == {TaskKind.SCENE}
    assert {e.request.context.language for e in only if e.request} == {"English", "Chinese"}
    assert all(e.request and answer_start(e.request) for e in only)
    bare = evaluate.with_places(every, keep=False, only=True)
    assert len(bare) == len(only)
    assert all(
        e.request and not e.request.context.places and not answer_start(e.request) for e in bare
    )
    assert evaluate.with_places(every) == list(every)
